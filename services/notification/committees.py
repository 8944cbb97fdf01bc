"""Each rollout's local committee: its addresses, its webhook and the format of its lists."""
from services.notification.commands import SetCommittee
from services.notification.models import Committee
from services.notification.repository import NotificationUnitOfWork
from services.notification.rules import utcnow
from shared.errors import NotFound


def set_committee(command: SetCommittee, uow: NotificationUnitOfWork) -> Committee:
    """Set (or set again) a rollout's committee; setting it again re-enables a webhook a 410 disabled."""
    committee: Committee = uow.committees.put(
        rollout_id=command.rollout_id, city=command.city, name=command.name, emails=list(command.emails),
        webhook_url=command.webhook_url, webhook_secret=command.webhook_secret,
        webhook_enabled=bool(command.webhook_url), list_format=command.list_format, updated_at=utcnow())
    return committee


def get_committee(uow: NotificationUnitOfWork, rollout_id: int) -> Committee:
    committee: Committee | None = uow.committees.get(rollout_id)
    if committee is None:
        raise NotFound(f"rollout {rollout_id} has no committee set", field="rollout_id")
    return committee


def channels(uow: NotificationUnitOfWork, rollout_id: int) -> list[str]:
    """How the committee can be reached now: none without a committee."""
    committee: Committee | None = uow.committees.get(rollout_id)
    return committee.channels() if committee else []
