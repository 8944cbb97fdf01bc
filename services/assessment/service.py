"""The assessment service: instruments, tests and their scores, learning gain, action plans."""
from nameko.timer import timer

from services.assessment import action_plans, gains, instruments, submissions
from services.assessment.commands import (
    CreateInstrument,
    FollowUpActionPlan,
    ImportSubmissions,
    KnownParticipant,
    PublishGainSummaries,
    RecordActionPlan,
    RememberParticipants,
    SubmitTest,
)
from services.assessment.models import Base
from services.assessment.repository import AssessmentUnitOfWork
from services.assessment.schemas import (
    ActionPlanIn,
    ActionPlanOut,
    ActionPlanPage,
    ActionPlanQuery,
    ActionPlanUpdate,
    GainQuery,
    ImportOut,
    InstrumentIn,
    InstrumentOut,
    InstrumentPage,
    InstrumentQuery,
    ItemAnalysisOut,
    ItemAnalysisQuery,
    ScopeGainOut,
    SubmissionIn,
    SubmissionOut,
)
from shared import events
from shared.auth import authorize
from shared.consumer import consume_events
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.operations import dead_letter_endpoints
from shared.outbox import OutboxRelay
from shared.rpc import TimedRpcProxy
from shared.web import PrometheusEndpoint, api


class AssessmentService(PrometheusEndpoint, HealthEndpoints, dead_letter_endpoints("assessment")):
    name = "assessment"

    db = Database(Base.metadata, unit_of_work=AssessmentUnitOfWork)
    outbox = OutboxRelay()
    metrics = Metrics()
    registration = TimedRpcProxy("registration")  # codes only; a person's name never travels by RPC

    # Each launched session's agenda, so instruments are checked against its topics.
    handle_events = consume_events({events.ROLLOUT_LAUNCHED: instruments.remember_rollout})

    # --- instruments -------------------------------------------------------

    @api("POST", "/instruments", body=InstrumentIn, response=InstrumentOut, status=201,
         permission="assessment:write")
    def create_instrument(self, request, body, principal):
        command = CreateInstrument(**body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            return 201, InstrumentOut().dump(instruments.create_instrument(command, uow))

    @api("GET", "/instruments", query=InstrumentQuery, response=InstrumentPage, permission="assessment:read")
    def list_instruments(self, request, query, principal):
        with self.db.read() as uow:
            return InstrumentPage().dump(instruments.list_instruments(uow, **query, cities=principal.city_filter()))

    @api("GET", "/instruments/<int:instrument_id>", response=InstrumentOut, permission="assessment:read")
    def show_instrument(self, request, instrument_id, principal):
        with self.db.read() as uow:
            return InstrumentOut().dump(instruments.get_instrument(uow, instrument_id, principal.city_filter()))

    @api("GET", "/instruments/<int:instrument_id>/item-analysis", query=ItemAnalysisQuery, response=ItemAnalysisOut,
         permission="assessment:read")
    def item_analysis(self, request, instrument_id, query, principal):
        with self.db.read() as uow:
            analysis = gains.item_analysis(uow, instrument_id, query["phase"], principal.city_filter())
            return ItemAnalysisOut().dump(analysis)

    # --- tests -------------------------------------------------------------

    @api("POST", "/submissions", body=SubmissionIn, response=SubmissionOut, status=201,
         permission="assessment:write")
    def submit(self, request, body, principal):
        command = SubmitTest(**body, cities=principal.city_filter())
        self._learn_participants([command.participant_code])
        with self.db.unit_of_work() as uow:
            return 201, SubmissionOut().dump(submissions.submit_test(command, uow))

    @api("POST", "/instruments/<int:instrument_id>/submissions/import", body="file", response=ImportOut, status=201,
         permission="assessment:write")
    def import_submissions(self, request, instrument_id, body, principal):
        """A CSV sheet of tests; all rows are scored or, if any is bad, none."""
        command = ImportSubmissions(instrument_id=instrument_id, sheet=body, cities=principal.city_filter())
        with self.db.read() as uow:
            codes = submissions.codes_in_sheet(command, uow)
        self._learn_participants(codes)
        with self.db.unit_of_work() as uow:
            saved = submissions.import_submissions(command, uow)
            return 201, {"imported": len(saved), "submission_ids": [s.id for s in saved]}

    def _learn_participants(self, codes):
        """Registration owns participants: ask it once about each code assessment has not met."""
        with self.db.read() as uow:
            unknown = submissions.unknown_codes(uow, codes)
        answers = [self.registration.participant_by_code(code) for code in unknown]
        known = tuple(KnownParticipant.from_registration(a) for a in answers if a is not None)
        if known:
            with self.db.unit_of_work() as uow:
                submissions.remember_participants(RememberParticipants(known), uow)

    # --- learning gain -----------------------------------------------------

    @timer(interval=1)
    def publish_gain_summaries(self):
        """Each changed session's gain for reporting, at most once a second however many tests arrive."""
        with self.db.unit_of_work() as uow:
            gains.publish_gain_summaries(PublishGainSummaries(), uow)

    @api("GET", "/gains/<scope>", query=GainQuery, response=ScopeGainOut, permission="assessment:read")
    def gains(self, request, scope, query, principal):
        """Gain of a city (its slug) or of the nation (``national``), per topic and per session."""
        authorize(principal, "assessment:read", city=scope)  # like a path's <city>: the caller's cities only
        with self.db.read() as uow:
            return ScopeGainOut().dump(gains.gains(uow, scope, query["rollout_id"]))

    # --- action plans ------------------------------------------------------

    @api("POST", "/action-plans", body=ActionPlanIn, response=ActionPlanOut, status=201,
         permission="assessment:write")
    def record_action_plan(self, request, body, principal):
        command = RecordActionPlan(**body, cities=principal.city_filter())
        if command.owner == "participant":
            self._learn_participants([command.participant_code])
        with self.db.unit_of_work() as uow:
            return 201, ActionPlanOut().dump(action_plans.record_action_plan(command, uow))

    @api("PATCH", "/action-plans/<int:plan_id>", body=ActionPlanUpdate, response=ActionPlanOut,
         permission="assessment:write")
    def follow_up_action_plan(self, request, plan_id, body, principal):
        command = FollowUpActionPlan(action_plan_id=plan_id, **body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            return ActionPlanOut().dump(action_plans.follow_up_action_plan(command, uow))

    @api("GET", "/action-plans", query=ActionPlanQuery, response=ActionPlanPage, permission="assessment:read")
    def list_action_plans(self, request, query, principal):
        with self.db.read() as uow:
            return ActionPlanPage().dump(action_plans.list_action_plans(uow, **query, cities=principal.city_filter()))
