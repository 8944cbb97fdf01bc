"""Reporting's SQL read models on a real SQLite file: they give what the in-memory ones give."""
import json

import pytest
from sqlalchemy import select

from services.reporting import projections, publication
from services.reporting.fakes import FakeReportingUnitOfWork
from services.reporting.models import Base
from services.reporting.repository import ReportingUnitOfWork
from shared.database import OutboxMessage, Store
from shared.handling import dispatch
from tests.unit.test_reporting import (
    HANDLERS,
    a_season_of_events,
    deliver,
    every_figure,
    participant_event,
    rollout_event,
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
