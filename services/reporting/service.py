from nameko.dependency_providers import Config
from nameko.timer import timer
from werkzeug.wrappers import Response

from services.reporting import exports, figures, projections, publication, report
from services.reporting.models import Base
from services.reporting.repository import ReportingUnitOfWork
from services.reporting.schemas import (
    ActivityReportOut,
    ActivityReportQuery,
    DocumentQuery,
    ExportQuery,
    FiguresOut,
    FiguresQuery,
    RolloutFiguresOut,
    SummariesOut,
    SummaryCitiesOut,
)
from shared.auth import authorize
from shared.consumer import consume_events, served_cities
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.operations import dead_letter_endpoints
from shared.outbox import OutboxRelay
from shared.web import PrometheusEndpoint, api


class SummaryRelay(OutboxRelay):
    """Reporting's outbox relay: before it stops, the summaries still due are released and sent,
    so a subscriber's last summary is the figures the service stopped with."""

    def last_round(self):
        _, served, takes_others = served_cities(self.container.config)
        with self.store.unit_of_work("reporting.final_summaries") as uow:
            publication.publish_changed_summaries(uow, None if takes_others else served)


def _exact_figures_need_internal(principal, query):
    if not query["public"]:
        authorize(principal, "reports:internal")


class ReportingService(PrometheusEndpoint, HealthEndpoints, dead_letter_endpoints("reporting")):
    """Events in, kept in reporting's log and applied to its read models; figures, reports,
    exports and public summaries out."""

    name = "reporting"

    db = Database(Base.metadata, unit_of_work=ReportingUnitOfWork)
    outbox = SummaryRelay()
    metrics = Metrics()
    config = Config()

    handle_events = consume_events(projections.HANDLERS)

    @timer(interval=1)
    def publish_summaries(self):
        """At most one round of summaries a second, of the cities this worker serves, then the nation."""
        _, served, takes_others = served_cities(self.config)
        with self.db.unit_of_work() as uow:
            publication.publish_changed_summaries(uow, None if takes_others else served)

    @api("GET", "/reports/<city>/figures", query=FiguresQuery, response=FiguresOut,
         permission="reports:internal")
    def figures(self, request, city, query):
        """Exact figures for the coordinator; ``national`` adds the cities side by side."""
        with self.db.read() as uow:
            return figures.figures_for(uow, city, query["rollout_id"])

    @api("GET", "/reports/<city>/rollout-figures", response=RolloutFiguresOut, permission="reports:internal")
    def rollout_figures(self, request, city):
        """Each live rollout of the city (or ``national``) side by side: what a dashboard shows."""
        with self.db.read() as uow:
            return figures.rollout_figures(uow, city)

    @api("GET", "/summaries", response=SummaryCitiesOut, permission="summaries:read")
    def summary_cities(self, request, principal):
        """The cities (and ``national``) that have summaries, for a subscriber to all of them."""
        with self.db.read() as uow:
            return {"cities": publication.summary_cities(uow, principal.city_filter())}

    @api("GET", "/summaries/<city>", response=SummariesOut, permission="summaries:read")
    def summaries(self, request, city):
        """The city's last summaries, the very messages (event ids and all), for a subscriber that just
        arrived; 404 for a city with none."""
        with self.db.read() as uow:
            return publication.current_summaries(uow, city)

    # The public report and exports are for partners (reports:public); without ``public`` they hold the
    # exact figures, which need reports:internal as well.
    @api("POST", "/reports/<city>/activity-report", query=ActivityReportQuery, response=ActivityReportOut,
         status=201, permission="reports:public")
    def write_activity_report(self, request, city, query, principal):
        """Write the city's (or ``national``) report in the languages and formats asked for."""
        _exact_figures_need_internal(principal, query)
        with self.db.read() as uow:
            written = report.required(uow, city, query["lang"], query["rollout_id"], public=query["public"])
        return 201, report.write_and_describe(written, self.config["REPORTS_DIR"], query["format"])

    @api("GET", "/reports/<city>/activity-report", query=DocumentQuery, produces="application/octet-stream",
         permission="reports:public")
    def download_activity_report(self, request, city, query, principal):
        """The report itself, made now in one format (md, html or pdf), as a file to download."""
        _exact_figures_need_internal(principal, query)
        with self.db.read() as uow:
            written = report.required(uow, city, query["lang"], query["rollout_id"], public=query["public"])
        name, media_type, content = report.document_file(written, query["format"])
        return Response(content, mimetype=media_type, headers={
            "Content-Disposition": f'attachment; filename="{name}"'})

    @api("GET", "/reports/<city>/export.xlsx", query=ExportQuery, produces=exports.XLSX, permission="reports:public")
    def export_workbook(self, request, city, query, principal):
        """The report's tables as one workbook; ``public`` for partners (the released public figures)."""
        _exact_figures_need_internal(principal, query)
        with self.db.read() as uow:
            written = report.required(uow, city, query["lang"], query["rollout_id"], public=query["public"])
        return Response(exports.workbook_bytes(written, query["public"]), mimetype=exports.XLSX, headers={
            "Content-Disposition": f'attachment; filename="{exports.workbook_name(written, query["public"])}"'})

    @api("GET", "/reports/<city>/tables/<name>.csv", query=ExportQuery, produces="text/csv",
         permission="reports:public")
    def export_table(self, request, city, name, query, principal):
        """One table of the report as CSV; ``public`` for partners."""
        _exact_figures_need_internal(principal, query)
        with self.db.read() as uow:
            written = report.required(uow, city, query["lang"], query["rollout_id"], public=query["public"])
        return Response(exports.table_csv(exports.table(written, name), query["public"]),
                        content_type="text/csv; charset=utf-8")
