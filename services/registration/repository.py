"""Registration's tables behind repositories: the only module here that speaks SQL."""
from __future__ import annotations

import builtins

from sqlalchemy import String, and_, cast, func, insert, literal, or_, orm, select, update
from sqlalchemy.exc import IntegrityError

from services.registration.models import (
    CheckIn,
    ImportJob,
    Participant,
    PersonalDataAudit,
    Rollout,
    TargetGapAlert,
)
from shared.database import UnitOfWork
from shared.errors import Conflict
from shared.pagination import Page, PageOf, cut, keyset
from shared.turns import SLICE, taking_turns

IN_CHUNK = 500  # values per IN (...): well under every database's limit on bound parameters


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), IN_CHUNK):
        yield values[start:start + IN_CHUNK]


def _same_person_at_once(exc):
    """A live duplicate that slipped past the check, written by a concurrent request."""
    text = str(exc.orig)
    return "uq_participants_live_person" in text or "participants.person_key" in text


class SqlRollouts:
    def __init__(self, session):
        self.session = session

    def add(self, rollout: Rollout) -> None:
        self.session.add(rollout)
        self.session.flush()

    def get(self, rollout_id: int) -> Rollout | None:
        return self.session.get(Rollout, rollout_id)

    def list(self, program: str | None = None, status: str | None = None, city: str | None = None,
             cities: tuple[str, ...] | None = None, *, page: Page) -> PageOf[Rollout]:
        query = select(Rollout)
        if cities is not None:
            query = query.where(Rollout.city.in_(cities))
        if program:
            query = query.where(Rollout.program == program)
        if status:
            query = query.where(Rollout.status == status)
        if city:
            query = query.where(Rollout.city == city)
        return cut(self.session.scalars(keyset(query, Rollout.id, page)).all(), page)

    def open_ids(self) -> builtins.list[int]:  # `list` in this class is the method above
        """Rollouts launched or running: those whose targets are still checked."""
        return list(self.session.scalars(select(Rollout.id).where(Rollout.status.in_(("launched", "running")))))

    def completed_not_purged(self) -> builtins.list[Rollout]:
        """Completed rollouts whose personal data is still kept."""
        return list(self.session.scalars(select(Rollout).where(Rollout.status == "completed",
                                                               Rollout.purged_at.is_(None)).order_by(Rollout.id)))


class SqlParticipants:
    def __init__(self, session):
        self.session = session

    def add(self, participant: Participant) -> None:
        self.session.add(participant)
        try:
            self.session.flush()
        except IntegrityError as exc:
            if _same_person_at_once(exc):
                raise Conflict("already registered in this rollout", field="full_name") from exc
            raise

    def add_many(self, rows: list[dict]) -> list[int]:
        """Insert participants in bulk; their new ids, in the order of ``rows``.

        Plain executemany, then the new ids by code: RETURNING row by row is far slower.
        """
        rollout_ids = {row["rollout_id"] for row in rows}
        newest = self.session.scalar(select(func.max(Participant.id))) or 0
        try:
            for start in taking_turns(range(0, len(rows), SLICE), every=1):
                self.session.execute(insert(Participant.__table__), rows[start:start + SLICE])
        except IntegrityError as exc:
            if _same_person_at_once(exc):
                raise Conflict("someone in the file was registered in this rollout meanwhile",
                               field="full_name") from exc
            raise
        ids_by_code = dict(self.session.execute(
            select(Participant.code, Participant.id)
            .where(Participant.rollout_id.in_(rollout_ids), Participant.id > newest)).all())
        return [ids_by_code[row["code"]] for row in rows]

    def get(self, participant_id: int) -> Participant | None:
        return self.session.get(Participant, participant_id)

    def by_code(self, code: str) -> Participant | None:
        return self.session.scalar(select(Participant).where(Participant.code == code))

    def list(self, rollout_id: int, status: str | None = None, *, page: Page) -> PageOf[Participant]:
        query = select(Participant).where(Participant.rollout_id == rollout_id)
        if status:
            query = query.where(Participant.status == status)
        return cut(self.session.scalars(keyset(query, Participant.id, page)).all(), page)

    def waitlisted(self, session_id: int) -> builtins.list[Participant]:  # `list`: the method above
        """A session's waitlist, first come first."""
        return list(self.session.scalars(
            select(Participant).where(Participant.session_id == session_id, Participant.status == "waitlisted")
            .order_by(Participant.id)))

    def places_taken(self, rollout_id: int) -> dict[tuple[int, str], int]:
        """(session id, category) -> registrations holding a place."""
        rows = self.session.execute(
            select(Participant.session_id, Participant.category, func.count())
            .where(Participant.rollout_id == rollout_id, Participant.status == "registered")
            .group_by(Participant.session_id, Participant.category))
        return {(session_id, category): count for session_id, category, count in rows}

    def count_registered(self, rollout_id: int) -> int:
        return self.session.scalar(select(func.count()).where(
            Participant.rollout_id == rollout_id, Participant.status == "registered"))

    def live_holders(self, rollout_id: int, keys) -> dict[str, int]:
        """person_key -> id of the live (not cancelled) registration holding it in the rollout."""
        found = {}
        for chunk in _chunks(keys):
            found.update(self.session.execute(
                select(Participant.person_key, Participant.id)
                .where(Participant.rollout_id == rollout_id, Participant.person_key.in_(chunk),
                       Participant.status != "cancelled")).all())
        return found

    def earlier_records(self, rollout: Rollout, keys) -> dict[str, int]:
        """person_key -> id of the same person's latest record in an earlier rollout of the city.

        Earlier: starting before this rollout (or the same day, planned first),
        neither that rollout nor that registration cancelled.
        """
        found = {}
        earlier = or_(Rollout.starts_on < rollout.starts_on,
                      and_(Rollout.starts_on == rollout.starts_on, Rollout.id < rollout.id))
        for chunk in _chunks(keys):
            rows = self.session.execute(
                select(Participant.person_key, Participant.id)
                .join(Rollout, Rollout.id == Participant.rollout_id)
                .where(Participant.person_key.in_(chunk), Participant.status != "cancelled",
                       Rollout.city == rollout.city, Rollout.status != "cancelled", earlier)
                .order_by(Rollout.starts_on, Rollout.id, Participant.id))
            found.update(rows.all())  # the latest record of each person wins
        return found

    def codes_taken(self, codes) -> set[str]:
        taken = set()
        for chunk in _chunks(codes):
            taken.update(self.session.scalars(select(Participant.code).where(Participant.code.in_(chunk))))
        return taken


class SqlPersonalData:
    """Participants' personal data: the purge at the end of its retention."""

    def __init__(self, session):
        self.session = session

    def count(self, rollout_id: int) -> int:
        return self.session.scalar(select(func.count(Participant.id)).where(Participant.rollout_id == rollout_id))

    def purge(self, rollout_id: int) -> int:
        """Blank names, organisations, contact data and consent; codes and categories stay."""
        result = self.session.execute(update(Participant).where(Participant.rollout_id == rollout_id).values(
            full_name="", organisation=None, email=None, phone=None, consent_by=None, consent_at=None,
            # name|organisation made it: an id alone keeps it unique and says nothing
            person_key=literal("purged:") + cast(Participant.id, String)))
        # A file no worker got to (its rows were never read) holds names too.
        self.session.execute(update(ImportJob).where(ImportJob.rollout_id == rollout_id).values(file=b""))
        return result.rowcount


class SqlAudit:
    """The audit of personal data.  ``record`` commits at once, on its own: a read is audited
    even though its unit of work commits nothing; ``add`` goes with the unit of work (a purge)."""

    def __init__(self, session):
        self.session = session

    def add(self, entry: PersonalDataAudit) -> None:
        self.session.add(entry)

    def record(self, entry: PersonalDataAudit) -> None:
        with orm.Session(bind=self.session.get_bind()) as own:
            own.add(entry)
            own.commit()

    def list(self, rollout_id: int | None = None, city: str | None = None, cities: tuple[str, ...] | None = None,
             *, page: Page) -> PageOf[PersonalDataAudit]:
        """The newest first (ids grow with time)."""
        query = select(PersonalDataAudit)
        if rollout_id is not None:
            query = query.where(PersonalDataAudit.rollout_id == rollout_id)
        if city:
            query = query.where(PersonalDataAudit.city == city)
        if cities is not None:
            query = query.where(PersonalDataAudit.city.in_(cities))
        return cut(self.session.scalars(keyset(query, PersonalDataAudit.id, page, newest_first=True)).all(), page)


class SqlCheckIns:
    def __init__(self, session):
        self.session = session

    def find(self, participant_id: int, day: int) -> CheckIn | None:
        return self.session.scalar(select(CheckIn).where(CheckIn.participant_id == participant_id,
                                                         CheckIn.day == day))

    def add(self, check_in: CheckIn) -> None:
        self.session.add(check_in)
        self.session.flush()


class SqlTargetGapAlerts:
    """Gaps already announced, one a day per session and category."""

    def __init__(self, session):
        self.session = session

    def announced(self, session_id: int, category: str, on_date) -> bool:
        return self.session.scalar(select(TargetGapAlert.id).where(
            TargetGapAlert.session_id == session_id, TargetGapAlert.category == category,
            TargetGapAlert.on_date == on_date)) is not None

    def add(self, alert: TargetGapAlert) -> None:
        self.session.add(alert)


class SqlImportJobs:
    """Uploaded files and how their import goes; the file itself is read only by the worker."""

    def __init__(self, session):
        self.session = session

    def add(self, job: ImportJob) -> None:
        self.session.add(job)
        self.session.flush()

    def get(self, job_id: int) -> ImportJob | None:
        return self.session.get(ImportJob, job_id)

    def file_of(self, job_id: int) -> bytes:
        return self.session.scalar(select(ImportJob.file).where(ImportJob.id == job_id))

    def update(self, job_id: int, **values) -> None:
        """Change a job's columns in one statement, without loading it (progress goes often)."""
        self.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))


class RegistrationUnitOfWork(UnitOfWork):
    def __init__(self, session: orm.Session, consumer: str) -> None:
        super().__init__(session, consumer)
        self.rollouts = SqlRollouts(session)
        self.participants = SqlParticipants(session)
        self.check_ins = SqlCheckIns(session)
        self.gap_alerts = SqlTargetGapAlerts(session)
        self.import_jobs = SqlImportJobs(session)
        self.personal_data = SqlPersonalData(session)
        self.audit = SqlAudit(session)
