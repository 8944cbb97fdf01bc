"""Deliveries on their way: what is due, taking one for a try, and what each try came to.

Sending itself (mail.py, webhook.py) is the service's: these handlers decide
and record, over the unit of work.
"""
import secrets
from dataclasses import dataclass
from datetime import timedelta

from services.notification import retention, rules
from services.notification.commands import (
    AcknowledgeDelivery,
    ClaimDelivery,
    ConfirmReceipt,
    RecordOutcome,
    ResendDelivery,
)
from services.notification.rules import utcnow
from shared import events
from shared.errors import Conflict, Forbidden, NotFound
from shared.pagination import FIRST_PAGE, Page, PageOf


@dataclass(frozen=True)
class Outgoing:
    """One try of a delivery, ready for its channel: whom it goes to and whose data it carries."""

    delivery: object
    committee: object | None
    listing: dict
    rows: list[dict]
    recipients: tuple[str, ...]
    webhook_url: str | None = None
    webhook_secret: str | None = None  # sealed, as stored; opened only by the channel

    @property
    def idempotency_key(self) -> str:
        return rules.idempotency_key(self.delivery)

    @property
    def message_id(self) -> str:
        return rules.message_id(self.delivery)

    @property
    def participant_ids(self) -> tuple[int, ...]:
        return tuple(row["participant_id"] for row in self.rows)


def get_delivery(uow, delivery_id: int, cities: tuple[str, ...] | None = None):
    """The delivery, if it is of one of ``cities`` (None: any); another city's reads as absent."""
    delivery = uow.deliveries.get(delivery_id)
    if delivery is None or (cities is not None and delivery.city not in cities):
        raise NotFound(f"delivery {delivery_id} does not exist", field="delivery_id")
    return delivery


def due_deliveries(uow, now=None, cities=None) -> list[int]:
    """Ids of the queued deliveries whose next attempt is due, oldest first."""
    return uow.deliveries.due(now or utcnow(), cities)


def claim_delivery(command: ClaimDelivery, uow):
    """The delivery, taken for one try; None if another process took it first.

    The lease keeps other notification processes (a city's own worker beside
    the all-cities one) off it while it is tried; if this process dies mid-try,
    the delivery is due again when the lease runs out.
    """
    now = command.now or utcnow()
    if not uow.deliveries.claim(command.delivery_id, now, until=now + timedelta(seconds=command.lease)):
        return None
    return uow.deliveries.get(command.delivery_id)


def outgoing(uow, delivery, listing: dict) -> Outgoing:
    """What a try of ``delivery`` sends, given registration's ``listing`` of the rollout."""
    committee = uow.committees.get(delivery.rollout_id)
    if delivery.kind == rules.COMMITTEE_CHANGED:
        # The notice goes where the lists went before the change, not where they go now.
        notify = delivery.content["notify"]
        if delivery.channel == "webhook":
            return Outgoing(delivery, committee, listing, [], (notify["webhook_url"],), notify["webhook_url"],
                            notify["webhook_secret"])
        return Outgoing(delivery, committee, listing, [], tuple(notify["emails"]))
    inactive = rules.inactive(uow.changes.of_participants(delivery.rollout_id)) \
        if delivery.kind in rules.LISTS else set()
    rows = rules.list_rows(delivery, listing, inactive)
    if delivery.channel == "webhook":
        return Outgoing(delivery, committee, listing, rows, (committee.webhook_url,), committee.webhook_url,
                        committee.webhook_secret)
    if committee is not None and committee.emails:
        return Outgoing(delivery, committee, listing, rows, tuple(committee.emails))
    return Outgoing(delivery, committee, listing, rows, (listing["committee_email"],))


def record_outcome(command: RecordOutcome, uow):
    if command.outcome == rules.SENT:
        return record_sent(uow, command)
    if command.outcome == rules.GONE:
        return record_gone(uow, command.delivery_id, command.detail)
    return record_failure(uow, command.delivery_id, command.detail, command.policy)


def _attempt(uow, delivery, outcome, detail):
    delivery.attempts += 1
    delivery.last_error = detail if outcome != rules.SENT else None
    uow.attempts.add(delivery_id=delivery.id, outcome=outcome, detail=detail, attempted_at=utcnow())


def record_sent(uow, command: RecordOutcome):
    """Sent: each participant's data is recorded as disclosed to each recipient, in one transaction.

    For a webhook, the receiver's 2xx is its receipt: the delivery is acknowledged.
    """
    delivery = get_delivery(uow, command.delivery_id)
    acknowledged = delivery.channel == "webhook"
    _attempt(uow, delivery, rules.SENT, command.detail)
    now = utcnow()
    delivery.status = "acknowledged" if acknowledged else "sent"
    delivery.sent_at = now
    delivery.acknowledged_at = now if acknowledged else None
    delivery.recipient = ", ".join(command.recipients)
    delivery.message_id = rules.message_id(delivery)
    delivery.participant_count = len(command.participant_ids)
    uow.disclosures.add_many([
        {"delivery_id": delivery.id, "participant_id": participant_id, "recipient": recipient,
         "channel": delivery.channel, "disclosed_at": now}
        for participant_id in command.participant_ids for recipient in command.recipients])
    uow.emit(events.COMMITTEE_NOTIFIED, delivery.city, rollout_id=delivery.rollout_id, delivery_id=delivery.id,
             kind=delivery.kind, channel=delivery.channel, participant_count=delivery.participant_count)
    return delivery


def record_failure(uow, delivery_id: int, error: str, policy=rules.DEFAULT_POLICY):
    """Try again later, waiting twice as long each time; after the last try, dead-letter it."""
    delivery = get_delivery(uow, delivery_id)
    last = policy.gives_up_after(delivery.attempts + 1)
    _attempt(uow, delivery, "failed" if last else rules.RETRY, error)
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


def record_gone(uow, delivery_id: int, detail: str):
    """The receiver answered 410: its webhook is disabled until the committee is set again."""
    delivery = get_delivery(uow, delivery_id)
    _attempt(uow, delivery, rules.GONE, detail)
    delivery.status = "failed"
    committee = uow.committees.get(delivery.rollout_id)
    if committee is not None:
        committee.webhook_enabled = False
    for waiting in uow.deliveries.queued_webhooks(delivery.rollout_id):
        waiting.status = "failed"
        waiting.last_error = "webhook disabled"
    _alert(uow, delivery, "webhook_disabled",
           f"the webhook of rollout {delivery.rollout_id}'s committee answered 410 Gone and is disabled")
    return delivery


def _alert(uow, delivery, reason, message):
    uow.alerts.add(rollout_id=delivery.rollout_id, city=delivery.city, delivery_id=delivery.id, reason=reason,
                   message=message, raised_at=utcnow())
    uow.emit(events.COORDINATOR_ALERT, delivery.city, rollout_id=delivery.rollout_id,
             delivery_id=delivery.id, reason=reason, message=message)


# --- the coordinator's and the committee's word ------------------------------

def acknowledge_delivery(command: AcknowledgeDelivery, uow):
    delivery = get_delivery(uow, command.delivery_id)
    if not command.token or not secrets.compare_digest(str(command.token), delivery.ack_token):
        raise Forbidden("token: does not match this delivery", field="token")
    return _acknowledged(delivery)


def confirm_receipt(command: ConfirmReceipt, uow):
    """The same acknowledgement, by a committee member signed in for the delivery's city."""
    return _acknowledged(get_delivery(uow, command.delivery_id, command.cities))


def _acknowledged(delivery):
    if delivery.status == "acknowledged":
        return delivery
    if delivery.status != "sent":
        raise Conflict(f"delivery {delivery.id} is {delivery.status}; only a sent delivery can be acknowledged",
                       field="status")
    delivery.status = "acknowledged"
    delivery.acknowledged_at = utcnow()
    return delivery


def resend_delivery(command: ResendDelivery, uow):
    """Send again on the coordinator's word: a new Message-ID and idempotency key, fresh tries."""
    delivery = get_delivery(uow, command.delivery_id, command.cities)
    if delivery.status == "queued":
        raise Conflict(f"delivery {delivery.id} is still queued", field="status")
    if retention.purged(uow, delivery.rollout_id):
        raise Conflict(f"delivery {delivery.id} cannot go again: {retention.PURGED}", field="delivery_id")
    if delivery.channel == "webhook":
        committee = uow.committees.get(delivery.rollout_id)
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


def find_deliveries(uow, rollout_id=None, status=None, kind=None, city=None, cities=None,
                    page: Page = FIRST_PAGE) -> PageOf:
    return uow.deliveries.find(rollout_id=rollout_id, status=status, kind=kind, city=city, cities=cities, page=page)


def attempts_of(uow, delivery_id: int) -> list:
    return uow.attempts.of(delivery_id)
