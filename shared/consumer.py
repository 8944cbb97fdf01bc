"""Event handlers partitioned by city, with a bounded number of tries.

``@city_event_handler(PARTICIPANT_REGISTERED)`` on the reporting service
consumes ``participant_registered.<city>`` events through one queue per city:

    registration.events ──#──> reporting.from-registration ──participant_registered.pontianak──> queue (Pontianak)
                                    │ (alternate exchange:      ──participant_registered.medan─────> queue (Medan)
                                    ▼  cities with no queue)
                     reporting.from-registration.other-cities ──participant_registered.*──> queue (other cities)

Every worker declares the queues of every city in ``CITIES``, so routing does
not depend on which workers are up, and consumes those in its ``CITY`` setting:
``*`` for all of them and the other-cities queue, or a list such as
``surabaya``.  Starting a worker with ``CITY=surabaya`` adds consumers to
Surabaya's queues alone: capacity for that city and no other.

Each queue is a quorum queue: a message whose handler keeps raising is tried
``DELIVERY_LIMIT`` + 1 times, then dead-lettered to ``dlq.<service>``, and
the messages behind it flow on.

The in-process transport has no exchange-to-exchange bindings; there one
queue per handler takes every city.
"""
from functools import partial

from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection
from nameko.events import SERVICE_POOL, EventHandler
from nameko.messaging import QueueConsumer

from shared.config import ALL_CITIES, is_embedded

DEAD_LETTER_EXCHANGE = "campaign.dead-letters"


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


class CityQueueConsumer(QueueConsumer):
    """nameko's queue consumer, letting one entrypoint consume several queues."""

    def get_consumers(self, consumer_cls, channel):
        for provider in self._providers:
            consumer = consumer_cls(
                queues=getattr(provider, "queues", [provider.queue]),
                callbacks=[partial(self.handle_message, provider)],
                accept=self.accept,
            )
            consumer.qos(prefetch_count=self.prefetch_count)
            self._consumers[provider] = consumer
        return self._consumers.values()


class CityEventHandler(EventHandler):
    queue_consumer = CityQueueConsumer()

    def __init__(self, event, **kwargs):
        self.event = event
        super().__init__(
            event.source, event.routing_key("*"),
            handler_type=SERVICE_POOL, reliable_delivery=True, requeue_on_error=True,
            **kwargs,
        )

    def _queue(self, city, exchange):
        service = self.container.service_name
        return Queue(
            f"evt-{self.source_service}-{self.event.routing_key(city)}--{service}.{self.method_name}",
            exchange=exchange, routing_key=self.event.routing_key(city), durable=True,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self.container.config.get("DELIVERY_LIMIT", 5),
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": service,
            },
        )

    def setup(self):
        config = self.container.config
        service = self.container.service_name
        source = Exchange(self.event.exchange, type="topic", durable=True)
        with get_connection(config["AMQP_URI"]) as connection:
            channel = connection.default_channel
            # The dead-letter queue must exist before anything is dead-lettered to it.
            dead_letter_queue(service)(channel).declare()
            if is_embedded(config):
                self.queues = [self._queue("*", source)]
            else:
                self.queues = self._declare_city_queues(channel, service, source, config)
            source(channel).declare()
        self.queue = self.queues[0]
        self.queue_consumer.register_provider(self)

    def _declare_city_queues(self, channel, service, source, config):
        other = Exchange(f"{service}.from-{self.source_service}.other-cities", type="topic", durable=True)
        inbox = Exchange(f"{service}.from-{self.source_service}", type="topic", durable=True,
                         arguments={"alternate-exchange": other.name})
        for exchange in (source, other, inbox):
            exchange(channel).declare()
        inbox(channel).bind_to(source, routing_key="#")
        known, served, takes_others = served_cities(config)
        queues = {city: self._queue(city, inbox) for city in known}
        queues["*"] = self._queue("*", other)
        for queue in queues.values():
            queue(channel).declare()
        return [queues[city] for city in served] + ([queues["*"]] if takes_others else [])


city_event_handler = CityEventHandler.decorator
