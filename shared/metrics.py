"""Prometheus metrics of every service, served at ``/metrics`` on its web port
(``shared.web.PrometheusEndpoint``; entrypoints counted by ``shared.dependencies.Metrics``)."""

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
OUTBOX_PENDING = Gauge(
    "campaign_outbox_pending", "Outbox rows not yet published", ["service"],
)
DEAD_LETTERED = Counter(
    "campaign_dead_lettered_total", "Messages a consumer gave up on, sent to its dead-letter queue", ["service"],
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
