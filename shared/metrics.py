"""Prometheus metrics of every service, served at ``/metrics`` on its web port."""
import time

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response
from shared.web import HttpEndpoint
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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
OUTBOX_PENDING = Gauge(
    "campaign_outbox_pending", "Outbox rows not yet published", ["service"],
)
DUPLICATES_SKIPPED = Counter(
    "campaign_duplicate_events_total", "Redelivered events skipped", ["service", "consumer"],
)


class Metrics(DependencyProvider):
    """Counts and times every entrypoint of the service it is declared on."""

    def __init__(self):
        self._started = {}

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
