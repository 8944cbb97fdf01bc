from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.reporting import domain, exports, report
from services.reporting.models import Base
from shared import events
from shared.consumer import BATCH, city_event_handler, served_cities
from shared.dependencies import Database, Metrics
from shared.errors import InvalidInput, NotFound
from shared.outbox import OutboxRelay
from shared.web import PrometheusEndpoint, api


class ReportingService(PrometheusEndpoint):
    name = "reporting"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()
    config = Config()

    # One handler per event kind, each on its own per-city queue; all go through domain.handle,
    # which keeps the event in reporting's log so the read models can be rebuilt from it.
    @city_event_handler(events.ROLLOUT_LAUNCHED)
    def on_rollout_launched(self, payload):
        self._handle(events.ROLLOUT_LAUNCHED, payload)

    @city_event_handler(events.ROLLOUT_CANCELLED)
    def on_rollout_cancelled(self, payload):
        self._handle(events.ROLLOUT_CANCELLED, payload)

    # The two kinds that come in thousands (bulk imports, test sheets) are taken in batches.
    @city_event_handler(events.PARTICIPANT_REGISTERED, batch=BATCH)
    def on_participant_registered(self, payloads):
        self._handle(events.PARTICIPANT_REGISTERED, payloads)

    @city_event_handler(events.PARTICIPANT_UPDATED)
    def on_participant_updated(self, payload):
        self._handle(events.PARTICIPANT_UPDATED, payload)

    @city_event_handler(events.PARTICIPANT_CANCELLED)
    def on_participant_cancelled(self, payload):
        self._handle(events.PARTICIPANT_CANCELLED, payload)

    @city_event_handler(events.PARTICIPANT_PROMOTED)
    def on_participant_promoted(self, payload):
        self._handle(events.PARTICIPANT_PROMOTED, payload)

    @city_event_handler(events.PARTICIPANT_CHECKED_IN)
    def on_participant_checked_in(self, payload):
        self._handle(events.PARTICIPANT_CHECKED_IN, payload)

    @city_event_handler(events.TEST_SCORED, batch=BATCH)
    def on_test_scored(self, payloads):
        self._handle(events.TEST_SCORED, payloads)

    @city_event_handler(events.GAIN_SUMMARY)
    def on_gain_summary(self, payload):
        self._handle(events.GAIN_SUMMARY, payload)

    @city_event_handler(events.ACTION_PLAN_RECORDED)
    def on_action_plan_recorded(self, payload):
        self._handle(events.ACTION_PLAN_RECORDED, payload)

    @city_event_handler(events.ACTION_PLAN_UPDATED)
    def on_action_plan_updated(self, payload):
        self._handle(events.ACTION_PLAN_UPDATED, payload)

    @city_event_handler(events.COMMITTEE_NOTIFIED)
    def on_committee_notified(self, payload):
        self._handle(events.COMMITTEE_NOTIFIED, payload)

    def _handle(self, kind, payloads):
        with self.db.unit_of_work() as uow:
            domain.handle_batch(uow, kind, payloads if isinstance(payloads, list) else [payloads])

    @timer(interval=1)
    def publish_summaries(self):
        """At most one round of summaries a second, however busy the cities are.

        A worker summarises the cities it serves (a Pontianak worker never
        spends its time on Surabaya's figures), and the nation after any of them.
        """
        _, served, takes_others = served_cities(self.config)
        with self.db.unit_of_work() as uow:
            domain.publish_changed_summaries(uow, None if takes_others else served)

    @api("GET", "/reports/<city>/figures")
    def figures(self, request, city):
        """Exact figures for the coordinator; ``national`` adds the cities side by side."""
        rollout_id = request.args.get("rollout_id", type=int)
        with self.db.read() as session:
            if city == events.NATIONAL and rollout_id is None:
                return domain.national_figures(session)
            return domain.city_figures(session, city, rollout_id)

    @api("GET", "/summaries")
    def summary_cities(self, request):
        """The cities (and ``national``) that have summaries, for a subscriber to all of them."""
        with self.db.read() as session:
            return {"cities": domain.summary_cities(session)}

    @api("GET", "/summaries/<city>")
    def summaries(self, request, city):
        """The public summaries as they stand now, for a subscriber that just arrived."""
        with self.db.read() as session:
            return {summary.routing_key(city): summary.create(city, **fields)
                    for summary, fields in domain.public_summaries(session, city)}

    @api("POST", "/reports/<city>/activity-report", status=201)
    def write_activity_report(self, request, city):
        """Write the city's (or ``national``) report: ``?lang=id|en&format=md,html,pdf&rollout_id=``."""
        lang = request.args.get("lang", "id")
        formats = tuple(f for f in request.args.get("format", "md").split(",") if f)
        if lang not in report.LANGUAGES:
            raise InvalidInput(f"lang must be one of {', '.join(report.LANGUAGES)}", field="lang")
        unknown = [f for f in formats if f not in report.FORMATS]
        if unknown or not formats:
            raise InvalidInput(f"format must be a list of {', '.join(report.FORMATS)}", field="format")
        written = self._build(city, lang, request)
        paths = report.write(written, self.config["REPORTS_DIR"], formats)
        answer = {"paths": {f: str(p) for f, p in paths.items()}, "markdown": written.markdown}
        if "md" in paths:
            answer["path"] = str(paths["md"])
        return 201, answer

    @api("GET", "/reports/<city>/export.xlsx", produces=exports.XLSX)
    def export_workbook(self, request, city):
        """The report's tables as one workbook; ``?public=1`` for partners (cells under 5 as "<5")."""
        written, public = self._report_for_export(request, city)
        return Response(exports.workbook_bytes(written, public), mimetype=exports.XLSX, headers={
            "Content-Disposition": f'attachment; filename="{written.stem}{"-publik" if public else ""}.xlsx"'})

    @api("GET", "/reports/<city>/tables/<name>.csv", produces="text/csv")
    def export_table(self, request, city, name):
        """One table of the report as CSV; ``?public=1`` for partners."""
        written, public = self._report_for_export(request, city)
        if name not in written.tables:
            raise NotFound(f"the report has no table {name}; it has {', '.join(written.tables)}", field="name")
        return Response(exports.table_csv(written.tables[name], public), content_type="text/csv; charset=utf-8")

    def _report_for_export(self, request, city):
        lang = request.args.get("lang", "id")
        if lang not in report.LANGUAGES:
            raise InvalidInput(f"lang must be one of {', '.join(report.LANGUAGES)}", field="lang")
        public = request.args.get("public", "0").lower() in ("1", "true", "yes")
        return self._build(city, lang, request), public

    def _build(self, city, lang, request):
        """The report of the city's latest rollout, or of ``?rollout_id=`` (refused for ``national``)."""
        rollout_id = request.args.get("rollout_id")
        if rollout_id is not None and (not rollout_id.isdigit() or city == events.NATIONAL):
            raise InvalidInput("rollout_id: a number, for a city's report", field="rollout_id")
        rollout_id = int(rollout_id) if rollout_id is not None else None
        with self.db.read() as session:
            written = report.build(session, city, lang, rollout_id)
        if written is None:
            if rollout_id is not None:
                raise NotFound(f"city {city} has no rollout {rollout_id} to report on", field="rollout_id")
            raise NotFound(f"city {city} has no launched rollout", field="city")
        return written
