"""Three RabbitMQ nodes on this machine joined as one cluster, as deploy/k8s runs the broker.

Each node has its own name, ports and data directory (as the test run's own
node, tests/support/broker_node.py); the second and third join the
first with ``rabbitmqctl join_cluster``.  Clients get one AMQP URI per node, joined by ``;``:
kombu (and so nameko and the outbox relay) fails over to the next node when one goes away,
as a Kubernetes Service in front of the three pods would send them elsewhere.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

from tests.support import broker_node


def rabbitmqctl(node, *args, timeout=120):
    return subprocess.run(["rabbitmqctl", "-n", node, *args], check=True, capture_output=True, text=True,
                          timeout=timeout).stdout


class Node(broker_node.Node):
    """A member of the cluster: started as the run's own node is, stopped as an operator would."""

    def uri(self, vhost):
        return f"{self.amqp_uri}/{vhost}"

    @property
    def running(self):
        return self.launcher is not None and self.launcher.poll() is None

    def stop(self):
        """Stop the node as an operator would (``rabbitmqctl stop``); by force if it lingers."""
        if not self.running:
            return
        subprocess.run(["rabbitmqctl", "-n", self.name, "stop"], capture_output=True, timeout=60)
        try:
            self.launcher.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.launcher.pid, signal.SIGKILL)
            self.launcher.wait()


class RabbitCluster:
    """Three nodes, the second and third joined to the first; ``stop()`` throws it all away."""

    def __init__(self, size=3):
        self.directory = Path(tempfile.mkdtemp(prefix="campaign-rabbit-cluster-"))
        self.directory.chmod(0o755)  # the nodes may run as user rabbitmq: they must reach their folders
        tag = uuid.uuid4().hex[:6]
        self.nodes = [Node(f"campaign-{tag}-{i}@localhost", self.directory / str(i)) for i in range(size)]
        self.vhost = f"campaign-cluster-{tag}"
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.await_startup()
            first = self.nodes[0].name
            for node in self.nodes[1:]:
                rabbitmqctl(node.name, "stop_app")
                rabbitmqctl(node.name, "join_cluster", first)
                rabbitmqctl(node.name, "start_app")
            rabbitmqctl(first, "add_vhost", self.vhost)
            rabbitmqctl(first, "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
        except BaseException:
            self.stop()
            raise

    @property
    def amqp_uri(self):
        """Every node, the first first: clients connect there and fail over to the others."""
        return ";".join(node.uri(self.vhost) for node in self.nodes)

    def running_nodes(self):
        for node in self.nodes:
            if node.running:
                status = rabbitmqctl(node.name, "cluster_status", "--formatter", "json")
                return sorted(json.loads(status)["running_nodes"])
        return []

    def leader_of(self, queue):
        """The node whose member of the quorum queue ``queue`` leads it."""
        node = next(n for n in self.nodes if n.running)
        out = rabbitmqctl(node.name, "list_queues", "-p", self.vhost, "--quiet", "--no-table-headers",
                          "name", "leader")
        leaders = dict(row for row in (line.split() for line in out.splitlines()) if len(row) == 2)  # quorum ones
        return next(n for n in self.nodes if n.name == leaders[queue])

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def stop(self):
        stopping = [threading.Thread(target=node.stop) for node in self.nodes]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        shutil.rmtree(self.directory, ignore_errors=True)
