from nameko.dependency_providers import Config
from nameko.timer import timer

from services.reporting import domain, report
from services.reporting.models import Base
from shared import events
from shared.consumer import city_event_handler
from shared.database import Database
from shared.errors import NotFound
from shared.metrics import Metrics, PrometheusEndpoint
from shared.outbox import OutboxRelay
from shared.web import api


class ReportingService(PrometheusEndpoint):
    name = "reporting"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()
    config = Config()

    @city_event_handler(events.ROLLOUT_LAUNCHED)
    def on_rollout_launched(self, payload):
        self._record(events.ROLLOUT_LAUNCHED, payload, domain.record_rollout)

    @city_event_handler(events.PARTICIPANT_REGISTERED)
    def on_participant_registered(self, payload):
        self._record(events.PARTICIPANT_REGISTERED, payload, domain.record_participant)

    @city_event_handler(events.TEST_SCORED)
    def on_test_scored(self, payload):
        self._record(events.TEST_SCORED, payload, domain.record_score)

    @city_event_handler(events.COMMITTEE_NOTIFIED)
    def on_committee_notified(self, payload):
        self._record(events.COMMITTEE_NOTIFIED, payload, domain.record_notification)

    def _record(self, event_type, payload, record):
        event = event_type.load(payload)
        with self.db.unit_of_work() as uow:
            if uow.first_delivery(event):
                record(uow.session, event)

    @timer(interval=1)
    def publish_summaries(self):
        """At most one round of summaries a second, however busy the cities are."""
        with self.db.unit_of_work() as uow:
            domain.publish_changed_summaries(uow)

    @api("GET", "/reports/<city>/figures")
    def figures(self, request, city):
        rollout_id = request.args.get("rollout_id", type=int)
        with self.db.read() as session:
            return domain.city_figures(session, city, rollout_id)

    @api("GET", "/summaries/<city>")
    def summaries(self, request, city):
        """The public summaries as they stand now, for a subscriber that just arrived."""
        with self.db.read() as session:
            return {summary.routing_key(city): fields for summary, fields in domain.public_summaries(session, city)}

    @api("POST", "/reports/<city>/activity-report")
    def write_activity_report(self, request, city):
        with self.db.read() as session:
            path = report.write_activity_report(session, city, self.config["REPORTS_DIR"])
        if path is None:
            raise NotFound(f"city {city} has no launched rollout", field="city")
        return 201, {"path": str(path), "markdown": path.read_text(encoding="utf-8")}
