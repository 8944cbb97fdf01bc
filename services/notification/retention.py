"""Retention, following registration: when a rollout's personal data is purged there
(``personal_data_purged``), its committee's names, addresses and webhook go here, from the
committee itself, from the audit of its changes and from the notices of those changes.

Deliveries and disclosures stay: they are the record of who received whose data, and
they hold ids, codes and the address a list went to (``recipient``), never a participant's
name.  A delivery still queued is not sent any more: what it would carry is gone.
"""
from datetime import datetime, timezone
from typing import Any

from services.notification import rules
from services.notification.repository import NotificationUnitOfWork
from shared.pagination import every

PURGED = "the rollout's personal data was purged at the end of its retention"
# What the audit of a committee change keeps of either side once the rollout is purged.
KEPT_OF_A_SIDE = ("webhook_enabled", "list_format", "webhook_secret_set")
# What a committee-changed notice keeps: who changed the committee, and when.
KEPT_OF_A_NOTICE = ("changed_by", "changed_at")


def purge_committee(uow: NotificationUnitOfWork, event: dict[str, Any]) -> int:
    """Clear the rollout's committee and every copy of its names and addresses; audit it.

    Returns the committees cleared (0 or 1).
    """
    rollout_id = event["rollout_id"]
    committee = uow.committees.get(rollout_id)
    cleared = 0
    if committee is not None and (committee.name or committee.emails or committee.webhook_url):
        uow.committees.put(rollout_id, name=None, emails=[], webhook_url=None, webhook_secret=None,
                           webhook_enabled=False)
        cleared = 1
    for change in every(lambda page: uow.committee_changes.of_rollout(rollout_id, page=page)):
        change.before = _without_addresses(change.before)
        change.after = _without_addresses(change.after)
    for delivery in every(lambda page: uow.deliveries.find(rollout_id=rollout_id, page=page)):
        if delivery.kind == rules.COMMITTEE_CHANGED:
            delivery.content = {k: v for k, v in delivery.content.items() if k in KEPT_OF_A_NOTICE}
        if delivery.status == "queued":
            delivery.status, delivery.last_error = "failed", PURGED
    uow.purges.add(at=datetime.now(timezone.utc), rollout_id=rollout_id, city=event["city"], rows=cleared)
    return cleared


def _without_addresses(side: dict[str, Any] | None) -> dict[str, Any] | None:
    if side is None:
        return None
    return {"name": None, "emails": [], "webhook_url": None, **{k: side[k] for k in KEPT_OF_A_SIDE if k in side}}


def purged(uow: NotificationUnitOfWork, rollout_id: int) -> bool:
    """Whether the rollout's personal data was purged (then nothing of it is sent again)."""
    return bool(uow.purges.list(rollout_id))
