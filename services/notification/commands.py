"""What callers ask of notification, as plain data: one command per thing to do."""
from dataclasses import dataclass, field
from datetime import date, datetime

from services.notification.rules import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class SetCommittee:
    """A rollout's committee: where its lists go, and in which format."""

    rollout_id: int
    city: str
    emails: list[str] = field(default_factory=list)
    name: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    list_format: str = "csv"


@dataclass(frozen=True)
class QueueDueLists:
    """Close the digest windows that have run their time, and queue the final lists now due."""

    cities: list[str] | None = None  # None: every city
    policy: Policy = DEFAULT_POLICY
    now: datetime | None = None
    today: date | None = None


@dataclass(frozen=True)
class ClaimDelivery:
    """Take a due delivery for one try, for ``lease`` seconds."""

    delivery_id: int
    lease: float
    now: datetime | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """What one try of a delivery came to (rules.SENT, RETRY or GONE)."""

    delivery_id: int
    outcome: str
    detail: str
    recipients: tuple[str, ...] = ()
    participant_ids: tuple[int, ...] = ()  # whose data went (for the audit)
    policy: Policy = DEFAULT_POLICY


@dataclass(frozen=True)
class ResendDelivery:
    """Send again on the coordinator's word, as a new message."""

    delivery_id: int


@dataclass(frozen=True)
class AcknowledgeDelivery:
    """The committee confirms receipt with the delivery's token."""

    delivery_id: int
    token: str
