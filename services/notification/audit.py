"""Who received whose data, and what the coordinator was alerted to."""
from typing import Any

from services.notification.models import Alert
from services.notification.repository import NotificationUnitOfWork
from shared.pagination import FIRST_PAGE, Page, PageOf


def disclosures_of(uow: NotificationUnitOfWork, participant_id: int, cities: tuple[str, ...] | None = None,
                   page: Page = FIRST_PAGE) -> PageOf[dict[str, Any]]:
    """Every time this participant's data went to someone: when, to whom, by which channel
    (of deliveries in ``cities``; None: every city)."""
    found = uow.disclosures.of_participant(participant_id, cities, page=page)
    return PageOf([{"delivery_id": record.delivery_id, "rollout_id": delivery.rollout_id, "kind": delivery.kind,
                    "recipient": record.recipient, "channel": record.channel, "disclosed_at": record.disclosed_at}
                   for record, delivery in found.items], found.next_after)


def alerts(uow: NotificationUnitOfWork, rollout_id: int | None = None, cities: tuple[str, ...] | None = None,
           page: Page = FIRST_PAGE) -> PageOf[Alert]:
    found: PageOf[Alert] = uow.alerts.list(rollout_id, cities, page=page)
    return found
