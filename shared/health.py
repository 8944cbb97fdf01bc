"""``GET /health/live`` and ``GET /health/ready`` on every service's web port.

*Live* says the process answers HTTP: a failing liveness probe restarts the
pod.  *Ready* says the service can do its work now: its database answers a
``SELECT 1`` within ``HEALTH_TIMEOUT`` seconds, its broker connection is up
and its event consumer is not waiting out an outage.  A failing readiness
probe takes the pod out of its Service until it passes again; it does not
restart it (an outage of a shared database must not restart every pod).

Both are answered by the entrypoint itself, without a worker, so a probe still
answers when every worker is busy.  When several services run in one process
(``campaign serve`` with no argument, the demo) they share one web server, and
``/health/ready`` checks each of them.
"""
import time
from typing import Any

import eventlet
from eventlet import tpool
from kombu import Connection
from nameko.web.handlers import HttpRequestHandler
from sqlalchemy import text

from shared.consumer import CityQueueConsumer, EventConsumer
from shared.dependencies import Database
from shared.web import ApiServer, json_response

DEFAULT_TIMEOUT = 2.0
BROKER_PROBE_SECONDS = 5.0  # a service without consumers asks the broker at most this often


class HealthCheck(HttpRequestHandler):
    server = ApiServer()

    def __init__(self, url: str, readiness: bool) -> None:
        self.readiness = readiness
        self._database_check: Any = None  # the database check still under way, if any
        self._broker_probe: tuple[float, str | None] = (0.0, None)
        super().__init__("GET", url)

    def handle_request(self, request):
        if not self.readiness:
            return json_response({"status": "live"})
        services = {provider.container.service_name: provider.problems()
                    for provider in self.server._providers if isinstance(provider, HealthCheck) and provider.readiness}
        ready = not any(services.values())
        return json_response({"status": "ready" if ready else "not ready",
                              "services": {name: problems or "ready" for name, problems in services.items()}},
                             200 if ready else 503)

    def problems(self) -> list[str]:
        """What keeps this service from working now (nothing: it is ready)."""
        found = []
        database = self._database_problem()
        if database:
            found.append(database)
        found.extend(self._broker_problems())
        for consumer in self._extensions(EventConsumer):
            if not consumer.ready:
                found.append("event consumer waiting out an outage")
        return found

    def _timeout(self) -> float:
        return float(self.container.config.get("HEALTH_TIMEOUT", DEFAULT_TIMEOUT))

    def _extensions(self, kind):
        return [extension for extension in self.container.extensions if isinstance(extension, kind)]

    def _database_problem(self) -> str | None:
        databases = self._extensions(Database)
        if not databases:
            return None
        if self._database_check is not None and not self._database_check.dead:
            # The last check still hangs: do not pile more threads on a database that does not answer.
            return "database did not answer"
        engine = databases[0].store.engine
        # psycopg2 blocks in C, out of eventlet's reach: the query runs in a real thread
        # and the timeout bounds how long the probe waits for it.
        self._database_check = eventlet.spawn(tpool.execute, _select_one, engine)
        try:
            with eventlet.Timeout(self._timeout()):
                self._database_check.wait()
        except eventlet.Timeout:
            return "database did not answer"
        except Exception as error:  # noqa: BLE001 (any failure: not ready, named by its kind)
            return f"database unavailable ({type(error).__name__})"
        return None

    def _broker_problems(self) -> list[str]:
        consumers = self._extensions(CityQueueConsumer)
        if consumers:
            return ["broker connection down" for consumer in consumers if not consumer.connected]
        checked_at, problem = self._broker_probe
        if time.monotonic() - checked_at > BROKER_PROBE_SECONDS:
            problem = _broker_problem(self.container.config["AMQP_URI"], self._timeout())
            self._broker_probe = (time.monotonic(), problem)
        return [problem] if problem else []


def _select_one(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _broker_problem(amqp_uri: str, timeout: float) -> str | None:
    if amqp_uri.startswith("memory"):
        return None
    # One attempt, bounded as a whole: a probe that waits longer than its caller is no answer.
    try:
        with eventlet.Timeout(timeout), Connection(amqp_uri, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=0, timeout=timeout)
    except eventlet.Timeout:
        return "broker did not answer"
    except Exception as error:  # noqa: BLE001
        return f"broker unavailable ({type(error).__name__})"
    return None


class HealthEndpoints:
    """Mixin: the service answers ``/health/live`` and ``/health/ready``."""

    @HealthCheck.decorator("/health/live", readiness=False)
    def health_live(self, request):
        """Answered by the entrypoint (see HealthCheck)."""

    @HealthCheck.decorator("/health/ready", readiness=True)
    def health_ready(self, request):
        """Answered by the entrypoint (see HealthCheck)."""
