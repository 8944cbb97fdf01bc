from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import utcnow


class Base(DeclarativeBase):
    pass


class Delivery(Base):
    """One notification to one committee, through its life: queued -> sent (or failed)."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("rollout_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))  # participant_list
    channel: Mapped[str] = mapped_column(String(20), default="mail")
    recipient: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    message_id: Mapped[str | None] = mapped_column(String(200))
    participant_count: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DisclosureRecord(Base):
    """Who received which participant's data, when, by which channel."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    participant_id: Mapped[int] = mapped_column(Integer, index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(20))
    disclosed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
