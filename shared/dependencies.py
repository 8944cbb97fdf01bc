"""nameko's dependencies of every service: its database (a store per service, a unit of
work per worker) and the metrics of its entrypoints."""
import time
from contextlib import AbstractContextManager

from nameko.extensions import DependencyProvider
from sqlalchemy import MetaData

from shared import metrics
from shared.database import Store, UnitOfWork


class WorkerDatabase:
    """What a worker sees as ``self.db``: its service's store, named for idempotency."""

    def __init__(self, store: Store, consumer: str) -> None:
        self.store = store
        self.consumer = consumer

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        return self.store.unit_of_work(self.consumer)

    def read(self) -> AbstractContextManager[UnitOfWork]:
        return self.store.read(self.consumer)


class Database(DependencyProvider):
    """The service's own database, from ``DATABASE_URLS``, with its unit-of-work class."""

    store: Store  # made in setup(), before any worker or the outbox relay runs

    def __init__(self, metadata: MetaData, unit_of_work: type[UnitOfWork] = UnitOfWork) -> None:
        self.metadata = metadata
        self.unit_of_work = unit_of_work

    def setup(self) -> None:
        service = self.container.service_name
        url = self.container.config["DATABASE_URLS"][service]
        self.store = Store(url, self.metadata, consumer=service, unit_of_work=self.unit_of_work)

    def stop(self) -> None:
        self.store.dispose()

    def kill(self) -> None:
        self.store.dispose()

    def get_dependency(self, worker_ctx) -> WorkerDatabase:
        consumer = f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}"
        return WorkerDatabase(self.store, consumer)


class Metrics(DependencyProvider):
    """Counts and times every entrypoint of the service it is declared on."""

    def __init__(self) -> None:
        self._started: dict = {}

    def setup(self) -> None:
        metrics.DEAD_LETTERS.services[self.container.service_name] = self.container.config["AMQP_URI"]

    def worker_setup(self, worker_ctx) -> None:
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None) -> None:
        started = self._started.pop(worker_ctx, None)
        name = worker_ctx.entrypoint.method_name
        service = worker_ctx.service_name
        metrics.ENTRYPOINT_CALLS.labels(service, name, "error" if exc_info else "ok").inc()
        if started is not None:
            metrics.ENTRYPOINT_SECONDS.labels(service, name).observe(time.perf_counter() - started)

    def get_dependency(self, worker_ctx) -> "Metrics":
        return self
