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
DUPLICATES_SKIPPED = Counter(
    "campaign_duplicate_events_total", "Redelivered events skipped", ["service", "consumer"],
)


class DeadLetterCollector:
    """``campaign_dead_letters{service}``: messages waiting in each service's dead-letter queue.

    One per process, for the services it runs; read from the broker at each
    scrape, so the figure is never stale.
    """

    def __init__(self):
        self.services = {}  # service -> AMQP URI

    def collect(self):
        family = GaugeMetricFamily("campaign_dead_letters", "Messages in the dead-letter queue",
                                   labels=["service"])
        for service, amqp_uri in self.services.items():
            try:
                with Connection(amqp_uri) as connection:
                    _, waiting, _ = connection.default_channel.queue_declare(f"dlq.{service}", passive=True)
            except Exception:  # no dead-letter queue yet, or the broker is away: nothing to report
                continue
            family.add_metric([service], waiting)
        return [family]


DEAD_LETTERS = DeadLetterCollector()
REGISTRY.register(DEAD_LETTERS)
