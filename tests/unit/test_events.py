import uuid
from datetime import date, datetime

import pytest
from marshmallow import ValidationError

from shared import events


def registration_closed(city="pontianak", **overrides):
    fields = {"rollout_id": 7, "participant_count": 42, **overrides}
    return events.REGISTRATION_CLOSED.create(city, **fields)


def test_create_adds_the_envelope_fields():
    payload = registration_closed()

    assert payload["schema_version"] == 1
    assert uuid.UUID(payload["event_id"])
    assert datetime.fromisoformat(payload["occurred_at"]).tzinfo is not None
    assert payload["city"] == "pontianak"
    assert payload["rollout_id"] == 7
    assert payload["participant_count"] == 42


def test_every_payload_gets_its_own_event_id():
    assert registration_closed()["event_id"] != registration_closed()["event_id"]


def test_payload_round_trips_through_load():
    loaded = events.REGISTRATION_CLOSED.load(registration_closed())

    assert isinstance(loaded["event_id"], uuid.UUID)
    assert loaded["occurred_at"].tzinfo is not None
    assert loaded["participant_count"] == 42


def test_domain_event_goes_to_its_source_exchange_keyed_by_name_and_city():
    event = events.PARTICIPANT_REGISTERED

    assert event.exchange == "registration.events"
    assert event.routing_key("pontianak") == "participant_registered.pontianak"
    assert events.TEST_SCORED.exchange == "assessment.events"
    assert events.TEST_SCORED.routing_key("kota-baru") == "test_scored.kota-baru"


def test_public_summary_goes_to_the_summaries_exchange():
    assert events.PARTICIPANTS_SUMMARY.exchange == "campaign.summaries"
    assert events.PARTICIPANTS_SUMMARY.routing_key("pontianak") == "summary.participants.pontianak"
    assert events.TESTS_SUMMARY.exchange == events.SUMMARY_EXCHANGE
    assert events.TESTS_SUMMARY.routing_key("national") == "summary.tests.national"


def test_catalogue_names_are_unique():
    names = [(e.source, e.name) for e in events.CATALOGUE]
    assert len(names) == len(set(names))


def test_missing_field_is_refused_and_named():
    with pytest.raises(ValidationError) as raised:
        events.REGISTRATION_CLOSED.create("pontianak", rollout_id=7)

    assert "participant_count" in raised.value.messages


def test_city_must_be_a_slug():
    with pytest.raises(ValidationError) as raised:
        registration_closed(city="Pontianak")

    assert "city" in raised.value.messages


def test_wrong_phase_is_refused():
    with pytest.raises(ValidationError) as raised:
        events.TEST_SCORED.create(
            "pontianak", rollout_id=1, submission_id=1, instrument_id=1, session_key="workshop",
            participant_code="PON-ABCDEF", phase="during", score=1, max_score=2, passed=False, topics=[],
        )

    assert "phase" in raised.value.messages


def test_dates_are_serialised_and_loaded_back():
    payload = events.ROLLOUT_LAUNCHED.create(
        "pontianak", rollout_id=1, program="Internet Aman untuk Anak", city_name="Pontianak",
        starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3),
        sessions=[{"key": "workshop", "day": 1, "date": date(2019, 5, 2), "title": "Workshop",
                   "audience": "activists", "topics": []}],
    )

    assert payload["starts_on"] == "2019-05-02"
    assert payload["sessions"][0]["date"] == "2019-05-02"
    loaded = events.ROLLOUT_LAUNCHED.load(payload)
    assert loaded["ends_on"] == date(2019, 5, 3)
    assert loaded["province"] is None


def test_consumer_ignores_fields_it_does_not_know():
    payload = {**registration_closed(), "added_later": "x"}

    assert "added_later" not in events.REGISTRATION_CLOSED.load(payload)
