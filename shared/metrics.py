"""Prometheus metrics of every service, served at ``/metrics`` on its web port."""
import time

from nameko.amqp.publish import get_connection
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from werkzeug.wrappers import Response

from shared.web import HttpEndpoint

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
                with get_connection(amqp_uri) as connection:
                    _, waiting, _ = connection.default_channel.queue_declare(f"dlq.{service}", passive=True)
            except Exception:  # no dead-letter queue yet, or the broker is away: nothing to report
                continue
            family.add_metric([service], waiting)
        return [family]


DEAD_LETTERS = DeadLetterCollector()
REGISTRY.register(DEAD_LETTERS)


class Metrics(DependencyProvider):
    """Counts and times every entrypoint of the service it is declared on."""

    def __init__(self):
        self._started = {}

    def setup(self):
        DEAD_LETTERS.services[self.container.service_name] = self.container.config["AMQP_URI"]

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        name = worker_ctx.entrypoint.method_name
        service = worker_ctx.service_name
        ENTRYPOINT_CALLS.labels(service, name, "error" if exc_info else "ok").inc()
        if started is not None:
            ENTRYPOINT_SECONDS.labels(service, name).observe(time.perf_counter() - started)

    def get_dependency(self, worker_ctx):
        return self


class PrometheusEndpoint:
    """Mixin: the service answers ``GET /metrics`` on its web port."""

    @HttpEndpoint.decorator("GET", "/metrics")
    def prometheus_metrics(self, request):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
