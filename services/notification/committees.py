"""Each rollout's local committee: its addresses, its webhook and the format of its lists.

Changing where a committee's lists go redirects children's personal data, so
it takes a coordinator of the rollout's city, every change is audited (who,
when, before and after; a secret only as "set"), and a change of addresses is
announced to the previous ones, through the same deliveries as the lists: if
someone redirects the lists, the people who were getting them hear of it.
"""
from collections.abc import Callable
from typing import Any

from services.notification import deliveries, rules
from services.notification.commands import SetCommittee
from services.notification.models import Committee, CommitteeChange
from services.notification.repository import NotificationUnitOfWork
from services.notification.rules import utcnow
from shared.auth import authorize
from shared.errors import NotFound
from shared.pagination import FIRST_PAGE, Page, PageOf


def set_committee(command: SetCommittee, uow: NotificationUnitOfWork, check_url: Callable[[str], object],
                  seal: Callable[[str], str]) -> Committee:
    """Set (or set again) a rollout's committee; setting it again re-enables a webhook a 410 disabled.

    ``check_url`` refuses a webhook URL no webhook may go to (InvalidInput naming
    ``webhook_url``); ``seal`` encrypts the webhook secret before it is stored.
    """
    if not command.by.sees(command.city):
        # A rollout of another city is, to this caller, not there.
        raise NotFound(f"rollout {command.rollout_id} does not exist", field="rollout_id")
    authorize(command.by, "committee:write", command.city)
    if command.webhook_url:
        check_url(command.webhook_url)
    previous: Committee | None = uow.committees.get(command.rollout_id)
    before = described(previous) if previous is not None else None
    notify = _previous_addresses(previous)
    committee: Committee = uow.committees.put(
        rollout_id=command.rollout_id, city=command.city, name=command.name, emails=list(command.emails),
        webhook_url=command.webhook_url,
        webhook_secret=seal(command.webhook_secret) if command.webhook_secret else None,
        webhook_enabled=bool(command.webhook_url), list_format=command.list_format, updated_at=utcnow())
    after = described(committee)
    redirects = before is not None and (before["emails"] != after["emails"]
                                        or before["webhook_url"] != after["webhook_url"])
    change: CommitteeChange = uow.committee_changes.add(
        rollout_id=command.rollout_id, city=command.city, changed_by=command.by.username, changed_at=utcnow(),
        before=before, after=after, redirects=redirects)
    if redirects:
        _announce(uow, change, notify)
    return committee


def described(committee: Committee) -> dict[str, Any]:
    """A committee as the audit keeps it: everything but its secret, which is only "set" or not."""
    return {"name": committee.name, "emails": list(committee.emails or []), "webhook_url": committee.webhook_url,
            "webhook_enabled": bool(committee.webhook_enabled), "list_format": committee.list_format,
            "webhook_secret_set": committee.webhook_secret is not None}


def _previous_addresses(previous: Committee | None) -> dict[str, Any]:
    if previous is None:
        return {}
    notify: dict[str, Any] = {}
    if previous.emails:
        notify["emails"] = list(previous.emails)
    if previous.webhook_url and previous.webhook_enabled and previous.webhook_secret:
        # Signed with the secret the previous receiver knows (still sealed here).
        notify["webhook_url"], notify["webhook_secret"] = previous.webhook_url, previous.webhook_secret
    return notify


def _announce(uow: NotificationUnitOfWork, change: CommitteeChange, notify: dict[str, Any]) -> None:
    """A notice to each previous address: who changed the committee, when, from what to what."""
    content = {"notify": notify, "changed_by": change.changed_by, "changed_at": change.changed_at.isoformat(),
               "before": {k: change.before[k] for k in ("emails", "webhook_url")} if change.before else {},
               "after": {k: change.after[k] for k in ("emails", "webhook_url")}}
    channels = (["mail"] if notify.get("emails") else []) + (["webhook"] if notify.get("webhook_url") else [])
    deliveries.queue(uow, change.rollout_id, change.city, rules.COMMITTEE_CHANGED, str(change.id), content, channels)


def get_committee(uow: NotificationUnitOfWork, rollout_id: int,
                  cities: tuple[str, ...] | None = None) -> Committee:
    """The rollout's committee, if it is of one of ``cities`` (None: any); another city's reads as absent."""
    committee: Committee | None = uow.committees.get(rollout_id)
    if committee is None or (cities is not None and committee.city not in cities):
        raise NotFound(f"rollout {rollout_id} has no committee set", field="rollout_id")
    return committee


def changes_of(uow: NotificationUnitOfWork, rollout_id: int, cities: tuple[str, ...] | None = None,
               page: Page = FIRST_PAGE) -> PageOf[CommitteeChange]:
    """The audit of a rollout's committee, oldest first; a rollout of another city's reads as absent."""
    get_committee(uow, rollout_id, cities)
    found: PageOf[CommitteeChange] = uow.committee_changes.of_rollout(rollout_id, page=page)
    return found


def seal_stored_secrets(uow: NotificationUnitOfWork, seal: Callable[[str], str], is_sealed: Callable[[str], bool]
                        ) -> int:
    """Seal webhook secrets stored in the clear before secrets were sealed; how many there were."""
    sealed = 0
    for committee in uow.committees.with_secrets():
        if not is_sealed(committee.webhook_secret):
            committee.webhook_secret = seal(committee.webhook_secret)
            sealed += 1
    return sealed


def channels(uow: NotificationUnitOfWork, rollout_id: int) -> list[str]:
    """How the committee can be reached now: none without a committee."""
    committee: Committee | None = uow.committees.get(rollout_id)
    return committee.channels() if committee else []
