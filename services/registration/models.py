from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.database import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Rollout(Base):
    """One city's rollout of the program: a two-day agenda, a committee, participants, the report's narrative.

    A draft may lack what its launch needs (``rules.LAUNCH_NEEDS``): a clone for another city
    starts without the city's venue, committee or dates.
    """

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program: Mapped[str] = mapped_column(String(200))
    city_name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100), index=True)  # slug
    province: Mapped[str | None] = mapped_column(String(100))
    venue: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    committee_name: Mapped[str | None] = mapped_column(String(200))
    committee_email: Mapped[str | None] = mapped_column(String(200))
    author: Mapped[str | None] = mapped_column(String(200))
    editor: Mapped[str | None] = mapped_column(String(200))
    # The report's narrative (shared.events.NarrativeSchema): each list holds texts, a text being a
    # string or {"id": ..., "en": ...}; institutions are {"name", "channel", "contact", "local"?},
    # questions {"question", "answer"}.
    organisation: Mapped[str | None] = mapped_column(String(200))
    issued_on: Mapped[date | None] = mapped_column(Date)
    background: Mapped[list | None] = mapped_column(JSON)
    aims: Mapped[list | None] = mapped_column(JSON)
    expected_learning: Mapped[list | None] = mapped_column(JSON)
    tips: Mapped[list | None] = mapped_column(JSON)
    reporting_institutions: Mapped[list | None] = mapped_column(JSON)
    findings: Mapped[list | None] = mapped_column(JSON)
    qa: Mapped[list | None] = mapped_column(JSON)
    recommendations: Mapped[list | None] = mapped_column(JSON)
    follow_up: Mapped[list | None] = mapped_column(JSON)
    # draft -> launched -> running -> completed, or cancelled from any but completed
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # Closing registration is a step inside "launched", not a lifecycle state of its own.
    registration_open: Mapped[bool] = mapped_column(Boolean, default=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Retention: personal data is purged RETENTION_DAYS after completion (services/registration/retention.py).
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    sessions: Mapped[list["Session"]] = relationship(
        back_populates="rollout", order_by="Session.day", cascade="all, delete-orphan")


class Session(Base):
    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("rollout_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"))
    key: Mapped[str] = mapped_column(String(50))
    day: Mapped[int] = mapped_column(Integer)
    date: Mapped[date | None] = mapped_column(Date, nullable=True)  # None until a clone is given its first day
    title: Mapped[str] = mapped_column(String(300))
    audience: Mapped[str] = mapped_column(String(20))  # activists | students
    opened_by: Mapped[Any] = mapped_column(JSON, nullable=True)  # a text: a string, or {"id": ..., "en": ...}
    # [{"title": ..., "facilitators": [{"name": ..., "organisation": ..., "local"?: true}]}]
    topics: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[list | None] = mapped_column(JSON)  # that day's narrative, paragraph by paragraph
    capacity: Mapped[int | None] = mapped_column(Integer)  # places; None: no limit
    # The committee's targets: [{"category": ..., "minimum": ..., "maximum": ...}]
    quotas: Mapped[list] = mapped_column(JSON, default=list)

    rollout: Mapped[Rollout] = relationship(back_populates="sessions")


LIVE = text("status != 'cancelled'")


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (
        # A returning participant's earlier records, in any rollout of the city.
        Index("ix_participants_person", "person_key"),
        # The same person holds one live registration per rollout (a cancelled one does not count).
        Index("uq_participants_live_person", "rollout_id", "person_key", unique=True,
              sqlite_where=LIVE, postgresql_where=LIVE),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    # Pseudonymous: what tests, events and reports use instead of a name.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(30))
    organisation: Mapped[str | None] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(1))
    age_band: Mapped[str | None] = mapped_column(String(10))
    minor: Mapped[bool] = mapped_column(default=False)
    email: Mapped[str | None] = mapped_column(String(200))  # never for a minor
    phone: Mapped[str | None] = mapped_column(String(40))  # never for a minor
    consent_by: Mapped[str | None] = mapped_column(String(20))  # guardian | school, for minors
    consent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # registered | waitlisted | cancelled; the waitlist is served in id order.
    status: Mapped[str] = mapped_column(String(20), default="registered")
    # city|name|organisation, normalised: the same person in every rollout of the city;
    # two live registrations of one rollout never share it.
    person_key: Mapped[str] = mapped_column(String(600))
    # The same person's record in an earlier rollout of the city: they came back.
    returning_of: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", name="fk_participants_returning_of"))

    session: Mapped[Session] = relationship()


class CheckIn(Base):
    """A participant was there, on a day of their session."""

    __tablename__ = "check_ins"
    __table_args__ = (UniqueConstraint("participant_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    day: Mapped[int] = mapped_column(Integer)
    checked_in_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TargetGapAlert(Base):
    """A target gap already announced today, so a repeated check does not repeat it."""

    __tablename__ = "target_gap_alerts"
    __table_args__ = (UniqueConstraint("session_id", "category", "on_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    category: Mapped[str] = mapped_column(String(30))
    on_date: Mapped[date] = mapped_column(Date)
    registered: Mapped[int] = mapped_column(Integer)


class ImportJob(Base):
    """A participant file waiting for, or read by, its city's import worker.

    The API stores the upload and answers at once; the worker of the rollout's
    city reads, checks and writes it, all or nothing, and records here how far
    it got, every problem of the file, or what was imported.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(ForeignKey("rollouts.id"), index=True)
    city: Mapped[str] = mapped_column(String(100))
    # queued -> running -> succeeded | failed
    status: Mapped[str] = mapped_column(String(20), default="queued")
    # The upload until the job has finished; then emptied, as the rows hold what is kept.
    file: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    file_bytes: Mapped[int] = mapped_column(Integer, default=0)
    rows_total: Mapped[int | None] = mapped_column(Integer)  # known once the file is opened
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(500))  # why it failed, in a sentence
    errors: Mapped[list] = mapped_column(JSON, default=list)  # [{"line", "field", "problem"}]: every one
    result: Mapped[dict | None] = mapped_column(JSON)  # imported, registered, waitlisted, returning, codes
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PersonalDataAudit(Base):
    """Who listed, showed or exported participants' personal data, and each purge of it."""

    __tablename__ = "personal_data_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(200))  # the account; None before accounts
    action: Mapped[str] = mapped_column(String(20))  # listed | shown | exported | purged
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    rows: Mapped[int] = mapped_column(Integer)
