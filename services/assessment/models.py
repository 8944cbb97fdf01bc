from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import utcnow


class Base(DeclarativeBase):
    pass


class Instrument(Base):
    """A questionnaire for one session, used as its pre- and post-test."""

    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    pass_percent: Mapped[int] = mapped_column(Integer)
    # [{"id": "q1", "text": ..., "topic": ..., "kind": ..., "choices": [...], "answer": ...}]
    questions: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KnownParticipant(Base):
    """Registration's participants as far as tests need them: code, rollout, city, session."""

    __tablename__ = "participants"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    participant_id: Mapped[int] = mapped_column(Integer)
    rollout_id: Mapped[int] = mapped_column(Integer)
    city: Mapped[str] = mapped_column(String(100))
    session_key: Mapped[str] = mapped_column(String(50))


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("instrument_id", "participant_code", "phase"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"))
    participant_code: Mapped[str] = mapped_column(String(20), index=True)
    phase: Mapped[str] = mapped_column(String(4))  # pre | post
    answers: Mapped[dict] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool]
    topic_scores: Mapped[list] = mapped_column(JSON)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
