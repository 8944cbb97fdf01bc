"""In-memory repositories, for unit tests of the handlers without a database.

They keep the same model objects the SQL repositories return (transient, never
in a session) and answer the same questions the same way.
"""
from itertools import count

from services.registration.models import Participant
from shared.errors import Conflict
from shared.fakes import FakeUnitOfWork
from shared.pagination import in_memory


class FakeRollouts:
    def __init__(self):
        self.by_id = {}
        self._ids = count(1)
        self._session_ids = count(1)

    def add(self, rollout) -> None:
        rollout.id = next(self._ids)
        for session in rollout.sessions:
            session.id = next(self._session_ids)
            session.rollout_id = rollout.id
        self.by_id[rollout.id] = rollout

    def get(self, rollout_id):
        return self.by_id.get(rollout_id)

    def list(self, program=None, status=None, city=None, cities=None, *, page):
        return in_memory((r for r in self.by_id.values()
                          if (not program or r.program == program) and (not status or r.status == status)
                          and (not city or r.city == city) and (cities is None or r.city in cities)), page)

    def open_ids(self):
        return [r.id for r in self.by_id.values() if r.status in ("launched", "running")]

    def completed_not_purged(self):
        return [r for _, r in sorted(self.by_id.items()) if r.status == "completed" and r.purged_at is None]

    def session_by_id(self, session_id):
        return next(s for r in self.by_id.values() for s in r.sessions if s.id == session_id)


class FakeParticipants:
    def __init__(self, rollouts: FakeRollouts):
        self.rollouts = rollouts
        self.by_id = {}
        self._ids = count(1)

    def _live_in(self, rollout_id):
        return [p for p in self.by_id.values() if p.rollout_id == rollout_id and p.status != "cancelled"]

    def add(self, participant) -> None:
        self.add_all([participant])

    def add_all(self, new) -> None:
        # What the database's unique index on (rollout_id, person_key) of live registrations refuses.
        live = {(p.rollout_id, p.person_key) for p in self.by_id.values() if p.status != "cancelled"}
        for participant in new:
            if (participant.rollout_id, participant.person_key) in live:
                raise Conflict("already registered in this rollout", field="full_name")
            live.add((participant.rollout_id, participant.person_key))
        for participant in new:
            participant.id = next(self._ids)
            self.by_id[participant.id] = participant

    def add_many(self, rows):
        new = [Participant(**row) for row in rows]
        for participant in new:
            participant.session = self.rollouts.session_by_id(participant.session_id)
        self.add_all(new)
        return [p.id for p in new]

    def get(self, participant_id):
        return self.by_id.get(participant_id)

    def by_code(self, code):
        return next((p for p in self.by_id.values() if p.code == code), None)

    def list(self, rollout_id, status=None, *, page):
        return in_memory((p for p in self.by_id.values()
                          if p.rollout_id == rollout_id and (not status or p.status == status)), page)

    def of_rollout(self, rollout_id):
        """Every participant of a rollout, in one list: for the fakes and tests, not a question the API asks."""
        return [p for _, p in sorted(self.by_id.items()) if p.rollout_id == rollout_id]

    def waitlisted(self, session_id):
        return [p for _, p in sorted(self.by_id.items()) if p.session_id == session_id and p.status == "waitlisted"]

    def places_taken(self, rollout_id):
        taken = {}
        for p in self.by_id.values():
            if p.rollout_id == rollout_id and p.status == "registered":
                taken[(p.session_id, p.category)] = taken.get((p.session_id, p.category), 0) + 1
        return taken

    def count_registered(self, rollout_id):
        return sum(p.rollout_id == rollout_id and p.status == "registered" for p in self.by_id.values())

    def live_holders(self, rollout_id, keys):
        keys = set(keys)
        return {p.person_key: p.id for p in self._live_in(rollout_id) if p.person_key in keys}

    def earlier_records(self, rollout, keys):
        keys, found = set(keys), {}
        earlier = sorted((r for r in self.rollouts.by_id.values()
                          if r.city == rollout.city and r.status != "cancelled" and r.starts_on is not None
                          and (r.starts_on, r.id) < (rollout.starts_on, rollout.id)),
                         key=lambda r: (r.starts_on, r.id))
        for other in earlier:
            for p in self._live_in(other.id):
                if p.person_key in keys:
                    found[p.person_key] = p.id  # the latest record of each person wins
        return found

    def codes_taken(self, codes):
        return set(codes) & {p.code for p in self.by_id.values()}


class FakeCheckIns:
    def __init__(self):
        self.records = []

    def find(self, participant_id, day):
        return next((c for c in self.records if (c.participant_id, c.day) == (participant_id, day)), None)

    def add(self, check_in) -> None:
        check_in.id = len(self.records) + 1
        self.records.append(check_in)


class FakeTargetGapAlerts:
    def __init__(self):
        self.alerts = []

    def announced(self, session_id, category, on_date):
        return any((a.session_id, a.category, a.on_date) == (session_id, category, on_date) for a in self.alerts)

    def add(self, alert) -> None:
        self.alerts.append(alert)


class FakeImportJobs:
    def __init__(self):
        self.by_id = {}

    def add(self, job) -> None:
        job.id = len(self.by_id) + 1
        self.by_id[job.id] = job

    def get(self, job_id):
        return self.by_id.get(job_id)

    def file_of(self, job_id):
        return self.by_id[job_id].file

    def update(self, job_id, **values) -> None:
        for name, value in values.items():
            setattr(self.by_id[job_id], name, value)


class FakePersonalData:
    def __init__(self, participants: FakeParticipants, import_jobs: FakeImportJobs):
        self.participants = participants
        self.import_jobs = import_jobs

    def count(self, rollout_id):
        return len(self.participants.of_rollout(rollout_id))

    def purge(self, rollout_id):
        purged = self.participants.of_rollout(rollout_id)
        for p in purged:
            p.full_name, p.organisation, p.email, p.phone, p.consent_by, p.consent_at = "", None, None, None, None, None
            p.person_key = f"purged:{p.id}"
        for job in self.import_jobs.by_id.values():
            if job.rollout_id == rollout_id:
                job.file = b""
        return len(purged)


class FakeAudit:
    def __init__(self):
        self.entries = []

    def add(self, entry) -> None:
        entry.id = len(self.entries) + 1
        self.entries.append(entry)

    record = add

    def list(self, rollout_id=None, city=None, cities=None, *, page):
        return in_memory((e for e in self.entries if (rollout_id is None or e.rollout_id == rollout_id)
                          and (not city or e.city == city) and (cities is None or e.city in cities)),
                         page, newest_first=True)


class FakeRegistrationUnitOfWork(FakeUnitOfWork):
    def __init__(self):
        super().__init__()
        self.rollouts = FakeRollouts()
        self.participants = FakeParticipants(self.rollouts)
        self.check_ins = FakeCheckIns()
        self.gap_alerts = FakeTargetGapAlerts()
        self.import_jobs = FakeImportJobs()
        self.personal_data = FakePersonalData(self.participants, self.import_jobs)
        self.audit = FakeAudit()
