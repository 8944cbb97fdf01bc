"""Who received whose data, and what the coordinator was alerted to."""
from collections.abc import Sequence
from typing import Any

from services.notification.models import Alert
from services.notification.repository import NotificationUnitOfWork


def disclosures_of(uow: NotificationUnitOfWork, participant_id: int) -> list[dict[str, Any]]:
    """Every time this participant's data went to someone: when, to whom, by which channel."""
    return [{"delivery_id": record.delivery_id, "rollout_id": delivery.rollout_id, "kind": delivery.kind,
             "recipient": record.recipient, "channel": record.channel, "disclosed_at": record.disclosed_at}
            for record, delivery in uow.disclosures.of_participant(participant_id)]


def alerts(uow: NotificationUnitOfWork, rollout_id: int | None = None) -> Sequence[Alert]:
    found: Sequence[Alert] = uow.alerts.list(rollout_id)
    return found
