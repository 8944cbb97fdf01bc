"""nameko's side of a service's database: a store per service, a unit of work per worker."""
from contextlib import AbstractContextManager

from nameko.extensions import DependencyProvider
from sqlalchemy import MetaData

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

    def __init__(self, metadata: MetaData, unit_of_work: type[UnitOfWork] = UnitOfWork) -> None:
        self.metadata = metadata
        self.unit_of_work = unit_of_work
        self.store: Store | None = None

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
