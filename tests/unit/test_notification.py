import csv
import email
import io
import json
import mailbox
from datetime import datetime, timedelta
from email import policy

import pytest
from sqlalchemy import select

from services.notification import domain, mail
from services.notification.models import Base, Delivery, DisclosureRecord
from shared import events
from shared.database import OutboxMessage

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


# --- deliveries -------------------------------------------------------------

@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="notification")


@pytest.fixture
def delivery_id(store):
    closed = events.REGISTRATION_CLOSED.load(
        events.REGISTRATION_CLOSED.create("pontianak", rollout_id=7, participant_count=3))
    with store.unit_of_work() as uow:
        domain.queue_participant_list(uow, closed)
        domain.queue_participant_list(uow, closed)  # owed once, however often it is asked for
    with store.read() as session:
        [delivery] = session.scalars(select(Delivery)).all()
    return delivery.id


def get(store, delivery_id):
    with store.read() as session:
        return session.get(Delivery, delivery_id)


def test_queued_delivery_is_due(store, delivery_id):
    with store.read() as session:
        assert [d.id for d in domain.due_deliveries(session)] == [delivery_id]
    delivery = get(store, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.city) == ("queued", 0, "pontianak")
    assert domain.message_id(delivery) == "<participant_list.7.mail@internet-aman.campaign>"


def test_failure_backs_off_doubling_each_time(store, delivery_id):
    waits = []
    for attempt in range(1, 4):
        before = datetime.now().astimezone()
        with store.unit_of_work() as uow:
            delivery = domain.record_failure(uow, delivery_id, f"refused {attempt}")
        waits.append(delivery.next_attempt_at - before)
        assert (delivery.attempts, delivery.status) == (attempt, "queued")

    assert [round(w.total_seconds()) for w in waits] == [2, 4, 8]
    assert get(store, delivery_id).last_error == "refused 3"
    with store.read() as session:
        assert domain.due_deliveries(session) == []  # waiting, not due
        later = datetime.now().astimezone() + timedelta(seconds=9)
        assert [d.id for d in domain.due_deliveries(session, later)] == [delivery_id]


def test_failure_marks_failed_after_max_attempts(store, delivery_id):
    policy = domain.Policy()
    for attempt in range(1, policy.max_attempts + 1):
        with store.unit_of_work() as uow:
            delivery = domain.record_failure(uow, delivery_id, "connection refused", policy)
        expected = "failed" if attempt == policy.max_attempts else "queued"
        assert (delivery.attempts, delivery.status) == (attempt, expected)

    with store.read() as session:
        far_future = datetime.now().astimezone() + timedelta(days=1)
        assert domain.due_deliveries(session, far_future) == []
        assert len(domain.attempts_of(session, delivery_id)) == policy.max_attempts
        routing_keys = [row.routing_key for row in session.scalars(select(OutboxMessage))]
    # The failed delivery goes to the dead-letter queue and the coordinator is told.
    assert routing_keys == ["delivery_dead_lettered.pontianak", "coordinator_alert.pontianak"]


def test_sent_delivery_records_each_disclosure_and_emits(store, delivery_id):
    with store.unit_of_work() as uow:
        domain.record_sent(uow, delivery_id, [LISTING["committee_email"]], PARTICIPANTS)

    delivery = get(store, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.participant_count) == ("sent", 1, 3)
    assert delivery.recipient == "panitia@pontianak.example"
    with store.read() as session:
        assert [d.participant_id for d, _ in domain.disclosures_of(session, 2)] == [2]
        assert len(session.scalars(select(DisclosureRecord)).all()) == 3
        [row] = session.scalars(select(OutboxMessage)).all()
        assert domain.due_deliveries(session, datetime.now().astimezone() + timedelta(days=1)) == []
    assert row.routing_key == "committee_notified.pontianak"
    notified = events.COMMITTEE_NOTIFIED.load(json.loads(row.payload))
    assert (notified["rollout_id"], notified["delivery_id"], notified["participant_count"]) == (7, delivery_id, 3)
    assert "Dédé" not in row.payload
