"""Committees, the agenda, digests, final lists, target gaps and cancellations, queued from registration's events.

Over the fakes and over the SQLite repositories alike (the ``db`` fixture).
"""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.notification import committees, deliveries, rules, sending
from services.notification.commands import QueueDueLists, ResendDelivery, SetCommittee
from services.notification.fakes import FakeNotificationUnitOfWork
from services.notification.schemas import CommitteeIn, DeliveryQuery
from services.notification.service import NotificationService
from shared import events
from shared.auth import Principal
from shared.commands import validated
from shared.errors import Conflict, InvalidInput, NotFound
from shared.handling import batched, dispatch
from tests.unit.test_notification import databases, outcome

COMMITTEE = {"emails": ["panitia@pontianak.example"], "webhook_url": "https://hooks.example/pontianak",
             "webhook_secret": "s" * 20, "list_format": "xlsx"}
MAIL_ONLY = {"webhook_url": None, "webhook_secret": None}


@pytest.fixture(params=["fakes", "sqlite"])
def db(request, tmp_path):
    yield from databases(request.param, tmp_path)


COORDINATOR = Principal("1", "budi", "city_coordinator", ("pontianak", "medan"))


def with_committee(db, rollout_id=7, city="pontianak", by=COORDINATOR, **overrides):
    with db.unit_of_work() as uow:
        return committees.set_committee(SetCommittee(rollout_id, city, by, **{**COMMITTEE, **overrides}), uow,
                                        check_url=lambda url: None, seal=lambda secret: f"sealed:{secret}")


def heard(event_type, city="pontianak", **fields):
    return event_type.load(event_type.create(city, **fields))


def change(db, participant_id, kind="registered", rollout_id=7, city="pontianak", **extra):
    fields = {"rollout_id": rollout_id, "participant_id": participant_id, "participant_code": f"PON-{participant_id}",
              "session_key": "workshop"}
    with db.unit_of_work() as uow:
        if kind == "registered":
            deliveries.record_registrations(uow, [heard(events.PARTICIPANT_REGISTERED, city, category="educator",
                                                        minor=False, **fields, **extra)])
        elif kind == "updated":
            deliveries.record_participant_updates(uow, [heard(events.PARTICIPANT_UPDATED, city, category="educator",
                                                              changed=["organisation"], **fields)])
        else:
            deliveries.record_participant_cancellations(uow, [heard(events.PARTICIPANT_CANCELLED, city, **fields)])


def later(seconds):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def digests(db, window=60, now=None, cities=None):
    with db.unit_of_work() as uow:
        return deliveries.queue_due_lists(QueueDueLists(cities=cities, policy=rules.Policy(digest_window=window),
                                                        now=now or later(window + 1)), uow)


def all_deliveries(db):
    with db.read() as uow:
        return sending.find_deliveries(uow).items


@pytest.mark.parametrize("data, field", [
    ({"emails": []}, "emails"),
    ({"emails": ["not-an-address"]}, "emails"),
    ({"webhook_url": "https://hooks.example/x"}, "webhook_secret"),
    ({"webhook_url": "ftp://hooks.example/x", "webhook_secret": "s" * 20}, "webhook_url"),
    ({"emails": ["a@b.example"], "list_format": "pdf"}, "list_format"),
    ({"emails": ["a@b.example"], "phone": "0812"}, "phone"),
])
def test_a_bad_committee_is_refused_naming_the_field(data, field):
    with pytest.raises(InvalidInput) as refused:
        validated(CommitteeIn(), data)
    assert field in refused.value.details["fields"]


def test_a_committee_is_set_shown_and_set_again(db):
    with db.read() as uow:
        with pytest.raises(NotFound):
            committees.get_committee(uow, 7)
    with_committee(db)
    with db.unit_of_work() as uow:
        uow.committees.get(7).webhook_enabled = False  # a 410 disabled it
    again = with_committee(db, name="Panitia Pontianak")
    assert (again.name, again.webhook_enabled, again.channels()) == ("Panitia Pontianak", True, ["mail", "webhook"])
    with db.read() as uow:
        assert committees.get_committee(uow, 7).list_format == "xlsx"


def test_changes_wait_for_the_window_then_go_as_one_digest_per_channel(db):
    with_committee(db)
    for participant_id in (1, 2, 3):
        change(db, participant_id)
    assert digests(db, window=60, now=later(0)) == []  # the window is still open
    queued = digests(db, window=60)
    assert [(d.kind, d.channel) for d in queued] == [("digest", "mail"), ("digest", "webhook")]
    assert [c["participant_id"] for c in queued[0].content["changes"]] == [1, 2, 3]

    # A change after the window closed starts the next digest; nothing is in two.
    change(db, 4)
    assert digests(db)[0].content["changes"] == [
        {"participant_id": 4, "participant_code": "PON-4", "change": "registered"}]
    assert digests(db) == []


def test_no_committee_no_digest_and_other_cities_wait_for_their_own_process(db):
    change(db, 1)
    change(db, 2, rollout_id=8, city="medan")
    with_committee(db, rollout_id=8, city="medan")
    assert digests(db, window=0, cities=["pontianak"]) == []
    assert {d.rollout_id for d in digests(db, window=0)} == {8}


def test_a_digest_row_says_the_last_change_but_a_new_person_stays_new(db):
    with_committee(db, **MAIL_ONLY)
    change(db, 1)
    change(db, 1, kind="updated")
    change(db, 2)
    change(db, 2, kind="cancelled")
    change(db, 3, status="waitlisted")
    [digest] = digests(db, window=0)
    assert [(c["participant_id"], c["change"]) for c in digest.content["changes"]] == [
        (1, "registered"), (2, "cancelled"), (3, "waitlisted")]


def test_changes_wait_while_the_committee_cannot_be_reached(db):
    with_committee(db, emails=[])
    with db.unit_of_work() as uow:
        uow.committees.get(7).webhook_enabled = False
    change(db, 1)
    assert digests(db, window=0) == []
    with db.read() as uow:
        assert deliveries.lists_may_be_due(uow)
    with_committee(db)  # set again: the webhook is back
    assert len(digests(db, window=0)) == 2
    with db.read() as uow:
        assert not deliveries.lists_may_be_due(uow)


def launched(rollout_id=7, on=None):
    on = on or date.today() + timedelta(days=1)
    session = {"key": "workshop", "day": 1, "date": on, "title": "Workshop", "audience": "activists",
               "topics": [{"title": "Kejahatan Siber", "facilitators": [{"name": "A", "organisation": "B"}]}]}
    return heard(events.ROLLOUT_LAUNCHED, rollout_id=rollout_id, program="IAUA", city_name="Pontianak",
                 starts_on=on, ends_on=on, sessions=[session])


def final_lists(db, today=None):
    with db.unit_of_work() as uow:
        return deliveries.queue_final_lists(uow, today=today)


def test_launch_sends_the_agenda_once_and_the_final_list_goes_the_day_before(db):
    with_committee(db, **MAIL_ONLY)
    with db.unit_of_work() as uow:
        deliveries.record_rollout(uow, launched())
        deliveries.record_rollout(uow, launched())
    [agenda] = all_deliveries(db)
    assert agenda.kind == "agenda" and agenda.content["sessions"][0]["topics"][0]["title"] == "Kejahatan Siber"

    assert final_lists(db, today=date.today() - timedelta(days=1)) == []  # two days early
    with db.read() as uow:
        assert deliveries.lists_may_be_due(uow)
    [final] = final_lists(db)
    assert final_lists(db) == []  # once
    assert (final.kind, final.content) == ("final_list", {"session_key": "workshop", "day": 1})


def test_a_past_session_gets_no_final_list(db):
    with_committee(db)
    with db.unit_of_work() as uow:
        deliveries.record_rollout(uow, launched(on=date(2019, 5, 2)))
    assert final_lists(db) == []


def test_a_cancelled_rollout_tells_the_committee_and_sends_no_final_list(db):
    with_committee(db, **MAIL_ONLY)
    with db.unit_of_work() as uow:
        deliveries.record_rollout(uow, launched())
    with db.unit_of_work() as uow:
        [notice] = deliveries.record_rollout_cancellation(
            uow, heard(events.ROLLOUT_CANCELLED, rollout_id=7, reason="banjir"))
    assert (notice.kind, notice.content) == ("rollout_cancelled", {"reason": "banjir"})
    assert final_lists(db) == []


def test_target_gaps_are_forwarded_once_without_names(db):
    with_committee(db)
    gap = heard(events.TARGET_GAP, rollout_id=7, session_key="workshop", category="patbm", minimum=10,
                registered=3, session_date=date(2026, 12, 1))
    with db.unit_of_work() as uow:
        deliveries.queue_target_gap(uow, gap)
        deliveries.queue_target_gap(uow, gap)
    mail_gap, hook_gap = all_deliveries(db)
    assert (mail_gap.kind, mail_gap.channel, hook_gap.channel) == ("target_gap", "mail", "webhook")
    assert mail_gap.content == {"session_key": "workshop", "category": "patbm", "minimum": 10, "registered": 3,
                                "session_date": "2026-12-01"}


LISTING = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "committee_email": "x@y.example",
           "participants": [
               {"participant_id": p, "code": f"PON-{p}", "full_name": f"Peserta {p}", "category": "SKPD",
                "organisation": "Dinas", "session": "Workshop", "day": 1 if p < 3 else 2, "email": "leak@x"}
               for p in (1, 2, 3)]}


def test_a_final_list_leaves_out_the_cancelled_and_the_other_days(db):
    with_committee(db, **MAIL_ONLY)
    with db.unit_of_work() as uow:
        deliveries.record_rollout(uow, launched())
    change(db, 2, kind="cancelled")
    [final] = final_lists(db)
    with db.read() as uow:
        going = sending.outgoing(uow, final, LISTING)
    assert going.participant_ids == (1,)
    assert set(going.rows[0]) == set(rules.LIST_COLUMNS) | {"participant_id"}
    assert going.recipients == ("panitia@pontianak.example",)


def test_a_gone_webhook_is_disabled_its_queue_failed_and_the_coordinator_told(db):
    with_committee(db)
    for participant_id in (1, 2):
        change(db, participant_id)
        digests(db, window=0)
    first, second = [d for d in all_deliveries(db) if d.channel == "webhook"]
    outcome(db, first.id, rules.GONE, "HTTP 410")
    with db.read() as uow:
        assert uow.committees.get(7).webhook_enabled is False
        assert sending.get_delivery(uow, second.id).status == "failed"
    [(kind, _, alert)] = db.emitted()
    assert (kind, alert["reason"]) == ("coordinator_alert", "webhook_disabled")
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            sending.resend_delivery(ResendDelivery(first.id), uow)
    assert refused.value.details["field"] == "webhook_url"


def test_deliveries_are_found_by_rollout_status_kind_and_city(db):
    for rollout_id, city in ((7, "pontianak"), (8, "medan"), (9, "surabaya")):
        with db.unit_of_work() as uow:
            deliveries.queue_participant_list(uow, heard(events.REGISTRATION_CLOSED, city, rollout_id=rollout_id,
                                                         participant_count=0))
    with db.read() as uow:
        assert len(sending.due_deliveries(uow, cities=rules.served_cities("pontianak,medan"))) == 2
        assert len(sending.due_deliveries(uow, cities=rules.served_cities("*"))) == 3
        assert [d.rollout_id for d in sending.find_deliveries(uow, city="medan", status="queued").items] == [8]
        assert sending.find_deliveries(uow, kind="digest").items == []
    with pytest.raises(InvalidInput) as refused:
        validated(DeliveryQuery(), {"status": "lost"})
    assert "status" in refused.value.details["fields"]


def test_a_redelivered_registration_is_recorded_once():
    uow = FakeNotificationUnitOfWork()
    payload = events.PARTICIPANT_REGISTERED.create("pontianak", rollout_id=7, participant_id=1,
                                                   participant_code="PON-1", session_key="workshop",
                                                   category="educator", minor=False)
    handlers = {events.PARTICIPANT_REGISTERED: batched(deliveries.record_registrations)}
    dispatch(uow, handlers, [(events.PARTICIPANT_REGISTERED, payload), (events.PARTICIPANT_REGISTERED, payload)])
    assert [c.participant_id for c in uow.changes.rows] == [1]


def test_a_batch_of_mixed_changes_is_recorded_in_the_order_heard_and_once(db):
    """The service's own handlers write each run of one kind at once; a digest still reads them as heard."""
    with_committee(db, **MAIL_ONLY)
    [consumer] = NotificationService.handle_events.nameko_entrypoints
    fields = {"rollout_id": 7, "session_key": "workshop"}

    def said(event, participant_id, **extra):
        return event, event.create("pontianak", participant_id=participant_id, participant_code=f"PON-{participant_id}",
                                   **fields, **extra)

    registered = {"category": "educator", "minor": False}
    batch = [said(events.PARTICIPANT_REGISTERED, 1, **registered), said(events.PARTICIPANT_REGISTERED, 2, **registered),
             said(events.PARTICIPANT_UPDATED, 1, category="educator", changed=["organisation"]),
             said(events.PARTICIPANT_CANCELLED, 2), said(events.PARTICIPANT_REGISTERED, 3, status="waitlisted",
                                                         **registered),
             said(events.PARTICIPANT_PROMOTED, 3), said(events.PARTICIPANT_CANCELLED, 1)]
    for _ in range(2):  # the second time a redelivery: nothing new
        with db.unit_of_work() as uow:
            dispatch(uow, consumer.handlers, batch)
    [digest] = digests(db, window=0)
    assert [(c["participant_id"], c["change"]) for c in digest.content["changes"]] == [
        (1, "cancelled"), (2, "cancelled"), (3, "promoted")]
    with db.unit_of_work() as uow:
        heard_in_order = [tuple(row) for row in uow.changes.of_participants(7)]
    assert heard_in_order == [(1, "registered"), (2, "registered"), (1, "updated"), (2, "cancelled"),
                              (3, "waitlisted"), (3, "promoted"), (1, "cancelled")]
