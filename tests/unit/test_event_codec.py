"""The fast event codec answers exactly as the schemas do: the same loaded values, the same refusals."""
import uuid
from datetime import date

import pytest
from marshmallow import ValidationError

from shared import event_codec, events

REGISTERED = dict(rollout_id=1, participant_id=2, participant_code="PON-ABC", session_key="workshop",
                  category="lsm", minor=False, sex="F", age_band=None, status="waitlisted")


def outcome(load, payload):
    try:
        return ("loaded", load(payload))
    except ValidationError as exc:
        return ("refused", exc.messages)


def test_flat_events_have_a_fast_codec_and_nested_ones_keep_the_schema():
    assert event_codec.codec(events.PARTICIPANT_REGISTERED) is not None
    assert event_codec.codec(events.PARTICIPANT_CHECKED_IN) is not None
    assert event_codec.codec(events.TEST_SCORED) is None  # topics are nested
    assert event_codec.codec(events.ROLLOUT_UPDATED) is None  # a list


@pytest.mark.parametrize("change", [
    {}, {"sex": None}, {"status": "cancelled"}, {"rollout_id": "7"}, {"rollout_id": True}, {"minor": "true"},
    {"minor": None}, {"city": "Pontianak"}, {"event_id": "not-a-uuid"}, {"occurred_at": "2026-11-30T10:00:00"},
    {"occurred_at": "yesterday"}, {"participant_code": 5}, {"extra": "ignored"}, {"age_band": "13-15"},
])
def test_a_payload_loads_as_the_schema_loads_it(change):
    payload = {**events.PARTICIPANT_REGISTERED.create("pontianak", **REGISTERED), **change}
    assert outcome(lambda p: event_codec.load(events.PARTICIPANT_REGISTERED, p), payload) == outcome(
        events.PARTICIPANT_REGISTERED.load, payload)


@pytest.mark.parametrize("missing", ["category", "status", "sex", "event_id"])
def test_a_payload_missing_a_field_loads_or_is_refused_as_the_schema_decides(missing):
    payload = {k: v for k, v in events.PARTICIPANT_REGISTERED.create("pontianak", **REGISTERED).items() if k != missing}
    assert outcome(lambda p: event_codec.load(events.PARTICIPANT_REGISTERED, p), payload) == outcome(
        events.PARTICIPANT_REGISTERED.load, payload)


def test_payloads_made_in_bulk_are_what_create_makes_and_load_back():
    occurrences = [("pontianak", {**REGISTERED, "participant_id": i}) for i in range(3)]

    made = event_codec.create_many(events.PARTICIPANT_REGISTERED, occurrences)

    reference = events.PARTICIPANT_REGISTERED.create("pontianak", **REGISTERED)
    assert [set(p) for p in made] == [set(reference)] * 3
    for payload, (_, given) in zip(made, occurrences):
        loaded = events.PARTICIPANT_REGISTERED.load(payload)
        assert isinstance(loaded["event_id"], uuid.UUID) and loaded["occurred_at"].tzinfo is not None
        assert {k: loaded[k] for k in given} == given
    assert len({p["event_id"] for p in made}) == 3


def test_a_bad_occurrence_in_bulk_is_refused_by_the_schema_itself():
    with pytest.raises(ValidationError) as refused:
        event_codec.create_many(events.PARTICIPANT_REGISTERED,
                                [("pontianak", REGISTERED), ("pontianak", {**REGISTERED, "status": "lost"})])
    assert "status" in refused.value.messages
    with pytest.raises(ValidationError):
        event_codec.create_many(events.PARTICIPANT_REGISTERED, [("Not A Slug", REGISTERED)])


def test_values_a_producer_passes_typed_go_through_the_schema_and_come_out_the_same():
    gap = dict(rollout_id=1, session_key="workshop", category="lsm", minimum=3, registered=1,
               session_date=date(2019, 5, 2))
    [made] = event_codec.create_many(events.TARGET_GAP, [("pontianak", gap)])
    assert made["session_date"] == "2019-05-02"
    assert event_codec.load(events.TARGET_GAP, made) == events.TARGET_GAP.load(made)
