"""A pika subscriber to ``campaign.summaries``, as a partner's dashboard would be."""
import json
import time

import pika

from shared.events import SUMMARY_EXCHANGE
from tests.support.cluster import wait_until


def last_release(cluster, city):
    """``GET /summaries/<city>`` once it holds still: the same twice, a round apart (a round runs
    at most once a second).  Once the city's figures stop changing: its last release."""
    def steady():
        first = cluster.get("reporting", f"/summaries/{city}")
        time.sleep(1.5)
        then = cluster.get("reporting", f"/summaries/{city}")
        return first.json() if first.status_code == then.status_code == 200 and first.json() == then.json() else None
    return wait_until(steady, f"{city}'s summaries to settle")


class SummarySubscriber:
    def __init__(self, amqp_uri, *binding_keys):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(SUMMARY_EXCHANGE, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in binding_keys:
            self.channel.queue_bind(self.queue, SUMMARY_EXCHANGE, routing_key=key)
        self.received = []  # (routing_key, raw body, parsed body)

    def collect_until(self, condition, timeout=30.0):
        """Receive until ``condition(received)`` holds; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition(self.received):
            if time.monotonic() > deadline:
                keys = sorted({key for key, _, _ in self.received})
                raise AssertionError(f"summaries did not arrive in {timeout}s; got {keys}")
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            self.received.append((method.routing_key, body, json.loads(body)))
        return self.received

    def collect_release(self, snapshot, timeout=30.0):
        """Receive until the latest message of each routing key of ``snapshot`` (``{key: body}``, as
        ``GET /summaries/<city>`` answers) is the snapshot's own (its event id)."""
        return self.collect_until(lambda received: all(
            (self.latest(key) or {}).get("event_id") == body["event_id"] for key, body in snapshot.items()), timeout)

    def drain(self):
        """Receive whatever is in the queue now (once the publishers have stopped: everything)."""
        while True:
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.received
            self.received.append((method.routing_key, body, json.loads(body)))

    def latest(self, routing_key):
        bodies = [parsed for key, _, parsed in self.received if key == routing_key]
        return bodies[-1] if bodies else None

    def close(self):
        self.connection.close()
