"""Prometheus metrics of every service, served at ``/metrics`` on its web port
(``shared.web.PrometheusEndpoint``; entrypoints counted by ``shared.dependencies.Metrics``).

What the alerts in deploy/prometheus/rules.yml and the dashboard in deploy/grafana/ read:
deliveries are the outbox's ``committee_notified`` and ``delivery_dead_lettered`` events
(``campaign_events_published_total{service="notification"}``).
"""

import time
from datetime import datetime

from kombu import Connection
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

ENTRYPOINT_CALLS = Counter(
    "campaign_entrypoint_calls_total", "Entrypoint calls by outcome",
    ["service", "entrypoint", "outcome"],
)
ENTRYPOINT_SECONDS = Histogram(
    "campaign_entrypoint_seconds", "Entrypoint duration", ["service", "entrypoint"],
)
EVENTS_PUBLISHED = Counter(
    "campaign_events_published_total", "Events published from the outbox", ["service", "event"],
)
EVENTS_HANDLED = Counter(
    "campaign_events_handled_total", "Events a consumer handled (duplicates included)", ["service", "event"],
)
CITY_EVENTS_HANDLED = Counter(
    "campaign_city_events_handled_total", "Events a consumer handled, by city (each city's throughput)",
    ["service", "city"],
)
OUTBOX_PENDING = Gauge(
    "campaign_outbox_pending", "Outbox rows not yet published", ["service"],
)
DEAD_LETTERED = Counter(
    "campaign_dead_lettered_total", "Messages a consumer gave up on, sent to its dead-letter queue", ["service"],
)
HTTP_RESPONSES = Counter(
    "campaign_http_responses_total", "HTTP answers by status class (2xx, 4xx, 5xx)", ["service", "code"],
)
DUPLICATES_SKIPPED = Counter(
    "campaign_duplicate_events_total", "Redelivered events skipped", ["service", "consumer"],
)


class DeadLetterCollector:
    """``campaign_dead_letters{service}``: messages waiting in each service's dead-letter queue.

    One per process, for the services it runs; read from the broker at each
    scrape.  It always has a value, so an alert on it can fire: none yet is 0,
    and while the broker does not answer the last figure read stands.
    """

    def __init__(self) -> None:
        self.services: dict[str, str] = {}  # service -> AMQP URI
        self.last: dict[str, int] = {}  # service -> the last depth read

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("campaign_dead_letters", "Messages in the dead-letter queue",
                                   labels=["service"])
        for service, amqp_uri in self.services.items():
            family.add_metric([service], self.depth(service, amqp_uri))
        return [family]

    def depth(self, service: str, amqp_uri: str) -> int:
        try:
            with Connection(amqp_uri, connect_timeout=2) as connection:
                channel = connection.channel()
                _, waiting, _ = channel.queue_declare(f"dlq.{service}", passive=True)
                self.last[service] = waiting
        except Exception as error:  # noqa: BLE001 (no queue yet, or the broker away: keep the last figure)
            if "NOT_FOUND" in str(error) or "404" in str(error):
                self.last[service] = 0
        return self.last.get(service, 0)


DEAD_LETTERS = DeadLetterCollector()
REGISTRY.register(DEAD_LETTERS)


class OutboxAgeCollector:
    """``campaign_outbox_oldest_age_seconds{service}``: how long the oldest unpublished
    outbox row has waited (0 when none waits), aged at each scrape.  The relay sets
    when that row was written after each round (``shared.outbox``)."""

    def __init__(self) -> None:
        self.oldest: dict[str, datetime | None] = {}  # service -> when its oldest pending row was written

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("campaign_outbox_oldest_age_seconds",
                                   "Age of the oldest outbox row not yet published", labels=["service"])
        now = time.time()
        for service, oldest in self.oldest.items():
            family.add_metric([service], max(0.0, now - oldest.timestamp()) if oldest else 0.0)
        return [family]


OUTBOX_AGE = OutboxAgeCollector()
REGISTRY.register(OUTBOX_AGE)


class QueueDepthCollector:
    """``campaign_queue_messages{service, city}``: events waiting in each of a service's
    city queues (``<service>.<city>``, and ``<service>.other-cities`` as city ``other``),
    read from the broker at each scrape: the consumer lag of each city.  As for the
    dead letters, a queue not declared yet is 0 and a broker away keeps the last figure."""

    def __init__(self) -> None:
        self.services: dict[str, tuple[str, list[str]]] = {}  # service -> (AMQP URI, cities)
        self.last: dict[tuple[str, str], int] = {}

    def watch(self, service: str, amqp_uri: str, cities: list[str]) -> None:
        self.services[service] = (amqp_uri, [*cities, "other"])

    def collect(self) -> list[GaugeMetricFamily]:
        family = GaugeMetricFamily("campaign_queue_messages", "Events waiting in a service's queue for a city",
                                   labels=["service", "city"])
        for service, (amqp_uri, cities) in self.services.items():
            for city, depth in self.depths(service, amqp_uri, cities).items():
                family.add_metric([service, city], depth)
        return [family]

    def depths(self, service: str, amqp_uri: str, cities: list[str]) -> dict[str, int]:
        try:
            with Connection(amqp_uri, connect_timeout=2) as connection:
                for city in cities:
                    queue = f"{service}.{'other-cities' if city == 'other' else city}"
                    channel = connection.channel()  # a queue not found closes its channel
                    try:
                        _, waiting, _ = channel.queue_declare(queue, passive=True)
                        self.last[service, city] = waiting
                        channel.close()
                    except Exception as error:  # noqa: BLE001
                        if "NOT_FOUND" not in str(error) and "404" not in str(error):
                            raise
                        self.last[service, city] = 0
        except Exception:  # noqa: BLE001, S110 (the broker away: keep the last figures)
            pass
        return {city: self.last.get((service, city), 0) for city in cities}


QUEUE_DEPTHS = QueueDepthCollector()
REGISTRY.register(QUEUE_DEPTHS)

