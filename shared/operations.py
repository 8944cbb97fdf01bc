"""Dead letters over HTTP, for the operator (permission ``operations``; no personal data shown).

Each service that consumes events serves its own dead-letter queue, ``dlq.<service>``, which its
broker user alone may read: ``GET /dead-letters/<service>`` lists what waits there (event id,
routing key, the queue it failed in, why) and ``POST /dead-letters/<service>/replay`` sends one
(``event_id``) or all of them back, through the service's inbox to the queue of the event's city.
A letter's body is not shown: it is the event, which the operator does not need to read.
On the in-process transport (``campaign demo``) there are no dead-letter queues: the list is empty.
"""
from marshmallow import RAISE, Schema, fields, validate
from nameko.dependency_providers import Config

from shared import dead_letters
from shared.config import is_embedded
from shared.errors import NotFound, Unavailable
from shared.pagination import PageQuery, in_memory, page_of
from shared.web import api


class DeadLetterOut(Schema):
    position = fields.Integer(metadata={"description": "Its place in the queue, from 1 (the oldest)."})
    service = fields.String()
    event_id = fields.String()
    routing_key = fields.String()
    queue = fields.String()
    reason = fields.String()


class ReplayIn(Schema):
    class Meta:
        unknown = RAISE

    event_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100),
                             metadata={"description": "Replay this event only (default: every dead letter)."})


def _letters(read):
    try:
        return read()
    except Exception as exc:  # pika's errors: a queue not declared yet, or the broker away
        if "NOT_FOUND" in str(exc):
            return []  # the service has not run its consumers on this broker yet: nothing dead-lettered
        raise Unavailable(f"the broker did not answer ({exc.__class__.__name__}); try again") from None


def dead_letter_endpoints(service: str) -> type:
    """A mixin of the two operations for ``service`` (its own paths, so a gateway knows whose they are)."""

    class DeadLetterEndpoints:
        broker_settings = Config()

        @api("GET", f"/dead-letters/{service}", query=PageQuery, response=page_of(DeadLetterOut),
             permission="operations")
        def list_dead_letters(self, request, query):
            """The events that failed DELIVERY_LIMIT + 1 times and wait in ``dlq.<service>``, oldest first
            (a page of them: read from the queue and given back to it, in order)."""
            page = query["page"]
            found = [] if is_embedded(self.broker_settings) else _letters(lambda: dead_letters.list_dead_letters(
                self.broker_settings["AMQP_URI"], service, limit=(page.after or 0) + page.limit + 1))
            numbered = [{"position": position, **vars(letter)} for position, letter in enumerate(found, 1)]
            return page_of(DeadLetterOut)().dump(in_memory(numbered, page, key=lambda letter: letter["position"]))

        @api("POST", f"/dead-letters/{service}/replay", body=ReplayIn, body_required=False, response=DeadLetterOut,
             many=True, permission="operations")
        def replay_dead_letters(self, request, body):
            """Send dead letters back to the queue of their city, once their cause is fixed."""
            if is_embedded(self.broker_settings):
                replayed = []
            else:
                replayed = _letters(lambda: dead_letters.replay(self.broker_settings["AMQP_URI"], service,
                                                                 event_id=body["event_id"], through_inbox=True))
            if body["event_id"] is not None and not replayed:
                raise NotFound(f"no dead letter of {service} has the event id {body['event_id']}", field="event_id")
            return DeadLetterOut(many=True).dump(replayed)

    DeadLetterEndpoints.__name__ = f"{service.capitalize()}DeadLetterEndpoints"
    return DeadLetterEndpoints
