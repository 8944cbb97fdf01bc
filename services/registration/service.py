from services.registration import domain
from services.registration.models import Base
from services.registration.schemas import ParticipantIn, ParticipantOut, RolloutIn, RolloutOut
from shared.database import Database
from shared.errors import InvalidInput
from shared.metrics import Metrics, PrometheusEndpoint
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.web import api, json_body


class RegistrationService(PrometheusEndpoint):
    name = "registration"

    db = Database(Base.metadata)
    outbox = OutboxRelay()
    metrics = Metrics()

    @api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201)
    def plan_rollout(self, request):
        with self.db.unit_of_work() as uow:
            rollout = domain.plan_rollout(uow, json_body(request))
            return 201, RolloutOut().dump(rollout)

    @api("GET", "/rollouts/<int:rollout_id>", response=RolloutOut)
    def show_rollout(self, request, rollout_id):
        with self.db.read() as session:
            return RolloutOut().dump(domain.get_rollout(session, rollout_id))

    @api("POST", "/rollouts/<int:rollout_id>/launch", response=RolloutOut)
    def launch_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.launch_rollout(uow, rollout_id))

    @api("POST", "/rollouts/<int:rollout_id>/close-registration", response=RolloutOut)
    def close_registration(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(domain.close_registration(uow, rollout_id))

    @api("POST", "/rollouts/<int:rollout_id>/participants", body=ParticipantIn, response=ParticipantOut, status=201)
    def register_participant(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            participant = domain.register_participant(uow, rollout_id, json_body(request))
            return 201, ParticipantOut().dump(participant)

    @api("POST", "/rollouts/<int:rollout_id>/participants/import")
    def import_participants(self, request, rollout_id):
        try:
            text = request.get_data().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The file must be UTF-8 encoded CSV.", fields={"body": ["not UTF-8"]})
        rows = domain.read_participant_csv(text)
        with self.db.unit_of_work() as uow:
            imported = domain.import_participants(uow, rollout_id, rows)
            return 201, {"imported": len(imported), "codes": [p.code for p in imported]}

    @api("GET", "/rollouts/<int:rollout_id>/participants", response=ParticipantOut, many=True)
    def list_participants(self, request, rollout_id):
        with self.db.read() as session:
            return ParticipantOut(many=True).dump(domain.list_participants(session, rollout_id))

    # --- for the other services ------------------------------------------

    @rpc
    def committee_list(self, rollout_id):
        with self.db.read() as session:
            return domain.committee_list(session, rollout_id)

    @rpc
    def participant_by_code(self, code):
        with self.db.read() as session:
            return domain.participant_by_code(session, code)
