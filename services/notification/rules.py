"""What a committee is owed and when: plain rules, no database, no broker.

A delivery's key is derived from what it covers, so however often an event is
redelivered or the service restarts, the same content is one delivery, sent
with the same Message-ID and idempotency key.
"""
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

PARTICIPANT_LIST = "participant_list"  # everyone, when registration closes
FINAL_LIST = "final_list"  # one session's participants, the day before it
DIGEST = "digest"  # the changes of one window
AGENDA = "agenda"
TARGET_GAP = "target_gap"
ROLLOUT_CANCELLED = "rollout_cancelled"
LISTS = (PARTICIPANT_LIST, FINAL_LIST, DIGEST)  # the kinds that carry names
KINDS = (AGENDA, DIGEST, PARTICIPANT_LIST, FINAL_LIST, TARGET_GAP, ROLLOUT_CANCELLED)
STATUSES = ("queued", "sent", "acknowledged", "failed")

# A committee's list holds these columns and nothing more (no contacts, no age, no consent).
LIST_COLUMNS = ("code", "full_name", "category", "organisation", "session", "day")

MESSAGE_DOMAIN = "internet-aman.campaign"

# What one try of a delivery came to.
SENT, RETRY, GONE = "sent", "retry", "gone"

T = TypeVar("T")


class Delivery(Protocol):
    """What the rules read of a delivery: the model, or any record with these attributes."""

    key: str
    resends: int
    kind: str
    content: dict[str, Any]


class Change(Protocol):
    """One participant's change waiting for a digest (the model's ParticipantChange)."""

    participant_id: int
    participant_code: str
    change: str


@dataclass(frozen=True)
class Policy:
    """How the service paces its deliveries (from the environment, see docs/notification.md)."""

    digest_window: float = 600.0  # seconds a digest collects changes before it goes
    max_attempts: int = 8  # tries of one delivery before it is dead-lettered
    backoff: float = 2.0  # seconds before the second try; doubled each time after
    backoff_cap: float = 300.0
    final_list_days_before: int = 1

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Policy":
        def value(name: str, cast: Callable[[str], T], default: T) -> T:
            raw = config.get(name, os.environ.get(name))
            return default if raw in (None, "") else cast(raw)
        return cls(
            digest_window=value("DIGEST_WINDOW", float, cls.digest_window),
            max_attempts=value("DELIVERY_MAX_ATTEMPTS", int, cls.max_attempts),
            backoff=value("DELIVERY_BACKOFF", float, cls.backoff),
            backoff_cap=value("DELIVERY_BACKOFF_CAP", float, cls.backoff_cap),
            final_list_days_before=value("FINAL_LIST_DAYS_BEFORE", int, cls.final_list_days_before),
        )

    def wait_after(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` tries: doubling, up to the cap."""
        doubled: float = self.backoff * 2 ** (attempts - 1)  # int ** int is typed Any (a negative power is a float)
        return min(doubled, self.backoff_cap)

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def window_closed(self, oldest_change: datetime, now: datetime) -> bool:
        """A digest's window closes ``digest_window`` seconds after its oldest change."""
        return aware(oldest_change) <= now - timedelta(seconds=self.digest_window)


DEFAULT_POLICY = Policy()


def served_cities(setting: str | None) -> list[str] | None:
    """The ``CITY`` setting as a list of cities, or None for every city (``*``)."""
    if setting in (None, "*"):
        return None
    return [c.strip() for c in setting.split(",") if c.strip()]


def delivery_key(kind: str, rollout_id: int, covers: str | None, channel: str) -> str:
    return f"{kind}.{rollout_id}.{covers}.{channel}" if covers else f"{kind}.{rollout_id}.{channel}"


def idempotency_key(delivery: Delivery) -> str:
    # A resend the coordinator asked for is a new message; a retry is not.
    return delivery.key + (f".r{delivery.resends}" if delivery.resends else "")


def message_id(delivery: Delivery) -> str:
    return f"<{idempotency_key(delivery)}@{MESSAGE_DOMAIN}>"


def change_heard(event: Mapping[str, Any], change: str) -> str:
    """A registration onto the waitlist is told as such."""
    return "waitlisted" if change == "registered" and event.get("status") == "waitlisted" else change


def collapse(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """One row per participant: its last change, but still "registered" if new in this digest."""
    by_participant: dict[int, dict[str, Any]] = {}
    for change in changes:
        first = by_participant.get(change.participant_id)
        kind = change.change
        if first is not None and first["change"] in ("registered", "waitlisted") and kind == "updated":
            kind = first["change"]
        by_participant[change.participant_id] = {
            "participant_id": change.participant_id, "participant_code": change.participant_code, "change": kind}
    return list(by_participant.values())


def inactive(changes: Iterable[tuple[int, str]]) -> set[int]:
    """Participants whose latest word (of ``(participant id, change)``, oldest first) is a
    cancellation or a waitlist place: not on a final list."""
    latest: dict[int, str] = {}
    for participant_id, change in changes:
        if change != "updated":
            latest[participant_id] = change
    return {p for p, change in latest.items() if change in ("cancelled", "waitlisted")}


def list_rows(delivery: Delivery, listing: Mapping[str, Any],
              inactive_ids: Collection[int] = frozenset()) -> list[dict[str, Any]]:
    """The rows this delivery discloses: only the committee's columns, only its rollout's people."""
    if delivery.kind not in LISTS:
        return []
    people = {p["participant_id"]: p for p in listing["participants"]}

    def row(person: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
        return {"participant_id": person["participant_id"],
                **{c: person.get(c, "") for c in LIST_COLUMNS}, **extra}

    if delivery.kind == DIGEST:
        rows = []
        for change in delivery.content["changes"]:
            person = people.get(change["participant_id"],
                                {"participant_id": change["participant_id"], "code": change["participant_code"]})
            rows.append(row(person, change=change["change"]))
        return rows
    chosen = [p for p in listing["participants"] if p["participant_id"] not in inactive_ids]
    if delivery.kind == FINAL_LIST:
        chosen = [p for p in chosen if p.get("day") == delivery.content["day"]]
    return [row(p) for p in chosen]


def utcnow() -> datetime:
    """The time now, in UTC, as the tables keep it."""
    return datetime.now(timezone.utc)


def aware(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes for what was stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
