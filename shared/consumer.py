"""Event handlers bound per city, with a bounded number of tries.

``@city_event_handler(PARTICIPANT_REGISTERED)`` consumes
``participant_registered.<city>`` for the cities in the ``CITY`` setting
("*" for all).  Its queue is a quorum queue: a message whose handler keeps
raising is tried ``DELIVERY_LIMIT`` + 1 times, then dead-lettered to the
service's queue ``dlq.<service>``, and the messages behind it flow on.
"""
from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection
from nameko.events import SERVICE_POOL, EventHandler

DEAD_LETTER_EXCHANGE = "campaign.dead-letters"


def dead_letter_queue(service):
    exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
    return Queue(f"dlq.{service}", exchange=exchange, routing_key=service, durable=True)


class CityEventHandler(EventHandler):
    def __init__(self, event, **kwargs):
        self.event = event
        super().__init__(
            event.source, event.routing_key("*"),
            handler_type=SERVICE_POOL, reliable_delivery=True, requeue_on_error=True,
            **kwargs,
        )

    def setup(self):
        config = self.container.config
        self.event_type = self.event.routing_key(config.get("CITY", "*"))
        super().setup()
        service = self.container.service_name
        self.queue.queue_arguments = {
            "x-queue-type": "quorum",
            "x-delivery-limit": config.get("DELIVERY_LIMIT", 5),
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": service,
        }
        # The dead-letter queue must exist before anything is dead-lettered to it.
        with get_connection(config["AMQP_URI"]) as connection:
            dead_letter_queue(service)(connection.default_channel).declare()


city_event_handler = CityEventHandler.decorator
