"""Reporting's tables: the log of every event it handled, and the read models built from it.

The event log is the source of truth; every other table here is a read model
that ``projections.rebuild`` can throw away and recompute from the log.  Facts are
written so the order events arrive in does not matter (a cancellation may be
handled before the registration it cancels): replaying the log in any order
gives the same figures.
"""
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import UtcDateTime


class Base(DeclarativeBase):
    pass


class EventLog(Base):
    """Every event reporting handled, as it arrived: the replay source."""

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    city: Mapped[str] = mapped_column(String(100), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict] = mapped_column(JSON)


class RolloutFact(Base):
    __tablename__ = "rollouts"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    # Null while only a cancellation has been heard of (it can overtake the launch).
    city_name: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    program: Mapped[str | None] = mapped_column(String(200))
    venue: Mapped[str | None] = mapped_column(String(200))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    author: Mapped[str | None] = mapped_column(String(200))
    editor: Mapped[str | None] = mapped_column(String(200))
    sessions: Mapped[list | None] = mapped_column(JSON)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The report's narrative (``events.NarrativeSchema`` as published), and the time of its latest
    # version, so an older edit arriving late never overwrites a newer one.
    narrative: Mapped[dict | None] = mapped_column(JSON)
    narrative_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pass_percent: Mapped[int | None] = mapped_column(Integer)  # the test's pass mark, from its scores


class ParticipantFact(Base):
    __tablename__ = "participants"

    participant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    # Null while only a later change has been heard of; such a row counts for nothing yet.
    category: Mapped[str | None] = mapped_column(String(30))
    minor: Mapped[bool | None]
    sex: Mapped[str | None] = mapped_column(String(1))
    age_band: Mapped[str | None] = mapped_column(String(10))
    # The category's latest change, so an older event never overwrites a newer one.
    category_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    # True when the participant holds a place: registered (or promoted) and not cancelled.
    counted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AttendanceFact(Base):
    """A participant checked in on a day of the rollout."""

    __tablename__ = "attendance"

    participant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(50))


class ScoreFact(Base):
    __tablename__ = "scores"

    submission_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    instrument_id: Mapped[int] = mapped_column(Integer)
    session_key: Mapped[str] = mapped_column(String(50))
    participant_code: Mapped[str] = mapped_column(String(20))
    phase: Mapped[str] = mapped_column(String(4))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool]


class ScorePair(Base):
    """A participant's pre-test and post-test of one session side by side; either may be missing.

    Paired by session, as assessment pairs them: a pre-test on one version of the
    instrument and a post-test on a revised one are still a pair.  Written by an
    upsert of the arriving side, so the two can come in any order, even at once:
    gain is then summed over one row per participant.
    """

    __tablename__ = "score_pairs"

    participant_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    session_key: Mapped[str] = mapped_column(String(50), primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    pre_submission_id: Mapped[int | None] = mapped_column(Integer)
    pre_score: Mapped[int | None] = mapped_column(Integer)
    pre_max_score: Mapped[int | None] = mapped_column(Integer)
    pre_passed: Mapped[bool | None]
    post_submission_id: Mapped[int | None] = mapped_column(Integer)
    post_score: Mapped[int | None] = mapped_column(Integer)
    post_max_score: Mapped[int | None] = mapped_column(Integer)
    post_passed: Mapped[bool | None]


class TopicScoreFact(Base):
    """One topic's part of a submission's score, so topics are summed in the database.

    It repeats its submission's rollout, city and phase: topic sums then need no join.
    """

    __tablename__ = "topic_scores"

    submission_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # the topic's place in the instrument
    rollout_id: Mapped[int] = mapped_column(Integer)
    city: Mapped[str] = mapped_column(String(100))
    phase: Mapped[str] = mapped_column(String(4))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)


class TopicTotal(Base):
    """Topic scores summed per rollout and phase as submissions arrive (sums do not care about order).

    The national report reads these few rows instead of every submission's topics.
    """

    __tablename__ = "topic_totals"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200), primary_key=True)
    phase: Mapped[str] = mapped_column(String(4), primary_key=True)
    city: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[int] = mapped_column(Integer, default=0)


class ActionPlanFact(Base):
    """An action plan's latest state, and what it commits to (printed in the report)."""

    __tablename__ = "action_plans"

    action_plan_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    session_key: Mapped[str] = mapped_column(String(50))
    owner: Mapped[str] = mapped_column(String(20))
    group_name: Mapped[str | None] = mapped_column(String(200))
    commitment: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationFact(Base):
    __tablename__ = "notifications"

    delivery_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer, index=True)
    city: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    participant_count: Mapped[int] = mapped_column(Integer)
    notified_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionGainFact(Base):
    """Assessment's latest gain summary of a session, with its confidence intervals."""

    __tablename__ = "session_gains"

    rollout_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    session_key: Mapped[str] = mapped_column(String(50), primary_key=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    summary: Mapped[dict] = mapped_column(JSON)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)


# What ``projections.rebuild`` empties and recomputes from the event log.
READ_MODELS = (RolloutFact, ParticipantFact, AttendanceFact, ScoreFact, ScorePair, TopicScoreFact, TopicTotal,
               ActionPlanFact, NotificationFact, SessionGainFact)


class CityChanges(Base):
    """How often a city's figures changed, and up to which change summaries went out."""

    __tablename__ = "city_changes"

    city: Mapped[str] = mapped_column(String(100), primary_key=True)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[int] = mapped_column(Integer, default=0)


class PublicRelease(Base):
    """What the public was shown of a city (or the nation) in one publication round.

    Not a read model: the released history is a fact that a rebuild keeps, since
    later releases are suppressed against it (``publication``).  ``inner`` holds the
    exact inner cells the release was made from (never published), ``shown`` each
    public cell as published (a number, "<5" or "x"), ``figures`` the public
    figures per scope and ``summaries`` the summary bodies sent.
    """

    __tablename__ = "public_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(100), index=True)
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per city
    released_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inner: Mapped[dict] = mapped_column(JSON)
    shown: Mapped[dict] = mapped_column(JSON)
    figures: Mapped[dict] = mapped_column(JSON)
    summaries: Mapped[dict] = mapped_column(JSON)
