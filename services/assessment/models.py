from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Instrument(Base):
    """A questionnaire for one session, used as its pre- and post-test."""

    __tablename__ = "instruments"
    # A revised questionnaire is a new version; submissions keep pointing at the one they answered.
    __table_args__ = (UniqueConstraint("rollout_id", "session_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)
    pass_percent: Mapped[int] = mapped_column(Integer)
    # [{"id": "q1", "text": ..., "topic": ..., "kind": ..., "choices": [...], "answer": ...}]
    questions: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class KnownSession(Base):
    """A launched rollout's session and its agenda topics, from rollout_launched."""

    __tablename__ = "sessions"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_key: Mapped[str] = mapped_column(String(50), primary_key=True)
    city: Mapped[str] = mapped_column(String(100))
    topics: Mapped[list] = mapped_column(JSON)  # topic titles, in agenda order


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
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ActionPlan(Base):
    """What a participant or a group committed to do after a session, and how it is going."""

    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    city: Mapped[str] = mapped_column(String(100))
    owner: Mapped[str] = mapped_column(String(20))  # participant | group
    participant_code: Mapped[str | None] = mapped_column(String(20))
    group_name: Mapped[str | None] = mapped_column(String(200))
    commitment: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    # [{"at": iso time, "status": ..., "note": ...}], newest last
    follow_ups: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SessionChanges(Base):
    """How often a session's scores changed, and up to which change its gain summary went out."""

    __tablename__ = "session_changes"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    session_key: Mapped[str] = mapped_column(String(50), primary_key=True)
    city: Mapped[str] = mapped_column(String(100))
    changes: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)
