"""Which committee gets what, when, and the record of it (no nameko here).

Handlers only queue deliveries (rows); a timer sends them.  A delivery's
``key`` is derived from what it covers, so however often an event is
redelivered or the service restarts, the same content is one delivery, sent
with the same Message-ID and idempotency key.
"""
import os
import secrets
from dataclasses import dataclass
from datetime import date, timedelta, timezone

from sqlalchemy import func, insert, select, update

from services.notification.models import (
    Alert, Committee, Delivery, DeliveryAttempt, DisclosureRecord, ParticipantChange, RolloutSession,
)
from services.notification.schemas import CommitteeIn
from shared import events
from shared.database import utcnow
from shared.commands import validated
from shared.errors import Conflict, Forbidden, NotFound

PARTICIPANT_LIST = "participant_list"  # everyone, when registration closes
FINAL_LIST = "final_list"  # one session's participants, the day before it
DIGEST = "digest"  # the changes of one window
AGENDA = "agenda"
TARGET_GAP = "target_gap"
ROLLOUT_CANCELLED = "rollout_cancelled"
LISTS = (PARTICIPANT_LIST, FINAL_LIST, DIGEST)  # the kinds that carry names

# A committee's list holds these columns and nothing more (no contacts, no age, no consent).
LIST_COLUMNS = ("code", "full_name", "category", "organisation", "session", "day")

MESSAGE_DOMAIN = "internet-aman.campaign"


@dataclass(frozen=True)
class Policy:
    """How the service paces its deliveries (from the environment, see docs/notification.md)."""

    digest_window: float = 600.0  # seconds a digest collects changes before it goes
    max_attempts: int = 8  # tries of one delivery before it is dead-lettered
    backoff: float = 2.0  # seconds before the second try; doubled each time after
    backoff_cap: float = 300.0
    final_list_days_before: int = 1

    @classmethod
    def from_config(cls, config):
        def value(name, cast, default):
            raw = config.get(name, os.environ.get(name))
            return default if raw in (None, "") else cast(raw)
        return cls(
            digest_window=value("DIGEST_WINDOW", float, cls.digest_window),
            max_attempts=value("DELIVERY_MAX_ATTEMPTS", int, cls.max_attempts),
            backoff=value("DELIVERY_BACKOFF", float, cls.backoff),
            backoff_cap=value("DELIVERY_BACKOFF_CAP", float, cls.backoff_cap),
            final_list_days_before=value("FINAL_LIST_DAYS_BEFORE", int, cls.final_list_days_before),
        )

    def wait_after(self, attempts):
        return min(self.backoff * 2 ** (attempts - 1), self.backoff_cap)


# --- committees -------------------------------------------------------------

def set_committee(uow, rollout_id, city, data):
    data = validated(CommitteeIn(), data)
    committee = uow.session.get(Committee, rollout_id) or Committee(rollout_id=rollout_id)
    committee.city = city
    committee.name = data.get("name")
    committee.emails = data["emails"]
    committee.webhook_url = data.get("webhook_url")
    committee.webhook_secret = data.get("webhook_secret")
    committee.webhook_enabled = bool(committee.webhook_url)
    committee.list_format = data["list_format"]
    committee.updated_at = utcnow()
    uow.session.add(committee)
    uow.session.flush()
    return committee


def get_committee(session, rollout_id):
    committee = session.get(Committee, rollout_id)
    if committee is None:
        raise NotFound(f"rollout {rollout_id} has no committee set", field="rollout_id")
    return committee


# --- queuing ----------------------------------------------------------------

def _queue(uow, rollout_id, city, kind, covers, content, channels):
    """One delivery per channel, unless a delivery of the same thing exists already."""
    queued = []
    for channel in channels:
        key = f"{kind}.{rollout_id}.{covers}.{channel}" if covers else f"{kind}.{rollout_id}.{channel}"
        if uow.session.scalar(select(Delivery.id).where(Delivery.key == key)) is not None:
            continue
        delivery = Delivery(key=key, rollout_id=rollout_id, city=city, kind=kind, channel=channel,
                            content=content, ack_token=secrets.token_urlsafe(16), status="queued",
                            attempts=0, resends=0, next_attempt_at=utcnow())
        uow.session.add(delivery)
        queued.append(delivery)
    uow.session.flush()
    return queued


def _channels(session, rollout_id):
    committee = session.get(Committee, rollout_id)
    return committee.channels() if committee else []


def record_rollout(uow, event):
    """A launched rollout: remember its sessions, and send the committee the agenda."""
    for s in event["sessions"]:
        exists = uow.session.scalar(select(RolloutSession.id).where(
            RolloutSession.rollout_id == event["rollout_id"], RolloutSession.key == s["key"]))
        if exists is None:
            uow.session.add(RolloutSession(rollout_id=event["rollout_id"], city=event["city"], key=s["key"],
                                           day=s["day"], date=s["date"], title=s["title"]))
    agenda = events.ROLLOUT_LAUNCHED.schema(only=(
        "city_name", "province", "venue", "starts_on", "ends_on", "sessions")).dump(event)
    return _queue(uow, event["rollout_id"], event["city"], AGENDA, None, agenda,
                  _channels(uow.session, event["rollout_id"]))


def record_change(uow, event, change):
    """A participant event, kept until a digest takes it."""
    record_changes(uow, [event], change)


def record_changes(uow, heard, change):
    """``record_change`` for a batch, in one statement."""
    now = utcnow()
    rows = [{
        "event_id": str(event["event_id"]), "rollout_id": event["rollout_id"], "city": event["city"],
        "participant_id": event["participant_id"], "participant_code": event["participant_code"],
        "change": "waitlisted" if change == "registered" and event.get("status") == "waitlisted" else change,
        "received_at": now,
    } for event in heard]
    if rows:
        uow.session.execute(insert(ParticipantChange), rows)


def queue_participant_list(uow, event):
    """Registration closed: the committee is owed its list, once per channel.

    Without a committee set, the list goes by mail to registration's committee address.
    """
    channels = _channels(uow.session, event["rollout_id"]) or ["mail"]
    return _queue(uow, event["rollout_id"], event["city"], PARTICIPANT_LIST, None, {}, channels)


def queue_target_gap(uow, event):
    content = {k: event[k] for k in ("session_key", "category", "minimum", "registered")}
    content["session_date"] = event["session_date"].isoformat()
    return _queue(uow, event["rollout_id"], event["city"], TARGET_GAP, str(event["event_id"]), content,
                  _channels(uow.session, event["rollout_id"]))


def _in_city(column, city):
    """The ``CITY`` setting: ``*`` for every city, or a list such as ``pontianak,medan``."""
    if city in (None, "*"):
        return True
    return column.in_([c.strip() for c in city.split(",") if c.strip()])


def collapse(changes):
    """One row per participant: its last change, but still "registered" if new in this digest."""
    by_participant = {}
    for change in changes:
        first = by_participant.get(change.participant_id)
        kind = change.change
        if first is not None and first["change"] in ("registered", "waitlisted") and kind == "updated":
            kind = first["change"]
        by_participant[change.participant_id] = {
            "participant_id": change.participant_id, "participant_code": change.participant_code, "change": kind}
    return list(by_participant.values())


def collect_digests(uow, window, now=None, city="*"):
    """Close every window that has run its time: its changes become one digest per channel.

    The changes are marked in the same transaction that queues the digest, so
    after a crash a change is either still waiting or in exactly one digest.
    """
    now = now or utcnow()
    rollouts = uow.session.execute(
        select(ParticipantChange.rollout_id, func.min(ParticipantChange.received_at))
        .join(Committee, Committee.rollout_id == ParticipantChange.rollout_id)
        .where(ParticipantChange.digest.is_(None), _in_city(ParticipantChange.city, city))
        .group_by(ParticipantChange.rollout_id)).all()
    digests = []
    for rollout_id, oldest in rollouts:
        channels = _channels(uow.session, rollout_id)
        if _aware(oldest) > now - timedelta(seconds=window) or not channels:
            continue  # still open, or no way to reach the committee now: the changes wait
        changes = uow.session.scalars(
            select(ParticipantChange)
            .where(ParticipantChange.rollout_id == rollout_id, ParticipantChange.digest.is_(None))
            .order_by(ParticipantChange.id).with_for_update(skip_locked=True)).all()
        if not changes:
            continue
        covers = str(changes[0].id)
        for change in changes:
            change.digest = f"{DIGEST}.{rollout_id}.{covers}"
        digests += _queue(uow, rollout_id, changes[0].city, DIGEST, covers, {"changes": collapse(changes)},
                          channels)
    return digests


def queue_final_lists(uow, today=None, days_before=1, city="*"):
    """The day before a session (or on its day, if late), its final list goes out once."""
    today = today or date.today()
    due = uow.session.scalars(
        select(RolloutSession)
        .join(Committee, Committee.rollout_id == RolloutSession.rollout_id)
        .where(RolloutSession.final_list_queued.is_(False), _in_city(RolloutSession.city, city),
               RolloutSession.date >= today,
               RolloutSession.date <= today + timedelta(days=days_before))).all()
    queued = []
    for session in due:
        channels = _channels(uow.session, session.rollout_id)
        if not channels:
            continue
        session.final_list_queued = True
        queued += _queue(uow, session.rollout_id, session.city, FINAL_LIST, session.key,
                         {"session_key": session.key, "day": session.day}, channels)
    return queued


def work_waiting(session, city="*"):
    """Whether a digest or a final list may be due: a cheap read before any write."""
    changes = select(ParticipantChange.id).join(Committee, Committee.rollout_id == ParticipantChange.rollout_id) \
        .where(ParticipantChange.digest.is_(None), _in_city(ParticipantChange.city, city)).limit(1)
    sessions = select(RolloutSession.id).join(Committee, Committee.rollout_id == RolloutSession.rollout_id) \
        .where(RolloutSession.final_list_queued.is_(False), RolloutSession.date >= date.today(),
               _in_city(RolloutSession.city, city)).limit(1)
    return session.scalar(changes) is not None or session.scalar(sessions) is not None


def record_cancellation(uow, event):
    """A cancelled rollout: the committee is told, and no final list goes out any more."""
    for session in uow.session.scalars(select(RolloutSession).where(
            RolloutSession.rollout_id == event["rollout_id"])):
        session.final_list_queued = True
    return _queue(uow, event["rollout_id"], event["city"], ROLLOUT_CANCELLED, None,
                  {"reason": event.get("reason")}, _channels(uow.session, event["rollout_id"]))


# --- sending ----------------------------------------------------------------

def due_deliveries(session, now=None, city="*"):
    """Queued deliveries whose next attempt is due."""
    now = now or utcnow()
    return session.scalars(select(Delivery).where(
        Delivery.status == "queued", Delivery.next_attempt_at <= now, _in_city(Delivery.city, city))
        .order_by(Delivery.id)).all()


def claim(uow, delivery_id, lease, now=None):
    """Take a due delivery for one try; False if another process took it first.

    The lease keeps other notification processes (a city's own worker beside
    the all-cities one) off it while it is tried; if this process dies mid-try,
    the delivery is due again when the lease runs out.
    """
    now = now or utcnow()
    claimed = uow.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == "queued", Delivery.next_attempt_at <= now)
        .values(next_attempt_at=now + timedelta(seconds=lease)))
    return claimed.rowcount == 1


def idempotency_key(delivery):
    # A resend the coordinator asked for is a new message; a retry is not.
    return delivery.key + (f".r{delivery.resends}" if delivery.resends else "")


def message_id(delivery):
    return f"<{idempotency_key(delivery)}@{MESSAGE_DOMAIN}>"


def inactive_participants(session, rollout_id):
    """Participants whose latest word is a cancellation or a waitlist place: not on a final list."""
    latest = {}
    for participant_id, change in session.execute(
            select(ParticipantChange.participant_id, ParticipantChange.change)
            .where(ParticipantChange.rollout_id == rollout_id, ParticipantChange.change != "updated")
            .order_by(ParticipantChange.id)):
        latest[participant_id] = change
    return {p for p, change in latest.items() if change in ("cancelled", "waitlisted")}


def list_rows(delivery, listing, inactive=frozenset()):
    """The rows this delivery discloses: only the committee's columns, only its rollout's people."""
    people = {p["participant_id"]: p for p in listing["participants"]}

    def row(person, **extra):
        return {"participant_id": person["participant_id"],
                **{c: person.get(c, "") for c in LIST_COLUMNS}, **extra}

    if delivery.kind == DIGEST:
        rows = []
        for change in delivery.content["changes"]:
            person = people.get(change["participant_id"],
                                {"participant_id": change["participant_id"], "code": change["participant_code"]})
            rows.append(row(person, change=change["change"]))
        return rows
    chosen = [p for p in listing["participants"] if p["participant_id"] not in inactive]
    if delivery.kind == FINAL_LIST:
        chosen = [p for p in chosen if p.get("day") == delivery.content["day"]]
    return [row(p) for p in chosen]


def _attempt(uow, delivery, outcome, detail):
    delivery.attempts += 1
    delivery.last_error = detail if outcome != "sent" else None
    uow.session.add(DeliveryAttempt(delivery_id=delivery.id, outcome=outcome, detail=detail))


def record_sent(uow, delivery_id, recipients, rows, detail="accepted", acknowledged=False):
    """Sent: each participant's data is recorded as disclosed to each recipient, in one transaction."""
    delivery = uow.session.get(Delivery, delivery_id)
    _attempt(uow, delivery, "sent", detail)
    now = utcnow()
    delivery.status = "acknowledged" if acknowledged else "sent"
    delivery.sent_at = now
    delivery.acknowledged_at = now if acknowledged else None
    delivery.recipient = ", ".join(recipients)
    delivery.message_id = message_id(delivery)
    delivery.participant_count = len(rows)
    for person in rows:
        for recipient in recipients:
            uow.session.add(DisclosureRecord(
                delivery_id=delivery.id, participant_id=person["participant_id"],
                recipient=recipient, channel=delivery.channel, disclosed_at=now))
    uow.emit(
        events.COMMITTEE_NOTIFIED, delivery.city,
        rollout_id=delivery.rollout_id, delivery_id=delivery.id, kind=delivery.kind,
        channel=delivery.channel, participant_count=delivery.participant_count,
    )
    return delivery


def _alert(uow, delivery, reason, message):
    uow.session.add(Alert(rollout_id=delivery.rollout_id, city=delivery.city, delivery_id=delivery.id,
                          reason=reason, message=message))
    uow.emit(events.COORDINATOR_ALERT, delivery.city, rollout_id=delivery.rollout_id,
             delivery_id=delivery.id, reason=reason, message=message)


def record_failure(uow, delivery_id, error, policy=Policy()):
    """Try again later, waiting twice as long each time; after the last try, dead-letter it."""
    delivery = uow.session.get(Delivery, delivery_id)
    last = delivery.attempts + 1 >= policy.max_attempts
    _attempt(uow, delivery, "failed" if last else "retry", error)
    if not last:
        delivery.next_attempt_at = utcnow() + timedelta(seconds=policy.wait_after(delivery.attempts))
        return delivery
    delivery.status = "failed"
    uow.emit(events.DELIVERY_DEAD_LETTERED, delivery.city, rollout_id=delivery.rollout_id,
             delivery_id=delivery.id, kind=delivery.kind, channel=delivery.channel,
             attempts=delivery.attempts, last_error=error)
    _alert(uow, delivery, "delivery_failed",
           f"{delivery.kind} delivery {delivery.id} by {delivery.channel} failed after "
           f"{delivery.attempts} attempts: {error}")
    return delivery


def record_gone(uow, delivery_id, detail):
    """The receiver answered 410: its webhook is disabled until the committee is set again."""
    delivery = uow.session.get(Delivery, delivery_id)
    _attempt(uow, delivery, "gone", detail)
    delivery.status = "failed"
    committee = uow.session.get(Committee, delivery.rollout_id)
    if committee is not None:
        committee.webhook_enabled = False
    for waiting in uow.session.scalars(select(Delivery).where(
            Delivery.rollout_id == delivery.rollout_id, Delivery.channel == "webhook",
            Delivery.status == "queued")):
        waiting.status = "failed"
        waiting.last_error = "webhook disabled"
    _alert(uow, delivery, "webhook_disabled",
           f"the webhook of rollout {delivery.rollout_id}'s committee answered 410 Gone and is disabled")
    return delivery


# --- the API's operations ---------------------------------------------------

def get_delivery(session, delivery_id):
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} does not exist", field="delivery_id")
    return delivery


def attempts_of(session, delivery_id):
    return session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                           .order_by(DeliveryAttempt.id)).all()


def find_deliveries(session, rollout_id=None, status=None, kind=None, city=None):
    query = select(Delivery).order_by(Delivery.id)
    for column, value in ((Delivery.rollout_id, rollout_id), (Delivery.status, status),
                          (Delivery.kind, kind), (Delivery.city, city)):
        if value is not None:
            query = query.where(column == value)
    return session.scalars(query).all()


def acknowledge(uow, delivery_id, token):
    delivery = get_delivery(uow.session, delivery_id)
    if not token or not secrets.compare_digest(str(token), delivery.ack_token):
        raise Forbidden("token: does not match this delivery", field="token")
    if delivery.status == "acknowledged":
        return delivery
    if delivery.status != "sent":
        raise Conflict(f"delivery {delivery_id} is {delivery.status}; only a sent delivery can be acknowledged",
                       field="status")
    delivery.status = "acknowledged"
    delivery.acknowledged_at = utcnow()
    return delivery


def resend(uow, delivery_id):
    """Send again on the coordinator's word: a new Message-ID and idempotency key, fresh tries."""
    delivery = get_delivery(uow.session, delivery_id)
    if delivery.status == "queued":
        raise Conflict(f"delivery {delivery_id} is still queued", field="status")
    if delivery.channel == "webhook":
        committee = uow.session.get(Committee, delivery.rollout_id)
        if committee is None or not (committee.webhook_url and committee.webhook_enabled):
            raise Conflict("the committee's webhook is disabled; set the committee again to enable it",
                           field="webhook_url")
    delivery.resends += 1
    delivery.status = "queued"
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.acknowledged_at = None
    delivery.ack_token = secrets.token_urlsafe(16)
    return delivery


def disclosures_of(session, participant_id):
    return session.execute(
        select(DisclosureRecord, Delivery)
        .join(Delivery, Delivery.id == DisclosureRecord.delivery_id)
        .where(DisclosureRecord.participant_id == participant_id)
        .order_by(DisclosureRecord.id)).all()


def alerts(session, rollout_id=None):
    query = select(Alert).order_by(Alert.id)
    if rollout_id is not None:
        query = query.where(Alert.rollout_id == rollout_id)
    return session.scalars(query).all()


def _aware(moment):
    # SQLite gives back naive datetimes for what was stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
