"""The outbox relay: publishes what units of work committed to the outbox table.

A service's change and its events are committed in one transaction (see
``shared.database``); this relay then publishes the pending rows in order and
marks them published.  A row stays pending until the broker has confirmed it,
so a crash or a broker outage delays events but never loses them.  Domain
events are published ``mandatory``: if no queue is bound yet, the broker
returns the message and the row waits for the next round instead of vanishing.
"""
import json
import logging
import threading
from datetime import timedelta

from kombu import Exchange
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.extensions import DependencyProvider
from sqlalchemy import func, select

from shared import metrics
from shared.database import Database, OutboxMessage, utcnow
from shared.events import SUMMARY_EXCHANGE

log = logging.getLogger(__name__)

BATCH = 500


class OutboxRelay(DependencyProvider):
    """Declare it beside ``Database`` on a service that emits events."""

    def setup(self):
        config = self.container.config
        self.interval = config.get("OUTBOX_INTERVAL", 0.5)
        self.publisher = Publisher(config["AMQP_URI"], serializer="json")
        self.service = self.container.service_name
        self._wake = threading.Event()
        self._running = False
        self._thread = None

    @property
    def store(self):
        return next(d for d in self.container.dependencies if isinstance(d, Database)).store

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.wait()

    def kill(self):
        self._running = False
        self._wake.set()

    def worker_teardown(self, worker_ctx):
        self._wake.set()  # a worker may have committed events: publish them now

    def _run(self):
        while self._running:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                while self._running and self.publish_pending() == BATCH:
                    pass
            except Exception:  # broker or database away: keep the rows, try again
                log.warning("outbox relay of %s will retry", self.service, exc_info=True)

    def publish_pending(self):
        """Publish up to BATCH due rows; returns how many were tried."""
        store = self.store
        tried = 0  # published, or put back for later
        with store.gate(), store.sessions() as session:
            rows = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= utcnow())
                .order_by(OutboxMessage.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                tried += 1
                try:
                    self._publish(row)
                except UndeliverableMessage:
                    row.attempts += 1
                    row.next_attempt_at = utcnow() + timedelta(seconds=min(2 ** row.attempts, 60))
                    log.warning("no queue takes %s yet; it stays in the outbox", row.routing_key)
                    continue
                row.published_at = utcnow()
                metrics.EVENTS_PUBLISHED.labels(self.service, row.routing_key.split(".")[0]).inc()
            session.commit()
            metrics.OUTBOX_PENDING.labels(self.service).set(
                session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
            )
        return tried

    def _publish(self, row):
        public = row.exchange == SUMMARY_EXCHANGE
        exchange = Exchange(row.exchange, type="topic", durable=True)
        self.publisher.publish(
            json.loads(row.payload),
            exchange=exchange,
            declare=[exchange],
            routing_key=row.routing_key,
            message_id=row.event_id,
            # Subscribers to public summaries come and go; domain events must reach a queue.
            mandatory=not public,
        )
