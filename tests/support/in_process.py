"""Service classes in nameko containers inside the test process, answering HTTP on a real socket.

The in-process transport (``memory://``), SQLite files in the test's directory,
and tokens of ``tests.support.tokens``' local issuer, which every service of the
process trusts: the whole web layer (``shared.web``: limits, checks, schemas,
statuses) as a deployment has it, for the price of a container start.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from nameko.containers import ServiceContainer
from nameko.testing.services import replace_dependencies

from shared.config import load
from tests.support.cluster import free_port
from tests.support.tokens import session


@dataclass
class Served:
    """The running containers (by service name) and their base URL; ``call`` asks as ``who``."""

    containers: dict[str, ServiceContainer]
    url: str
    stand_ins: dict[str, Any] = field(default_factory=dict)  # replaced dependencies, by name
    _sessions: dict[str, requests.Session] = field(default_factory=dict)

    def call(self, method: str, path: str, who: str = "national", **kwargs: Any) -> requests.Response:
        http = self._sessions.setdefault(who, session(who))
        return http.request(method, self.url + path, **{"timeout": 30, **kwargs})


@contextmanager
def serving(service_classes, directory, replace=(), **settings):
    """The classes' containers started on one address; ``replace`` names dependencies (RPC proxies)
    that get stand-ins, found afterwards in ``Served.stand_ins``."""
    config = load({"CAMPAIGN_DATA_DIR": str(directory), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                   **{name: str(value) for name, value in settings.items()}})
    containers = {cls.name: ServiceContainer(cls, config) for cls in service_classes}
    stand_ins = {}
    for container in containers.values():
        names = [name for name in replace if hasattr(container.service_cls, name)]
        if names:
            found = replace_dependencies(container, *names)
            stand_ins.update(zip(names, found if len(names) > 1 else [found]))
    started = []
    try:
        for container in containers.values():
            container.start()
            started.append(container)
        yield Served(containers, f"http://{config['WEB_SERVER_ADDRESS']}/api/v1", stand_ins)
    finally:
        for container in reversed(started):
            container.stop()


def empty_memory_broker() -> None:
    """Forget the in-process broker's queues and bindings: they outlive the containers that declared
    them, and a later module's container would take the events earlier modules' services sent there."""
    from kombu.transport import memory
    memory.Channel.queues.clear()
    memory.Transport.global_state.clear()
