"""Assessment's tables behind repositories: the only module that speaks SQLAlchemy."""
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.assessment.models import (
    ActionPlan,
    Instrument,
    KnownParticipant,
    KnownSession,
    SessionChanges,
    Submission,
)
from shared import events
from shared.database import UnitOfWork
from shared.pagination import cut, keyset


class SqlInstruments:
    def __init__(self, session):
        self.session = session

    def add(self, **fields) -> Instrument:
        instrument = Instrument(**fields)
        self.session.add(instrument)
        self.session.flush()
        return instrument

    def get(self, instrument_id):
        return self.session.get(Instrument, instrument_id)

    def latest_version(self, rollout_id, session_key) -> int:
        return self.session.scalar(select(func.max(Instrument.version)).where(
            Instrument.rollout_id == rollout_id, Instrument.session_key == session_key)) or 0

    def has_version(self, rollout_id, session_key, version) -> bool:
        return self.session.scalar(select(Instrument.id).where(
            Instrument.rollout_id == rollout_id, Instrument.session_key == session_key,
            Instrument.version == version)) is not None

    def list(self, rollout_id=None, session_key=None, cities=None, *, page):
        """Instruments of rollouts in ``cities`` (None: of every rollout, known or not)."""
        query = select(Instrument)
        if cities is not None:
            query = query.where(Instrument.rollout_id.in_(
                select(KnownSession.rollout_id).where(KnownSession.city.in_(cities))))
        if rollout_id is not None:
            query = query.where(Instrument.rollout_id == rollout_id)
        if session_key is not None:
            query = query.where(Instrument.session_key == session_key)
        return cut(self.session.scalars(keyset(query, Instrument.id, page)).all(), page)


class SqlSessions:
    """Launched sessions and their agenda topics, as rollout_launched told them."""

    def __init__(self, session):
        self.session = session

    def remember(self, rollout_id, session_key, city, topics):
        self.session.merge(KnownSession(rollout_id=rollout_id, session_key=session_key, city=city, topics=topics))

    def get(self, rollout_id, session_key):
        return self.session.get(KnownSession, (rollout_id, session_key))

    def of_rollout(self, rollout_id):
        return self.session.scalars(select(KnownSession).where(KnownSession.rollout_id == rollout_id)).all()


class SqlParticipants:
    """Registration's participants as far as tests need them."""

    def __init__(self, session):
        self.session = session

    def get(self, code):
        return self.session.get(KnownParticipant, code)

    def remember(self, participant):
        self.session.merge(KnownParticipant(
            code=participant.code, participant_id=participant.participant_id, rollout_id=participant.rollout_id,
            city=participant.city, session_key=participant.session_key))

    def unknown(self, codes):
        known = set()
        for start in range(0, len(codes), 500):
            chunk = codes[start:start + 500]
            known.update(self.session.scalars(select(KnownParticipant.code).where(KnownParticipant.code.in_(chunk))))
        return [code for code in codes if code not in known]


class SqlSubmissions:
    def __init__(self, session):
        self.session = session

    def add(self, **fields):
        """The saved submission, or None if the participant has this phase on this instrument already."""
        submission = Submission(**fields)
        self.session.add(submission)
        try:
            self.session.flush()
        except IntegrityError:
            return None
        return submission

    def taken(self, rollout_id, session_key, codes):
        """{(code, phase): submission id} of these participants' tests in a session, whichever version."""
        taken = {}
        for start in range(0, len(codes), 500):
            rows = self.session.execute(
                select(Submission.participant_code, Submission.phase, Submission.id).join(Instrument).where(
                    Instrument.rollout_id == rollout_id, Instrument.session_key == session_key,
                    Submission.participant_code.in_(codes[start:start + 500])))
            taken.update({(code, phase): submission_id for code, phase, submission_id in rows})
        return taken

    def answers(self, instrument_id, phase):
        return self.session.scalars(select(Submission.answers).where(
            Submission.instrument_id == instrument_id, Submission.phase == phase)).all()

    def results(self, scope=events.NATIONAL, rollout_id=None):
        """Every scored test in a city (or the nation), with its session and city."""
        query = (select(Submission, Instrument.rollout_id, Instrument.session_key, KnownParticipant.city)
                 .join(Instrument, Submission.instrument_id == Instrument.id)
                 .join(KnownParticipant, Submission.participant_code == KnownParticipant.code))
        if scope != events.NATIONAL:
            query = query.where(KnownParticipant.city == scope)
        if rollout_id is not None:
            query = query.where(Instrument.rollout_id == rollout_id)
        return [{"participant": (rollout, key, s.participant_code), "session": (rollout, key, city),
                 "phase": s.phase, "score": s.score, "max_score": s.max_score, "topics": s.topic_scores}
                for s, rollout, key, city in self.session.execute(query)]


class SqlSessionChanges:
    """How often each session's scores changed, and up to which change its gain summary went out."""

    def __init__(self, session):
        self.session = session

    def count(self, rollout_id, session_key, city, by=1):
        if self.session.get(SessionChanges, (rollout_id, session_key)) is None:
            self.session.add(SessionChanges(rollout_id=rollout_id, session_key=session_key, city=city, changes=by))
            self.session.flush()
        else:
            self.session.execute(update(SessionChanges).where(
                SessionChanges.rollout_id == rollout_id, SessionChanges.session_key == session_key,
            ).values(changes=SessionChanges.changes + by))

    def unpublished(self):
        return self.session.execute(select(
            SessionChanges.rollout_id, SessionChanges.session_key, SessionChanges.city, SessionChanges.changes,
        ).where(SessionChanges.changes > SessionChanges.published)).all()

    def published(self, rollout_id, session_key, changes):
        self.session.execute(update(SessionChanges).where(
            SessionChanges.rollout_id == rollout_id, SessionChanges.session_key == session_key,
        ).values(published=changes))


class SqlActionPlans:
    def __init__(self, session):
        self.session = session

    def add(self, **fields) -> ActionPlan:
        plan = ActionPlan(**fields)
        self.session.add(plan)
        self.session.flush()
        return plan

    def get(self, plan_id):
        return self.session.get(ActionPlan, plan_id)

    def changed(self, plan):
        self.session.flush()

    def list(self, rollout_id=None, status=None, cities=None, *, page):
        query = select(ActionPlan)
        if cities is not None:
            query = query.where(ActionPlan.city.in_(cities))
        if rollout_id is not None:
            query = query.where(ActionPlan.rollout_id == rollout_id)
        if status is not None:
            query = query.where(ActionPlan.status == status)
        return cut(self.session.scalars(keyset(query, ActionPlan.id, page)).all(), page)


class AssessmentUnitOfWork(UnitOfWork):
    def __init__(self, session, consumer):
        super().__init__(session, consumer)
        self.instruments = SqlInstruments(session)
        self.sessions = SqlSessions(session)
        self.participants = SqlParticipants(session)
        self.submissions = SqlSubmissions(session)
        self.changes = SqlSessionChanges(session)
        self.action_plans = SqlActionPlans(session)
