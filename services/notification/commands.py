"""What callers ask of notification, as plain data: one command per thing to do."""
from dataclasses import dataclass, field
from datetime import date, datetime

from services.notification.rules import DEFAULT_POLICY, Policy
from shared.auth import Principal


@dataclass(frozen=True)
class SetCommittee:
    """A rollout's committee: where its lists go, and in which format; set by ``by``, a coordinator of its city."""

    rollout_id: int
    city: str
    by: Principal
    emails: list[str] = field(default_factory=list)
    name: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    list_format: str = "csv"
    cities: tuple[str, ...] | None = None  # the caller's (None: every city): another city's rollout is absent


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
    cities: tuple[str, ...] | None = None  # the caller's (None: every city): another city's delivery is absent


@dataclass(frozen=True)
class AcknowledgeDelivery:
    """The committee confirms receipt with the delivery's token."""

    delivery_id: int
    token: str


@dataclass(frozen=True)
class ConfirmReceipt:
    """A signed-in committee member confirms receipt for their committee (no mail link needed)."""

    delivery_id: int
    cities: tuple[str, ...] | None = None  # the member's city: another city's delivery is absent
