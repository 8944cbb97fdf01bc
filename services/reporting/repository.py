"""Reporting's SQL: the event log, the read models and the cities' changes, on SQLite or PostgreSQL.

Everything SQLAlchemy (and every dialect difference) of reporting lives here;
``fakes.py`` keeps the same repositories in memory for unit tests.
"""
from contextlib import contextmanager

from sqlalchemy import and_, case, func, insert, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.reporting.figures import ScoreSums
from services.reporting.models import (
    READ_MODELS,
    ActionPlanFact,
    AttendanceFact,
    CityChanges,
    EventLog,
    NotificationFact,
    ParticipantFact,
    PublicRelease,
    RolloutFact,
    ScoreFact,
    ScorePair,
    SessionGainFact,
    TopicScoreFact,
    TopicTotal,
)
from shared import events
from shared.database import UnitOfWork, utcnow

REPLAY_PAGE = 1000


def _upsert(session, model):
    """An INSERT that can say what to do when the row exists (both databases support it)."""
    dialect = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return dialect(model)


def _put_rows(session, table, rows: list[dict]) -> None:
    """Insert ``rows`` of ``table`` (every column given), or replace the row of the same key: one statement.

    Statements here are on the table, not the mapped class, so SQLAlchemy sends the
    rows as they are instead of building the ORM's bookkeeping for each.  Keys must be
    distinct (PostgreSQL refuses to update one row twice in a statement).
    """
    if not rows:
        return
    statement = _upsert(session, table)
    keys = [column.name for column in table.primary_key]
    statement = statement.on_conflict_do_update(index_elements=keys, set_={
        column.name: statement.excluded[column.name] for column in table.columns if column.name not in keys})
    session.execute(statement, rows)


PARTICIPANTS = ParticipantFact.__table__


class ParticipantRow:
    """A row of ``participants`` as plain attributes: what the projections read and change.

    Rows are read a batch at a time and written back a batch at a time with Core
    statements; an ORM object per event (its instance state, attribute events, the
    unit of work's insert commands) cost more than the rest of applying a registration.
    """

    __slots__ = tuple(column.name for column in PARTICIPANTS.columns)

    def __init__(self, **values):
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def as_row(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class SqlEventLog:
    """Every event reporting handled, as published: what the read models are rebuilt from."""

    def __init__(self, session):
        self.session = session

    def append(self, entries: list[dict]) -> None:
        self.session.execute(insert(EventLog.__table__), entries)  # one statement for a batch, no ORM per row

    def hold(self) -> None:
        """Keep handlers from adding to the log until this transaction ends (a rebuild)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("LOCK TABLE event_log IN EXCLUSIVE MODE"))

    def pages(self, size: int = REPLAY_PAGE):
        """The log in the order it was written: lists of (event type, payload)."""
        last_id = 0
        while True:
            page = self.session.execute(select(EventLog.id, EventLog.event_type, EventLog.payload)
                                        .where(EventLog.id > last_id).order_by(EventLog.id).limit(size)).all()
            if not page:
                return
            yield [(event_type, payload) for _, event_type, payload in page]
            last_id = page[-1].id


class SqlCityChanges:
    """How often each city's figures changed, and up to which change its summaries went out."""

    def __init__(self, session):
        self.session = session

    def count(self, cities: list[str]) -> None:
        table = CityChanges.__table__
        for city in cities:  # in city order, so concurrent handlers lock them in one order
            statement = _upsert(self.session, table).values(city=city, changes=1, published=0)
            self.session.execute(statement.on_conflict_do_update(
                index_elements=["city"], set_={"changes": table.c.changes + 1}))

    def due(self, cities: list[str] | None = None) -> list[tuple]:
        """(city, changes, published) of the cities (of ``cities``) changed since their last summaries."""
        query = select(CityChanges.city, CityChanges.changes, CityChanges.published) \
            .where(CityChanges.changes > CityChanges.published).order_by(CityChanges.city)
        if cities is not None:
            query = query.where(CityChanges.city.in_(cities))
        return [tuple(row) for row in self.session.execute(query).all()]

    def mark_published(self, city: str, changes: int) -> None:
        self.session.execute(update(CityChanges)  # another worker may have published later figures
                             .where(CityChanges.city == city, CityChanges.published < changes)
                             .values(published=changes))

    def cities(self) -> list[str]:
        return list(self.session.scalars(select(CityChanges.city).order_by(CityChanges.city)))


class SqlReleases:
    """The public releases, oldest first; one publication round at a time."""

    def __init__(self, session):
        self.session = session

    def lock(self) -> None:
        """Hold the release history for this transaction: a round reads it all and adds to it."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('reporting.public_releases'))"))

    def all(self) -> list[PublicRelease]:
        return list(self.session.scalars(select(PublicRelease).order_by(PublicRelease.id)))

    def latest(self, city: str) -> PublicRelease | None:
        return self.session.scalars(select(PublicRelease).where(PublicRelease.city == city)
                                    .order_by(PublicRelease.id.desc()).limit(1)).first()

    def add(self, city: str, inner: dict, shown: dict, figures: dict, summaries: dict) -> PublicRelease:
        before = self.latest(city)
        release = PublicRelease(city=city, sequence=before.sequence + 1 if before else 1, released_at=utcnow(),
                                inner=inner, shown=shown, figures=figures, summaries=summaries)
        self.session.add(release)
        self.session.flush()
        return release

    def cities(self) -> list[str]:
        return list(self.session.scalars(select(PublicRelease.city).distinct().order_by(PublicRelease.city)))


class SqlReadModels:
    """The facts the projections write, and the sums and counts the figures read."""

    def __init__(self, session):
        self.session = session
        self._new = set()  # (model, key) known not to be in the database yet
        # This unit of work's participants: a row, or None when the database has none yet.
        self._participants: dict[int, ParticipantRow | None] = {}
        # What the batch being applied changed, written when it has been applied (by key: the last wins).
        self._changed_participants: dict[int, ParticipantRow] = {}
        self._new_participants: set[int] = set()  # of those, the ones to insert
        self._attendance: dict[tuple, dict] = {}
        self._scores: dict[int, dict] = {}

    # --- writes (projections) ---

    def _get_or_add(self, model, key, **defaults):
        row = None if (model, key) in self._new else self.session.get(model, key)
        if row is None:
            row = model(**defaults)
            self.session.add(row)
            self._new.discard((model, key))
        return row

    @contextmanager
    def applying(self, participant_ids: set):
        """Around a batch being applied: its participants read in one query beforehand, and the
        participants, check-ins and scores it changed written after it, one statement per table."""
        self._hold_participants(participant_ids)
        yield
        self._write_participants()
        attendance, self._attendance = self._attendance, {}
        _put_rows(self.session, AttendanceFact.__table__, list(attendance.values()))
        scores, self._scores = self._scores, {}
        _put_rows(self.session, ScoreFact.__table__, list(scores.values()))

    def _hold_participants(self, ids) -> None:
        """Read the rows of ``ids`` not read yet, locked until this transaction ends.

        The lock (PostgreSQL; SQLite has one writer at a time) keeps another worker
        of the same city from changing a row between this read and its write.
        """
        unknown = sorted(i for i in ids if i not in self._participants)
        if not unknown:
            return
        self._participants.update(dict.fromkeys(unknown))
        for row in self.session.execute(select(PARTICIPANTS).where(PARTICIPANTS.c.participant_id.in_(unknown))
                                        .order_by(PARTICIPANTS.c.participant_id).with_for_update()):
            self._participants[row.participant_id] = ParticipantRow(**row._mapping)

    def _write_participants(self) -> None:
        """The rows the batch changed: the new ones inserted, the others replaced, a statement each.

        A new row inserted meanwhile by another worker makes the insert fail, and the
        batch is tried again event by event, as any failing batch is.  The rows known
        to exist are replaced by an upsert, which sends them in one statement where an
        executemany UPDATE is a round trip per row.
        """
        changed, self._changed_participants = self._changed_participants, {}
        new, self._new_participants = self._new_participants, set()
        rows = [row.as_row() for key, row in changed.items() if key in new]
        if rows:
            self.session.execute(insert(PARTICIPANTS), rows)
        _put_rows(self.session, PARTICIPANTS, [row.as_row() for key, row in changed.items() if key not in new])

    def rollout(self, rollout_id: int, city: str) -> RolloutFact:
        return self._get_or_add(RolloutFact, rollout_id, rollout_id=rollout_id, city=city, cancelled=False)

    def participant(self, participant_id: int, rollout_id: int, city: str, session_key: str) -> ParticipantRow:
        """The participant's row, new if none was heard of (written when the batch has been applied)."""
        if participant_id not in self._participants:
            self._hold_participants([participant_id])
        row = self._participants[participant_id]
        if row is None:
            row = self._participants[participant_id] = ParticipantRow(
                participant_id=participant_id, rollout_id=rollout_id, city=city, session_key=session_key,
                waitlisted=False, promoted=False, cancelled=False, counted=False)
            self._new_participants.add(participant_id)
        self._changed_participants[participant_id] = row
        return row

    def action_plan(self, action_plan_id: int) -> ActionPlanFact:
        return self._get_or_add(ActionPlanFact, action_plan_id, action_plan_id=action_plan_id)

    def session_gain(self, rollout_id: int, session_key: str) -> SessionGainFact | None:
        return self.session.get(SessionGainFact, (rollout_id, session_key))

    def put_attendance(self, **fields) -> None:
        """A check-in, written when the batch has been applied (``applying``)."""
        self._attendance[fields["participant_id"], fields["day"]] = fields

    def put_score(self, **fields) -> None:
        """A submission's score, replacing any it had, written when the batch has been applied."""
        self._scores[fields["submission_id"]] = fields

    def put_notification(self, **fields) -> None:
        self.session.merge(NotificationFact(**fields))

    def put_session_gain(self, **fields) -> None:
        self.session.merge(SessionGainFact(**fields))

    def put_score_side(self, participant_code: str, session_key: str, rollout_id: int, city: str,
                       side: dict) -> None:
        """One side (pre_... or post_...) of a participant's pair, by an upsert: the two
        sides can arrive in any order, even at once."""
        self.session.execute(_upsert(self.session, ScorePair).values(
            participant_code=participant_code, session_key=session_key, rollout_id=rollout_id, city=city, **side,
        ).on_conflict_do_update(index_elements=["participant_code", "session_key"], set_=side))

    def replace_topic_scores(self, submission_id: int, topics: list[dict]) -> None:
        """A submission's topic scores, replacing any it had, with the rollout's totals kept in step."""
        replaced = select(TopicScoreFact).where(TopicScoreFact.submission_id == submission_id)
        for old in self.session.scalars(replaced):
            self._add_to_total(old, -1)
            self.session.delete(old)
        self.session.flush()
        for topic in topics:
            part = TopicScoreFact(submission_id=submission_id, **topic)
            self.session.add(part)
            self._add_to_total(part, +1)

    def _add_to_total(self, part, sign):
        """Add a topic score to its rollout's total, atomically even with other handlers at it."""
        key = {"rollout_id": part.rollout_id, "topic": part.topic, "phase": part.phase}
        self.session.execute(_upsert(self.session, TopicTotal)
                             .values(**key, city=part.city, position=part.position, score=0, max_score=0)
                             .on_conflict_do_nothing())
        self.session.execute(update(TopicTotal).filter_by(**key).values(
            score=TopicTotal.score + sign * part.score, max_score=TopicTotal.max_score + sign * part.max_score))

    def reset(self) -> None:
        """Empty every read model by making its table afresh (so a changed table takes its new shape)."""
        connection = self.session.connection()
        for model in READ_MODELS:
            model.__table__.drop(connection, checkfirst=True)
            model.__table__.create(connection)
        self._new.clear()
        self._participants.clear()

    def checkpoint(self) -> None:
        """Write what is pending and forget the rows loaded so far (a long rebuild stays flat)."""
        self.session.flush()
        self.session.expunge_all()
        self._new.clear()
        self._participants.clear()

    # --- reads (figures) ---

    def rollouts(self, city: str, rollout_id: int | None = None) -> list[RolloutFact]:
        where = [_scope(RolloutFact, city, rollout_id), RolloutFact.city_name.is_not(None)]
        if rollout_id is None:
            where.append(RolloutFact.cancelled.is_(False))
        return self.session.scalars(select(RolloutFact).where(*where)
                                    .order_by(RolloutFact.starts_on, RolloutFact.rollout_id)).all()

    def notifications(self, city: str, rollout_id: int | None = None) -> list[NotificationFact]:
        return self.session.scalars(select(NotificationFact).where(_scope(NotificationFact, city, rollout_id))
                                    .order_by(NotificationFact.delivery_id)).all()

    def session_gains(self, city: str, rollout_id: int | None = None) -> list[SessionGainFact]:
        return self.session.scalars(select(SessionGainFact).where(_scope(SessionGainFact, city, rollout_id))
                                    .order_by(SessionGainFact.rollout_id, SessionGainFact.session_key)).all()

    def participant_counts(self, city: str, rollout_id: int | None = None) -> list[tuple]:
        """(session key, category, sex, age band, n) of the participants holding a place."""
        columns = (ParticipantFact.session_key, ParticipantFact.category, ParticipantFact.sex,
                   ParticipantFact.age_band)
        return [tuple(row) for row in self.session.execute(
            select(*columns, func.count())
            .where(_scope(ParticipantFact, city, rollout_id), ParticipantFact.counted).group_by(*columns))]

    def session_counts_by_rollout(self, city: str) -> list[tuple]:
        """(rollout id, session key, category, n) of the participants holding a place in the city's live rollouts."""
        columns = (ParticipantFact.rollout_id, ParticipantFact.session_key, ParticipantFact.category)
        return [tuple(row) for row in self.session.execute(
            select(*columns, func.count())
            .where(_scope(ParticipantFact, city), ParticipantFact.counted).group_by(*columns))]

    def category_counts_by_city(self) -> list[tuple]:
        """(city, category, n) over every live rollout."""
        return [tuple(row) for row in self.session.execute(
            select(ParticipantFact.city, ParticipantFact.category, func.count())
            .where(_scope(ParticipantFact, events.NATIONAL), ParticipantFact.counted)
            .group_by(ParticipantFact.city, ParticipantFact.category))]

    def attendance_counts(self, city: str, rollout_id: int | None = None) -> list[tuple]:
        """(day, session key, n) of check-ins of participants who still hold their place."""
        return [tuple(row) for row in self.session.execute(
            select(AttendanceFact.day, AttendanceFact.session_key, func.count())
            .join(ParticipantFact, ParticipantFact.participant_id == AttendanceFact.participant_id)
            .where(_scope(AttendanceFact, city, rollout_id), ParticipantFact.counted)
            .group_by(AttendanceFact.day, AttendanceFact.session_key)
            .order_by(AttendanceFact.day, AttendanceFact.session_key))]

    def attendance_counts_by_rollout(self, city: str) -> list[tuple]:
        """(rollout id, day, session key, n) of check-ins in the city's live rollouts."""
        columns = (AttendanceFact.rollout_id, AttendanceFact.day, AttendanceFact.session_key)
        return [tuple(row) for row in self.session.execute(
            select(*columns, func.count())
            .join(ParticipantFact, ParticipantFact.participant_id == AttendanceFact.participant_id)
            .where(_scope(AttendanceFact, city), ParticipantFact.counted).group_by(*columns))]

    def action_plans(self, city: str, rollout_id: int | None = None) -> list[ActionPlanFact]:
        """The action plans themselves, oldest first (the report prints each one)."""
        return self.session.scalars(select(ActionPlanFact).where(_scope(ActionPlanFact, city, rollout_id))
                                    .order_by(ActionPlanFact.action_plan_id)).all()

    def action_plan_counts(self, city: str, rollout_id: int | None = None) -> list[tuple]:
        """(owner, status, n) of the action plans."""
        return [tuple(row) for row in self.session.execute(
            select(ActionPlanFact.owner, ActionPlanFact.status, func.count())
            .where(_scope(ActionPlanFact, city, rollout_id))
            .group_by(ActionPlanFact.owner, ActionPlanFact.status))]

    def test_sums(self, city: str, rollout_id: int | None = None, by_city: bool = False,
                  by_rollout: bool = False) -> dict:
        """{city, rollout id (or None): ScoreSums} over the score pairs in scope, in one pass."""
        both = and_(ScorePair.pre_submission_id.is_not(None), ScorePair.post_submission_id.is_not(None))
        cities = [ScorePair.city] if by_city else [ScorePair.rollout_id] if by_rollout else []

        def when_both(column):
            return func.sum(case((both, column), else_=0))

        columns = [func.count(ScorePair.pre_submission_id), func.sum(ScorePair.pre_score),
                   func.sum(ScorePair.pre_max_score), func.sum(case((ScorePair.pre_passed, 1), else_=0)),
                   func.count(ScorePair.post_submission_id), func.sum(ScorePair.post_score),
                   func.sum(ScorePair.post_max_score), func.sum(case((ScorePair.post_passed, 1), else_=0)),
                   when_both(1), when_both(ScorePair.pre_score), when_both(ScorePair.pre_max_score),
                   when_both(ScorePair.post_score), when_both(ScorePair.post_max_score)]
        rows = self.session.execute(select(*cities, *columns).where(_scope(ScorePair, city, rollout_id))
                                    .group_by(*cities)).all()
        return {(row[0] if cities else None): ScoreSums(*(int(v or 0) for v in row[len(cities):]))
                for row in rows}

    def topic_sums(self, city: str, rollout_id: int | None = None) -> dict:
        """{(topic, phase): (score, max score, position)} of every submission in scope."""
        return self._topic_sums(TopicTotal, _scope(TopicTotal, city, rollout_id))

    def unpaired_topic_sums(self, city: str, rollout_id: int | None = None) -> dict:
        """The same, of the submissions whose participant has not (yet) taken the other test: usually few."""
        where = _scope(ScorePair, city, rollout_id)
        unpaired = union_all(
            select(ScorePair.pre_submission_id).where(where, ScorePair.post_submission_id.is_(None)),
            select(ScorePair.post_submission_id).where(where, ScorePair.pre_submission_id.is_(None)),
        )
        return self._topic_sums(TopicScoreFact, TopicScoreFact.submission_id.in_(unpaired))

    def _topic_sums(self, model, condition):
        return {(topic, phase): (int(score), int(maximum), position)
                for topic, phase, score, maximum, position in self.session.execute(
                    select(model.topic, model.phase, func.sum(model.score), func.sum(model.max_score),
                           func.min(model.position))
                    .where(condition).group_by(model.topic, model.phase))}


def _scope(model, city, rollout_id=None):
    """Rows of one of the city's rollouts, of a city's live rollouts, or (for ``national``) of all live ones."""
    if rollout_id is not None:
        one = model.rollout_id == rollout_id
        return one if city == events.NATIONAL else and_(one, model.city == city)
    live = model.rollout_id.not_in(select(RolloutFact.rollout_id).where(RolloutFact.cancelled))
    return live if city == events.NATIONAL else and_(model.city == city, live)


class ReportingUnitOfWork(UnitOfWork):
    def __init__(self, session, consumer):
        super().__init__(session, consumer)
        self.event_log = SqlEventLog(session)
        self.read_models = SqlReadModels(session)
        self.city_changes = SqlCityChanges(session)
        self.releases = SqlReleases(session)
