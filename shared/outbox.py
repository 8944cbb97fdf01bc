"""The outbox relay: publishes what units of work committed to the outbox table.

A service's change and its events are committed in one transaction (see
``shared.database``); this relay then publishes the pending rows (in order within each
city, the cities taking turns) and marks them published.  A row stays pending until the broker has taken it (its
AMQP transaction committed), so a crash or a broker outage delays events but
never loses them.  Domain events are published ``mandatory``: if no queue is
bound yet, the broker returns the message and the row waits for a later round
instead of vanishing.

While the broker or the database is away the relay backs off (capped, with
jitter), says so once and says again when it publishes; the rows wait, counted
by ``campaign_outbox_pending`` and aged by ``campaign_outbox_oldest_age_seconds``.
"""
import json
import logging
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import timedelta, timezone

import amqp
from kombu import Connection, Exchange
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.extensions import DependencyProvider
from sqlalchemy import func, select, update

from shared import metrics
from shared.config import is_embedded
from shared.database import OutboxMessage, utcnow
from shared.dependencies import Database
from shared.events import SUMMARY_EXCHANGE
from shared.faults import backoff, is_transient
from shared.turns import taking_turns

log = logging.getLogger(__name__)

BATCH = 500
# What publishing a row reads of it.
TO_PUBLISH = (OutboxMessage.id, OutboxMessage.event_id, OutboxMessage.exchange, OutboxMessage.routing_key,
              OutboxMessage.city, OutboxMessage.payload, OutboxMessage.attempts)
DRAIN_SECONDS = 3.0  # a graceful stop publishes what is pending for this long at most


class Broker:
    """Publishes a batch of outbox rows; returns the event ids no queue took.

    On RabbitMQ a batch is one AMQP transaction: when ``tx_commit`` returns,
    every message of it is on its queues, at a fraction of the cost of
    confirming each message.  The in-process transport has no transactions
    and publishes one message at a time.
    """

    def __init__(self, amqp_uri):
        self.amqp_uri = amqp_uri
        self.transactional = not is_embedded({"AMQP_URI": amqp_uri})
        self.publisher = Publisher(amqp_uri, serializer="json")
        self.connection = None

    def publish(self, rows):
        if not self.transactional:
            return self._publish_each(rows)
        self._returned = set()
        try:
            if self.connection is None:
                self._open()  # inside the try: a connection refused halfway is closed, and opened anew next time
            for exchange in {row.exchange for row in rows} - self._declared:  # once per connection
                _exchange(exchange)(self.channel).declare()
                self._declared.add(exchange)
            # The payload is JSON already: py-amqp's own message and publish, not kombu's per-message producer.
            with _written_at_once(self.connection.connection.transport):
                for row in taking_turns(rows, every=50):
                    self.channel.basic_publish(
                        amqp.Message(row.payload, content_type="application/json", content_encoding="utf-8",
                                     delivery_mode=2, message_id=row.event_id),
                        exchange=row.exchange, routing_key=row.routing_key,
                        mandatory=row.exchange != SUMMARY_EXCHANGE,
                    )
            self.channel.tx_commit()
        except Exception:
            self.close()  # a broken channel is never reused; the rows stay pending
            raise
        return self._returned

    def _open(self):
        # No heartbeats: the relay may sit idle, and a dead connection shows on the next publish.
        self.connection = Connection(self.amqp_uri, heartbeat=0)
        self.channel = self.connection.channel()
        self.channel.tx_select()
        self.channel.events["basic_return"].add(self._on_return)
        # With this capability py-amqp reads the socket before every publish, to see a notice that the
        # broker blocks publishers; the relay has nothing to do with one (a blocked broker holds the
        # transaction until its alarm clears), so it does not pay a read per message for it.
        capabilities = self.connection.connection.client_properties.get("capabilities")
        if capabilities:
            capabilities["connection.blocked"] = False
        self._declared = set()

    def _on_return(self, exception, exchange, routing_key, message):
        self._returned.add(message.properties.get("message_id"))

    def _publish_each(self, rows):
        returned = set()
        for row in rows:
            try:
                self.publisher.publish(
                    json.loads(row.payload), exchange=_exchange(row.exchange), declare=[_exchange(row.exchange)],
                    routing_key=row.routing_key, message_id=row.event_id,
                    mandatory=row.exchange != SUMMARY_EXCHANGE,
                )
            except UndeliverableMessage:
                returned.add(row.event_id)
        return returned

    def close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:
                pass
        self.connection = None


@contextmanager
def _written_at_once(transport):
    """A transaction's messages go to the socket in one write, not one each.

    py-amqp writes every message as it frames it; nothing of a transaction is
    acted on before its commit, so holding the frames until the last one is
    framed changes nothing the broker sees, only the number of writes.
    """
    send, frames = transport._write, bytearray()
    transport._write = frames.extend
    try:
        yield
    finally:
        transport._write = send
    send(frames)


def next_in_turn(limit):
    """The ids of the next due rows, each city's in order and the cities taking turns.

    Rows are ranked within their city and taken by (rank, id): a city with
    20,000 events waiting and a city with one each get their first event into
    the next batch, so a bulk import in one city delays no other city.
    """
    due = (
        select(OutboxMessage.id,
               func.row_number().over(partition_by=OutboxMessage.city, order_by=OutboxMessage.id).label("turn"))
        .where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
        .subquery()
    )
    return select(due.c.id).order_by(due.c.turn, due.c.id).limit(limit)


def _aware(moment):
    # min() over a UtcDateTime column comes back raw: naive (UTC) on SQLite.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def _exchange(name):
    return Exchange(name, type="topic", durable=True)


class OutboxRelay(DependencyProvider):
    """Declare it beside ``Database`` on a service that emits events."""

    def setup(self):
        config = self.container.config
        self.interval = config.get("OUTBOX_INTERVAL", 0.5)
        self.broker = Broker(config["AMQP_URI"])
        self.service = self.container.service_name
        self._wake = threading.Event()  # a unit of work committed events: publish now
        self._stopping = threading.Event()  # ends a backoff, which a worker's events do not
        self._running = False
        self._thread = None
        self.failures = 0  # rounds failed in a row
        # Both have a value from the start, so an alert on them can fire (none pending: 0).
        metrics.OUTBOX_PENDING.labels(self.service)
        metrics.OUTBOX_AGE.oldest.setdefault(self.service, None)

    @property
    def store(self):
        return next(d for d in self.container.dependencies if isinstance(d, Database)).store

    def start(self):
        self._running = True
        self.store.events_committed.append(self._wake.set)  # publish now, not at the next interval
        self._thread = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.wait()
        self.drain()
        self.broker.close()

    def last_round(self):
        """What a service commits to its outbox as it stops (reporting: its final summaries)."""

    def drain(self, seconds=DRAIN_SECONDS):
        """On a graceful stop: the last round, then what is pending (for ``seconds`` at most, so the
        stop keeps its deadline), so nothing committed waits for a restart."""
        deadline = time.monotonic() + seconds
        try:
            self.last_round()
            while self.publish_pending() == BATCH and time.monotonic() < deadline:
                pass
        except Exception as error:  # broker or database away: the rows stay and go out after a restart
            log.warning("outbox relay of %s stopped with events pending (%s); they go out after a restart",
                        self.service, type(error).__name__, exc_info=not is_transient(error))

    def kill(self):
        self._running = False
        self._stopping.set()
        self._wake.set()
        self.broker.close()

    def _run(self):
        while self._running:
            if self.failures:
                self._stopping.wait(backoff(self.failures, first=self.interval))
            else:
                self._wake.wait(self.interval)
            self._wake.clear()
            try:
                while self._running and self.publish_pending() == BATCH:
                    pass
            except Exception as error:  # broker or database away: keep the rows, try again later
                self._failed(error)
            else:
                self._published()

    def _failed(self, error):
        if not self.failures or not is_transient(error):
            log.warning("outbox relay of %s cannot publish for now (%s); the events wait in the outbox",
                        self.service, type(error).__name__, exc_info=not is_transient(error))
        self.failures += 1

    def _published(self):
        if self.failures:
            log.warning("outbox relay of %s publishes again after %d tries", self.service, self.failures)
        self.failures = 0

    def publish_pending(self):
        """Publish up to BATCH due rows; returns how many were tried.

        Each city's rows go in a broker transaction of their own, the cities
        with fewest first: a lone registration is never held behind the rest
        of a bulk import's batch.
        """
        store = self.store
        with store.gate(), store.sessions() as session:
            ids = session.scalars(next_in_turn(BATCH)).all()
            if not ids:  # the usual answer in a consumer: one query, no commit, no count
                if metrics.OUTBOX_AGE.oldest.get(self.service):  # unless a backlog was seen: gone yet?
                    self._measure_backlog(session)
                return 0
            rows = session.execute(
                select(*TO_PUBLISH)  # plain rows: no ORM object per message
                .where(OutboxMessage.id.in_(ids), OutboxMessage.published_at.is_(None))
                .order_by(OutboxMessage.id)
                .with_for_update(skip_locked=True)  # another worker of this service may be publishing them
            ).all()
            by_city = defaultdict(list)
            for row in rows:
                by_city[row.city].append(row)
            published, failure = [], None
            for city_rows in sorted(by_city.values(), key=len):
                try:
                    returned = self.broker.publish(city_rows)
                except Exception as exc:  # what went before is on the broker: mark it, keep the rest
                    failure = exc
                    break
                published.extend(r for r in city_rows if r.event_id not in returned)
                self._postpone(session, [r for r in city_rows if r.event_id in returned])
            now = utcnow()
            for start in range(0, len(published), 1000):
                session.execute(update(OutboxMessage).where(
                    OutboxMessage.id.in_([r.id for r in published[start:start + 1000]])).values(published_at=now))
            session.commit()
            for kind, count in Counter(r.routing_key.split(".")[0] for r in published).items():
                metrics.EVENTS_PUBLISHED.labels(self.service, kind).inc(count)
            for row in published:
                log.debug("published %s", row.routing_key, extra={"event_id": row.event_id, "city": row.city})
            self._measure_backlog(session)
        if failure is not None:
            raise failure
        return len(rows)

    def _measure_backlog(self, session):
        """The rows still to publish (here or by another worker): how many, and since when."""
        count, oldest = session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
        ).one()
        metrics.OUTBOX_PENDING.labels(self.service).set(count)
        metrics.OUTBOX_AGE.oldest[self.service] = _aware(oldest)

    @staticmethod
    def _postpone(session, returned):
        now = utcnow()
        for row in returned:
            attempts = row.attempts + 1
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                attempts=attempts, next_attempt_at=now + timedelta(seconds=min(2 ** attempts, 60))))
            log.warning("no queue takes %s yet; it stays in the outbox", row.routing_key,
                        extra={"event_id": row.event_id, "city": row.city})
