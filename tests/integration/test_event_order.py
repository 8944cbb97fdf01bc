"""A city's events are applied in the order they were published, whatever their kinds.

One queue per service and city (shared/consumer.py) carries every kind, so a
cancellation published right after its registration is applied after it,
even when thousands of other events and other cities' are in flight and
batches span kinds.  Checked on the real broker, for every pair of kinds
whose order a consumer (reporting, notification) depends on.
"""
import itertools
from datetime import date

import pytest
from kombu import Connection, Exchange, Producer
from nameko.containers import ServiceContainer
from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import events
from shared.config import load
from shared.consumer import batched, consume_events
from shared.dependencies import Database
from tests.support.cluster import wait_until

# (first, second): the second means nothing, or the wrong thing, applied before the first.
PAIRS = [
    (events.ROLLOUT_LAUNCHED, events.PARTICIPANT_REGISTERED),
    (events.ROLLOUT_LAUNCHED, events.ROLLOUT_UPDATED),
    (events.ROLLOUT_LAUNCHED, events.ROLLOUT_CANCELLED),
    (events.PARTICIPANT_REGISTERED, events.PARTICIPANT_CANCELLED),
    (events.PARTICIPANT_REGISTERED, events.PARTICIPANT_UPDATED),
    (events.PARTICIPANT_REGISTERED, events.PARTICIPANT_CHECKED_IN),
    (events.PARTICIPANT_CANCELLED, events.PARTICIPANT_PROMOTED),
    (events.PARTICIPANT_REGISTERED, events.REGISTRATION_CLOSED),
    (events.PARTICIPANT_REGISTERED, events.TEST_SCORED),
]
CITIES = ("pontianak", "medan", "surabaya")
ROUNDS = 60  # each pair, in each city


class Base(DeclarativeBase):
    pass


class Applied(Base):
    __tablename__ = "applied"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # the order they were applied in
    kind: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(40))
    mark: Mapped[int] = mapped_column(Integer)  # which pair and round


def apply_one(uow, event, kind=None):
    uow.session.add(Applied(kind=kind, city=event["city"], mark=event["rollout_id"]))


def handler(event):
    one = lambda uow, payload: apply_one(uow, payload, event.name)  # noqa: E731
    if event is events.PARTICIPANT_REGISTERED:  # as reporting takes them: in batches
        return batched(lambda uow, batch: [apply_one(uow, p, event.name) for p in batch])
    return one


class Follower:
    name = "follower"
    db = Database(Base.metadata)
    handle_events = consume_events({event: handler(event) for event in {e for pair in PAIRS for e in pair}})


def occurrence(event, city, mark):
    """A payload of ``event`` whose ``rollout_id`` is ``mark`` (the pair and round it belongs to)."""
    person = dict(rollout_id=mark, participant_id=mark, participant_code=f"X-{mark}", session_key="workshop")
    fields = {
        events.ROLLOUT_LAUNCHED: dict(rollout_id=mark, program="p", city_name=city, starts_on=date(2019, 5, 2),
                                      ends_on=date(2019, 5, 3), sessions=[]),
        events.ROLLOUT_UPDATED: dict(rollout_id=mark, status="running", changed=["status"]),
        events.ROLLOUT_CANCELLED: dict(rollout_id=mark, reason=None),
        events.PARTICIPANT_REGISTERED: dict(person, category="lsm", minor=False),
        events.PARTICIPANT_CANCELLED: person,
        events.PARTICIPANT_PROMOTED: person,
        events.PARTICIPANT_UPDATED: dict(person, category="lsm", changed=["category"]),
        events.PARTICIPANT_CHECKED_IN: dict(person, day=1),
        events.REGISTRATION_CLOSED: dict(rollout_id=mark, participant_count=1),
        events.TEST_SCORED: dict(rollout_id=mark, submission_id=mark, instrument_id=1, session_key="workshop",
                                 participant_code=f"X-{mark}", phase="pre", score=1, max_score=2, passed=False,
                                 topics=[]),
    }[event]
    return event.create(city, **fields)


def everything():
    return itertools.product(range(ROUNDS), enumerate(PAIRS), CITIES)


@pytest.fixture
def follower(vhost, tmp_path):
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "AMQP_URI": vhost.amqp_uri,
                   "CITIES": ",".join(CITIES[:2])})  # Surabaya's events go through the other-cities queue
    config["DATABASE_URLS"]["follower"] = f"sqlite:///{tmp_path / 'follower.db'}"
    container = ServiceContainer(Follower, config)
    container.start()
    yield container, config
    container.stop()


def test_the_second_event_of_every_ordered_pair_is_applied_after_the_first(follower):
    container, config = follower
    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    published = []
    with Connection(config["AMQP_URI"]) as connection:
        producer = Producer(connection.channel())
        # Round after round, each pair in each city back to back, so batches mix kinds and cities.
        for round_, (index, (first, second)), city in everything():
            mark = round_ * 100 + index
            for event in (first, second):
                payload = occurrence(event, city, mark)
                producer.publish(payload, exchange=Exchange(event.exchange, type="topic", durable=True),
                                 routing_key=event.routing_key(city), serializer="json", delivery_mode=2)
                published.append(payload)

    def everything_applied():
        with store.read() as uow:
            rows = uow.session.query(Applied.id, Applied.kind, Applied.city, Applied.mark).all()
        return rows if len(rows) == len(published) else None
    rows = wait_until(everything_applied, f"all {len(published)} events applied", timeout=120)

    order = {(kind, city, mark): position for position, kind, city, mark in rows}
    overtaken = [(first.name, second.name, city, round_)
                 for round_, (index, (first, second)), city in everything()
                 if order[(second.name, city, round_ * 100 + index)] < order[(first.name, city, round_ * 100 + index)]]
    assert overtaken == []
