"""Which committee gets what, and the record of it (no nameko here)."""
from datetime import timedelta

from sqlalchemy import select

from services.notification.models import Delivery, DisclosureRecord
from shared import events
from shared.database import utcnow

PARTICIPANT_LIST = "participant_list"


def queue_participant_list(uow, event):
    """Registration closed: the committee is owed its list, once."""
    exists = uow.session.scalar(select(Delivery.id).where(
        Delivery.rollout_id == event["rollout_id"], Delivery.kind == PARTICIPANT_LIST))
    if exists is None:
        uow.session.add(Delivery(rollout_id=event["rollout_id"], city=event["city"], kind=PARTICIPANT_LIST))


MAX_ATTEMPTS = 8


def due_deliveries(session, now=None):
    """Queued deliveries whose next attempt is due."""
    now = now or utcnow()
    return session.scalars(select(Delivery).where(
        Delivery.status == "queued", Delivery.next_attempt_at <= now).order_by(Delivery.id)).all()


def message_id(delivery):
    # The same delivery always has the same Message-ID, so a resend is recognisable.
    return f"<{delivery.kind}.{delivery.rollout_id}.{delivery.id}@internet-aman.campaign>"


def record_sent(uow, delivery_id, listing, channel="mail"):
    delivery = uow.session.get(Delivery, delivery_id)
    delivery.status = "sent"
    delivery.sent_at = utcnow()
    delivery.attempts += 1
    delivery.recipient = listing["committee_email"]
    delivery.message_id = message_id(delivery)
    delivery.participant_count = len(listing["participants"])
    for person in listing["participants"]:
        uow.session.add(DisclosureRecord(
            delivery_id=delivery.id, participant_id=person["participant_id"],
            recipient=delivery.recipient, channel=channel,
        ))
    uow.emit(
        events.COMMITTEE_NOTIFIED, delivery.city,
        rollout_id=delivery.rollout_id, delivery_id=delivery.id, kind=delivery.kind,
        channel=channel, participant_count=delivery.participant_count,
    )
    return delivery


def record_failure(uow, delivery_id, error):
    """Try again later, waiting twice as long each time; give up after MAX_ATTEMPTS."""
    delivery = uow.session.get(Delivery, delivery_id)
    delivery.attempts += 1
    delivery.last_error = error
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = utcnow() + timedelta(seconds=min(2 ** delivery.attempts, 300))
    return delivery


def disclosures_of(session, participant_id):
    return session.scalars(select(DisclosureRecord).where(
        DisclosureRecord.participant_id == participant_id).order_by(DisclosureRecord.id)).all()
