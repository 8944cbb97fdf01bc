"""Registration's import worker: participant files read and written, a city at a time.

    campaign serve registration-imports --city surabaya

It consumes ``import_requested`` jobs from one queue per city
(``registration_imports.<city>``, the others' from
``registration_imports.other-cities``), as every consumer does (shared/consumer.py),
so a worker started for Surabaya reads Surabaya's files and no one else's,
and in a process of its own: no request of any city waits on a file being
read.  A city's jobs run one after another; other cities' run beside them.
It writes to registration's database and publishes what the imports emit
through its own outbox relay.  It answers ``/health/live``, ``/health/ready`` and
``/metrics`` on its web port, as the services do, for probes and Prometheus.
"""
from services.registration import import_jobs
from services.registration.models import Base
from services.registration.repository import RegistrationUnitOfWork
from shared.consumer import EventConsumer
from shared.database import Store
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.web import PrometheusEndpoint


class RegistrationDatabase(Database):
    """Registration's own database, for a service of another name."""

    def setup(self) -> None:
        url = self.container.config["DATABASE_URLS"]["registration"]
        self.store = Store(url, self.metadata, consumer=self.container.service_name, unit_of_work=self.unit_of_work)


class RegistrationImportWorker(PrometheusEndpoint, HealthEndpoints):
    name = "registration_imports"

    db = RegistrationDatabase(Base.metadata, unit_of_work=RegistrationUnitOfWork)
    outbox = OutboxRelay()
    metrics = Metrics()

    # One job at a time per city: a job is thousands of rows already.
    @EventConsumer.decorator({import_jobs.IMPORT_REQUESTED: None}, batch=1)
    def run_imports(self, deliveries):
        for _, payload in deliveries:
            import_jobs.run_import(import_jobs.IMPORT_REQUESTED.load(payload)["job_id"], self.db)
