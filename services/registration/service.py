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
    AuditPage,
    AuditQuery,
    CancelIn,
    CheckInIn,
    CheckInOut,
    CloneIn,
    CommitteeListOut,
    ImportJobOut,
    ParticipantEdit,
    ParticipantIn,
    ParticipantOut,
    ParticipantPage,
    ParticipantQuery,
    RolloutEdit,
    RolloutIn,
    RolloutOut,
    RolloutPage,
    RolloutQuery,
    TargetCheckIn,
    TargetGapOut,
)
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.outbox import OutboxRelay
from shared.pagination import PageQuery
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

    @api("POST", "/rollouts", body=RolloutIn, response=RolloutOut, status=201, permission="rollouts:write")
    def plan_rollout(self, request, body, principal):
        command = PlanRollout.from_input(body, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return 201, RolloutOut().dump(rollouts.plan_rollout(command, uow))

    @api("GET", "/rollouts", query=RolloutQuery, response=RolloutPage, permission="rollouts:read")
    def list_rollouts(self, request, query, principal):
        command = ListRollouts(**query, cities=principal.city_filter())
        with self.db.read() as uow:
            return RolloutPage().dump(rollouts.list_rollouts(command, uow))

    @api("GET", ROLLOUT, response=RolloutOut, permission="rollouts:read")
    def show_rollout(self, request, rollout_id, principal):
        command = ShowRollout(rollout_id, principal.city_filter())
        with self.db.read() as uow:
            return RolloutOut().dump(rollouts.show_rollout(command, uow))

    @api("PATCH", ROLLOUT, body=RolloutEdit, response=RolloutOut, permission="rollouts:write")
    def edit_rollout(self, request, rollout_id, body, principal):
        command = EditRollout.from_input(rollout_id, body, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.edit_rollout(command, uow))

    @api("POST", ROLLOUT + "/clone", body=CloneIn, response=RolloutOut, status=201,
         permission="rollouts:write")
    def clone_rollout(self, request, rollout_id, body, principal):
        command = CloneRollout(template_id=rollout_id, **body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            return 201, RolloutOut().dump(rollouts.clone_rollout(command, uow))

    @api("POST", ROLLOUT + "/launch", response=RolloutOut, permission="rollouts:write")
    def launch_rollout(self, request, rollout_id, principal):
        command = LaunchRollout(rollout_id, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.launch_rollout(command, uow))

    @api("POST", ROLLOUT + "/start", response=RolloutOut, permission="rollouts:write")
    def start_rollout(self, request, rollout_id, principal):
        command = StartRollout(rollout_id, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.start_rollout(command, uow))

    @api("POST", ROLLOUT + "/complete", response=RolloutOut, permission="rollouts:write")
    def complete_rollout(self, request, rollout_id, principal):
        command = CompleteRollout(rollout_id, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.complete_rollout(command, uow))

    @api("POST", ROLLOUT + "/cancel", body=CancelIn, body_required=False, response=RolloutOut,
         permission="rollouts:write")
    def cancel_rollout(self, request, rollout_id, body, principal):
        command = CancelRollout(rollout_id, **body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.cancel_rollout(command, uow))

    @api("POST", ROLLOUT + "/close-registration", response=RolloutOut, permission="rollouts:write")
    def close_registration(self, request, rollout_id, principal):
        command = CloseRegistration(rollout_id, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return RolloutOut().dump(rollouts.close_registration(command, uow))

    @api("POST", ROLLOUT + "/target-check", body=TargetCheckIn, body_required=False,
         response=TargetGapOut, many=True, permission="rollouts:write")
    def check_targets(self, request, rollout_id, body, principal):
        command = CheckTargets(rollout_id, **body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            return TargetGapOut(many=True).dump(rollouts.check_targets(command, uow))

    @timer(interval=3600)
    def check_all_targets(self):
        """Hourly: announce today's target gaps of every open rollout (once a day each)."""
        with self.db.read() as uow:
            rollout_ids = rollouts.rollouts_to_check(uow)
        for rollout_id in rollout_ids:
            with self.db.unit_of_work() as uow:
                rollouts.check_targets(CheckTargets(rollout_id), uow)

    # --- participants ----------------------------------------------------------

    @api("POST", ROLLOUT + "/participants", body=ParticipantIn, response=ParticipantOut, status=201,
         permission="participants:write")
    def register_participant(self, request, rollout_id, body, principal):
        command = RegisterParticipant.from_input(rollout_id, body, principal.city_filter())
        with self.db.unit_of_work() as uow:
            participant = participants.register_participant(command, uow)
            return 201, ParticipantOut().dump(participant)

    @api("POST", ROLLOUT + "/participants/import", body="file", response=ImportJobOut, status=202,
         permission="participants:write")
    def import_participants(self, request, rollout_id, body, principal):
        """Kept as a job for the city's import worker (services/registration/import_worker.py)."""
        command = SubmitImport(rollout_id, body, principal.city_filter())
        with self.db.unit_of_work() as uow:
            return 202, ImportJobOut().dump(import_jobs.submit_import(command, uow))

    @api("GET", ROLLOUT + "/imports/<int:job_id>", response=ImportJobOut, permission="participants:read")
    def show_import(self, request, rollout_id, job_id, principal):
        command = ShowImport(rollout_id, job_id, principal.city_filter())
        with self.db.read() as uow:
            return ImportJobOut().dump(import_jobs.show_import(command, uow))

    @api("GET", ROLLOUT + "/participants", query=ParticipantQuery, response=ParticipantPage,
         permission="participants:read")
    def list_participants(self, request, rollout_id, query, principal):
        command = ListParticipants(rollout_id, **query, cities=principal.city_filter(), actor=principal.username)
        with self.db.read() as uow:
            return ParticipantPage().dump(participants.list_participants(command, uow))

    @api("GET", PARTICIPANT, response=ParticipantOut, permission="participants:read")
    def show_participant(self, request, rollout_id, participant_id, principal):
        command = ShowParticipant(rollout_id, participant_id, principal.city_filter(), actor=principal.username)
        with self.db.read() as uow:
            found = participants.show_participant(command, uow)
            return ParticipantOut().dump(found)

    @api("PATCH", PARTICIPANT, body=ParticipantEdit, response=ParticipantOut, permission="participants:write")
    def edit_participant(self, request, rollout_id, participant_id, body, principal):
        command = EditParticipant(rollout_id, participant_id, body, principal.city_filter())
        with self.db.unit_of_work() as uow:
            edited = participants.edit_participant(command, uow)
            return ParticipantOut().dump(edited)

    @api("POST", PARTICIPANT + "/cancel", response=ParticipantOut, permission="participants:write")
    def cancel_participant(self, request, rollout_id, participant_id, principal):
        command = CancelParticipant(rollout_id, participant_id, principal.city_filter())
        with self.db.unit_of_work() as uow:
            cancelled = participants.cancel_participant(command, uow)
            return ParticipantOut().dump(cancelled)

    @api("POST", PARTICIPANT + "/check-in", body=CheckInIn, body_required=False, response=CheckInOut, status=201,
         permission="participants:write")
    def check_in(self, request, rollout_id, participant_id, body, principal):
        command = CheckInParticipant(rollout_id, participant_id, **body, cities=principal.city_filter())
        with self.db.unit_of_work() as uow:
            record = participants.check_in(command, uow)
            return 201, CheckInOut().dump(record)

    # --- retention and the audit of personal data --------------------------------

    @timer(interval=24 * 3600, eager=True)  # eager: a service restarted daily still purges
    def purge_expired_personal_data(self):
        """Daily: personal data of rollouts completed RETENTION_DAYS ago is purged; codes and aggregates stay."""
        days = self.config.get("RETENTION_DAYS", 365)
        with self.db.unit_of_work() as uow:
            retention.purge_personal_data(PurgePersonalData(datetime.now(timezone.utc), days, actor="retention"), uow)

    @api("GET", "/audit", query=AuditQuery, response=AuditPage, permission="audit:read")
    def personal_data_audit(self, request, query, principal):
        with self.db.read() as uow:
            return AuditPage().dump(audit.list_audit(ListAudit(**query, cities=principal.city_filter()), uow))

    # --- for the other services ------------------------------------------

    @api("GET", ROLLOUT + "/committee-list", query=PageQuery, response=CommitteeListOut, permission="participants:read")
    def committee_list(self, request, rollout_id, query, principal):
        """What notification sends a committee: over HTTP to a service account, never on the broker."""
        with self.db.read() as uow:
            command = GetCommitteeList(rollout_id, cities=principal.city_filter(), actor=principal.username,
                                       **query)
            return CommitteeListOut().dump(participants.committee_list(command, uow))

    @rpc
    def participant_by_code(self, code):
        with self.db.read() as uow:
            return participants.participant_by_code(FindParticipantByCode(code), uow)
