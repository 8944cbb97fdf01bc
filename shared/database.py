"""Each service's own database, and the unit of work every change goes through.

A unit of work is one transaction.  Inside it a service changes its rows
through its repositories, ``emit``s the events that change causes (written to
the outbox table, so they are committed with the change or not at all) and,
when handling events, ``claim``s them so a redelivered event does nothing twice.

Plain SQLAlchemy: the nameko side (``shared.dependencies``) hands these to workers.
"""
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TextClause,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy import exc as sa_errors
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from shared import event_codec, metrics, migrations
from shared.events import Event


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, always read back with its time zone (UTC).

    PostgreSQL keeps the zone; SQLite keeps text and would hand back a naive
    datetime, which the API would then print without a zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # An event no queue takes yet is retried later, so it never holds up the rows behind it.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ProcessedEvent(SharedBase):
    """One row per (event, consumer) handled: the idempotent-consumer guard."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# The tables themselves, for Core statements that need no ORM object per row.
OUTBOX: Table = SharedBase.metadata.tables["outbox"]


class UnitOfWork:
    """One transaction of a service: its repositories, the events it causes, the events it claims.

    A service subclasses it to hang its repositories on it (built on
    ``self.session``, which nothing but repositories touches).  Emitted events
    are written to the outbox when the unit of work commits, in one statement.
    """

    def __init__(self, session: Session, consumer: str) -> None:
        self.session = session
        self.consumer = consumer
        self.emitted: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self.wrote_events = False  # whether anything went to the outbox

    def emit(self, event: Event, city: str, **fields: Any) -> dict[str, Any]:
        """Record ``event`` for publication once this unit of work commits; returns its payload."""
        return self.emit_many(event, [(city, fields)])[0]

    def emit_many(self, event: Event, occurrences: Iterable[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Record one ``event`` per ``(city, fields)``; a bulk import emits thousands at once."""
        occurrences = list(occurrences)
        payloads = event_codec.create_many(event, occurrences)
        for (city, _), payload in zip(occurrences, payloads):
            self._outbox.append({
                "event_id": payload["event_id"], "exchange": event.exchange,
                "routing_key": event.routing_key(city), "city": city,
                "payload": json.dumps(payload), "created_at": utcnow(), "next_attempt_at": utcnow(),
                "attempts": 0,
            })
        self.emitted.extend(payloads)
        return payloads

    def flush_events(self) -> None:
        """Write what was emitted to the outbox (the unit of work does it at commit)."""
        if self._outbox:
            self.session.execute(insert(OUTBOX), self._outbox)
            self._outbox = []
            self.wrote_events = True

    def commit(self) -> None:
        self.flush_events()
        self.session.commit()

    def claim(self, events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The events of ``events`` this consumer has not handled before, claimed for it:
        the first payload given of each, in the order given.

        The claim is part of this transaction: if the work fails, the event is
        unclaimed again and its redelivery is handled.
        """
        keyed = [(str(payload["event_id"]), payload) for payload in events]  # a UUID made text once
        ids = list(dict.fromkeys(event_id for event_id, _ in keyed))
        taken: set[str] = set()
        if ids:
            statement, as_one_value = _CLAIMING[self.session.get_bind().dialect.name]
            taken = set(self.session.scalars(statement, {
                "ids": as_one_value(ids), "consumer": self.consumer, "now": utcnow()}))
        if len(taken) < len(events):
            metrics.DUPLICATES_SKIPPED.labels(self.consumer.split(".")[0], self.consumer).inc(
                len(events) - len(taken))
        fresh = []
        for event_id, payload in keyed:
            if event_id in taken:
                fresh.append(payload)
                taken.discard(event_id)
        return fresh


def _claiming(statement: str) -> TextClause:
    return text(statement).bindparams(bindparam("now", type_=UtcDateTime()))


# A batch's claims in one statement, its ids passed as one value: no work per row in Python,
# whatever the batch's size (a multi-row INSERT's parameters cost 12 us CPU per event, this 2).
# The claims that went in come back; one of the same event by another worker's open transaction
# is waited for (PostgreSQL; SQLite has one writer at a time) and goes in only if that one rolls back.
_CLAIMING: dict[str, tuple[TextClause, Callable[[list[str]], Any]]] = {
    "postgresql": (_claiming(
        "INSERT INTO processed_events (event_id, consumer, processed_at)"
        " SELECT unnest(CAST(:ids AS varchar[])), :consumer, :now"
        " ON CONFLICT DO NOTHING RETURNING event_id"), list),
    "sqlite": (_claiming(
        "INSERT INTO processed_events (event_id, consumer, processed_at)"
        " SELECT value, :consumer, :now FROM json_each(:ids)"
        " WHERE true"  # without a WHERE, SQLite reads ON CONFLICT as the ON of a join
        " ON CONFLICT DO NOTHING RETURNING event_id"), json.dumps),
}


# A pooled PostgreSQL connection idle this long is checked before use; one in use more often is not.
IDLE_BEFORE_PING = 10.0
RECYCLE_SECONDS = 1800


class Store:
    """Engine and sessions of one service database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, metadata: MetaData, consumer: str = "local",
                 unit_of_work: type[UnitOfWork] = UnitOfWork) -> None:
        self.url = url
        self.consumer = consumer
        self.unit_of_work_class = unit_of_work
        self.sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            # The most recently used connection first: those in steady use stay warm (and are not
            # pinged, see _ping_after_idle), the rest sit idle.  None lives longer than RECYCLE_SECONDS,
            # so after a failover no connection keeps talking to the old primary for long.
            kwargs.update(pool_size=10, max_overflow=10, pool_use_lifo=True, pool_recycle=RECYCLE_SECONDS)
        self.engine = create_engine(url, **kwargs)
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            _ping_after_idle(self.engine)
        self._prepare_schema(metadata)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Called after a unit of work committed events to the outbox (the outbox relay publishes them).
        self.events_committed: list[Callable[[], None]] = []
        # SQLite has one writer at a time and its lock waits block the whole
        # process (green threads included), so transactions take turns here.
        self._gate = threading.RLock() if self.sqlite else None

    def _prepare_schema(self, metadata: MetaData) -> None:
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

    def gate(self) -> AbstractContextManager[object]:
        return self._gate if self._gate is not None else nullcontext()

    @contextmanager
    def unit_of_work(self, consumer: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work that commits when the block ends, and rolls back if it raises."""
        with self.gate(), self.sessions() as session:
            uow = self.unit_of_work_class(session, consumer or self.consumer)
            try:
                yield uow
                uow.commit()
            except BaseException:
                session.rollback()
                raise
        if uow.wrote_events:
            for listener in self.events_committed:
                listener()

    @contextmanager
    def read(self, consumer: str | None = None) -> Iterator[UnitOfWork]:
        """A unit of work for reading: nothing it does is committed."""
        with self.sessions() as session:
            yield self.unit_of_work_class(session, consumer or self.consumer)

    def dispose(self) -> None:
        self.engine.dispose()


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle for ``IDLE_BEFORE_PING`` seconds.

    Checking on every checkout (``pool_pre_ping``) costs a round trip per unit of work, which a
    consumer handling a batch every few milliseconds pays for nothing.  A connection idle for a
    while may have been dropped meanwhile (the database restarted, a firewall forgot it): it is
    checked, and replaced if dead, so a request after a quiet night does not fail.  A connection
    dropped while in steady use fails the unit of work it is in: SQLAlchemy then discards every
    pooled connection as old as it, and the failure is transient (``shared.faults``), so the
    consumer tries the batch again on a new connection and the relay its round.
    """
    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:  # the pool replaces it with a new connection
            raise sa_errors.DisconnectionError("an idle pooled connection was dropped") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
