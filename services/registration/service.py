from nameko.timer import timer

from services.registration import domain
from services.registration.models import Base
from services.registration.schemas import (
    CancelIn, CheckInIn, CheckInOut, CloneIn, ImportOut, ParticipantEdit, ParticipantIn, ParticipantOut,
    ParticipantQuery,
    RolloutEdit, RolloutIn, RolloutOut, RolloutQuery, TargetCheckIn, TargetGapOut,
)
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.web import PrometheusEndpoint, api, json_body

ROLLOUT = "/rollouts/<int:rollout_id>"
PARTICIPANT = ROLLOUT + "/participants/<int:participant_id>"


class RegistrationService(PrometheusEndpoint, HealthEndpoints):
    name = "registration"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()

    # --- rollouts: draft -> launched -> running -> completed, or cancelled ----

    @api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201)
    def plan_rollout(self, request):
        with self.db.unit_of_work() as uow:
            rollout = domain.plan_rollout(uow, json_body(request))
            return 201, RolloutOut().dump(rollout)

    @api("GET", "/rollouts", query=RolloutQuery, response=RolloutOut, many=True)
    def list_rollouts(self, request):
        query = domain.validated(RolloutQuery(), request.args.to_dict())
        with self.db.read() as session:
            return RolloutOut(many=True).dump(domain.list_rollouts(session, **query))

    @api("GET", ROLLOUT, response=RolloutOut)
    def show_rollout(self, request, rollout_id):
        with self.db.read() as session:
            return RolloutOut().dump(domain.get_rollout(session, rollout_id))

    @api("PATCH", ROLLOUT, body=RolloutEdit, response=RolloutOut)
    def edit_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.edit_rollout(uow, rollout_id, json_body(request)))

    @api("POST", ROLLOUT + "/clone", body=CloneIn, response=RolloutOut, status=201)
    def clone_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return 201, RolloutOut().dump(domain.clone_rollout(uow, rollout_id, json_body(request)))

    @api("POST", ROLLOUT + "/launch", response=RolloutOut)
    def launch_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.launch_rollout(uow, rollout_id))

    @api("POST", ROLLOUT + "/start", response=RolloutOut)
    def start_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.start_rollout(uow, rollout_id))

    @api("POST", ROLLOUT + "/complete", response=RolloutOut)
    def complete_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.complete_rollout(uow, rollout_id))

    @api("POST", ROLLOUT + "/cancel", body=CancelIn, body_required=False, response=RolloutOut)
    def cancel_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.cancel_rollout(uow, rollout_id, json_body(request, optional=True)))

    @api("POST", ROLLOUT + "/close-registration", response=RolloutOut)
    def close_registration(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.close_registration(uow, rollout_id))

    @api("POST", ROLLOUT + "/target-check", body=TargetCheckIn, body_required=False,
         response=TargetGapOut, many=True)
    def check_targets(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            gaps = domain.check_targets(uow, rollout_id, json_body(request, optional=True))
            return TargetGapOut(many=True).dump(gaps)

    @timer(interval=3600)
    def check_all_targets(self):
        """Hourly: announce today's target gaps of every open rollout (once a day each)."""
        with self.db.read() as session:
            rollout_ids = domain.rollouts_to_check(session)
        for rollout_id in rollout_ids:
            with self.db.unit_of_work() as uow:
                domain.check_targets(uow, rollout_id)

    # --- participants ----------------------------------------------------------

    @api("POST", ROLLOUT + "/participants", body=ParticipantIn, response=ParticipantOut, status=201)
    def register_participant(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            participant = domain.register_participant(uow, rollout_id, json_body(request))
            return 201, ParticipantOut().dump(participant)

    @api("POST", ROLLOUT + "/participants/import", body="file", response=ImportOut, status=201)
    def import_participants(self, request, rollout_id):
        rows = domain.read_participant_file(request.get_data())
        with self.db.unit_of_work() as uow:
            imported = domain.import_participants(uow, rollout_id, rows)
            waitlisted = sum(p.status == "waitlisted" for p in imported)
            return 201, {"imported": len(imported), "registered": len(imported) - waitlisted,
                         "waitlisted": waitlisted, "codes": [p.code for p in imported]}

    @api("GET", ROLLOUT + "/participants", query=ParticipantQuery, response=ParticipantOut, many=True)
    def list_participants(self, request, rollout_id):
        query = domain.validated(ParticipantQuery(), request.args.to_dict())
        with self.db.read() as session:
            return ParticipantOut(many=True).dump(domain.list_participants(session, rollout_id, **query))

    @api("GET", PARTICIPANT, response=ParticipantOut)
    def show_participant(self, request, rollout_id, participant_id):
        with self.db.read() as session:
            return ParticipantOut().dump(domain.get_participant(session, rollout_id, participant_id))

    @api("PATCH", PARTICIPANT, body=ParticipantEdit, response=ParticipantOut)
    def edit_participant(self, request, rollout_id, participant_id):
        with self.db.unit_of_work() as uow:
            return ParticipantOut().dump(domain.edit_participant(uow, rollout_id, participant_id, json_body(request)))

    @api("POST", PARTICIPANT + "/cancel", response=ParticipantOut)
    def cancel_participant(self, request, rollout_id, participant_id):
        with self.db.unit_of_work() as uow:
            return ParticipantOut().dump(domain.cancel_participant(uow, rollout_id, participant_id))

    @api("POST", PARTICIPANT + "/check-in", body=CheckInIn, body_required=False, response=CheckInOut, status=201)
    def check_in(self, request, rollout_id, participant_id):
        with self.db.unit_of_work() as uow:
            return 201, CheckInOut().dump(domain.check_in(uow, rollout_id, participant_id,
                                                          json_body(request, optional=True)))

    # --- for the other services ------------------------------------------

    @rpc
    def committee_list(self, rollout_id):
        with self.db.read() as session:
            return domain.committee_list(session, rollout_id)

    @rpc
    def participant_by_code(self, code):
        with self.db.read() as session:
            return domain.participant_by_code(session, code)
