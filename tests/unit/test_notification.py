"""Committee mail, and a delivery's life: due, claimed, sent or retried, acknowledged, resent, audited."""
import csv
import email
import io
import json
import mailbox
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from sqlalchemy import select

from services.notification import audit, deliveries, mail, rules, sending
from services.notification.commands import (
    AcknowledgeDelivery,
    ClaimDelivery,
    ConfirmReceipt,
    RecordOutcome,
    ResendDelivery,
)
from services.notification.fakes import FakeNotificationUnitOfWork
from services.notification.models import Base
from services.notification.repository import NotificationUnitOfWork
from shared import events
from shared.database import OutboxMessage, Store
from shared.errors import Conflict, Forbidden, NotFound

PARTICIPANTS = [
    {"participant_id": 1, "code": "PON-ABCDEF", "full_name": "Dédé Kurniawan", "category": "SKPD",
     "organisation": "Dinas PPA, Kota Pontianak", "session": "Workshop", "day": 1},
    {"participant_id": 2, "code": "PON-GHJKLM", "full_name": "Siti Nur'aini \"Ani\"", "category": "Pelajar",
     "organisation": "", "session": "Sosialisasi", "day": 2},
    {"participant_id": 3, "code": "PON-NPQRST", "full_name": "Zoë Ñañez", "category": "LSM",
     "organisation": "ECPAT Indonesia", "session": "Workshop", "day": 1},
]
LISTING = {
    "rollout_id": 7, "city": "pontianak", "city_name": "Pontianak",
    "committee_name": "Panitia Lokal", "committee_email": "panitia@pontianak.example",
    "participants": PARTICIPANTS,
}


def as_strings(person):
    return {column: str(person[column]) for column in mail.LIST_COLUMNS}


def test_participant_csv_parses_back_to_the_same_rows():
    text = mail.participant_csv(PARTICIPANTS)

    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [as_strings(p) for p in PARTICIPANTS]
    assert "participant_id" not in text.splitlines()[0]


def test_participant_list_message():
    message = mail.participant_list_message("kampanye@example.org", LISTING, "<participant_list.7.1@x>")

    assert message["Message-ID"] == "<participant_list.7.1@x>"
    assert message["To"] == "panitia@pontianak.example"
    assert message["From"] == "kampanye@example.org"
    assert "Pontianak" in message["Subject"] and "3 peserta" in message["Subject"]
    assert "Panitia Lokal" in message.get_body().get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "peserta-pontianak.csv"
    content = attachment.get_content()
    assert list(csv.DictReader(io.StringIO(content))) == [as_strings(p) for p in PARTICIPANTS]


def test_message_survives_serialisation_with_accents_intact():
    message = mail.participant_list_message("kampanye@example.org", LISTING, "<m@x>")

    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    [attachment] = list(parsed.iter_attachments())
    assert "Zoë Ñañez" in attachment.get_content()
    assert parsed["Message-ID"] == "<m@x>"


def test_empty_list_still_has_the_header():
    assert mail.participant_csv([]) == "code,full_name,category,organisation,session,day\r\n"


def test_unsupported_channel_is_refused():
    with pytest.raises(ValueError):
        mail.send("ftp://example.org", mail.participant_list_message("a@x", LISTING, "<m@x>"))


def test_maildir_channel_files_the_message(tmp_path):
    mail.send(f"maildir://{tmp_path}/mail", mail.participant_list_message("a@x", LISTING, "<m@x>"))

    [stored] = list(mailbox.Maildir(tmp_path / "mail", create=False))
    assert stored["Message-ID"] == "<m@x>"


# --- deliveries: over the fakes and over the SQLite repositories ------------------

class Fakes:
    """Every unit of work is the same in-memory one."""

    def __init__(self):
        self.uow = FakeNotificationUnitOfWork()

    @contextmanager
    def unit_of_work(self):
        yield self.uow

    read = unit_of_work

    def emitted(self):
        return [(event.name, city, fields) for event, city, fields in self.uow.events]


class Sqlite:
    """Real repositories on a SQLite file: each unit of work commits, or rolls back on an error."""

    def __init__(self, path):
        self.store = Store(f"sqlite:///{path}", Base.metadata, consumer="notification",
                           unit_of_work=NotificationUnitOfWork)

    def unit_of_work(self):
        return self.store.unit_of_work()

    def read(self):
        return self.store.read()

    def emitted(self):
        with self.store.read() as uow:
            rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            return [(row.routing_key.split(".")[0], row.city, json.loads(row.payload)) for row in rows]


def databases(kind, tmp_path):
    """The fakes, or the SQLite repositories: what the ``db`` fixtures of these tests yield."""
    if kind == "fakes":
        yield Fakes()
        return
    database = Sqlite(tmp_path / "notification.db")
    yield database
    database.store.dispose()


@pytest.fixture(params=["fakes", "sqlite"])
def db(request, tmp_path):
    yield from databases(request.param, tmp_path)


def closed(rollout_id=7, city="pontianak"):
    return events.REGISTRATION_CLOSED.load(events.REGISTRATION_CLOSED.create(
        city, rollout_id=rollout_id, participant_count=3))


@pytest.fixture
def delivery_id(db):
    with db.unit_of_work() as uow:
        [delivery] = deliveries.queue_participant_list(uow, closed())
        assert deliveries.queue_participant_list(uow, closed()) == []  # owed once, however often asked for
    return delivery.id


def get(db, delivery_id):
    with db.read() as uow:
        return sending.get_delivery(uow, delivery_id)


def soon(seconds):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def outcome(db, delivery_id, result, detail="", recipients=(), participant_ids=(), policy=rules.DEFAULT_POLICY):
    with db.unit_of_work() as uow:
        return sending.record_outcome(RecordOutcome(delivery_id, result, detail, tuple(recipients),
                                                    tuple(participant_ids), policy), uow)


def test_a_queued_delivery_is_due_and_named_by_what_it_covers(db, delivery_id):
    with db.read() as uow:
        assert sending.due_deliveries(uow) == [delivery_id]
    delivery = get(db, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.city, delivery.channel) == ("queued", 0, "pontianak", "mail")
    assert rules.message_id(delivery) == "<participant_list.7.mail@internet-aman.campaign>"


def test_a_failure_backs_off_doubling_each_time(db, delivery_id):
    waits = []
    for attempt in range(1, 4):
        before = datetime.now(timezone.utc)
        delivery = outcome(db, delivery_id, rules.RETRY, f"refused {attempt}")
        waits.append(rules.aware(delivery.next_attempt_at) - before)
        assert (delivery.attempts, delivery.status) == (attempt, "queued")

    assert [round(w.total_seconds()) for w in waits] == [2, 4, 8]
    assert get(db, delivery_id).last_error == "refused 3"
    with db.read() as uow:
        assert sending.due_deliveries(uow) == []  # waiting, not due
        assert sending.due_deliveries(uow, soon(9)) == [delivery_id]


def test_after_the_last_try_a_delivery_is_dead_lettered_and_the_coordinator_told(db, delivery_id):
    policy = rules.Policy(max_attempts=3)
    for attempt in range(1, 4):
        delivery = outcome(db, delivery_id, rules.RETRY, "connection refused", policy=policy)
        assert (delivery.attempts, delivery.status) == (attempt, "failed" if attempt == 3 else "queued")

    with db.read() as uow:
        assert sending.due_deliveries(uow, soon(86400)) == []
        assert [a.outcome for a in sending.attempts_of(uow, delivery_id)] == ["retry", "retry", "failed"]
        [alert] = audit.alerts(uow, rollout_id=7).items
    assert alert.reason == "delivery_failed" and "after 3 attempts" in alert.message
    emitted = db.emitted()
    assert [(kind, city) for kind, city, _ in emitted] == [("delivery_dead_lettered", "pontianak"),
                                                           ("coordinator_alert", "pontianak")]
    assert emitted[0][2]["attempts"] == 3


def test_a_sent_delivery_records_each_disclosure_and_emits_without_names(db, delivery_id):
    outcome(db, delivery_id, rules.SENT, "accepted", recipients=["a@x.example", "b@x.example"],
            participant_ids=[1, 2, 3])

    delivery = get(db, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.participant_count) == ("sent", 1, 3)
    assert delivery.recipient == "a@x.example, b@x.example"
    assert delivery.message_id == rules.message_id(delivery)
    with db.read() as uow:
        seen = audit.disclosures_of(uow, 2).items
        assert sending.due_deliveries(uow, soon(86400)) == []
    assert [(d["recipient"], d["kind"], d["rollout_id"]) for d in seen] == [
        ("a@x.example", "participant_list", 7), ("b@x.example", "participant_list", 7)]
    [(kind, city, notified)] = db.emitted()
    assert (kind, notified["delivery_id"], notified["participant_count"]) == ("committee_notified", delivery_id, 3)


def test_a_due_delivery_is_claimed_by_one_process_only(db, delivery_id):
    with db.unit_of_work() as uow:
        assert sending.claim_delivery(ClaimDelivery(delivery_id, lease=60), uow).id == delivery_id
    with db.unit_of_work() as uow:
        assert sending.claim_delivery(ClaimDelivery(delivery_id, lease=60), uow) is None  # another, meanwhile
    with db.unit_of_work() as uow:
        assert sending.claim_delivery(ClaimDelivery(delivery_id, lease=60, now=soon(61)), uow) is not None


def test_acknowledging_needs_the_token_and_a_sent_delivery(db, delivery_id):
    token = get(db, delivery_id).ack_token
    with db.unit_of_work() as uow:
        with pytest.raises(Forbidden) as refused:
            sending.acknowledge_delivery(AcknowledgeDelivery(delivery_id, "guess"), uow)
    assert refused.value.details["field"] == "token"
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict):
            sending.acknowledge_delivery(AcknowledgeDelivery(delivery_id, token), uow)
    outcome(db, delivery_id, rules.SENT, recipients=["x@y.example"])
    with db.unit_of_work() as uow:
        assert sending.acknowledge_delivery(AcknowledgeDelivery(delivery_id, token), uow).status == "acknowledged"
    with db.unit_of_work() as uow:
        with pytest.raises(NotFound):
            sending.acknowledge_delivery(AcknowledgeDelivery(999, token), uow)


def test_a_committee_member_signed_in_confirms_receipt_of_their_citys_delivery_only(db, delivery_id):
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict):
            sending.confirm_receipt(ConfirmReceipt(delivery_id, ("pontianak",)), uow)  # not sent yet
    outcome(db, delivery_id, rules.SENT, recipients=["x@y.example"])
    with db.unit_of_work() as uow:
        with pytest.raises(NotFound):  # Medan's member: another city's delivery is not there
            sending.confirm_receipt(ConfirmReceipt(delivery_id, ("medan",)), uow)
    assert get(db, delivery_id).status == "sent"
    with db.unit_of_work() as uow:
        confirmed = sending.confirm_receipt(ConfirmReceipt(delivery_id, ("pontianak",)), uow)
    assert confirmed.status == "acknowledged" and confirmed.acknowledged_at is not None


def test_a_resend_is_a_new_message_with_fresh_tries_and_a_new_token(db, delivery_id):
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict):
            sending.resend_delivery(ResendDelivery(delivery_id), uow)  # still queued
    outcome(db, delivery_id, rules.SENT, recipients=["x@y.example"])
    first = get(db, delivery_id)
    first_id, first_token = rules.message_id(first), first.ack_token
    with db.unit_of_work() as uow:
        again = sending.resend_delivery(ResendDelivery(delivery_id), uow)
    assert (again.status, again.attempts, again.resends) == ("queued", 0, 1)
    assert rules.message_id(again) != first_id and rules.message_id(again).startswith("<participant_list.7.mail.r1@")
    assert again.ack_token != first_token


def test_outgoing_lists_go_to_the_committees_addresses_or_else_registrations(db, delivery_id):
    listing = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "committee_email": "reg@x.example",
               "participants": [{"participant_id": 1, "code": "PON-1", "full_name": "Dédé", "day": 1}]}
    with db.read() as uow:
        going = sending.outgoing(uow, get(db, delivery_id), listing)
    assert going.recipients == ("reg@x.example",)
    assert going.participant_ids == (1,) and going.idempotency_key == "participant_list.7.mail"
