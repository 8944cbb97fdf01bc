"""Notification's pure rules: retry policy, digest windows, what a list holds, delivery identities."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from services.notification import rules

NOW = datetime(2019, 5, 1, 12, 0, tzinfo=timezone.utc)
LISTING = {"participants": [
    {"participant_id": p, "code": f"PON-{p}", "full_name": f"Peserta {p}", "category": "SKPD",
     "organisation": "Dinas", "session": "Workshop", "day": 1 if p < 3 else 2, "email": "leak@x", "age_band": "16-18"}
    for p in (1, 2, 3)]}


def test_retries_wait_twice_as_long_each_time_up_to_the_cap():
    policy = rules.Policy(backoff=2, backoff_cap=10, max_attempts=5)
    assert [policy.wait_after(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert not policy.gives_up_after(4) and policy.gives_up_after(5)


def test_the_policy_is_read_from_the_settings_with_defaults():
    policy = rules.Policy.from_config({"DIGEST_WINDOW": "5", "DELIVERY_MAX_ATTEMPTS": "3", "DELIVERY_BACKOFF": ""})
    assert (policy.digest_window, policy.max_attempts, policy.backoff) == (5.0, 3, 2.0)


def test_a_digest_window_closes_its_length_after_the_oldest_change_naive_times_read_as_utc():
    policy = rules.Policy(digest_window=600)
    assert not policy.window_closed(NOW - timedelta(seconds=599), NOW)
    assert policy.window_closed(NOW - timedelta(seconds=600), NOW)
    assert policy.window_closed((NOW - timedelta(seconds=601)).replace(tzinfo=None), NOW)


def test_served_cities_read_the_city_setting():
    assert rules.served_cities("*") is None and rules.served_cities(None) is None
    assert rules.served_cities("pontianak, medan,") == ["pontianak", "medan"]


def test_a_delivery_is_named_by_what_it_covers_and_a_resend_is_a_new_message():
    assert rules.delivery_key("digest", 7, "41", "webhook") == "digest.7.41.webhook"
    assert rules.delivery_key("participant_list", 7, None, "mail") == "participant_list.7.mail"
    delivery = SimpleNamespace(key="digest.7.41.mail", resends=0)
    assert rules.message_id(delivery) == "<digest.7.41.mail@internet-aman.campaign>"
    delivery.resends = 2
    assert rules.idempotency_key(delivery) == "digest.7.41.mail.r2"


def test_a_digest_row_keeps_a_new_person_new_and_otherwise_says_the_last_change():
    changes = [SimpleNamespace(participant_id=p, participant_code=f"PON-{p}", change=c)
               for p, c in ((1, "registered"), (1, "updated"), (2, "updated"), (2, "cancelled"), (3, "waitlisted"),
                            (3, "updated"))]
    assert [(r["participant_id"], r["change"]) for r in rules.collapse(changes)] == [
        (1, "registered"), (2, "cancelled"), (3, "waitlisted")]


def test_the_latest_word_decides_who_is_inactive():
    said = [(1, "registered"), (1, "cancelled"), (2, "waitlisted"), (2, "promoted"), (2, "updated"),
            (3, "registered"), (3, "updated"), (4, "waitlisted")]
    assert rules.inactive(said) == {1, 4}


def test_lists_hold_only_the_committee_columns_and_only_the_active_people_of_the_day():
    final = SimpleNamespace(kind="final_list", content={"day": 1})
    rows = rules.list_rows(final, LISTING, inactive_ids={2})
    assert [r["participant_id"] for r in rows] == [1]
    assert set(rows[0]) == set(rules.LIST_COLUMNS) | {"participant_id"}
    whole = SimpleNamespace(kind="participant_list", content={})
    assert [r["participant_id"] for r in rules.list_rows(whole, LISTING, {2})] == [1, 3]
    assert rules.list_rows(SimpleNamespace(kind="agenda", content={}), LISTING) == []


def test_a_digest_lists_its_changes_even_for_someone_registration_no_longer_lists():
    digest = SimpleNamespace(kind="digest", content={"changes": [
        {"participant_id": 1, "participant_code": "PON-1", "change": "registered"},
        {"participant_id": 9, "participant_code": "PON-9", "change": "cancelled"}]})
    rows = rules.list_rows(digest, LISTING)
    assert [(r["code"], r["full_name"], r["change"]) for r in rows] == [
        ("PON-1", "Peserta 1", "registered"), ("PON-9", "", "cancelled")]

