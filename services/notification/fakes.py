"""In-memory repositories and unit of work, for fast tests of notification's handlers."""
from services.notification.models import (
    Alert,
    Committee,
    CommitteeChange,
    Delivery,
    DeliveryAttempt,
    DisclosureRecord,
    ParticipantChange,
    RetentionPurge,
    RolloutSession,
)
from shared.fakes import FakeUnitOfWork
from shared.pagination import in_memory


def _in(city, cities):
    return cities is None or city in cities


class FakeCommittees:
    def __init__(self):
        self.rows = {}

    def get(self, rollout_id):
        return self.rows.get(rollout_id)

    def put(self, rollout_id, **fields):
        committee = self.rows.setdefault(rollout_id, Committee(rollout_id=rollout_id))
        for name, value in fields.items():
            setattr(committee, name, value)
        return committee

    def with_secrets(self):
        return [c for c in self.rows.values() if c.webhook_secret is not None]


class FakeCommitteeChanges:
    def __init__(self):
        self.rows = []

    def add(self, **fields):
        change = CommitteeChange(id=len(self.rows) + 1, **fields)
        self.rows.append(change)
        return change

    def of_rollout(self, rollout_id, *, page):
        return in_memory((c for c in self.rows if c.rollout_id == rollout_id), page)


class FakeSessions:
    def __init__(self, committees):
        self.rows = []
        self.committees = committees

    def has(self, rollout_id, key):
        return any((s.rollout_id, s.key) == (rollout_id, key) for s in self.rows)

    def add(self, **fields):
        self.rows.append(RolloutSession(id=len(self.rows) + 1, **fields))

    def of_rollout(self, rollout_id):
        return [s for s in self.rows if s.rollout_id == rollout_id]

    def _waiting(self, cities):
        return [s for s in self.rows if not s.final_list_queued and _in(s.city, cities)
                and self.committees.get(s.rollout_id) is not None]

    def before_final_list(self, first_day, last_day, cities=None):
        return [s for s in self._waiting(cities) if first_day <= s.date <= last_day]

    def any_before_final_list(self, today, cities=None):
        return any(s.date >= today for s in self._waiting(cities))


class FakeChanges:
    def __init__(self, committees):
        self.rows = []
        self.committees = committees

    def add_many(self, rows):
        for row in rows:
            self.rows.append(ParticipantChange(id=len(self.rows) + 1, digest=None, **row))

    def _waiting(self, cities):
        return [c for c in self.rows if c.digest is None and _in(c.city, cities)
                and self.committees.get(c.rollout_id) is not None]

    def any_waiting(self, cities=None):
        return bool(self._waiting(cities))

    def waiting_rollouts(self, cities=None):
        oldest = {}
        for change in self._waiting(cities):
            oldest[change.rollout_id] = min(oldest.get(change.rollout_id, change.received_at), change.received_at)
        return list(oldest.items())

    def take_waiting(self, rollout_id):
        return [c for c in self.rows if c.rollout_id == rollout_id and c.digest is None]

    def mark_taken(self, changes, digest):
        for change in changes:
            change.digest = digest

    def of_participants(self, rollout_id):
        return [(c.participant_id, c.change) for c in self.rows if c.rollout_id == rollout_id]


class FakeDeliveries:
    def __init__(self):
        self.rows = {}

    def has_key(self, key):
        return any(d.key == key for d in self.rows.values())

    def add(self, **fields):
        delivery = Delivery(id=len(self.rows) + 1, **fields)
        self.rows[delivery.id] = delivery
        return delivery

    def get(self, delivery_id):
        return self.rows.get(delivery_id)

    def due(self, now, cities=None):
        return [d.id for d in self.rows.values()
                if d.status == "queued" and d.next_attempt_at <= now and _in(d.city, cities)]

    def claim(self, delivery_id, now, until):
        delivery = self.rows.get(delivery_id)
        if delivery is None or delivery.status != "queued" or delivery.next_attempt_at > now:
            return False
        delivery.next_attempt_at = until
        return True

    def queued_webhooks(self, rollout_id):
        return [d for d in self.rows.values()
                if (d.rollout_id, d.channel, d.status) == (rollout_id, "webhook", "queued")]

    def find(self, rollout_id=None, status=None, kind=None, city=None, cities=None, *, page):
        wanted = {"rollout_id": rollout_id, "status": status, "kind": kind, "city": city}
        return in_memory((d for d in self.rows.values()
                          if _in(d.city, cities)
                          and all(value is None or getattr(d, name) == value for name, value in wanted.items())),
                         page)


class FakeAttempts:
    def __init__(self):
        self.rows = []

    def add(self, **fields):
        self.rows.append(DeliveryAttempt(id=len(self.rows) + 1, **fields))

    def of(self, delivery_id):
        return [a for a in self.rows if a.delivery_id == delivery_id]


class FakeDisclosures:
    def __init__(self, deliveries):
        self.rows = []
        self.deliveries = deliveries

    def add_many(self, rows):
        for row in rows:
            self.rows.append(DisclosureRecord(id=len(self.rows) + 1, **row))

    def of_participant(self, participant_id, cities=None, *, page):
        found = ((r, self.deliveries.get(r.delivery_id)) for r in self.rows if r.participant_id == participant_id)
        return in_memory(((r, d) for r, d in found if _in(d.city, cities)), page, key=lambda row: row[0].id)


class FakeAlerts:
    def __init__(self):
        self.rows = []

    def add(self, **fields):
        self.rows.append(Alert(id=len(self.rows) + 1, **fields))

    def list(self, rollout_id=None, cities=None, *, page):
        return in_memory((a for a in self.rows if rollout_id in (None, a.rollout_id) and _in(a.city, cities)), page)


class FakeRetentionPurges:
    def __init__(self):
        self.rows = []

    def add(self, **fields):
        self.rows.append(RetentionPurge(id=len(self.rows) + 1, **fields))

    def list(self, rollout_id=None):
        return [r for r in self.rows if rollout_id is None or r.rollout_id == rollout_id]


class FakeNotificationUnitOfWork(FakeUnitOfWork):
    def __init__(self):
        super().__init__()
        self.committees = FakeCommittees()
        self.committee_changes = FakeCommitteeChanges()
        self.sessions = FakeSessions(self.committees)
        self.changes = FakeChanges(self.committees)
        self.deliveries = FakeDeliveries()
        self.attempts = FakeAttempts()
        self.disclosures = FakeDisclosures(self.deliveries)
        self.alerts = FakeAlerts()
        self.purges = FakeRetentionPurges()
