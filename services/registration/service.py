"""The registration service: city rollouts and the people in them, over HTTP, RPC and a timer."""
from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.timer import timer

from services.registration import audit, import_jobs, participants, retention, rollouts
from services.registration.commands import (
    CancelParticipant,
    CancelRollout,
    CheckInParticipant,
    CheckTargets,
    CloneRollout,
    CloseRegistration,
    CompleteRollout,
    EditParticipant,
    EditRollout,
    FindParticipantByCode,
    GetCommitteeList,
    LaunchRollout,
    ListAudit,
    ListParticipants,
    ListRollouts,
    PlanRollout,
    PurgePersonalData,
    RegisterParticipant,
    ShowImport,
    ShowParticipant,
    ShowRollout,
    StartRollout,
    SubmitImport,
)
from services.registration.models import Base
from services.registration.repository import RegistrationUnitOfWork
from services.registration.schemas import (
    AuditOut,
    AuditQuery,
    CancelIn,
    CheckInIn,
    CheckInOut,
    CloneIn,
    ImportJobOut,
    ParticipantEdit,
    ParticipantIn,
    ParticipantOut,
    ParticipantQuery,
    RolloutEdit,
    RolloutIn,
    RolloutOut,
    RolloutQuery,
    TargetCheckIn,
    TargetGapOut,
)
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.rpc import rpc
from shared.web import PrometheusEndpoint, api

ROLLOUT = "/rollouts/<int:rollout_id>"
PARTICIPANT = ROLLOUT + "/participants/<int:participant_id>"


class RegistrationService(PrometheusEndpoint, HealthEndpoints):
    name = "registration"

    db = Database(Base.metadata, unit_of_work=RegistrationUnitOfWork)
    outbox = OutboxRelay()
    metrics = Metrics()
    config = Config()

    # --- rollouts: draft -> launched -> running -> completed, or cancelled ----

    @api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201)
    def plan_rollout(self, request, body):
        with self.db.unit_of_work() as uow:
            return 201, RolloutOut().dump(rollouts.plan_rollout(PlanRollout.from_input(body), uow))

    @api("GET", "/rollouts", query=RolloutQuery, response=RolloutOut, many=True)
    def list_rollouts(self, request, query):
        with self.db.read() as uow:
            return RolloutOut(many=True).dump(rollouts.list_rollouts(ListRollouts(**query), uow))

    @api("GET", ROLLOUT, response=RolloutOut)
    def show_rollout(self, request, rollout_id):
        with self.db.read() as uow:
            return RolloutOut().dump(rollouts.show_rollout(ShowRollout(rollout_id), uow))

    @api("PATCH", ROLLOUT, body=RolloutEdit, response=RolloutOut)
    def edit_rollout(self, request, rollout_id, body):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.edit_rollout(EditRollout.from_input(rollout_id, body), uow))

    @api("POST", ROLLOUT + "/clone", body=CloneIn, response=RolloutOut, status=201)
    def clone_rollout(self, request, rollout_id, body):
        with self.db.unit_of_work() as uow:
            return 201, RolloutOut().dump(rollouts.clone_rollout(CloneRollout(template_id=rollout_id, **body), uow))

    @api("POST", ROLLOUT + "/launch", response=RolloutOut)
    def launch_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.launch_rollout(LaunchRollout(rollout_id), uow))

    @api("POST", ROLLOUT + "/start", response=RolloutOut)
    def start_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.start_rollout(StartRollout(rollout_id), uow))

    @api("POST", ROLLOUT + "/complete", response=RolloutOut)
    def complete_rollout(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.complete_rollout(CompleteRollout(rollout_id), uow))

    @api("POST", ROLLOUT + "/cancel", body=CancelIn, body_required=False, response=RolloutOut)
    def cancel_rollout(self, request, rollout_id, body):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.cancel_rollout(CancelRollout(rollout_id, **body), uow))

    @api("POST", ROLLOUT + "/close-registration", response=RolloutOut)
    def close_registration(self, request, rollout_id):
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.close_registration(CloseRegistration(rollout_id), uow))

    @api("POST", ROLLOUT + "/target-check", body=TargetCheckIn, body_required=False,
         response=TargetGapOut, many=True)
    def check_targets(self, request, rollout_id, body):
        with self.db.unit_of_work() as uow:
            return TargetGapOut(many=True).dump(rollouts.check_targets(CheckTargets(rollout_id, **body), uow))

    @timer(interval=3600)
    def check_all_targets(self):
        """Hourly: announce today's target gaps of every open rollout (once a day each)."""
        with self.db.read() as uow:
            rollout_ids = rollouts.rollouts_to_check(uow)
        for rollout_id in rollout_ids:
            with self.db.unit_of_work() as uow:
                rollouts.check_targets(CheckTargets(rollout_id), uow)

    # --- participants ----------------------------------------------------------

    @api("POST", ROLLOUT + "/participants", body=ParticipantIn, response=ParticipantOut, status=201)
    def register_participant(self, request, rollout_id, body):
        with self.db.unit_of_work() as uow:
            participant = participants.register_participant(RegisterParticipant.from_input(rollout_id, body), uow)
            return 201, ParticipantOut().dump(participant)

    @api("POST", ROLLOUT + "/participants/import", body="file", response=ImportJobOut, status=202)
    def import_participants(self, request, rollout_id, body):
        """Kept as a job for the city's import worker (services/registration/import_worker.py)."""
        with self.db.unit_of_work() as uow:
            return 202, ImportJobOut().dump(import_jobs.submit_import(SubmitImport(rollout_id, body), uow))

    @api("GET", ROLLOUT + "/imports/<int:job_id>", response=ImportJobOut)
    def show_import(self, request, rollout_id, job_id):
        with self.db.read() as uow:
            return ImportJobOut().dump(import_jobs.show_import(ShowImport(rollout_id, job_id), uow))

    @api("GET", ROLLOUT + "/participants", query=ParticipantQuery, response=ParticipantOut, many=True)
    def list_participants(self, request, rollout_id, query):
        with self.db.read() as uow:
            found = participants.list_participants(ListParticipants(rollout_id, **query), uow)
            return ParticipantOut(many=True).dump(found)

    @api("GET", PARTICIPANT, response=ParticipantOut)
    def show_participant(self, request, rollout_id, participant_id):
        with self.db.read() as uow:
            found = participants.show_participant(ShowParticipant(rollout_id, participant_id), uow)
            return ParticipantOut().dump(found)

    @api("PATCH", PARTICIPANT, body=ParticipantEdit, response=ParticipantOut)
    def edit_participant(self, request, rollout_id, participant_id, body):
        with self.db.unit_of_work() as uow:
            edited = participants.edit_participant(EditParticipant(rollout_id, participant_id, body), uow)
            return ParticipantOut().dump(edited)

    @api("POST", PARTICIPANT + "/cancel", response=ParticipantOut)
    def cancel_participant(self, request, rollout_id, participant_id):
        with self.db.unit_of_work() as uow:
            cancelled = participants.cancel_participant(CancelParticipant(rollout_id, participant_id), uow)
            return ParticipantOut().dump(cancelled)

    @api("POST", PARTICIPANT + "/check-in", body=CheckInIn, body_required=False, response=CheckInOut, status=201)
    def check_in(self, request, rollout_id, participant_id, body):
        with self.db.unit_of_work() as uow:
            record = participants.check_in(CheckInParticipant(rollout_id, participant_id, **body), uow)
            return 201, CheckInOut().dump(record)

    # --- retention and the audit of personal data --------------------------------

    @timer(interval=24 * 3600, eager=True)  # eager: a service restarted daily still purges
    def purge_expired_personal_data(self):
        """Daily: personal data of rollouts completed RETENTION_DAYS ago is purged; codes and aggregates stay."""
        days = self.config.get("RETENTION_DAYS", 365)
        with self.db.unit_of_work() as uow:
            retention.purge_personal_data(PurgePersonalData(datetime.now(timezone.utc), days, actor="retention"), uow)

    @api("GET", "/audit", query=AuditQuery, response=AuditOut, many=True, permission="audit:read")
    def personal_data_audit(self, request, query, principal):
        with self.db.read() as uow:
            found = audit.list_audit(ListAudit(**query, cities=principal.city_filter()), uow)
            return AuditOut(many=True).dump(found)

    # --- for the other services ------------------------------------------

    @rpc
    def committee_list(self, rollout_id):
        with self.db.read() as uow:
            return participants.committee_list(GetCommitteeList(rollout_id), uow)

    @rpc
    def participant_by_code(self, code):
        with self.db.read() as uow:
            return participants.participant_by_code(FindParticipantByCode(code), uow)
