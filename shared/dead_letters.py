"""Dead-lettered events: list them, and replay them to the queue they failed in.

A message that failed ``DELIVERY_LIMIT`` + 1 times waits in ``dlq.<service>``
with RabbitMQ's ``x-death`` record of where it came from.  Replaying sends it
straight back to that queue (through the default exchange), so only the
consumer that failed sees it again; ``payload`` replaces its body when the
message itself was what needed fixing.
"""
import json
from dataclasses import dataclass
from typing import Any

import pika

from shared.handling import ROUTING_KEY_HEADER


@dataclass
class DeadLetter:
    service: str
    event_id: str
    routing_key: str
    queue: str
    reason: str
    body: bytes

    @property
    def payload(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _read(channel: Any, service: str, limit: int) -> list[tuple[int, DeadLetter]]:
    """Messages of the service's dead-letter queue, unacknowledged: (delivery tag, DeadLetter)."""
    letters: list[tuple[int, DeadLetter]] = []
    while len(letters) < limit:
        method, properties, body = channel.basic_get(f"dlq.{service}", auto_ack=False)
        if method is None:
            break
        headers = properties.headers or {}
        death = (headers.get("x-death") or [{}])[0]
        payload_id = None
        try:
            payload_id = json.loads(body).get("event_id")
        except (ValueError, AttributeError):
            pass
        letters.append((method.delivery_tag, DeadLetter(
            service=service,
            event_id=properties.message_id or payload_id or "",
            routing_key=(death.get("routing-keys") or [""])[0],
            queue=headers.get("x-first-death-queue", death.get("queue", "")),
            reason=headers.get("x-first-death-reason", death.get("reason", "")),
            body=body,
        )))
    return letters


def list_dead_letters(amqp_uri: str, service: str, limit: int = 1000) -> list[DeadLetter]:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        return [letter for _, letter in _read(connection.channel(), service, limit)]
    finally:
        connection.close()  # unacknowledged: every message goes back, in order


def replay(amqp_uri: str, service: str, event_id: str | None = None, payload: Any = None,
           limit: int = 1000, through_inbox: bool = False) -> list[DeadLetter]:
    """Send dead letters (all, or the one with ``event_id``) back to their queues; returns them.

    ``through_inbox``: by the service's own inbox exchange (``<service>.inbox``, which routes an
    event to its city's queue) rather than the default exchange, which the service's own broker
    user may not publish to (least privilege); the administrator's command line uses the latter."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        replayed = []
        for tag, letter in _read(channel, service, limit):
            if event_id is not None and letter.event_id != event_id:
                continue
            body = json.dumps(payload).encode() if payload is not None else letter.body
            # The default exchange routes by queue name; the header keeps the event's own routing key.
            exchange, key = (f"{service}.inbox", letter.routing_key) if through_inbox else ("", letter.queue)
            channel.basic_publish(exchange, key, body, pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=letter.event_id,
                headers={ROUTING_KEY_HEADER: letter.routing_key}), mandatory=True)
            channel.basic_ack(tag)
            replayed.append(letter)
        return replayed
    finally:
        connection.close()


def count(amqp_uri: str, service: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        waiting: int = connection.channel().queue_declare(f"dlq.{service}", passive=True).method.message_count
        return waiting
    finally:
        connection.close()
