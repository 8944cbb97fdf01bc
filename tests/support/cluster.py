"""Real parts for the integration tests: a RabbitMQ vhost, databases, an SMTP
server, and the services each in its own process, as they are deployed."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from pathlib import Path

import psycopg2
import requests

from shared.config import SERVICES
from tests.support import broker_node
from tests.support.accounts import Accounts
from tests.support.pages import every_item

POSTGRES_ADMIN_URL = os.environ.get("CAMPAIGN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


_handed_out = set()


def free_port():
    """A port nothing listens on, and not one this test run has handed out already."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_until(condition, what, timeout=30.0, interval=0.05):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def rabbitmqctl(*args):
    """``rabbitmqctl`` against the tests' broker (the run's own node: see broker_node)."""
    return broker_node.current().rabbitmqctl(*args)


class Vhost:
    """A fresh RabbitMQ vhost, so a test run never meets another run's queues
    (on the run's node, or on ``broker``: a private node of one test module)."""

    def __init__(self, broker=None):
        self.broker = broker or broker_node.current()
        self.name = f"campaign-test-{uuid.uuid4().hex[:8]}"
        self.broker.rabbitmqctl("add_vhost", self.name)
        self.broker.rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        self.amqp_uri = f"{self.broker.amqp_uri}/{self.name}"

    def queues(self):
        out = self.broker.rabbitmqctl("list_queues", "-p", self.name, "--quiet", "--no-table-headers",
                                      "name", "messages")
        return dict(line.rsplit(None, 1) for line in out.strip().splitlines() if line.strip())

    def delete(self):
        if not self.broker.own:
            self.broker.rabbitmqctl("delete_vhost", self.name)
            return
        # Idle quorum queues left behind slow the node enough for later tests to time out,
        # so even the run's own node is tidied.  A deletion under load can hang RabbitMQ
        # 3.10: that costs this run at most, as the node is thrown away at the end.
        try:
            self.broker.rabbitmqctl("delete_vhost", self.name, "--timeout", "60", timeout=90)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            warnings.warn(f"vhost {self.name} was not deleted from the test broker: {exc}", stacklevel=2)


class Databases:
    """One database per service: SQLite files, or fresh PostgreSQL databases."""

    def __init__(self, backend, directory):
        self.backend = backend
        self.created = []
        if backend == "sqlite":
            self.urls = {s: f"sqlite:///{Path(directory) / (s + '.db')}" for s in SERVICES}
            return
        prefix = f"campaign_t_{uuid.uuid4().hex[:8]}"
        with self._admin() as cursor:
            for service in SERVICES:
                cursor.execute(f"CREATE DATABASE {prefix}_{service}")
                self.created.append(f"{prefix}_{service}")
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
        self.urls = {s: f"{base}/{prefix}_{s}" for s in SERVICES}

    @staticmethod
    def _admin():
        connection = psycopg2.connect(POSTGRES_ADMIN_URL)
        connection.autocommit = True
        return connection.cursor()

    def drop(self):
        with self._admin() as cursor:
            for name in self.created:
                cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class SmtpServer:
    """aiosmtpd in its own process; each accepted message is a file in ``directory``."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.smtp_sink", str(self.directory)],
            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
        )
        self.port = int(self.process.stdout.readline())
        self.url = f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        from email import policy
        from email.parser import BytesParser
        files = sorted(self.directory.glob("*.eml"), key=lambda p: int(p.stem))
        return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in files]

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class ServiceProcess:
    def __init__(self, name, env, log_path):
        self.name = name
        self.port = free_port()
        self.env = {**env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}"}
        self.log_path = log_path
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/api/v1"

    def start(self):
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "campaign.cli", "serve", self.name],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._follow, args=(self.process,), daemon=True).start()

    def _follow(self, process):
        with open(self.log_path, "a") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                if line.startswith("ready:"):
                    self.ready.set()

    def wait_ready(self, timeout=60):
        if not self.ready.wait(timeout):
            raise AssertionError(f"{self.name} did not start; see {self.log_path}")

    def stop(self):
        self.ask_to_stop()
        self.wait_stopped()

    def ask_to_stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout=15):
        if self.process:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self):
        self.process.kill()
        self.process.wait()


class Cluster:
    """The services, each its own process, on a vhost, databases and SMTP server.

    ``get``/``post``/... (and ``http``, a requests session) act as a national coordinator,
    signed in on first use; ``session(who)`` as another role (tests.support.accounts).
    With ``signed_in=False`` no account is made and requests go anonymous (identity's own tests).
    """

    def __init__(self, workdir, amqp_uri, database_urls, smtp_url, signed_in=True, **settings):
        workdir = Path(workdir)
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("CITY",)},
            "AMQP_URI": amqp_uri,
            "SMTP_URL": smtp_url,
            "CAMPAIGN_DATA_DIR": str(workdir / "data"),
            "REPORTS_DIR": str(workdir / "reports"),
            "PYTHONUNBUFFERED": "1",
            **{f"{s.upper()}_DATABASE_URL": url for s, url in database_urls.items()},
            **{k: str(v) for k, v in settings.items()},
        }
        self.workdir = workdir
        # notification calls registration's API as a service account identity makes from this secret.
        env.setdefault("NOTIFICATION_CLIENT_SECRET", uuid.uuid4().hex)
        identity = ServiceProcess("identity", env, workdir / "identity.log")
        registration = ServiceProcess("registration", env, workdir / "registration.log")
        # Every process verifies tokens with the keys identity publishes at its own address.
        env["IDENTITY_URL"] = identity.env["IDENTITY_URL"] = registration.env["IDENTITY_URL"] = \
            f"http://127.0.0.1:{identity.port}"
        env["REGISTRATION_URL"] = f"http://127.0.0.1:{registration.port}"
        self.env = env
        started = {"identity": identity, "registration": registration}
        self.services = {name: started.get(name) or ServiceProcess(name, env, workdir / f"{name}.log")
                         for name in SERVICES + ("registration-imports",)}
        self.accounts = Accounts(identity.url, database_urls["identity"])
        self.http = self.accounts.session("national") if signed_in else requests.Session()

    def add_worker(self, key, service, **settings):
        """Another process of ``service`` (e.g. a worker for one city), known as ``key``."""
        env = {**self.env, **{k: str(v) for k, v in settings.items()}}
        self.services[key] = ServiceProcess(service, env, self.workdir / f"{key}.log")
        return self.services[key]

    def start(self):
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()
        return self

    def metric(self, key, name, **labels):
        """The value of a Prometheus sample on process ``key``'s /metrics (0 if absent)."""
        text = requests.get(self.services[key].url.replace("/api/v1", "/metrics"), timeout=10).text
        wanted = [f'{label}="{value}"' for label, value in labels.items()]
        for line in text.splitlines():
            if line.startswith(name + "{") and all(w in line for w in wanted):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self):
        # All asked at once: each takes a few seconds to finish its work and flush its outbox.
        for service in self.services.values():
            service.ask_to_stop()
        for service in self.services.values():
            service.wait_stopped()

    def url(self, service):
        return self.services[service].url

    def token(self, who="national"):
        """An access token of ``who`` (national, medan, pontianak, committee, partner, operator)."""
        return self.accounts.token(who)

    def session(self, who="national"):
        return self.accounts.session(who)

    def cli_env(self, who="national", **env):
        """The environment of a ``campaign`` command run as ``who`` (CAMPAIGN_TOKEN, as a script would)."""
        return {**self.env, "CAMPAIGN_TOKEN": self.token(who), **env}

    def request(self, method, service, path, **kwargs):
        return self.http.request(method, self.url(service) + path, **{"timeout": 30, **kwargs})

    def get(self, service, path, **kwargs):
        return self.request("GET", service, path, **kwargs)

    def post(self, service, path, **kwargs):
        return self.request("POST", service, path, **kwargs)

    def items(self, service, path, **params):
        """Every item of a list of ``service``, page after page (as the national coordinator)."""
        return every_item(lambda path, **kwargs: self.get(service, path, **kwargs), path, **params)

    def put(self, service, path, **kwargs):
        return self.request("PUT", service, path, **kwargs)

    def patch(self, service, path, **kwargs):
        return self.request("PATCH", service, path, **kwargs)

    def import_participants(self, rollout_id, data, timeout=120, **kwargs):
        """Upload a participant file and wait for its import job to finish; the job as it ended."""
        submitted = self.post("registration", f"/rollouts/{rollout_id}/participants/import", data=data, **kwargs)
        assert submitted.status_code == 202, submitted.text
        job_path = f"/rollouts/{rollout_id}/imports/{submitted.json()['id']}"

        def finished():
            job = self.get("registration", job_path).json()
            return job if job["status"] in ("succeeded", "failed") else None
        return wait_until(finished, f"import job {job_path}", timeout=timeout, interval=0.05)
