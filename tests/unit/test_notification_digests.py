"""Committees, digests, final lists and the delivery states, over a real SQLite file."""
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.notification import domain
from services.notification.models import Base, Committee, Delivery, ParticipantChange
from shared import events
from shared.database import OutboxMessage
from shared.errors import Conflict, InvalidInput

COMMITTEE = {"emails": ["panitia@pontianak.example"], "webhook_url": "https://hooks.example/pontianak",
             "webhook_secret": "s" * 20, "list_format": "xlsx"}


@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="notification")


def with_committee(store, rollout_id=7, city="pontianak", **overrides):
    with store.unit_of_work() as uow:
        return domain.set_committee(uow, rollout_id, city, {**COMMITTEE, **overrides})


def change(store, participant_id, kind="registered", rollout_id=7, city="pontianak", **extra):
    event_type = events.PARTICIPANT_REGISTERED if kind == "registered" else events.PARTICIPANT_CANCELLED
    fields = {"rollout_id": rollout_id, "participant_id": participant_id, "participant_code": f"PON-{participant_id}",
              "session_key": "workshop"}
    if kind == "registered":
        fields.update(category="educator", minor=False, **extra)
    if kind == "updated":
        event_type = events.PARTICIPANT_UPDATED
        fields.update(category="educator", changed=["organisation"])
    event = event_type.load(event_type.create(city, **fields))
    with store.unit_of_work() as uow:
        domain.record_change(uow, event, kind)


def later(seconds):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def all_deliveries(store):
    with store.read() as session:
        return session.scalars(select(Delivery).order_by(Delivery.id)).all()


@pytest.mark.parametrize("data, field", [
    ({"emails": []}, "emails"),
    ({"emails": ["not-an-address"]}, "emails"),
    ({"webhook_url": "https://hooks.example/x"}, "webhook_secret"),
    ({"webhook_url": "ftp://hooks.example/x", "webhook_secret": "s" * 20}, "webhook_url"),
    ({"emails": ["a@b.example"], "list_format": "pdf"}, "list_format"),
    ({"emails": ["a@b.example"], "phone": "0812"}, "phone"),
])
def test_a_bad_committee_is_refused_naming_the_field(store, data, field):
    with pytest.raises(InvalidInput) as refused:
        with store.unit_of_work() as uow:
            domain.set_committee(uow, 7, "pontianak", data)
    assert field in refused.value.details["fields"]
    with store.read() as session:
        assert session.get(Committee, 7) is None


def test_changes_wait_for_the_window_then_go_as_one_digest_per_channel(store):
    with_committee(store)
    for participant_id in (1, 2, 3):
        change(store, participant_id)
    with store.unit_of_work() as uow:
        assert domain.collect_digests(uow, window=60) == []  # the window is still open
    with store.unit_of_work() as uow:
        digests = domain.collect_digests(uow, window=60, now=later(61))
    assert [(d.kind, d.channel) for d in digests] == [("digest", "mail"), ("digest", "webhook")]
    assert [c["participant_id"] for c in digests[0].content["changes"]] == [1, 2, 3]

    # A change after the window closed starts the next digest; nothing is in two.
    change(store, 4)
    with store.unit_of_work() as uow:
        assert domain.collect_digests(uow, window=60, now=later(61))[0].content["changes"] == [
            {"participant_id": 4, "participant_code": "PON-4", "change": "registered"}]
    with store.read() as session:
        taken = session.scalars(select(ParticipantChange.digest)).all()
    assert len(set(taken)) == 2 and None not in taken


def test_no_committee_no_digest_and_other_cities_wait_for_their_own_process(store):
    change(store, 1)
    change(store, 2, rollout_id=8, city="medan")
    with_committee(store, rollout_id=8, city="medan")
    with store.unit_of_work() as uow:
        assert domain.collect_digests(uow, window=0, now=later(1), city="pontianak") == []
    with store.unit_of_work() as uow:
        assert {d.rollout_id for d in domain.collect_digests(uow, window=0, now=later(1), city="*")} == {8}


def test_a_digest_row_says_the_last_change_but_a_new_person_stays_new(store):
    with_committee(store, webhook_url=None, webhook_secret=None)
    change(store, 1)
    change(store, 1, kind="updated")
    change(store, 2)
    change(store, 2, kind="cancelled")
    with store.unit_of_work() as uow:
        [digest] = domain.collect_digests(uow, window=0, now=later(1))
    assert [(c["participant_id"], c["change"]) for c in digest.content["changes"]] == [
        (1, "registered"), (2, "cancelled")]


def launched(rollout_id=7, on=None):
    on = on or date.today() + timedelta(days=1)
    session = {"key": "workshop", "day": 1, "date": on, "title": "Workshop", "audience": "activists",
               "topics": [{"title": "Kejahatan Siber", "facilitators": [{"name": "A", "organisation": "B"}]}]}
    return events.ROLLOUT_LAUNCHED.load(events.ROLLOUT_LAUNCHED.create(
        "pontianak", rollout_id=rollout_id, program="IAUA", city_name="Pontianak", starts_on=on, ends_on=on,
        sessions=[session]))


def test_launch_sends_the_agenda_once_and_the_final_list_goes_the_day_before(store):
    with_committee(store, webhook_url=None, webhook_secret=None)
    event = launched()
    with store.unit_of_work() as uow:
        domain.record_rollout(uow, event)
        domain.record_rollout(uow, event)
    [agenda] = all_deliveries(store)
    assert agenda.kind == "agenda" and agenda.content["sessions"][0]["topics"][0]["title"] == "Kejahatan Siber"

    with store.unit_of_work() as uow:
        assert domain.queue_final_lists(uow, today=date.today() - timedelta(days=1)) == []  # two days early
    with store.unit_of_work() as uow:
        [final] = domain.queue_final_lists(uow)
    with store.unit_of_work() as uow:
        assert domain.queue_final_lists(uow) == []  # once
    assert (final.kind, final.content) == ("final_list", {"session_key": "workshop", "day": 1})


def test_a_past_session_gets_no_final_list(store):
    with_committee(store)
    with store.unit_of_work() as uow:
        domain.record_rollout(uow, launched(on=date(2019, 5, 2)))
    with store.unit_of_work() as uow:
        assert domain.queue_final_lists(uow) == []


LISTING = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "committee_email": "x@y.example",
           "participants": [
               {"participant_id": p, "code": f"PON-{p}", "full_name": f"Peserta {p}", "category": "SKPD",
                "organisation": "Dinas", "session": "Workshop", "day": 1 if p < 3 else 2, "email": "leak@x"}
               for p in (1, 2, 3)]}


def test_lists_hold_only_the_committee_columns_and_no_one_cancelled(store):
    change(store, 2, kind="cancelled")
    with store.read() as session:
        inactive = domain.inactive_participants(session, 7)
    final = Delivery(kind="final_list", content={"day": 1})
    rows = domain.list_rows(final, LISTING, inactive)
    assert [r["participant_id"] for r in rows] == [1]
    assert set(rows[0]) == set(domain.LIST_COLUMNS) | {"participant_id"}
    whole = Delivery(kind="participant_list", content={})
    assert [r["participant_id"] for r in domain.list_rows(whole, LISTING, inactive)] == [1, 3]


def test_a_gone_webhook_is_disabled_its_queue_failed_and_the_coordinator_told(store):
    with_committee(store)
    for participant_id in (1, 2):
        change(store, participant_id)
        with store.unit_of_work() as uow:
            domain.collect_digests(uow, window=0, now=later(1))
    first, second = [d for d in all_deliveries(store) if d.channel == "webhook"]
    with store.unit_of_work() as uow:
        domain.record_gone(uow, first.id, "HTTP 410")
    with store.read() as session:
        assert session.get(Committee, 7).webhook_enabled is False
        assert session.get(Delivery, second.id).status == "failed"
        [alert] = session.scalars(select(OutboxMessage)).all()
    assert json.loads(alert.payload)["reason"] == "webhook_disabled"
    with store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            domain.resend(uow, first.id)


def test_acknowledge_needs_the_token_and_a_sent_delivery(store):
    closed = events.REGISTRATION_CLOSED.load(events.REGISTRATION_CLOSED.create("pontianak", rollout_id=7,
                                                                               participant_count=0))
    with store.unit_of_work() as uow:
        [delivery] = domain.queue_participant_list(uow, closed)
    with store.unit_of_work() as uow:
        with pytest.raises(domain.Forbidden):
            domain.acknowledge(uow, delivery.id, "guess")
    with store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            domain.acknowledge(uow, delivery.id, delivery.ack_token)
    with store.unit_of_work() as uow:
        domain.record_sent(uow, delivery.id, ["x@y.example"], [])
    with store.unit_of_work() as uow:
        assert domain.acknowledge(uow, delivery.id, delivery.ack_token).status == "acknowledged"


def test_a_resend_is_a_new_message_with_fresh_tries(store):
    closed = events.REGISTRATION_CLOSED.load(events.REGISTRATION_CLOSED.create("pontianak", rollout_id=7,
                                                                               participant_count=0))
    with store.unit_of_work() as uow:
        [delivery] = domain.queue_participant_list(uow, closed)
    with store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            domain.resend(uow, delivery.id)  # still queued
        domain.record_sent(uow, delivery.id, ["x@y.example"], [])
    first_id = domain.message_id(all_deliveries(store)[0])
    with store.unit_of_work() as uow:
        again = domain.resend(uow, delivery.id)
    assert (again.status, again.attempts) == ("queued", 0)
    assert domain.message_id(again) != first_id and domain.message_id(again).startswith("<participant_list.7.mail.r1@")


def test_target_gaps_are_forwarded_once_without_names(store):
    with_committee(store)
    gap = events.TARGET_GAP.load(events.TARGET_GAP.create(
        "pontianak", rollout_id=7, session_key="workshop", category="patbm", minimum=10, registered=3,
        session_date=date(2026, 12, 1)))
    with store.unit_of_work() as uow:
        domain.queue_target_gap(uow, gap)
        domain.queue_target_gap(uow, gap)
    mail_gap, hook_gap = all_deliveries(store)
    assert (mail_gap.kind, mail_gap.channel, hook_gap.channel) == ("target_gap", "mail", "webhook")
    assert mail_gap.content == {"session_key": "workshop", "category": "patbm", "minimum": 10, "registered": 3,
                                "session_date": "2026-12-01"}


def test_changes_wait_while_the_committee_cannot_be_reached(store):
    with_committee(store, emails=[])
    with store.unit_of_work() as uow:
        uow.session.get(Committee, 7).webhook_enabled = False
    change(store, 1)
    with store.unit_of_work() as uow:
        assert domain.collect_digests(uow, window=0, now=later(1)) == []
    with store.read() as session:
        assert domain.work_waiting(session)
    with_committee(store)  # set again: the webhook is back
    with store.unit_of_work() as uow:
        assert len(domain.collect_digests(uow, window=0, now=later(1))) == 2
    with store.read() as session:
        assert not domain.work_waiting(session)


def test_a_cancelled_rollout_tells_the_committee_and_sends_no_final_list(store):
    with_committee(store, webhook_url=None, webhook_secret=None)
    with store.unit_of_work() as uow:
        domain.record_rollout(uow, launched())
    cancelled = events.ROLLOUT_CANCELLED.load(events.ROLLOUT_CANCELLED.create(
        "pontianak", rollout_id=7, reason="banjir"))
    with store.unit_of_work() as uow:
        [notice] = domain.record_cancellation(uow, cancelled)
    assert (notice.kind, notice.content) == ("rollout_cancelled", {"reason": "banjir"})
    with store.unit_of_work() as uow:
        assert domain.queue_final_lists(uow) == []


def test_a_due_delivery_is_claimed_by_one_process_only(store):
    closed = events.REGISTRATION_CLOSED.load(events.REGISTRATION_CLOSED.create("pontianak", rollout_id=7,
                                                                               participant_count=0))
    with store.unit_of_work() as uow:
        [delivery] = domain.queue_participant_list(uow, closed)
    with store.unit_of_work() as uow:
        assert domain.claim(uow, delivery.id, lease=60)
    with store.unit_of_work() as uow:
        assert not domain.claim(uow, delivery.id, lease=60)  # another process, meanwhile
    with store.unit_of_work() as uow:
        assert domain.claim(uow, delivery.id, lease=60, now=later(61))  # the first one died


def test_a_city_worker_handles_only_its_cities(store):
    for rollout_id, city in ((7, "pontianak"), (8, "medan"), (9, "surabaya")):
        closed = events.REGISTRATION_CLOSED.load(events.REGISTRATION_CLOSED.create(
            city, rollout_id=rollout_id, participant_count=0))
        with store.unit_of_work() as uow:
            domain.queue_participant_list(uow, closed)
    with store.read() as session:
        assert {d.city for d in domain.due_deliveries(session, city="pontianak,medan")} == {"pontianak", "medan"}
        assert len(domain.due_deliveries(session, city="*")) == 3
