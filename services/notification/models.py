from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Committee(Base):
    """A city rollout's local committee: where its lists go and in which format.

    A rollout without one still gets its final list, by mail to the committee
    address registration holds; digests, agenda and alerts need a committee.
    """

    __tablename__ = "committees"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    emails: Mapped[list] = mapped_column(JSON, default=list)
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # A 410 from the receiver turns it off; setting the committee again turns it on.
    webhook_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    list_format: Mapped[str] = mapped_column(String(10), default="csv")
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    def channels(self) -> list[str]:
        return (["mail"] if self.emails else []) + (["webhook"] if self.webhook_url and self.webhook_enabled else [])


class RolloutSession(Base):
    """A session of a launched rollout, so its final list can go out the day before."""

    __tablename__ = "rollout_sessions"
    __table_args__ = (UniqueConstraint("rollout_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(50))
    day: Mapped[int] = mapped_column(Integer)
    date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(300))
    final_list_queued: Mapped[bool] = mapped_column(Boolean, default=False)


class ParticipantChange(Base):
    """A registration, change or cancellation heard from registration, waiting for a digest.

    ``digest`` names the digest that took it: each change goes in exactly one.
    """

    __tablename__ = "participant_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    participant_id: Mapped[int] = mapped_column(Integer, index=True)
    participant_code: Mapped[str] = mapped_column(String(20))
    change: Mapped[str] = mapped_column(String(20))  # registered waitlisted updated cancelled promoted
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    digest: Mapped[str | None] = mapped_column(String(100), index=True)


class Delivery(Base):
    """One notification to one committee by one channel: queued -> sent -> acknowledged, or failed.

    ``key`` is deterministic (kind, rollout, what it covers, channel): it is the
    idempotency key and the Message-ID, so a crash or a redelivered event never
    makes a second delivery of the same thing.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # agenda digest participant_list final_list target_gap
    channel: Mapped[str] = mapped_column(String(20), default="mail")  # mail | webhook
    content: Mapped[dict] = mapped_column(JSON, default=dict)  # ids and codes only, never names
    recipient: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(300))
    participant_count: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    ack_token: Mapped[str] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))  # sent | retry | gone | failed
    detail: Mapped[str | None] = mapped_column(Text)


class DisclosureRecord(Base):
    """Who received which participant's data, when, by which channel."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    participant_id: Mapped[int] = mapped_column(Integer, index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    disclosed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Alert(Base):
    """What the coordinator was told (also published as ``coordinator_alert``)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    delivery_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RetentionPurge(Base):
    """A rollout's committee names and addresses dropped at the end of its retention
    (registration's ``personal_data_purged``); deliveries and disclosures stay as the audit."""

    __tablename__ = "retention_purges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer)  # committees cleared (0 or 1)
