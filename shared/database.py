"""Each service's own database, and the unit of work every change goes through.

A unit of work is one transaction.  Inside it a service changes its rows,
``emit``s the events that change causes (written to the outbox table, so they
are committed with the change or not at all) and, when handling an event,
claims it with ``first_delivery`` so a redelivered event does nothing twice.
"""
import json
import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path

from nameko.extensions import DependencyProvider
from sqlalchemy import DateTime, Integer, String, Text, create_engine, event, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from shared import metrics, migrations


def utcnow():
    return datetime.now(timezone.utc)


class SharedBase(DeclarativeBase):
    """Tables every service database has besides its own."""


class OutboxMessage(SharedBase):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    exchange: Mapped[str] = mapped_column(String(100))
    routing_key: Mapped[str] = mapped_column(String(200))
    # The relay takes pending rows city by city, so one city's bulk import never queues another's events.
    city: Mapped[str] = mapped_column(String(60), default="")
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # An event no queue takes yet is retried later, so it never holds up the rows behind it.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ProcessedEvent(SharedBase):
    """One row per (event, consumer) handled: the idempotent-consumer guard."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UnitOfWork:
    def __init__(self, session, consumer):
        self.session = session
        self.consumer = consumer
        self.emitted = []

    def emit(self, event, city, **fields):
        """Record ``event`` for publication once this unit of work commits."""
        payload = event.create(city, **fields)
        self.session.add(OutboxMessage(
            event_id=payload["event_id"],
            exchange=event.exchange,
            routing_key=event.routing_key(city),
            city=city,
            payload=json.dumps(payload),
        ))
        self.emitted.append(payload)
        return payload

    def first_delivery(self, payload):
        """Claim an event for this consumer; False if it was handled before.

        Call it first in the unit of work: a duplicate rolls the transaction back.
        """
        self.session.add(ProcessedEvent(event_id=str(payload["event_id"]), consumer=self.consumer))
        try:
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            metrics.DUPLICATES_SKIPPED.labels(self.consumer.split(".")[0], self.consumer).inc()
            return False
        return True

    def first_deliveries(self, payloads):
        """The events of a batch this consumer has not handled before, claimed for it."""
        ids = _event_ids(payloads)
        seen = set(self.session.scalars(select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer == self.consumer, ProcessedEvent.event_id.in_(ids))))
        fresh_ids = [i for i in ids if i not in seen]
        if fresh_ids:
            # A concurrent duplicate fails the batch here; it is then handled one event at a time.
            self.session.execute(insert(ProcessedEvent), [
                {"event_id": i, "consumer": self.consumer, "processed_at": utcnow()} for i in fresh_ids])
        if len(fresh_ids) < len(payloads):
            metrics.DUPLICATES_SKIPPED.labels(self.consumer.split(".")[0], self.consumer).inc(
                len(payloads) - len(fresh_ids))
        fresh, taken = [], set(fresh_ids)
        for payload in payloads:
            event_id = str(payload["event_id"])
            if event_id in taken:
                fresh.append(payload)
                taken.discard(event_id)
        return fresh


def _event_ids(payloads):
    ids = []
    for payload in payloads:
        event_id = str(payload["event_id"])
        if event_id not in ids:
            ids.append(event_id)
    return ids


class Store:
    """Engine and sessions of one service database (SQLite file or PostgreSQL)."""

    def __init__(self, url, metadata, consumer="local"):
        self.url = url
        self.consumer = consumer
        self.sqlite = url.startswith("sqlite")
        kwargs = {}
        if self.sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine = create_engine(url, **kwargs)
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._prepare_schema(metadata)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its lock waits block the whole
        # process (green threads included), so transactions take turns here.
        self._gate = threading.RLock() if self.sqlite else None

    def _prepare_schema(self, metadata):
        """Bring the database to the newest revision of the service whose models ``metadata`` is.

        Workers of one service start together; one migrates, the others wait on the lock.
        """
        service = migrations.service_of(metadata)
        with migrations.schema_lock(self.engine) as connection:
            if service:
                migrations.upgrade_locked(service, connection)
            else:  # tables of no service (the shared ones alone, in tests): made as they are
                SharedBase.metadata.create_all(connection)
                metadata.create_all(connection)

    def gate(self):
        return self._gate if self._gate is not None else nullcontext()

    @contextmanager
    def unit_of_work(self, consumer=None):
        with self.gate(), self.sessions() as session:
            uow = UnitOfWork(session, consumer or self.consumer)
            try:
                yield uow
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self):
        with self.sessions() as session:
            yield session

    def dispose(self):
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class WorkerDatabase:
    """What a worker sees as ``self.db``: its service's store, named for idempotency."""

    def __init__(self, store, consumer):
        self.store = store
        self.consumer = consumer

    def unit_of_work(self):
        return self.store.unit_of_work(self.consumer)

    def read(self):
        return self.store.read()


class Database(DependencyProvider):
    """nameko dependency: the service's own database, from ``DATABASE_URLS``."""

    def __init__(self, metadata):
        self.metadata = metadata
        self.store = None

    def setup(self):
        service = self.container.service_name
        url = self.container.config["DATABASE_URLS"][service]
        self.store = Store(url, self.metadata, consumer=service)

    def stop(self):
        self.store.dispose()

    def kill(self):
        self.store.dispose()

    def get_dependency(self, worker_ctx):
        consumer = f"{worker_ctx.service_name}.{worker_ctx.entrypoint.method_name}"
        return WorkerDatabase(self.store, consumer)
