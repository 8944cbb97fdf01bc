"""Participants through their handlers, against in-memory repositories.

Registration, waitlist, duplicates and returning participants, corrections,
check-in, minors.
"""
import json
from datetime import datetime, timezone

import pytest

from services.registration import participants, rollouts
from services.registration.commands import (
    CancelParticipant,
    CheckInParticipant,
    CloneRollout,
    EditParticipant,
    EditRollout,
    LaunchRollout,
    ListParticipants,
    ShowParticipant,
)
from services.registration.fakes import FakeRegistrationUnitOfWork
from services.registration.schemas import ParticipantEdit
from shared import events
from shared.commands import validated
from shared.errors import Conflict, InvalidInput, NotFound
from tests.unit.test_registration import ADULT, CHILD, ROLLOUT, emitted, launched, planned, register


@pytest.fixture
def uow():
    return FakeRegistrationUnitOfWork()


def student(name, school="SMP Negeri 1"):
    return {"full_name": name, "category": "student", "organisation": school,
            "age_band": "13-15", "consent_by": "school"}


def test_an_adult_and_a_child_are_registered_to_their_sessions_and_announced_by_code(uow):
    rollout = launched(uow)
    adult = register(uow, rollout.id, ADULT)
    child = register(uow, rollout.id, CHILD)

    assert (adult.minor, adult.session.key, adult.consent_at, adult.status) == (False, "workshop", None, "registered")
    assert (child.minor, child.session.key) == (True, "socialisation")
    assert child.consent_at is not None  # now, when not given
    assert adult.code.startswith("PON-") and len(adult.code) == 10 and adult.code != child.code
    announced = emitted(uow, events.PARTICIPANT_REGISTERED)
    assert [(f["participant_id"], f["minor"]) for _, f in announced] == [(adult.id, False), (child.id, True)]
    assert all("Umi" not in json.dumps(f, default=str) and "Siti" not in json.dumps(f, default=str)
               for _, f in announced)


def test_a_draft_rollout_takes_no_registrations(uow):
    rollout = planned(uow)
    with pytest.raises(Conflict) as raised:
        register(uow, rollout.id, ADULT)
    assert raised.value.details["field"] == "rollout_id"


def test_a_category_without_a_session_is_refused_naming_the_field(uow):
    rollout = launched(uow, {**ROLLOUT, "sessions": ROLLOUT["sessions"][:1]})
    with pytest.raises(InvalidInput) as raised:
        register(uow, rollout.id, CHILD)
    assert "category" in raised.value.details["fields"]
    assert uow.participants.of_rollout(rollout.id) == []


def test_a_minor_keeps_who_consented_and_when(uow):
    rollout = launched(uow)
    child = register(uow, rollout.id, {**student("Siti"), "consent_by": "guardian",
                                       "consent_at": "2019-04-20T09:00:00+07:00"})
    assert (child.consent_by, child.consent_at.isoformat()) == ("guardian", "2019-04-20T09:00:00+07:00")
    assert "Siti" not in child.code


# --- waitlist --------------------------------------------------------------------

def test_a_full_session_waitlists_and_a_cancellation_promotes_the_first(uow):
    rollout = launched(uow, socialisation={"capacity": 2})
    people = [register(uow, rollout.id, student(n)) for n in ("Ani", "Budi", "Cici", "Dodi")]
    assert [p.status for p in people] == ["registered", "registered", "waitlisted", "waitlisted"]
    assert [f["status"] for _, f in emitted(uow, events.PARTICIPANT_REGISTERED)] == [
        "registered", "registered", "waitlisted", "waitlisted"]

    participants.cancel_participant(CancelParticipant(rollout.id, people[0].id), uow)

    assert [f["participant_id"] for _, f in emitted(uow, events.PARTICIPANT_CANCELLED)] == [people[0].id]
    assert [f["participant_id"] for _, f in emitted(uow, events.PARTICIPANT_PROMOTED)] == [people[2].id]
    assert [p.status for p in participants.list_participants(ListParticipants(rollout.id), uow).items] == [
        "cancelled", "registered", "registered", "waitlisted"]


def test_a_category_at_its_maximum_waitlists(uow):
    rollout = launched(uow, workshop={"quotas": [{"category": "lsm", "minimum": 0, "maximum": 1}]})
    statuses = [register(uow, rollout.id, p).status for p in (
        {"full_name": "Rina", "category": "lsm"}, {"full_name": "Rudi", "category": "lsm"},
        {"full_name": "Umi", "category": "educator"})]
    assert statuses == ["registered", "waitlisted", "registered"]


def test_raising_the_capacity_promotes_the_waitlist(uow):
    rollout = launched(uow, socialisation={"capacity": 1})
    register(uow, rollout.id, student("Ani"))
    waiting = register(uow, rollout.id, student("Budi"))

    rollouts.edit_rollout(EditRollout(rollout.id, {}, ({"key": "socialisation", "capacity": 5},)), uow)

    assert waiting.status == "registered"
    assert [f["participant_id"] for _, f in emitted(uow, events.PARTICIPANT_PROMOTED)] == [waiting.id]


def test_cancelling_twice_is_a_conflict(uow):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    participants.cancel_participant(CancelParticipant(rollout.id, ani.id), uow)
    with pytest.raises(Conflict):
        participants.cancel_participant(CancelParticipant(rollout.id, ani.id), uow)


def test_a_participant_of_another_rollout_is_not_found_in_this_one(uow):
    pontianak = launched(uow)
    medan = launched(uow, {**ROLLOUT, "city_name": "Medan"})
    ani = register(uow, pontianak.id, student("Ani"))
    with pytest.raises(NotFound) as raised:
        participants.show_participant(ShowParticipant(medan.id, ani.id), uow)
    assert raised.value.details["field"] == "participant_id"


# --- duplicates and returning participants ---------------------------------------

@pytest.mark.parametrize("again", [
    student("Dédé  Kurniawan", "SMP Negeri 1"),
    student("dede kurniawan", "smp  negeri 1"),
    student(" DEDE KURNIAWAN ", "SMP NEGERI 1"),
])
def test_the_same_person_twice_in_a_rollout_is_refused_with_the_existing_id(uow, again):
    rollout = launched(uow)
    first = register(uow, rollout.id, student("Dede Kurniawan", "SMP Negeri 1"))
    with pytest.raises(Conflict) as raised:
        register(uow, rollout.id, again)
    assert raised.value.details["existing_participant_id"] == first.id
    assert raised.value.details["field"] == "full_name"
    assert len(emitted(uow, events.PARTICIPANT_REGISTERED)) == 1


def test_the_same_name_at_another_school_is_another_person(uow):
    rollout = launched(uow)
    register(uow, rollout.id, student("Dede Kurniawan", "SMP Negeri 1"))
    assert register(uow, rollout.id, student("Dede Kurniawan", "SMP Negeri 3")).status == "registered"


def test_a_cancelled_person_may_register_again(uow):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    participants.cancel_participant(CancelParticipant(rollout.id, ani.id), uow)
    assert register(uow, rollout.id, student("Ani")).status == "registered"


def later_in_the_same_city(uow, earlier, starts_on="2020-05-02"):
    later = rollouts.clone_rollout(CloneRollout(template_id=earlier.id, city_name=earlier.city_name,
                                                province=earlier.province, venue=earlier.venue,
                                                starts_on=datetime.fromisoformat(starts_on).date(),
                                                committee_email="panitia@pontianak.example"), uow)
    return rollouts.launch_rollout(LaunchRollout(later.id), uow)


def test_the_same_person_joins_a_later_rollout_of_the_city_linked_to_their_earlier_record(uow):
    first = launched(uow)
    earlier = register(uow, first.id, student("Dede Kurniawan"))
    later = later_in_the_same_city(uow, first)

    again = register(uow, later.id, student(" DEDE  kurniawan", "smp negeri 1"))

    assert (again.status, again.returning_of, again.rollout_id) == ("registered", earlier.id, later.id)
    assert again.person_key == earlier.person_key and again.code != earlier.code
    assert earlier.returning_of is None
    with pytest.raises(Conflict) as raised:  # still once per rollout
        register(uow, later.id, student("Dede Kurniawan"))
    assert raised.value.details["existing_participant_id"] == again.id


def test_a_returning_participant_is_linked_to_their_latest_earlier_record_in_that_city_only(uow):
    first = launched(uow)
    in_2019 = register(uow, first.id, student("Ani"))
    medan = launched(uow, {**ROLLOUT, "city_name": "Medan"})
    register(uow, medan.id, student("Ani"))  # another city: another person as far as names tell
    second = later_in_the_same_city(uow, first, "2020-05-02")
    in_2020 = register(uow, second.id, student("Ani"))
    third = later_in_the_same_city(uow, first, "2021-05-02")

    assert in_2020.returning_of == in_2019.id
    assert register(uow, third.id, student("Ani")).returning_of == in_2020.id


# --- corrections -----------------------------------------------------------------

def edit(uow, rollout_id, participant_id, body):
    # Checked as the edge checks it: a refusal of the schema is an InvalidInput naming the field.
    return participants.edit_participant(EditParticipant(rollout_id, participant_id,
                                                         validated(ParticipantEdit(), body)), uow)


def test_a_correction_is_announced_by_field_names_only(uow):
    rollout = launched(uow)
    siti = register(uow, rollout.id, student("Siti Aminah"))
    edit(uow, rollout.id, siti.id, {"organisation": "SMP Negeri 3", "age_band": "13-15"})  # the second unchanged

    [(_, event)] = emitted(uow, events.PARTICIPANT_UPDATED)
    assert (event["participant_id"], event["category"], event["changed"]) == (siti.id, "student", ["organisation"])
    assert "SMP" not in json.dumps(event)
    assert siti.person_key.endswith("|smp negeri 3")


@pytest.mark.parametrize("body, field", [
    ({"email": "siti@example.org"}, "email"),  # still a minor
    ({"consent_by": None}, "consent_by"),
    ({"category": "educator"}, "category"),  # another audience, another session
    ({}, "body"),
])
def test_a_correction_keeps_the_rules_naming_the_field(uow, body, field):
    rollout = launched(uow)
    siti = register(uow, rollout.id, student("Siti Aminah"))
    with pytest.raises(InvalidInput) as raised:
        edit(uow, rollout.id, siti.id, body)
    assert field in raised.value.details["fields"]
    assert (siti.email, siti.consent_by, siti.category) == (None, "school", "student")
    assert emitted(uow, events.PARTICIPANT_UPDATED) == []


def test_a_correction_into_someone_else_is_refused_as_a_duplicate(uow):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    budi = register(uow, rollout.id, student("Budi"))
    with pytest.raises(Conflict) as raised:
        edit(uow, rollout.id, budi.id, {"full_name": "ANI"})
    assert raised.value.details["existing_participant_id"] == ani.id
    assert budi.full_name == "Budi"


def test_a_corrected_name_finds_the_earlier_record_of_a_returning_participant(uow):
    first = launched(uow)
    earlier = register(uow, first.id, student("Dede Kurniawan"))
    later = later_in_the_same_city(uow, first)
    typo = register(uow, later.id, student("Dedi Kurniawan"))
    assert typo.returning_of is None

    edit(uow, later.id, typo.id, {"full_name": "Dede Kurniawan"})

    assert typo.returning_of == earlier.id


# --- check-in --------------------------------------------------------------------

def test_check_in_once_a_day_on_the_participants_session(uow):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    record = participants.check_in(CheckInParticipant(rollout.id, ani.id, "socialisation", 2), uow)

    assert (record["session_key"], record["day"], record["code"]) == ("socialisation", 2, ani.code)
    [(_, event)] = emitted(uow, events.PARTICIPANT_CHECKED_IN)
    assert (event["participant_id"], event["day"], event["session_key"]) == (ani.id, 2, "socialisation")
    with pytest.raises(Conflict) as raised:
        participants.check_in(CheckInParticipant(rollout.id, ani.id), uow)
    assert raised.value.details["field"] == "day"


@pytest.mark.parametrize("session_key, day, field", [(None, 1, "day"), ("workshop", None, "session_key")])
def test_check_in_on_the_wrong_day_or_session_names_the_field(uow, session_key, day, field):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    with pytest.raises(InvalidInput) as raised:
        participants.check_in(CheckInParticipant(rollout.id, ani.id, session_key, day), uow)
    assert field in raised.value.details["fields"]
    assert emitted(uow, events.PARTICIPANT_CHECKED_IN) == []


def test_a_waitlisted_participant_cannot_check_in(uow):
    rollout = launched(uow, socialisation={"capacity": 1})
    register(uow, rollout.id, student("Ani"))
    waiting = register(uow, rollout.id, student("Budi"))
    with pytest.raises(Conflict) as raised:
        participants.check_in(CheckInParticipant(rollout.id, waiting.id), uow)
    assert raised.value.details["field"] == "participant_id"


def test_a_consent_in_the_future_is_refused_at_correction_too(uow):
    rollout = launched(uow)
    siti = register(uow, rollout.id, student("Siti"))
    future = datetime(2999, 1, 1, tzinfo=timezone.utc).isoformat()
    with pytest.raises(InvalidInput) as raised:
        edit(uow, rollout.id, siti.id, {"consent_at": future})
    assert "consent_at" in raised.value.details["fields"]
