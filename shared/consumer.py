"""Consuming events: one queue per service and city, with a bounded number of tries.

A service declares ``handle_events = consume_events({event: handler})`` (see
``shared.handling`` for the handlers' side).  Every worker declares the queues
of every city in ``CITIES``, so routing does not depend on which workers are
up, and consumes those in its ``CITY`` setting: ``*`` for all of them and the
other-cities queue, or a list such as ``surabaya``.  Starting a worker with
``CITY=surabaya`` adds consumers to Surabaya's queue alone: capacity for that
city and no other.

Each queue is a quorum queue: a message whose handler keeps failing for good
is tried ``DELIVERY_LIMIT`` + 1 times, then dead-lettered to ``dlq.<service>``,
and the messages behind it flow on.  The in-process transport has no
exchange-to-exchange bindings; there one queue takes every city.

A failure that will pass (``shared.faults.is_transient``: the database away) is
waited out instead: the batch stays unacknowledged and is tried again after a
capped backoff, the broker sends nothing past the prefetch meanwhile, and the
consumer is not ready (``/health/ready``) until a batch succeeds again.  RabbitMQ
3.x counts every return of a message towards its limit, a connection lost or a
stop included, so a stop first finishes what it was sent rather than return it.
"""
import json
import logging
import time
from collections import Counter
from contextlib import contextmanager
from functools import partial

import eventlet
from amqp.exceptions import NotFound
from kombu import Exchange, Queue, binding
from kombu.transport.virtual import Channel as VirtualChannel
from nameko.amqp.publish import get_connection
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint
from nameko.messaging import HeaderDecoder, QueueConsumer, QueueConsumerStopped

from shared.config import ALL_CITIES, is_embedded
from shared.faults import backoff, is_transient
from shared.handling import ROUTING_KEY_HEADER, batched, dispatch, kind_of  # noqa: F401 (batched: for services)
from shared.metrics import CITY_EVENTS_HANDLED, DEAD_LETTERED, EVENTS_HANDLED, QUEUE_DEPTHS

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "campaign.dead-letters"

# Events per batch for the kinds that come in thousands (bulk imports, test sheets).
BATCH = 500
# On a graceful stop, how long the messages already received may take to be handled before they go back.
FINISH_SECONDS = 4.0
# Seconds between attempts to reach a broker that went away (kombu's default grows to 30).
RECONNECT_MAX = 3.0


def dead_letter_queue(service):
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
    return Queue(f"dlq.{service}", exchange=exchange, routing_key=service, durable=True)


def served_cities(config):
    """(cities whose queues exist, cities this worker consumes, whether it takes other cities)."""
    wanted = config.get("CITY", ALL_CITIES)
    known = list(config.get("CITIES", ()))
    if wanted == ALL_CITIES:
        return known, known, True
    served = [city.strip() for city in wanted.split(",") if city.strip()]
    return known + [c for c in served if c not in known], served, False


# How long a consumer thread waits on its socket before its next turn.  Pausing, cancelling and
# stopping a consumer each wait for that turn: with kombu's default second a stop took three.
TURN_SECONDS = 0.2


class PromptQueueConsumer(QueueConsumer):
    """nameko's queue consumer, taking a turn every ``TURN_SECONDS`` instead of every second."""

    def consume(self, *args, **kwargs):
        return super().consume(*args, **{**kwargs, "safety_interval": TURN_SECONDS})


class CityQueueConsumer(PromptQueueConsumer):
    """nameko's queue consumer, letting one entrypoint consume several queues
    and a batching entrypoint take more messages at a time.

    ``connected`` tells whether its connection to the broker is up (for
    ``/health/ready``): kombu consumes inside ``extra_context`` for as long as
    a connection lasts, and leaves it when the connection is lost.  A broker
    that went away is tried again every few seconds, for ever.
    """

    connected = False

    def __init__(self):
        super().__init__()
        self._pausing = {}  # provider -> event sent once its consumer is cancelled
        self._reconnecting = False

    def on_connection_error(self, exc, interval):
        # Said once per outage (nameko says it at every try): readiness and the broker tell the rest.
        if not self._reconnecting:
            log.warning("%s lost the broker (%s); reconnecting every %g s at most", self.container.service_name,
                        type(exc).__name__, RECONNECT_MAX)
        self._reconnecting = True

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        if self._reconnecting:
            log.warning("%s consumes events again", self.container.service_name)
        self._reconnecting = False
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as connection:
            connection.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                         interval_start=1, interval_step=1, interval_max=RECONNECT_MAX)
            yield connection

    @contextmanager
    def extra_context(self, connection, channel):
        self.connected = True
        try:
            yield
        finally:
            self.connected = False
            for provider in list(self._providers):
                provider.connection_lost()

    def pause(self, provider, timeout=2.0):
        """Stop the broker sending ``provider`` more messages; those received stay in hand to be acked.

        Only the consumer thread may cancel a consumer: it does so at its next turn (``TURN_SECONDS``).
        """
        if not self.connected or provider not in self._consumers:
            return
        paused = eventlet.Event()
        self._pausing[provider] = paused
        with eventlet.Timeout(timeout, False):
            paused.wait()

    def on_iteration(self):
        pausing, self._pausing = self._pausing, {}
        for provider, paused in pausing.items():
            consumer = self._consumers.get(provider)
            if consumer is not None:
                consumer.cancel()
            paused.send()
        super().on_iteration()

    def unregister_provider(self, provider):
        if not self.connected and self._consumers_ready.ready():
            # No connection, no consumer thread turning to cancel it: there is nothing to cancel.
            self._consumers.pop(provider, None)
            super(QueueConsumer, self).unregister_provider(provider)
            return
        super().unregister_provider(provider)

    def stop(self):
        if not self.connected and self._gt is not None and not self._gt.dead:
            self.should_stop = True  # waiting for a broker that is away: nothing to hand back
            self._gt.kill(QueueConsumerStopped())
        super().stop()

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            if isinstance(provider, EventConsumer):  # it decodes and buffers itself: no green thread per message
                taking = {"on_message": provider.handle_message}
            else:
                taking = {"callbacks": [partial(self.handle_message, provider)]}
            consumer = consumer_cls(queues=getattr(provider, "queues", [provider.queue]), accept=self.accept, **taking)
            consumer.qos(prefetch_count=max(self.prefetch_count, getattr(provider, "prefetch", 0)))
            self._consumers[provider] = consumer
        return self._consumers.values()


class Acknowledgements:
    """Deliveries acknowledged a run at a time: one ``basic_ack(multiple=True)`` per run.

    ``multiple=True`` acknowledges every delivery up to a tag on the channel,
    and one channel carries every city's messages, so a run ends at the first
    delivery still in hand (or still buffered): nothing is acknowledged before
    it is handled.  A message requeued is settled by the broker and left out.
    """

    def __init__(self):
        self._open = {}  # channel -> {delivery tag: [message, handled?]}, in the order received

    def received(self, message):
        self._open.setdefault(message.channel, {})[message.delivery_tag] = [message, False]

    def forget(self, message):
        self._open.get(message.channel, {}).pop(message.delivery_tag, None)

    def handled(self, messages):
        channels = set()
        for message in messages:
            entry = self._open.get(message.channel, {}).get(message.delivery_tag)
            if entry is not None:
                entry[1] = True
                channels.add(message.channel)
        for channel in channels:
            self._acknowledge_run(channel)

    def _acknowledge_run(self, channel):
        waiting = self._open[channel]
        run = []
        for tag, (message, done) in waiting.items():
            if not done:
                break
            run.append((tag, message))
        if not run:
            return
        for tag, _ in run:
            del waiting[tag]
        if not channel.connection:
            return  # the connection is gone: the broker has taken them back already
        try:
            if isinstance(channel, VirtualChannel):  # the in-process transport acks one tag at a time
                for _, message in run:
                    message.ack()
                return
            last = run[-1][1]
            last.ack(multiple=True)
        except ConnectionError:  # pragma: no cover
            return
        for _, message in run[:-1]:
            message._state = "ACK"  # acknowledged with the last: as message.ack() would leave it


class EventConsumer(Entrypoint, HeaderDecoder):
    """Consumes every event a service handles, from one queue per city.

    ::

        registration.events ──participant_registered.*──> reporting.inbox ──*.pontianak──> reporting.pontianak
        assessment.events   ──test_scored.*─────────────>       │         ──*.medan──────> reporting.medan
                                                                 ▼ (alternate exchange: cities without a queue)
                                                    reporting.inbox.other-cities ──#──> reporting.other-cities

    One queue per city keeps a city's events in the order they were published,
    whatever their kind (a cancellation never overtakes its registration), and
    the queue count at services x cities.  Messages are taken in batches of up
    to ``batch``; each city has at most one batch in hand at a time, so its
    events are applied in order, while other cities' batches run beside it.
    A failing batch is tried again event by event, so a poison message fails
    alone: after ``DELIVERY_LIMIT`` redeliveries it goes to ``dlq.<service>``.
    """

    queue_consumer = CityQueueConsumer()

    def __init__(self, handlers, batch=BATCH, batch_wait=0.02, **kwargs):
        self.handlers = handlers
        self.batch_size = batch
        self.batch_wait = batch_wait
        self.prefetch = 2 * batch  # the next batch fills while one is handled
        super().__init__(**kwargs)

    def setup(self):
        config = self.container.config
        service = self.container.service_name
        sources = {}
        for event in self.handlers:
            sources.setdefault(event.exchange, []).append(event)
        with get_connection(config["AMQP_URI"]) as connection:
            channel = connection.default_channel
            dead_letter_queue(service)(channel).declare()  # before anything is dead-lettered to it
            for exchange in sources:
                if is_embedded(config):
                    _topic(exchange)(channel).declare()
                else:
                    _find_or_declare(connection, _topic(exchange))
            if is_embedded(config):
                self.queues = [self._embedded_queue(service, sources)]
                self.queues[0](channel).declare()
            else:
                self.queues = self._declare_city_queues(channel, service, sources, config)
        self._buffers = {}  # city -> [(kind, body, message)] waiting
        self._in_hand = Counter()  # city -> batches being handled
        self._acks = Acknowledgements()
        self.outage = 0  # transient failures in a row
        self._recovery = eventlet.Event()  # sent when a batch succeeds again: the other cities try at once
        self.queue = self.queues[0]
        self.queue_consumer.register_provider(self)
        DEAD_LETTERED.labels(service)  # 0 until the first one: an alert on its rate has a series to read

    def start(self):
        self._running = True
        self.container.spawn_managed_thread(self._flush_when_waiting, identifier="event-batches")

    def stop(self):
        """Take no more messages, handle those received (unless the database is away), then let go."""
        self.queue_consumer.pause(self)
        deadline = time.monotonic() + FINISH_SECONDS
        while not self.outage and time.monotonic() < deadline and (any(self._in_hand.values()) or self._waiting()):
            eventlet.sleep(self.batch_wait)
        self._running = False
        self.queue_consumer.unregister_provider(self)
        for waiting in self._buffers.values():  # not handled in time: back to the queue for the next worker
            for _, _, message in waiting:
                self._requeue(message)
        self._buffers = {}

    def _waiting(self):
        return any(self._buffers.values())

    def connection_lost(self):
        """The broker takes back what it sent on a lost connection and sends it again: forget it here."""
        self._buffers = {}

    def handle_message(self, message):
        body = _decoded(message)
        routing_key = (message.headers or {}).get(ROUTING_KEY_HEADER) or message.delivery_info["routing_key"]
        city = routing_key.rsplit(".", 1)[-1]
        self._acks.received(message)
        waiting = self._buffers.setdefault(city, [])
        waiting.append((kind_of(routing_key), body, message))
        if len(waiting) >= self.batch_size and not self._in_hand[city]:
            self.container.spawn_managed_thread(partial(self._flush, city), identifier="event-batch")

    def _flush_when_waiting(self):
        while self._running:
            eventlet.sleep(self.batch_wait)
            for city in [c for c, waiting in self._buffers.items() if waiting]:
                if city in self._buffers:  # (the connection may have been lost meanwhile)
                    self._flush(city)

    def _flush(self, city):
        if self._in_hand[city]:
            return  # in order: the city's next batch waits for the one in hand
        batch = self._buffers[city][:self.batch_size]
        del self._buffers[city][:self.batch_size]
        if batch:
            self._spawn(city, batch)

    def _spawn(self, city, batch):
        self._in_hand[city] += 1
        try:
            self.container.spawn_worker(
                self, ([(kind, body) for kind, body, _ in batch],), {},
                context_data=self.unpack_message_headers(batch[0][2]),
                handle_result=partial(self._handled, city, batch),
            )
        except ContainerBeingKilled:
            for _, _, message in batch:
                self._requeue(message)
            self._in_hand[city] -= 1

    def _requeue(self, message):
        self._acks.forget(message)
        self.queue_consumer.requeue_message(message)

    def _handled(self, city, batch, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self._acks.handled([message for _, _, message in batch])
            for kind, count in Counter(kind for kind, _, _ in batch).items():
                EVENTS_HANDLED.labels(self.container.service_name, kind).inc(count)
            CITY_EVENTS_HANDLED.labels(self.container.service_name, city).inc(len(batch))
            self._recovered()
        elif is_transient(exc_info[1]):
            # Wait it out: the messages stay unacknowledged, so no delivery is spent, and the
            # broker sends no more than the prefetch meanwhile; the city's batch is tried again.
            self._failing(exc_info[1], city)
            delay = backoff(self.outage)  # once the outage ends, events flow again within the cap
            self.container.spawn_managed_thread(partial(self._retry, city, batch, delay, self._recovery))
            return result, exc_info
        elif len(batch) > 1:
            for item in batch:  # find the one that fails: each goes again on its own
                self._spawn(city, [item])
        else:
            kind, body, message = batch[0]
            tries = (message.headers or {}).get("x-delivery-count", 0)
            last = tries >= self.container.config.get("DELIVERY_LIMIT", 5)
            if last:
                DEAD_LETTERED.labels(self.container.service_name).inc()
            log.warning("%s could not handle a %s event (%s)%s", self.container.service_name, kind,
                        type(exc_info[1]).__name__, ": dead-lettered" if last else "; it will be tried again",
                        extra={"event_id": _event_id(body, message), "city": city, "event": kind,
                               "delivery_count": tries})
            self._requeue(message)  # counts towards DELIVERY_LIMIT
        self._in_hand[city] -= 1
        return result, exc_info

    def _retry(self, city, batch, delay, recovery):
        with eventlet.Timeout(delay, False):
            recovery.wait()  # another city's batch succeeding means the outage is over
        self._in_hand[city] -= 1
        if self._running:
            self._spawn(city, batch)
        else:
            for _, _, message in batch:
                self._requeue(message)

    def _failing(self, error, city):
        if not self.outage:
            log.warning("%s cannot handle events for now (%s); waiting it out",
                        self.container.service_name, type(error).__name__, extra={"city": city})
        self.outage += 1

    def _recovered(self):
        if self.outage:
            log.warning("%s handles events again after %d tries", self.container.service_name, self.outage)
            self._recovery.send()
            self._recovery = eventlet.Event()
        self.outage = 0

    @property
    def ready(self):
        """False while what the handlers need (their database) does not answer."""
        return not self.outage

    def _queue(self, service, name, exchange, routing_key):
        return Queue(name, exchange=exchange, routing_key=routing_key, durable=True, queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": self.container.config.get("DELIVERY_LIMIT", 5),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": service,
        })

    def _embedded_queue(self, service, sources):
        # The in-process transport has no exchange-to-exchange bindings: one queue takes every city.
        bindings = [binding(_topic(exchange), routing_key=f"{event.name}.*")
                    for exchange, kinds in sources.items() for event in kinds]
        return Queue(f"{service}.events", bindings=bindings, durable=True)

    def _declare_city_queues(self, channel, service, sources, config):
        other = _topic(f"{service}.inbox.other-cities")
        inbox = Exchange(f"{service}.inbox", type="topic", durable=True, arguments={"alternate-exchange": other.name})
        for exchange in (other, inbox):
            exchange(channel).declare()
        for exchange, kinds in sources.items():
            for event in kinds:
                inbox(channel).bind_to(exchange, routing_key=f"{event.name}.*")
        known, served, takes_others = served_cities(config)
        QUEUE_DEPTHS.watch(service, config["AMQP_URI"], known)  # each city's lag on /metrics
        queues = {city: self._queue(service, f"{service}.{city}", inbox, f"*.{city}") for city in known}
        queues["*"] = self._queue(service, f"{service}.other-cities", other, "#")
        for queue in queues.values():
            queue(channel).declare()
        return [queues[city] for city in served] + ([queues["*"]] if takes_others else [])


def _decoded(message):
    """The message's body: a JSON text as the outbox relay publishes it, read with json's one shared decoder.

    kombu's decode calls ``json.loads`` with an ``object_hook`` for its own type markers, which
    builds a decoder per message; events are plain JSON and carry none.  Any other content type
    goes through kombu, which refuses those not accepted.
    """
    if message.content_type == "application/json":
        return json.loads(message.body)
    return message.decode()


def _event_id(body, message):
    return (body.get("event_id") if isinstance(body, dict) else None) or message.properties.get("message_id")


def _find_or_declare(connection, exchange):
    """Another service's exchange: one that exists is only looked at (a passive declare).

    A service's own broker user may not configure another's exchanges (``campaign broker
    setup`` declares them); without such users (a laptop), a missing one is declared.
    """
    channel = connection.channel()
    try:
        exchange(channel).declare(passive=True)
    except NotFound:  # it closed that channel
        channel = connection.channel()
        exchange(channel).declare()
    finally:
        channel.close()


def _topic(name):
    return Exchange(name, type="topic", durable=True)


def consume_events(handlers, batch=BATCH):
    """The entrypoint a service declares as ``handle_events = consume_events({event: handler})``.

    Each batch is handled in one unit of work of the service's ``db``.
    """
    def handle_events(self, deliveries):
        with self.db.unit_of_work() as uow:
            dispatch(uow, handlers, deliveries)

    return EventConsumer.decorator(handlers, batch=batch)(handle_events)
