from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.assessment import domain
from services.assessment.models import Base
from services.assessment.schemas import (
    ActionPlanIn, ActionPlanOut, ActionPlanUpdate, ImportOut, InstrumentIn, InstrumentOut, ItemAnalysisOut,
    PHASES, ScopeGainOut, SubmissionIn, SubmissionOut,
)
from shared import events
from shared.consumer import city_event_handler
from shared.dependencies import Database, Metrics
from shared.errors import InvalidInput
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.web import PrometheusEndpoint, api, json_body


class AssessmentService(PrometheusEndpoint, HealthEndpoints):
    name = "assessment"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()
    registration = RpcProxy("registration")

    @city_event_handler(events.ROLLOUT_LAUNCHED)
    def on_rollout_launched(self, payload):
        event = events.ROLLOUT_LAUNCHED.load(payload)
        with self.db.unit_of_work() as uow:
            if uow.first_delivery(event):
                domain.remember_rollout(uow.session, event)

    # --- instruments -------------------------------------------------------

    @api("POST", "/instruments", body=InstrumentIn, response=InstrumentOut, status=201)
    def create_instrument(self, request):
        with self.db.unit_of_work() as uow:
            return 201, InstrumentOut().dump(domain.create_instrument(uow, json_body(request)))

    @api("GET", "/instruments", response=InstrumentOut, many=True)
    def list_instruments(self, request):
        rollout_id = request.args.get("rollout_id", type=int)
        with self.db.read() as session:
            found = domain.list_instruments(session, rollout_id, request.args.get("session_key"))
            return InstrumentOut(many=True).dump(found)

    @api("GET", "/instruments/<int:instrument_id>", response=InstrumentOut)
    def show_instrument(self, request, instrument_id):
        with self.db.read() as session:
            return InstrumentOut().dump(domain.get_instrument(session, instrument_id))

    @api("GET", "/instruments/<int:instrument_id>/item-analysis", response=ItemAnalysisOut)
    def item_analysis(self, request, instrument_id):
        phase = request.args.get("phase", "post")
        if phase not in PHASES:
            raise InvalidInput("phase: must be pre or post", fields={"phase": ["must be pre or post"]})
        with self.db.read() as session:
            return domain.item_analysis(session, instrument_id, phase)

    # --- submissions -------------------------------------------------------

    @api("POST", "/submissions", body=SubmissionIn, response=SubmissionOut, status=201)
    def submit(self, request):
        data = domain.parse_submission(json_body(request))
        participant = self._participant(data["participant_code"])
        with self.db.unit_of_work() as uow:
            return 201, SubmissionOut().dump(domain.submit(uow, data, participant))

    @api("POST", "/instruments/<int:instrument_id>/submissions/import", response=ImportOut, status=201)
    def import_submissions(self, request, instrument_id):
        """A CSV sheet of tests; all rows are scored or, if any is bad, none."""
        try:
            text = request.get_data().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("body: the file must be UTF-8 encoded CSV", fields={"body": ["not UTF-8"]})
        with self.db.read() as session:
            instrument = domain.get_instrument(session, instrument_id)
        rows = domain.read_submissions_csv(instrument, text)
        participants = {code: self._participant(code) for code in {d["participant_code"] for _, d in rows}}
        with self.db.unit_of_work() as uow:
            saved = domain.import_submissions(uow, instrument_id, rows, participants)
            return 201, {"imported": len(saved), "submission_ids": [s.id for s in saved]}

    def _participant(self, code):
        """Registration owns participants; ask it once per code, then remember."""
        with self.db.read() as session:
            known = domain.known_participant(session, code)
        if known is not None:
            return known
        answer = self.registration.participant_by_code(code)
        if answer is None:
            return None
        with self.db.unit_of_work() as uow:
            return domain.remember_participant(uow.session, answer)

    # --- learning gain -----------------------------------------------------

    @timer(interval=1)
    def publish_gain_summaries(self):
        """Each changed session's gain for reporting, at most once a second however many tests arrive."""
        with self.db.unit_of_work() as uow:
            domain.publish_gain_summaries(uow)

    @api("GET", "/gains/<scope>", response=ScopeGainOut)
    def gains(self, request, scope):
        """Gain of a city (its slug) or of the nation (``national``), per topic and per session."""
        rollout_id = request.args.get("rollout_id", type=int)
        with self.db.read() as session:
            return ScopeGainOut().dump(domain.gains(session, scope, rollout_id))

    # --- action plans ------------------------------------------------------

    @api("POST", "/action-plans", body=ActionPlanIn, response=ActionPlanOut, status=201)
    def record_action_plan(self, request):
        data = domain.parse_action_plan(json_body(request))
        participant = self._participant(data["participant_code"]) if data["owner"] == "participant" else None
        with self.db.unit_of_work() as uow:
            return 201, ActionPlanOut().dump(domain.record_action_plan(uow, data, participant))

    @api("PATCH", "/action-plans/<int:plan_id>", body=ActionPlanUpdate, response=ActionPlanOut)
    def follow_up_action_plan(self, request, plan_id):
        with self.db.unit_of_work() as uow:
            return ActionPlanOut().dump(domain.update_action_plan(uow, plan_id, json_body(request)))

    @api("GET", "/action-plans", response=ActionPlanOut, many=True)
    def list_action_plans(self, request):
        rollout_id = request.args.get("rollout_id", type=int)
        with self.db.read() as session:
            plans = domain.list_action_plans(session, rollout_id, request.args.get("status"))
            return ActionPlanOut(many=True).dump(plans)
