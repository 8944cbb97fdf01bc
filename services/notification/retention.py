"""Retention, following registration: when a rollout's personal data is purged there
(``personal_data_purged``), its committee's names, addresses and webhook go here.

Deliveries and disclosures stay: they are the record of who received whose data, and
they hold ids, codes and the address a list went to, never a participant's name.
"""
from datetime import datetime, timezone
from typing import Any

from services.notification.repository import NotificationUnitOfWork


def purge_committee(uow: NotificationUnitOfWork, event: dict[str, Any]) -> int:
    """Clear the rollout's committee; audit it.  Returns the committees cleared (0 or 1)."""
    committee = uow.committees.get(event["rollout_id"])
    cleared = 0
    if committee is not None and (committee.name or committee.emails or committee.webhook_url):
        uow.committees.put(event["rollout_id"], name=None, emails=[], webhook_url=None, webhook_secret=None,
                           webhook_enabled=False)
        cleared = 1
    uow.purges.add(at=datetime.now(timezone.utc), rollout_id=event["rollout_id"], city=event["city"], rows=cleared)
    return cleared
