"""In-memory repositories and unit of work, for fast tests of assessment's handlers."""
from services.assessment.models import ActionPlan, Instrument, KnownParticipant, KnownSession, Submission
from shared import events
from shared.database import utcnow
from shared.fakes import FakeUnitOfWork
from shared.pagination import in_memory


class FakeInstruments:
    def __init__(self, sessions):
        self.rows = {}
        self.sessions = sessions

    def add(self, **fields):
        instrument = Instrument(id=len(self.rows) + 1, created_at=utcnow(), **fields)
        self.rows[instrument.id] = instrument
        return instrument

    def get(self, instrument_id):
        return self.rows.get(instrument_id)

    def latest_version(self, rollout_id, session_key):
        return max((i.version for i in self.rows.values()
                    if (i.rollout_id, i.session_key) == (rollout_id, session_key)), default=0)

    def has_version(self, rollout_id, session_key, version):
        return any((i.rollout_id, i.session_key, i.version) == (rollout_id, session_key, version)
                   for i in self.rows.values())

    def list(self, rollout_id=None, session_key=None, cities=None, *, page):
        in_cities = None if cities is None else {s.rollout_id for s in self.sessions.rows.values() if s.city in cities}
        return in_memory((i for i in self.rows.values()
                          if rollout_id in (None, i.rollout_id) and session_key in (None, i.session_key)
                          and (in_cities is None or i.rollout_id in in_cities)), page)


class FakeSessions:
    def __init__(self):
        self.rows = {}

    def remember(self, rollout_id, session_key, city, topics):
        self.rows[rollout_id, session_key] = KnownSession(rollout_id=rollout_id, session_key=session_key,
                                                          city=city, topics=topics)

    def get(self, rollout_id, session_key):
        return self.rows.get((rollout_id, session_key))

    def of_rollout(self, rollout_id):
        return [s for (rollout, _), s in self.rows.items() if rollout == rollout_id]


class FakeParticipants:
    def __init__(self):
        self.rows = {}

    def get(self, code):
        return self.rows.get(code)

    def remember(self, participant):
        self.rows[participant.code] = KnownParticipant(
            code=participant.code, participant_id=participant.participant_id, rollout_id=participant.rollout_id,
            city=participant.city, session_key=participant.session_key)

    def unknown(self, codes):
        return [code for code in codes if code not in self.rows]


class FakeSubmissions:
    def __init__(self, instruments, participants):
        self.rows = []
        self.instruments = instruments
        self.participants = participants

    def add(self, **fields):
        if any((s.instrument_id, s.participant_code, s.phase) ==
               (fields["instrument_id"], fields["participant_code"], fields["phase"]) for s in self.rows):
            return None
        submission = Submission(id=len(self.rows) + 1, submitted_at=utcnow(), **fields)
        self.rows.append(submission)
        return submission

    def _session_of(self, submission):
        instrument = self.instruments.get(submission.instrument_id)
        return instrument.rollout_id, instrument.session_key

    def taken(self, rollout_id, session_key, codes):
        return {(s.participant_code, s.phase): s.id for s in self.rows
                if s.participant_code in codes and self._session_of(s) == (rollout_id, session_key)}

    def answers(self, instrument_id, phase):
        return [s.answers for s in self.rows if (s.instrument_id, s.phase) == (instrument_id, phase)]

    def results(self, scope=events.NATIONAL, rollout_id=None):
        found = []
        for s in self.rows:
            rollout, key = self._session_of(s)
            participant = self.participants.get(s.participant_code)
            if participant is None or scope not in (events.NATIONAL, participant.city) \
                    or rollout_id not in (None, rollout):
                continue
            found.append({"participant": (rollout, key, s.participant_code),
                          "session": (rollout, key, participant.city), "phase": s.phase, "score": s.score,
                          "max_score": s.max_score, "topics": s.topic_scores})
        return found


class FakeSessionChanges:
    def __init__(self):
        self.rows = {}  # (rollout id, session key) -> [city, changes, published]

    def count(self, rollout_id, session_key, city, by=1):
        self.rows.setdefault((rollout_id, session_key), [city, 0, 0])[1] += by

    def unpublished(self):
        return [(rollout, key, city, changes) for (rollout, key), (city, changes, published) in self.rows.items()
                if changes > published]

    def published(self, rollout_id, session_key, changes):
        self.rows[rollout_id, session_key][2] = changes


class FakeActionPlans:
    def __init__(self):
        self.rows = {}

    def add(self, **fields):
        plan = ActionPlan(id=len(self.rows) + 1, created_at=utcnow(), **fields)
        self.rows[plan.id] = plan
        return plan

    def get(self, plan_id):
        return self.rows.get(plan_id)

    def changed(self, plan):
        pass

    def list(self, rollout_id=None, status=None, cities=None, *, page):
        return in_memory((p for p in self.rows.values() if rollout_id in (None, p.rollout_id)
                          and status in (None, p.status) and (cities is None or p.city in cities)), page)


class FakeAssessmentUnitOfWork(FakeUnitOfWork):
    def __init__(self):
        super().__init__()
        self.sessions = FakeSessions()
        self.instruments = FakeInstruments(self.sessions)
        self.participants = FakeParticipants()
        self.submissions = FakeSubmissions(self.instruments, self.participants)
        self.changes = FakeSessionChanges()
        self.action_plans = FakeActionPlans()
