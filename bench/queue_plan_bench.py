"""What queues per city cost the broker: quorum queues declared as the consumers declare them.

    python bench/queue_plan_bench.py [--cities 4 50 100 514] [--consumers 5]

Starts a private RabbitMQ node (its own name, port and directory; never the
machine's broker on 5672), and for each city count declares what that many
cities need: per consuming service (notification, reporting, assessment,
registration's import worker, ...) a quorum queue per city with its own queue,
the other-cities queue and the dead-letter queue, bound as shared/consumer.py
binds them.  Prints the queue count and the node's memory (total, and the
quorum queues' share from ``rabbitmq-diagnostics memory_breakdown``) after each
step, against the idle node.
"""
import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kombu import Connection, Exchange, Queue

SERVICES = ("notification", "reporting", "assessment", "registration_imports", "extra")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateNode:
    """rabbitmq-server with everything of its own under a temporary directory."""

    def __init__(self):
        self.directory = Path(tempfile.mkdtemp(prefix="queue-plan-"))
        self.name = f"queueplan{os.getpid()}@localhost"
        self.port = free_port()
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self.process = None

    def start(self):
        d = self.directory
        for sub in ("mnesia", "log"):
            (d / sub).mkdir()
        (d / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq-env.conf").write_text("")
        if os.geteuid() == 0:  # the packaged server runs the node as user rabbitmq
            try:
                user = pwd.getpwnam("rabbitmq")
                for path in [d, *d.rglob("*")]:
                    os.chown(path, user.pw_uid, user.pw_gid)
            except KeyError:
                pass
        env = {**os.environ, "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
               "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
               "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
               "RABBITMQ_PID_FILE": str(d / "node.pid"), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
               "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf")}
        self.process = subprocess.Popen(["rabbitmq-server"], env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(120):
            if subprocess.run(["rabbitmqctl", "-n", self.name, "await_startup", "--timeout", "5"],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.5)
        raise SystemExit("the private node did not start")

    def memory(self):
        """(total MB, quorum queues' MB) as the node reports them."""
        out = subprocess.run(["rabbitmq-diagnostics", "-n", self.name, "memory_breakdown", "--unit", "mb",
                              "--formatter", "json", "--timeout", "120"],
                             capture_output=True, text=True, check=True, timeout=180).stdout
        breakdown = json.loads(out[out.index("{"):])
        quorum = sum(_megabytes(breakdown.get(k, 0)) for k in ("quorum_queue_procs", "quorum_ets"))
        # The node's resident memory, read from the kernel: no CLI round trip to a busy node.
        pid = int((self.directory / "node.pid").read_text())
        rss = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
        return int(rss.split()[1]) / 1024, quorum

    def stop(self):
        pid_file = self.directory / "node.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        self.process.wait(60)
        shutil.rmtree(self.directory, ignore_errors=True)


def _megabytes(value):
    """memory_breakdown's figure: a number, or {"bytes": n} / {"megabytes": n} depending on the version."""
    if isinstance(value, dict):
        if "bytes" in value:
            return value["bytes"] / 1e6
        return float(next(iter(value.values())))
    return float(value)


def declare(uri, cities, services):
    """The queues ``services`` consumers declare for ``cities`` (shared/consumer.py's shape)."""
    with Connection(uri) as connection:
        channel = connection.channel()
        source = Exchange("registration.events", type="topic", durable=True)
        source(channel).declare()
        for service in services:
            other = Exchange(f"{service}.inbox.other-cities", type="topic", durable=True)
            inbox = Exchange(f"{service}.inbox", type="topic", durable=True,
                             arguments={"alternate-exchange": other.name})
            for exchange in (other, inbox):
                exchange(channel).declare()
            inbox(channel).bind_to(source, routing_key="participant_registered.*")
            arguments = {"x-queue-type": "quorum", "x-delivery-limit": 5,
                         "x-dead-letter-exchange": "campaign.dead-letters", "x-dead-letter-routing-key": service}
            Queue(f"dlq.{service}", durable=True)(channel).declare()
            Queue(f"{service}.other-cities", exchange=other, routing_key="#", durable=True,
                  queue_arguments=arguments)(channel).declare()
            for city in cities:
                Queue(f"{service}.{city}", exchange=inbox, routing_key=f"*.{city}", durable=True,
                      queue_arguments=arguments)(channel).declare()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, nargs="+", default=[4, 50, 100, 514])
    parser.add_argument("--consumers", type=int, default=4, help="consuming services, each with a queue per city")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    node = PrivateNode()
    node.start()
    try:
        time.sleep(5)
        idle, _ = node.memory()
        print(f"private node {node.name}, idle: {idle:.0f} MB")
        services = SERVICES[:args.consumers]
        for count in sorted(args.cities):
            started = time.perf_counter()
            declare(node.uri, [f"kota-{i:03d}" for i in range(count)], services)
            took = time.perf_counter() - started
            time.sleep(10)  # let the new queues settle
            queues = len(services) * (count + 2)
            total, quorum = node.memory()
            print(f"{count} cities with queues of their own, {len(services)} consumers: {queues} queues "
                  f"({len(services) * (count + 1)} quorum), declared in {took:.1f}s; node {total:.0f} MB "
                  f"({total - idle:.0f} MB over idle, {(total - idle) * 1024 / max(1, queues):.0f} KB a queue); "
                  f"quorum queue processes {quorum:.0f} MB")
    finally:
        node.stop()


if __name__ == "__main__":
    main()
