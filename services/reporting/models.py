"""Read models: facts copied from events, so every figure can be rebuilt from a replay."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class RolloutFact(Base):
    __tablename__ = "rollouts"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    city_name: Mapped[str] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    program: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    author: Mapped[str | None] = mapped_column(String(200))
    editor: Mapped[str | None] = mapped_column(String(200))
    sessions: Mapped[list] = mapped_column(JSON)


class ParticipantFact(Base):
    __tablename__ = "participants"

    participant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(30))
    minor: Mapped[bool]
    sex: Mapped[str | None] = mapped_column(String(1))
    age_band: Mapped[str | None] = mapped_column(String(10))


class ScoreFact(Base):
    __tablename__ = "scores"

    submission_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    participant_code: Mapped[str] = mapped_column(String(20))
    phase: Mapped[str] = mapped_column(String(4))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool]
    topics: Mapped[list] = mapped_column(JSON)


class NotificationFact(Base):
    __tablename__ = "notifications"

    delivery_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    participant_count: Mapped[int] = mapped_column(Integer)
    notified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CityChanges(Base):
    """How often a city's figures changed, and up to which change summaries went out."""

    __tablename__ = "city_changes"

    city: Mapped[str] = mapped_column(String(100), primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)
