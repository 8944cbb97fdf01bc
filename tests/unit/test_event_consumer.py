"""The one path every service takes for the events it consumes: dispatch alone, then in a container."""
import uuid

import pytest
from marshmallow import ValidationError
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import events
from shared.config import load
from shared.consumer import consume_events
from shared.dependencies import Database
from shared.fakes import FakeUnitOfWork
from shared.handling import UnknownEvent, batched, dispatch
from tests.support.cluster import wait_until


def closed(city="pontianak", rollout_id=1, count=3):
    return events.REGISTRATION_CLOSED.create(city, rollout_id=rollout_id, participant_count=count)


def cancelled(city="pontianak", rollout_id=1):
    return events.ROLLOUT_CANCELLED.create(city, rollout_id=rollout_id, reason="flood")


def test_dispatch_hands_runs_of_one_kind_to_their_handler_in_order():
    seen = []
    handlers = {
        events.REGISTRATION_CLOSED: batched(
            lambda uow, batch: seen.append(("closed", [e["rollout_id"] for e in batch]))),
        events.ROLLOUT_CANCELLED: lambda uow, event: seen.append(("cancelled", event["rollout_id"])),
    }
    deliveries = [(events.REGISTRATION_CLOSED, closed(rollout_id=1)),
                  (events.REGISTRATION_CLOSED, closed(rollout_id=2)),
                  ("rollout_cancelled", cancelled(rollout_id=2)),
                  (events.REGISTRATION_CLOSED, closed(rollout_id=3))]
    assert dispatch(FakeUnitOfWork(), handlers, deliveries) == 4
    assert seen == [("closed", [1, 2]), ("cancelled", 2), ("closed", [3])]


def test_dispatch_hands_an_event_over_once_however_often_it_comes():
    seen = []
    uow = FakeUnitOfWork()
    handlers = {events.ROLLOUT_CANCELLED: lambda uow, event: seen.append(event["event_id"])}
    event = cancelled()
    dispatch(uow, handlers, [(events.ROLLOUT_CANCELLED, event), (events.ROLLOUT_CANCELLED, event)])
    dispatch(uow, handlers, [(events.ROLLOUT_CANCELLED, event)])
    assert seen == [uuid.UUID(event["event_id"])]


def test_dispatch_refuses_a_kind_the_service_does_not_handle_and_a_payload_that_breaks_the_contract():
    with pytest.raises(UnknownEvent):
        dispatch(FakeUnitOfWork(), {events.ROLLOUT_CANCELLED: print}, [("registration_closed", closed())])
    broken = {**cancelled(), "rollout_id": "not a number"}
    with pytest.raises(ValidationError):
        dispatch(FakeUnitOfWork(), {events.ROLLOUT_CANCELLED: print}, [("rollout_cancelled", broken)])


class Base(DeclarativeBase):
    pass


class Closure(Base):
    __tablename__ = "closures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    rollout_id: Mapped[int] = mapped_column(Integer)


def record(uow, event):
    uow.session.add(Closure(event=event["event_id"].hex[:8], rollout_id=event["rollout_id"]))


class Listener:
    name = "listener"
    db = Database(Base.metadata)
    handle_events = consume_events({events.REGISTRATION_CLOSED: record, events.ROLLOUT_CANCELLED: record})


@pytest.fixture
def listener(tmp_path):
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path)})
    config["DATABASE_URLS"]["listener"] = f"sqlite:///{tmp_path / 'listener.db'}"
    container = ServiceContainer(Listener, config)
    container.start()
    yield container, config
    container.stop()


def test_a_service_declaring_its_handlers_gets_each_event_of_every_kind_once(listener):
    container, config = listener
    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    dispatch_event = event_dispatcher(config)
    for kind, payload in ((events.REGISTRATION_CLOSED, closed(rollout_id=7)),
                          (events.ROLLOUT_CANCELLED, cancelled(rollout_id=8))):
        dispatch_event(kind.source, kind.routing_key(payload["city"]), payload)

    def recorded():
        with store.read() as uow:
            return sorted(uow.session.query(Closure.rollout_id).all()) == [(7,), (8,)]
    wait_until(recorded, "both events in the listener's database", timeout=10)


def test_a_database_that_stops_answering_is_waited_out_and_the_event_handled_once(listener, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from shared import faults

    container, config = listener
    monkeypatch.setattr(faults, "backoff", lambda attempt: 0.01)
    monkeypatch.setattr("shared.consumer.backoff", lambda attempt: 0.01)
    consumer = next(e for e in container.entrypoints if e.method_name == "handle_events")
    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    outage = {"left": 3, "seen": []}
    real = store.unit_of_work

    def refusing(consumer_name=None):
        if outage["left"]:
            outage["left"] -= 1
            outage["seen"].append(consumer.ready)
            raise OperationalError("connect", {}, ConnectionRefusedError("database restarting"))
        return real(consumer_name)

    monkeypatch.setattr(store, "unit_of_work", refusing)
    event_dispatcher(config)("registration", events.REGISTRATION_CLOSED.routing_key("medan"), closed("medan", 9))

    def recorded():
        with store.read() as uow:
            return uow.session.query(Closure.rollout_id).all() == [(9,)]
    wait_until(recorded, "the event handled once the database answers", timeout=10)
    assert outage["seen"] == [True, False, False]  # not ready while the database is away
    assert consumer.ready
