import json

import eventlet
import pytest
from marshmallow import ValidationError
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from shared import events
from shared.database import OutboxMessage, ProcessedEvent, SharedBase, Store
from shared.outbox import next_in_turn
from tests.support.cluster import Databases


@pytest.fixture
def store(make_store):
    return make_store(SharedBase.metadata, consumer="notification.on_registration_closed")


def outbox_rows(store):
    with store.read() as uow:
        session = uow.session
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_emit_writes_an_outbox_row_on_commit(store):
    with store.unit_of_work() as uow:
        payload = uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=3, participant_count=9)

    [row] = outbox_rows(store)
    assert row.event_id == payload["event_id"]
    assert row.exchange == "registration.events"
    assert row.routing_key == "registration_closed.pontianak"
    assert row.published_at is None
    assert json.loads(row.payload) == payload
    assert uow.emitted == [payload]


def test_rolled_back_unit_of_work_leaves_no_outbox_row(store):
    with pytest.raises(RuntimeError):
        with store.unit_of_work() as uow:
            uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=3, participant_count=9)
            raise RuntimeError("the change failed after the emit")

    assert outbox_rows(store) == []


def test_invalid_event_is_not_written(store):
    with pytest.raises(ValidationError):
        with store.unit_of_work() as uow:
            uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=3)

    assert outbox_rows(store) == []


def _claimed(uow, payload):
    return uow.claim([payload]) != []


def test_an_event_is_claimed_once_per_consumer(store):
    payload = events.REGISTRATION_CLOSED.create("pontianak", rollout_id=3, participant_count=9)

    with store.unit_of_work() as uow:
        assert _claimed(uow, payload) is True
    with store.unit_of_work() as uow:
        assert _claimed(uow, payload) is False
    with store.unit_of_work("reporting.on_registration_closed") as uow:
        assert _claimed(uow, payload) is True

    with store.read() as uow:
        session = uow.session
        claims = session.execute(select(ProcessedEvent.consumer).order_by(ProcessedEvent.consumer)).scalars().all()
    assert claims == ["notification.on_registration_closed", "reporting.on_registration_closed"]


def test_a_loaded_event_and_its_raw_payload_are_one_claim(store):
    payload = events.REGISTRATION_CLOSED.create("pontianak", rollout_id=3, participant_count=9)

    with store.unit_of_work() as uow:
        assert _claimed(uow, events.REGISTRATION_CLOSED.load(payload)) is True  # UUID object
    with store.unit_of_work() as uow:
        assert _claimed(uow, payload) is False  # string id


def test_duplicate_delivery_writes_nothing(store):
    payload = events.REGISTRATION_CLOSED.create("pontianak", rollout_id=3, participant_count=9)
    for _ in range(2):
        with store.unit_of_work() as uow:
            if _claimed(uow, payload):
                uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=3, participant_count=9)

    assert len(outbox_rows(store)) == 1
    with store.read() as uow:
        session = uow.session
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1


def test_a_batch_claims_each_new_event_once(store):
    first = events.REGISTRATION_CLOSED.create("pontianak", rollout_id=1, participant_count=1)
    second = events.REGISTRATION_CLOSED.create("medan", rollout_id=2, participant_count=2)
    with store.unit_of_work() as uow:
        assert uow.claim([first]) == [first]
    with store.unit_of_work() as uow:
        # Redelivered with a new one, and the new one twice in the same batch.
        assert uow.claim([first, second, second]) == [second]
    with store.unit_of_work() as uow:
        assert uow.claim([first, second]) == []
    with store.read() as uow:
        session = uow.session
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 2


# --- claims as a consumer makes them, a batch at a time, on both databases ---

CONSUMER = "notification.handle_events"


@pytest.fixture(params=["sqlite", "postgresql"])
def consumer_store(request, tmp_path):
    databases = Databases(request.param, tmp_path)
    store = Store(databases.urls["notification"], SharedBase.metadata, consumer=CONSUMER)
    yield store
    store.dispose()
    databases.drop()


def closure(rollout_id):
    return events.REGISTRATION_CLOSED.create("pontianak", rollout_id=rollout_id, participant_count=1)


def duplicates_counted():
    return REGISTRY.get_sample_value(
        "campaign_duplicate_events_total", {"service": "notification", "consumer": CONSUMER}) or 0


def claimed_ids(store):
    with store.read() as uow:
        return set(uow.session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == CONSUMER)))


def test_an_event_handled_in_an_earlier_batch_is_skipped_and_counted(consumer_store):
    first, second, third = closure(1), closure(2), closure(3)
    with consumer_store.unit_of_work() as uow:
        assert uow.claim([first, second]) == [first, second]
    counted = duplicates_counted()
    with consumer_store.unit_of_work() as uow:
        assert uow.claim([second, third, first]) == [third]
    assert duplicates_counted() == counted + 2
    assert claimed_ids(consumer_store) == {first["event_id"], second["event_id"], third["event_id"]}


def test_an_event_twice_in_one_batch_is_handed_over_once_and_counted_once(consumer_store):
    first, second = closure(1), closure(2)
    counted = duplicates_counted()
    with consumer_store.unit_of_work() as uow:
        assert uow.claim([first, second, first, first]) == [first, second]
    assert duplicates_counted() == counted + 2


def test_a_batch_rolled_back_claims_nothing(consumer_store):
    first, second = closure(1), closure(2)
    with pytest.raises(RuntimeError):
        with consumer_store.unit_of_work() as uow:
            assert uow.claim([first, second]) == [first, second]
            raise RuntimeError("a handler failed after the claim")
    assert claimed_ids(consumer_store) == set()
    counted = duplicates_counted()
    with consumer_store.unit_of_work() as uow:  # the redelivery
        assert uow.claim([first, second]) == [first, second]
    assert duplicates_counted() == counted


@pytest.mark.parametrize("other_worker_commits", [True, False])
def test_an_event_another_worker_is_claiming_is_left_to_it_unless_it_rolls_back(other_worker_commits, tmp_path):
    databases = Databases("postgresql", tmp_path)
    store = Store(databases.urls["notification"], SharedBase.metadata, consumer=CONSUMER)
    contested, mine = closure(1), closure(2)
    other = store.engine.raw_connection()  # another worker's transaction, its claim not yet committed
    try:
        other.cursor().execute("INSERT INTO processed_events (event_id, consumer, processed_at) VALUES (%s, %s, now())",
                               (contested["event_id"], CONSUMER))
        # PostgreSQL makes this claim wait for the other transaction: that one ends from a thread of the system.
        end = other.commit if other_worker_commits else other.rollback
        ender = eventlet.patcher.original("threading").Timer(0.3, end)
        ender.start()
        with store.unit_of_work() as uow:
            taken = uow.claim([contested, mine])
        ender.join()
        assert taken == ([mine] if other_worker_commits else [contested, mine])
        assert claimed_ids(store) == {contested["event_id"], mine["event_id"]}
    finally:
        other.close()
        store.dispose()
        databases.drop()


def test_the_relay_takes_cities_in_turn_and_each_city_in_order(store):
    with store.unit_of_work() as uow:  # a bulk import in Surabaya, then one Pontianak registration
        for count in range(6):
            uow.emit(events.REGISTRATION_CLOSED, "surabaya", rollout_id=1, participant_count=count)
    with store.unit_of_work() as uow:
        uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=2, participant_count=1)

    with store.read() as uow:
        session = uow.session
        ids = session.scalars(next_in_turn(4)).all()
        taken = [session.get(OutboxMessage, i) for i in ids]
    assert [(row.city, json.loads(row.payload)["participant_count"]) for row in taken] == [
        ("surabaya", 0), ("pontianak", 1), ("surabaya", 1), ("surabaya", 2)]
