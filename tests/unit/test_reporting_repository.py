"""Reporting's SQL read models on a real SQLite file: they give what the in-memory ones give."""
import json

import pytest
import sqlalchemy
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.reporting import projections, publication
from services.reporting.fakes import FakeReportingUnitOfWork
from services.reporting.models import Base, ParticipantFact
from services.reporting.repository import ReportingUnitOfWork
from shared import events
from shared.database import OutboxMessage, Store
from shared.handling import dispatch
from tests.support.cluster import Databases
from tests.unit.test_reporting import (
    HANDLERS,
    a_season_of_events,
    change_event,
    deliver,
    event,
    every_figure,
    participant_event,
    rollout_event,
    score_event,
)


@pytest.fixture
def make_store(tmp_path):
    stores = []

    def make():
        store = Store("sqlite:///" + str(tmp_path / f"reporting{len(stores)}.db"), Base.metadata,
                      consumer="reporting", unit_of_work=ReportingUnitOfWork)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.dispose()


def record(store, *delivered):
    """Handle events as the service does: each delivery in its own unit of work."""
    for kind, payload in delivered:
        with store.unit_of_work() as uow:
            dispatch(uow, HANDLERS, [(kind, payload)])
    return store


def sql_figures(store):
    with store.read() as uow:
        return every_figure(uow)


@pytest.fixture(scope="module")
def season():
    return a_season_of_events()


@pytest.fixture(scope="module")
def in_memory(season):
    return every_figure(deliver(FakeReportingUnitOfWork(), *season))


def test_the_database_gives_the_figures_the_in_memory_read_models_give(make_store, season, in_memory):
    assert sql_figures(record(make_store(), *season)) == in_memory


def test_events_in_reverse_order_and_in_batches_give_the_same_figures(make_store, season, in_memory):
    assert sql_figures(record(make_store(), *reversed(season))) == in_memory
    batched = make_store()
    kinds = list(dict.fromkeys(kind for kind, _ in season))
    for kind in reversed(kinds):  # updates and cancellations reach rows the registrations then complete
        with batched.unit_of_work() as uow:
            dispatch(uow, HANDLERS, [(k, payload) for k, payload in season if k is kind])
    assert sql_figures(batched) == in_memory


def test_a_redelivered_event_is_applied_and_logged_once(make_store):
    store = make_store()
    registered = participant_event(1)
    record(store, rollout_event(1), registered, registered)
    with store.unit_of_work() as uow:
        dispatch(uow, HANDLERS, [registered, participant_event(2), registered])  # within a batch too
    with store.read() as uow:
        assert uow.read_models.participant_counts("pontianak") == [("socialisation", "student", None, None, 2)]
        assert sum(len(page) for page in uow.event_log.pages()) == 3


def test_the_rebuilt_read_models_equal_the_live_ones(make_store, season, in_memory):
    store = record(make_store(), *season)
    with store.unit_of_work() as uow:
        assert projections.rebuild(uow) == len(season)
    assert sql_figures(store) == in_memory


def test_summaries_go_to_the_outbox_and_the_city_is_marked_published(make_store):
    store = record(make_store(), rollout_event(1), participant_event(1))

    with store.unit_of_work() as uow:
        assert publication.publish_changed_summaries(uow) == ["pontianak"]
    with store.unit_of_work() as uow:
        assert publication.publish_changed_summaries(uow) == []
        rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.exchange, r.routing_key) for r in rows] == [
        ("campaign.summaries", "summary.participants.pontianak"),
        ("campaign.summaries", "summary.tests.pontianak"),
        ("campaign.summaries", "summary.participants.national"),
        ("campaign.summaries", "summary.tests.national"),
    ]
    assert json.loads(rows[0].payload)["participants"] == "<5"


# --- a consumed batch, as the consumer hands it over: one unit of work, on both databases ---

@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    databases = Databases(request.param, tmp_path)
    store = Store(databases.urls["reporting"], Base.metadata, consumer="reporting", unit_of_work=ReportingUnitOfWork)
    yield store
    store.dispose()
    databases.drop()


def handle(store, *batch):
    with store.unit_of_work() as uow:
        dispatch(uow, HANDLERS, list(batch))


def participants(store):
    """{participant id: (category, cancelled, waitlisted, promoted, counted)}."""
    with store.read() as uow:
        return {row.participant_id: (row.category, row.cancelled, row.waitlisted, row.promoted, row.counted)
                for row in uow.session.scalars(select(ParticipantFact))}


def logged(store):
    with store.read() as uow:
        return sum(len(page) for page in uow.event_log.pages())


def test_a_registration_and_its_cancellation_or_promotion_in_one_batch(store):
    handle(store, rollout_event(1), participant_event(5))
    handle(store,
           participant_event(1), change_event(events.PARTICIPANT_CANCELLED, 1),
           change_event(events.PARTICIPANT_CANCELLED, 2), participant_event(2),  # the cancellation overtook it
           event(events.PARTICIPANT_REGISTERED, rollout_id=1, participant_id=3, participant_code="C3",
                 session_key="socialisation", category="student", minor=True, status="waitlisted"),
           change_event(events.PARTICIPANT_PROMOTED, 3),
           participant_event(4), change_event(events.PARTICIPANT_CANCELLED, 5))  # 5 is from an earlier batch

    assert participants(store) == {
        1: ("student", True, False, False, False),
        2: ("student", True, False, False, False),
        3: ("student", False, True, True, True),
        4: ("student", False, False, False, True),
        5: ("student", True, False, False, False),
    }
    with store.read() as uow:
        assert uow.read_models.participant_counts("pontianak") == [("socialisation", "student", None, None, 2)]


def test_an_event_twice_in_a_batch_and_a_batch_replayed_are_applied_once(store):
    registered, checked_in = participant_event(1), change_event(events.PARTICIPANT_CHECKED_IN, 1, day=2)
    scored, cancelled = score_event(1, "C1", "pre", 4), change_event(events.PARTICIPANT_CANCELLED, 2)
    batch = [rollout_event(1), registered, participant_event(2), registered, cancelled, checked_in, cancelled,
             checked_in, scored, scored]
    handle(store, *batch)
    before = sql_figures(store), participants(store), logged(store)
    with store.read() as uow:
        due = uow.city_changes.due()

    handle(store, *batch)  # the broker delivered the whole batch again

    assert (sql_figures(store), participants(store), logged(store)) == before
    assert before[1] == {1: ("student", False, False, False, True), 2: ("student", True, False, False, False)}
    assert before[2] == 6  # each event once
    assert before[0]["pontianak"]["attendance"] == [{"day": 2, "session_key": "socialisation", "checked_in": 1}]
    assert before[0]["pontianak"]["tests"]["pre"]["n"] == 1
    with store.read() as uow:
        assert uow.city_changes.due() == due  # nothing new to publish


def test_the_season_in_batches_and_rebuilt_gives_the_in_memory_figures(store, season, in_memory):
    handle(store, *season[:len(season) // 2])
    handle(store, *season[len(season) // 2:])
    assert sql_figures(store) == in_memory
    with store.unit_of_work() as uow:
        assert projections.rebuild(uow) == len(season)
    assert sql_figures(store) == in_memory


def test_a_batch_reads_its_participants_once_and_writes_them_once_per_run(store):
    handle(store, rollout_event(1), *[participant_event(i) for i in range(1, 11)])
    statements = []

    def statements_of(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    sqlalchemy.event.listen(store.engine, "before_cursor_execute", statements_of)

    handle(store, *[participant_event(i) for i in range(5, 305)],  # 5 to 10 are there already
           *[change_event(events.PARTICIPANT_CANCELLED, i) for i in range(5, 105)])
    sqlalchemy.event.remove(store.engine, "before_cursor_execute", statements_of)

    reads = [s for s in statements if s.startswith("SELECT") and " FROM participants " in s]
    writes = [s for s in statements if s.startswith("INSERT INTO participants ")]
    # One read; the registrations' new rows, then their rows already there, then the cancellations'.
    assert (len(reads), len(writes)) == (1, 3)
    assert sum(counted for *_, counted in participants(store).values()) == 304 - 100


def test_a_row_another_worker_inserted_meanwhile_fails_the_batch_and_its_retry_completes_the_row(tmp_path):
    # PostgreSQL: SQLite has one writer at a time, so no other worker writes between a read and a write.
    databases = Databases("postgresql", tmp_path)
    store, other_worker = (Store(databases.urls["reporting"], Base.metadata, consumer="reporting",
                                 unit_of_work=ReportingUnitOfWork) for _ in range(2))
    try:
        handle(store, rollout_event(1))
        cancelled = change_event(events.PARTICIPANT_CANCELLED, 1)

        registrations = [participant_event(1)]

        def registered_by_the_other_worker(conn, cursor, statement, *args):
            if registrations and " FROM participants WHERE " in " ".join(statement.split()):
                handle(other_worker, registrations.pop())  # after this batch found no row 1

        sqlalchemy.event.listen(store.engine, "after_cursor_execute", registered_by_the_other_worker)
        with pytest.raises(IntegrityError):
            handle(store, cancelled)
        handle(store, cancelled)  # the consumer tries it again

        assert participants(store) == {1: ("student", True, False, False, False)}
    finally:
        store.dispose()
        other_worker.dispose()
        databases.drop()
