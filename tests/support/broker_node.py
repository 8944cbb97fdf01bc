"""The test run's own RabbitMQ node.

The integration tests add vhosts full of quorum queues and drop them again.  On the
machine's shared broker (RabbitMQ 3.10) a vhost deletion under load can hang forever and
wedge the broker for everyone, so a test run starts a node of its own instead: its own
name, free ports, its data and logs in a temporary directory, thrown away at the end.
Setting ``CAMPAIGN_TEST_RABBIT`` to an existing broker's AMQP URI uses that broker instead
(and its ``rabbitmqctl`` default node); outside pytest (bench/) the machine's broker is used.

The node is started lazily, by the first test that asks for a broker, through a keeper
process (``python -m tests.support.broker_node NODE``).  The keeper starts the node,
prints one JSON line, and stops the node when its stdin closes: when the run ends, is
interrupted, or is killed outright, no node is left running.

A fault test that stops a node for a while uses a node of its own (``private_node()``),
so no other test loses its broker: the keeper also takes the lines ``stop`` and ``start``
on its stdin, stopping the node and starting it again on the same ports and data.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 120.0  # a loaded two-core machine boots a node in 5-20 s
STOP_TIMEOUT = 20.0  # after this the node is killed: its data is thrown away anyway


@dataclass(frozen=True)
class Broker:
    """Where the tests' AMQP connections and ``rabbitmqctl`` calls go."""

    amqp_uri: str  # without a vhost, e.g. amqp://guest:guest@127.0.0.1:5672
    node: str | None = None  # rabbitmqctl -n NODE; None: rabbitmqctl's default node
    own: bool = False  # the run's own node, thrown away whole at the end

    def rabbitmqctl(self, *args: str, timeout: float = 120) -> str:
        node = ["-n", self.node] if self.node else []
        return subprocess.run(["rabbitmqctl", *node, *args],
                              check=True, capture_output=True, text=True, timeout=timeout).stdout


def machine_broker() -> Broker:
    return Broker(os.environ.get("CAMPAIGN_TEST_RABBIT", "amqp://guest:guest@127.0.0.1:5672"))


# --- in the test run ---------------------------------------------------------------------

_lock = threading.Lock()
_own_node_name: str | None = None
_keeper: "Keeper | None" = None
_failed: str | None = None


def use_own_node(name: str | None = None) -> None:
    """From now on ``current()`` is a node of this run's own, started on first use."""
    global _own_node_name
    _own_node_name = name or f"campaign-test-{os.getpid()}@localhost"


def current() -> Broker:
    """The broker the tests talk to; starts the run's own node the first time it is needed."""
    global _keeper, _failed
    with _lock:
        if _own_node_name is None:
            return machine_broker()
        if _failed:  # one failed start is enough: do not make every test wait for another
            raise RuntimeError(_failed)
        if _keeper is None:
            try:
                _keeper = Keeper(_own_node_name)
            except RuntimeError as exc:
                _failed = str(exc)
                raise
        return _keeper.broker


def stop_own_node() -> None:
    """Stop the run's own node if it was started; waits until its processes are gone."""
    global _keeper
    with _lock:
        if _keeper is not None:
            _keeper.stop()
            _keeper = None


class Keeper:
    """The keeper process of the run's own node, seen from the test run."""

    def __init__(self, name: str):
        # Its own session: a Ctrl-C at the terminal reaches pytest, which then stops the
        # node in order, rather than the keeper and the node halfway through a test.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.broker_node", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=Path(__file__).parents[2], start_new_session=True,
        )
        try:
            line = self.process.stdout.readline()
        except BaseException:  # e.g. Ctrl-C while the node boots
            self.stop()
            raise
        answer = json.loads(line) if line.startswith("{") else {}
        if "amqp_uri" not in answer:
            self.stop()
            raise RuntimeError(f"the test run's RabbitMQ node {name} did not start: "
                               f"{answer.get('error') or self.errors}")
        self.broker = Broker(answer["amqp_uri"], node=name, own=True)

    def stop(self) -> None:
        try:
            _, self.errors = self.process.communicate(timeout=START_TIMEOUT + STOP_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, self.errors = self.process.communicate()

    def stop_node(self) -> None:
        """Stop the node itself (not only its connections); its queues and messages stay on disk."""
        self._ask("stop")

    def start_node(self) -> None:
        """Start the stopped node again, on the same ports and data; returns once it answers."""
        self._ask("start")

    def _ask(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline() or "{}")
        if answer.get(command) != "done":
            raise RuntimeError(f"the RabbitMQ node {self.broker.node} did not {command}: {answer.get('error')}")


@contextmanager
def private_node(name: str | None = None) -> Iterator[Keeper]:
    """A RabbitMQ node for one test module alone, stopped with it; ``.broker`` says where it answers."""
    keeper = Keeper(name or f"campaign-private-{os.getpid()}-{threading.get_ident() % 10000}@localhost")
    try:
        yield keeper
    finally:
        keeper.stop()


# --- in the keeper process ---------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for row in table.split("\n"):
        if row.strip():
            child, parent = map(int, row.split())
            children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Node:
    """One RabbitMQ node, run with ``rabbitmq-server``, everything of it under ``directory``."""

    def __init__(self, name: str, directory: Path):
        self.name = name
        self.directory = directory
        self.amqp_port = _free_port()
        self.dist_port = _free_port()
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.amqp_port}"
        self.launcher: subprocess.Popen | None = None
        self.beam_pid: int | None = None

    def start(self) -> None:
        self.launch()
        self.await_startup()

    def launch(self) -> None:
        """Start ``rabbitmq-server`` for this node; ``await_startup`` waits until it answers."""
        d = self.directory
        self.beam_pid = None
        (d / "mnesia").mkdir(parents=True, exist_ok=True)  # a restart finds the data of the first start
        (d / "log").mkdir(exist_ok=True)
        (d / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.amqp_port}\n")
        (d / "enabled_plugins").write_text("[].\n")  # not the machine's: no management on 15672
        (d / "rabbitmq-env.conf").write_text("")  # not the machine's, which may name its node
        if os.geteuid() == 0:  # packaged rabbitmq-server runs the node as user rabbitmq
            try:
                rabbitmq = pwd.getpwnam("rabbitmq")
            except KeyError:
                pass
            else:
                for path in [d, *d.rglob("*")]:
                    os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
        env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),  # absent on purpose
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
        }
        with open(d / "console.log", "w") as console:
            self.launcher = subprocess.Popen(["rabbitmq-server"], env=env, stdin=subprocess.DEVNULL,
                                             stdout=console, stderr=subprocess.STDOUT, start_new_session=True)

    def await_startup(self) -> None:
        d = self.directory
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.launcher.poll() is not None:
                raise NodeError(f"rabbitmq-server exited with {self.launcher.returncode}: {self._log_tail()}")
            awaited = subprocess.run(["rabbitmqctl", "-n", self.name, "await_startup", "--timeout", "10"],
                                     capture_output=True, text=True, timeout=60)
            if awaited.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise NodeError(f"no answer after {START_TIMEOUT:.0f}s: {self._log_tail()}")
            time.sleep(0.5)  # not yet reachable; await_startup gave up at once
        self.beam_pid = int((d / "node.pid").read_text())  # the node removes this file as it stops

    def stop(self) -> None:
        """Stop the node: politely, then, after STOP_TIMEOUT, by force."""
        if self.launcher is None:
            return
        processes = [self.launcher.pid, *_descendants(self.launcher.pid)]
        if self.beam_pid and self.beam_pid not in processes:
            processes.append(self.beam_pid)  # its launcher went away: the node is init's child now
        # Once up, the node stops on SIGTERM and its launchers follow; halfway up, all get one.
        started = self.beam_pid is not None and _alive(self.beam_pid)
        for pid in [self.beam_pid] if started else processes:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(_alive(pid) for pid in processes if pid != self.launcher.pid) and time.monotonic() < deadline:
            self.launcher.poll()  # reap the launcher so it does not count as alive
            time.sleep(0.1)
        for pid in processes:
            if pid != self.launcher.pid and _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.launcher.wait(5)
        except subprocess.TimeoutExpired:
            self.launcher.kill()
            self.launcher.wait()

    def _log_tail(self, lines: int = 15) -> str:
        logs = [self.directory / "console.log", *sorted((self.directory / "log").glob("*.log"))]
        text = "\n".join(p.read_text(errors="replace") for p in logs if p.exists())
        return "\n".join(text.strip().splitlines()[-lines:])


class NodeError(Exception):
    pass


def keep(name: str) -> None:
    """Start node ``name``, say where it answers, and stop it once stdin closes."""
    # A SIGTERM to the keeper still stops the node: SystemExit runs the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    directory = Path(tempfile.mkdtemp(prefix=f"{name.split('@')[0]}-"))
    node = Node(name, directory)
    try:
        try:
            node.start()
        except (NodeError, OSError, subprocess.SubprocessError) as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
            return
        print(json.dumps({"amqp_uri": node.amqp_uri, "node": name}), flush=True)
        for line in sys.stdin:  # until the test run closes the pipe, or dies
            command = line.strip()
            try:
                {"stop": node.stop, "start": node.start}[command]()
            except (KeyError, NodeError, OSError, subprocess.SubprocessError) as exc:
                print(json.dumps({command: "failed", "error": str(exc) or "unknown command"}), flush=True)
            else:
                print(json.dumps({command: "done"}), flush=True)
    finally:
        node.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    keep(sys.argv[1])
