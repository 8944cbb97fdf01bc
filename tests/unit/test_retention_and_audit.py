"""Retention and the audit of personal data, through the handlers, against in-memory repositories."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from services.notification import deliveries, sending
from services.notification import retention as notification_retention
from services.notification.commands import ResendDelivery
from services.notification.fakes import FakeNotificationUnitOfWork
from services.registration import audit, import_jobs, participants, retention, rollouts
from services.registration.commands import (
    CompleteRollout,
    ListAudit,
    ListParticipants,
    PurgePersonalData,
    ShowParticipant,
    StartRollout,
    SubmitImport,
)
from services.registration.fakes import FakeRegistrationUnitOfWork
from shared import events
from shared.errors import Conflict
from shared.pagination import Page
from tests.unit.test_notification import closed, databases
from tests.unit.test_notification_digests import MAIL_ONLY, with_committee
from tests.unit.test_registration import ADULT, CHILD, emitted, launched, register

NOW = datetime(2021, 6, 1, 12, tzinfo=timezone.utc)


@pytest.fixture
def uow():
    return FakeRegistrationUnitOfWork()


def completed(uow, days_ago):
    rollout = launched(uow)
    adult, child = register(uow, rollout.id, ADULT), register(uow, rollout.id, CHILD)
    rollouts.start_rollout(StartRollout(rollout.id), uow)
    rollouts.complete_rollout(CompleteRollout(rollout.id), uow)
    rollout.completed_at = NOW - timedelta(days=days_ago)
    return rollout, adult, child


def test_a_rollout_completed_a_year_ago_loses_names_contacts_and_consent_but_keeps_codes(uow):
    rollout, adult, child = completed(uow, days_ago=366)
    codes = (adult.code, child.code)

    purges = retention.purge_personal_data(PurgePersonalData(NOW, 365, actor="retention"), uow)

    assert [(p.rollout_id, p.participants) for p in purges] == [(rollout.id, 2)]
    for person in (adult, child):
        assert (person.full_name, person.organisation, person.email, person.phone) == ("", None, None, None)
        assert (person.consent_by, person.consent_at) == (None, None)
        assert "Umi" not in person.person_key and "Siti" not in person.person_key
    assert (adult.code, child.code) == codes
    assert (adult.category, child.age_band, child.status) == ("educator", "13-15", "registered")
    assert rollout.purged_at == NOW
    (entry,) = audit.list_audit(ListAudit(), uow).items
    assert (entry.action, entry.rollout_id, entry.rows, entry.actor, entry.at) == ("purged", rollout.id, 2,
                                                                                   "retention", NOW)
    ((city, fields),) = emitted(uow, events.PERSONAL_DATA_PURGED)
    assert (city, fields["rollout_id"], fields["participants"]) == ("pontianak", rollout.id, 2)


def test_a_participant_file_no_import_got_to_goes_with_the_rest(uow):
    rollout = launched(uow)
    job = import_jobs.submit_import(SubmitImport(rollout.id, b"full_name,category\nUmi Farida,educator\n"), uow)
    rollouts.start_rollout(StartRollout(rollout.id), uow)
    rollouts.complete_rollout(CompleteRollout(rollout.id), uow)

    retention.purge_personal_data(PurgePersonalData(datetime.now(timezone.utc), 0), uow)

    assert job.file == b"" and job.status == "queued"


def test_a_rollout_still_within_its_retention_and_a_purged_one_are_left_alone(uow):
    _, recent, _ = completed(uow, days_ago=364)
    old, _, _ = completed(uow, days_ago=400)
    retention.purge_personal_data(PurgePersonalData(NOW, 365), uow)

    again = retention.purge_personal_data(PurgePersonalData(NOW + timedelta(hours=1), 365), uow)

    assert again == [] and recent.full_name == "Umi Farida"
    assert [e.rollout_id for e in uow.audit.entries] == [old.id]


def test_a_rollout_completed_before_completion_was_recorded_counts_from_its_last_day(uow):
    rollout, adult, _ = completed(uow, days_ago=0)
    rollout.completed_at = None
    until = retention.kept_until(rollout, 365)
    assert until.date() == rollout.ends_on + timedelta(days=365)
    assert retention.purge_personal_data(PurgePersonalData(until - timedelta(seconds=1), 365), uow) == []
    assert retention.purge_personal_data(PurgePersonalData(until, 365), uow)[0].participants == 2


def test_a_dry_run_names_what_would_go_and_changes_nothing(uow):
    rollout, adult, _ = completed(uow, days_ago=366)

    purges = retention.purge_personal_data(PurgePersonalData(NOW, 365, dry_run=True), uow)

    assert [(p.rollout_id, p.participants) for p in purges] == [(rollout.id, 2)]
    assert adult.full_name == "Umi Farida" and rollout.purged_at is None
    assert uow.audit.entries == [] and emitted(uow, events.PERSONAL_DATA_PURGED) == []


def test_completing_a_rollout_records_when_so_its_retention_can_count_from_then(uow):
    rollout = launched(uow)
    rollouts.start_rollout(StartRollout(rollout.id), uow)
    before = datetime.now(timezone.utc)
    rollouts.complete_rollout(CompleteRollout(rollout.id), uow)
    assert before <= rollout.completed_at <= datetime.now(timezone.utc)


def test_listing_and_showing_participants_is_audited_with_who_and_how_many(uow):
    rollout = launched(uow)
    adult = register(uow, rollout.id, ADULT)
    register(uow, rollout.id, CHILD)

    participants.list_participants(ListParticipants(rollout.id, actor="budi"), uow)
    participants.show_participant(ShowParticipant(rollout.id, adult.id, actor="sari"), uow)

    shown, listed = audit.list_audit(ListAudit(rollout_id=rollout.id), uow).items  # newest first
    assert (listed.action, listed.actor, listed.rows, listed.city) == ("listed", "budi", 2, "pontianak")
    assert (shown.action, shown.actor, shown.rows) == ("shown", "sari", 1)
    assert audit.list_audit(ListAudit(cities=("medan",)), uow).items == []
    assert len(audit.list_audit(ListAudit(cities=("pontianak",)), uow).items) == 2


def test_notification_drops_the_committees_names_and_addresses_and_keeps_who_received_what():
    uow = FakeNotificationUnitOfWork()
    uow.committees.put(7, city="pontianak", name="Panitia Lokal", emails=["ketua@pontianak.example"],
                       webhook_url="https://panitia.example/hook", webhook_secret="s", webhook_enabled=True)
    delivery = uow.deliveries.add(rollout_id=7, city="pontianak", kind="final_list", key="final_list:7:mail",
                                  recipient="ketua@pontianak.example", ack_token="t")
    uow.disclosures.add_many([{"delivery_id": delivery.id, "participant_id": 1,
                               "recipient": "ketua@pontianak.example", "channel": "mail"}])
    purged = events.PERSONAL_DATA_PURGED.load(events.PERSONAL_DATA_PURGED.create("pontianak", rollout_id=7,
                                                                                 participants=2))

    assert notification_retention.purge_committee(uow, purged) == 1

    committee = uow.committees.get(7)
    assert (committee.name, committee.emails, committee.webhook_url, committee.webhook_secret) == (None, [], None,
                                                                                                   None)
    assert committee.channels() == []
    (purge,) = uow.purges.list(7)
    assert (purge.rollout_id, purge.city, purge.rows) == (7, "pontianak", 1)
    assert [(r.recipient, d.kind) for r, d in uow.disclosures.of_participant(1, page=Page()).items] == [
        ("ketua@pontianak.example", "final_list")]
    assert "Umi" not in json.dumps(purged, default=str)


@pytest.fixture(params=["fakes", "sqlite"])
def notification_db(request, tmp_path):
    yield from databases(request.param, tmp_path)


def test_notification_drops_the_committee_from_the_audit_of_its_changes_and_their_notices_too(notification_db):
    db = notification_db
    with_committee(db, name="Ratna Sari", **MAIL_ONLY)
    with_committee(db, name="Ratna Sari", emails=["sekretariat@pontianak.example"], **MAIL_ONLY)  # a notice
    with db.unit_of_work() as uow:
        deliveries.queue_participant_list(uow, closed())
    purged = events.PERSONAL_DATA_PURGED.load(events.PERSONAL_DATA_PURGED.create("pontianak", rollout_id=7,
                                                                                 participants=2))
    with db.unit_of_work() as uow:
        notification_retention.purge_committee(uow, purged)

    with db.read() as uow:
        changes = [(c.changed_by, c.before, c.after, c.redirects)
                   for c in uow.committee_changes.of_rollout(7, page=Page()).items]
        sent = [(d.kind, d.status, d.last_error, d.content)
                for d in uow.deliveries.find(rollout_id=7, page=Page()).items]
    kept = json.dumps([changes, sent], default=str)
    assert "Ratna" not in kept and "@" not in kept  # no name, no address
    assert [(by, after["list_format"], redirects) for by, _, after, redirects in changes] == [
        ("budi", "xlsx", False), ("budi", "xlsx", True)]  # who changed what, when, stays
    notice = next(content for kind, _, _, content in sent if kind == "committee_changed")
    assert set(notice) == {"changed_by", "changed_at"}
    # What was still queued is not sent any more, nor sent again.
    assert {(status, error) for _, status, error, _ in sent} == {("failed", notification_retention.PURGED)}
    with db.unit_of_work() as uow:
        with pytest.raises(Conflict) as refused:
            sending.resend_delivery(ResendDelivery(uow.deliveries.find(rollout_id=7, page=Page()).items[0].id), uow)
    assert "purged" in refused.value.message
