"""Notification's tables behind repositories: the only module that speaks SQLAlchemy."""
from sqlalchemy import func, insert, select, update

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
from shared.database import UnitOfWork
from shared.pagination import cut, keyset


def _in(column, cities):
    """Rows of the given cities (None: every city)."""
    return True if cities is None else column.in_(cities)


def _disclosure_id(row):
    return row[0].id


class SqlCommittees:
    def __init__(self, session):
        self.session = session

    def get(self, rollout_id):
        return self.session.get(Committee, rollout_id)

    def put(self, rollout_id, **fields):
        committee = self.get(rollout_id) or Committee(rollout_id=rollout_id)
        for name, value in fields.items():
            setattr(committee, name, value)
        self.session.add(committee)
        self.session.flush()
        return committee

    def with_secrets(self):
        return self.session.scalars(select(Committee).where(Committee.webhook_secret.is_not(None))).all()


class SqlCommitteeChanges:
    """The audit of committee changes: who, when, before and after."""

    def __init__(self, session):
        self.session = session

    def add(self, **fields):
        change = CommitteeChange(**fields)
        self.session.add(change)
        self.session.flush()
        return change

    def of_rollout(self, rollout_id, *, page):
        query = select(CommitteeChange).where(CommitteeChange.rollout_id == rollout_id)
        return cut(self.session.scalars(keyset(query, CommitteeChange.id, page)).all(), page)


class SqlSessions:
    """A launched rollout's sessions, so each final list goes out the day before."""

    def __init__(self, session):
        self.session = session

    def has(self, rollout_id, key):
        return self.session.scalar(select(RolloutSession.id).where(
            RolloutSession.rollout_id == rollout_id, RolloutSession.key == key)) is not None

    def add(self, **fields):
        self.session.add(RolloutSession(**fields))

    def of_rollout(self, rollout_id):
        return self.session.scalars(select(RolloutSession).where(RolloutSession.rollout_id == rollout_id)).all()

    def _waiting(self, columns, cities):
        return (select(columns).join(Committee, Committee.rollout_id == RolloutSession.rollout_id)
                .where(RolloutSession.final_list_queued.is_(False), _in(RolloutSession.city, cities)))

    def before_final_list(self, first_day, last_day, cities=None):
        """Sessions of a rollout with a committee, between the two days, whose final list has not gone."""
        return self.session.scalars(self._waiting(RolloutSession, cities).where(
            RolloutSession.date >= first_day, RolloutSession.date <= last_day)).all()

    def any_before_final_list(self, today, cities=None):
        return self.session.scalar(self._waiting(RolloutSession.id, cities)
                                   .where(RolloutSession.date >= today).limit(1)) is not None


class SqlChanges:
    """Participant changes heard from registration, each waiting for the one digest that takes it."""

    def __init__(self, session):
        self.session = session

    def add_many(self, rows):
        if rows:
            self.session.execute(insert(ParticipantChange.__table__), rows)

    def _waiting(self, cities):
        return (ParticipantChange.digest.is_(None), _in(ParticipantChange.city, cities))

    def any_waiting(self, cities=None):
        return self.session.scalar(
            select(ParticipantChange.id).join(Committee, Committee.rollout_id == ParticipantChange.rollout_id)
            .where(*self._waiting(cities)).limit(1)) is not None

    def waiting_rollouts(self, cities=None):
        """(rollout id, time of its oldest waiting change) of each rollout with a committee."""
        return self.session.execute(
            select(ParticipantChange.rollout_id, func.min(ParticipantChange.received_at))
            .join(Committee, Committee.rollout_id == ParticipantChange.rollout_id)
            .where(*self._waiting(cities)).group_by(ParticipantChange.rollout_id)).all()

    def take_waiting(self, rollout_id):
        """A rollout's waiting changes, oldest first, locked against another process's digest."""
        return self.session.scalars(
            select(ParticipantChange)
            .where(ParticipantChange.rollout_id == rollout_id, ParticipantChange.digest.is_(None))
            .order_by(ParticipantChange.id).with_for_update(skip_locked=True)).all()

    def mark_taken(self, changes, digest):
        for change in changes:
            change.digest = digest

    def of_participants(self, rollout_id):
        """(participant id, change) of a rollout, oldest first."""
        return self.session.execute(
            select(ParticipantChange.participant_id, ParticipantChange.change)
            .where(ParticipantChange.rollout_id == rollout_id).order_by(ParticipantChange.id)).all()


class SqlDeliveries:
    def __init__(self, session):
        self.session = session

    def has_key(self, key):
        return self.session.scalar(select(Delivery.id).where(Delivery.key == key)) is not None

    def add(self, **fields):
        delivery = Delivery(**fields)
        self.session.add(delivery)
        self.session.flush()
        return delivery

    def get(self, delivery_id):
        return self.session.get(Delivery, delivery_id)

    def due(self, now, cities=None):
        return self.session.scalars(select(Delivery.id).where(
            Delivery.status == "queued", Delivery.next_attempt_at <= now, _in(Delivery.city, cities))
            .order_by(Delivery.id)).all()

    def claim(self, delivery_id, now, until):
        """Whether this process took the due delivery (the row's next attempt moved to ``until``)."""
        claimed = self.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == "queued", Delivery.next_attempt_at <= now)
            .values(next_attempt_at=until))
        return claimed.rowcount == 1

    def queued_webhooks(self, rollout_id):
        return self.session.scalars(select(Delivery).where(
            Delivery.rollout_id == rollout_id, Delivery.channel == "webhook", Delivery.status == "queued")).all()

    def find(self, rollout_id=None, status=None, kind=None, city=None, cities=None, *, page):
        query = select(Delivery).where(_in(Delivery.city, cities))
        for column, value in ((Delivery.rollout_id, rollout_id), (Delivery.status, status),
                              (Delivery.kind, kind), (Delivery.city, city)):
            if value is not None:
                query = query.where(column == value)
        return cut(self.session.scalars(keyset(query, Delivery.id, page)).all(), page)


class SqlAttempts:
    def __init__(self, session):
        self.session = session

    def add(self, **fields):
        self.session.add(DeliveryAttempt(**fields))

    def of(self, delivery_id):
        return self.session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                    .order_by(DeliveryAttempt.id)).all()


class SqlDisclosures:
    def __init__(self, session):
        self.session = session

    def add_many(self, rows):
        if rows:
            self.session.execute(insert(DisclosureRecord.__table__), rows)

    def of_participant(self, participant_id, cities=None, *, page):
        """(disclosure, its delivery) of one participant by deliveries of ``cities``, oldest first."""
        query = (select(DisclosureRecord, Delivery).join(Delivery, Delivery.id == DisclosureRecord.delivery_id)
                 .where(DisclosureRecord.participant_id == participant_id, _in(Delivery.city, cities)))
        return cut(self.session.execute(keyset(query, DisclosureRecord.id, page)).all(), page, key=_disclosure_id)


class SqlAlerts:
    def __init__(self, session):
        self.session = session

    def add(self, **fields):
        self.session.add(Alert(**fields))

    def list(self, rollout_id=None, cities=None, *, page):
        query = select(Alert).where(_in(Alert.city, cities))
        if rollout_id is not None:
            query = query.where(Alert.rollout_id == rollout_id)
        return cut(self.session.scalars(keyset(query, Alert.id, page)).all(), page)


class SqlRetentionPurges:
    def __init__(self, session):
        self.session = session

    def add(self, **fields):
        self.session.add(RetentionPurge(**fields))

    def list(self, rollout_id=None):
        query = select(RetentionPurge).order_by(RetentionPurge.id)
        if rollout_id is not None:
            query = query.where(RetentionPurge.rollout_id == rollout_id)
        return self.session.scalars(query).all()


class NotificationUnitOfWork(UnitOfWork):
    def __init__(self, session, consumer):
        super().__init__(session, consumer)
        self.committees = SqlCommittees(session)
        self.committee_changes = SqlCommitteeChanges(session)
        self.sessions = SqlSessions(session)
        self.changes = SqlChanges(session)
        self.deliveries = SqlDeliveries(session)
        self.attempts = SqlAttempts(session)
        self.disclosures = SqlDisclosures(session)
        self.alerts = SqlAlerts(session)
        self.purges = SqlRetentionPurges(session)
