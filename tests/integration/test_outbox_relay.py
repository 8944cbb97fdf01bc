"""The outbox relay on the real broker: what a queue takes is marked published, what none takes waits."""
from datetime import datetime, timezone

import pytest
from kombu import Connection, Exchange, Queue
from nameko.containers import ServiceContainer
from sqlalchemy import func, select

from shared import events
from shared.config import load
from shared.database import OutboxMessage, SharedBase
from shared.dependencies import Database
from shared.outbox import OutboxRelay
from tests.support.cluster import Vhost, wait_until


class Emitter:
    name = "emitter"
    db = Database(SharedBase.metadata)
    outbox = OutboxRelay()


@pytest.fixture
def emitter(tmp_path):
    """(the emitter's store, its vhost, a queue taking registration_closed events there)."""
    vhost = Vhost()
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "AMQP_URI": vhost.amqp_uri})
    config["DATABASE_URLS"]["emitter"] = f"sqlite:///{tmp_path / 'emitter.db'}"
    config["OUTBOX_INTERVAL"] = 60  # only a commit of events wakes it within the test
    container = ServiceContainer(Emitter, config)
    container.start()
    exchange = Exchange(events.REGISTRATION_CLOSED.exchange, type="topic", durable=True)
    queue = Queue("closures", exchange=exchange, routing_key="registration_closed.*", durable=True)
    with Connection(vhost.amqp_uri) as connection:
        queue(connection.default_channel).declare()
    try:
        yield next(d for d in container.dependencies if isinstance(d, Database)).store, vhost, queue
    finally:
        container.stop()
        vhost.delete()


def test_a_commit_of_events_wakes_the_relay_which_publishes_what_a_queue_takes_and_keeps_the_rest(emitter):
    store, vhost, queue = emitter
    with store.unit_of_work() as uow:
        taken = uow.emit(events.REGISTRATION_CLOSED, "pontianak", rollout_id=1, participant_count=3)
        nobody_takes = uow.emit(events.ROLLOUT_CANCELLED, "pontianak", rollout_id=1, reason="flood")

    def row(payload):
        with store.read() as uow:
            return uow.session.scalars(select(OutboxMessage).where(
                OutboxMessage.event_id == str(payload["event_id"]))).one()

    wait_until(lambda: row(taken).published_at and row(nobody_takes).attempts, "the relay's round", timeout=15)
    waiting = row(nobody_takes)
    assert waiting.published_at is None and waiting.attempts == 1
    assert waiting.next_attempt_at > datetime.now(timezone.utc)  # tried again later, not at once
    with Connection(vhost.amqp_uri) as connection:
        message = queue(connection.default_channel).get(no_ack=True)
    assert message.properties["message_id"] == str(taken["event_id"])
    assert message.payload["rollout_id"] == 1


def test_a_round_of_many_events_reaches_the_queue_whole_and_each_city_in_order(emitter):
    store, vhost, queue = emitter
    with store.unit_of_work() as uow:
        for rollout_id in range(1, 301):
            uow.emit(events.REGISTRATION_CLOSED, "pontianak" if rollout_id % 3 else "medan",
                     rollout_id=rollout_id, participant_count=rollout_id)

    def pending():
        with store.read() as uow:
            return uow.session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
    wait_until(lambda: pending() == 0, "every event published", timeout=15)
    heard = {"pontianak": [], "medan": []}
    with Connection(vhost.amqp_uri) as connection:
        while (message := queue(connection.default_channel).get(no_ack=True)) is not None:
            heard[message.payload["city"]].append(message.payload["rollout_id"])
    assert heard == {"pontianak": [r for r in range(1, 301) if r % 3], "medan": list(range(3, 301, 3))}
