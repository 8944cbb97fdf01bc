"""Rollouts through their handlers, against in-memory repositories: lifecycle, edits, clones, targets."""
import copy
from datetime import date

import pytest

from services.registration import participants, rollouts
from services.registration.commands import (
    CancelRollout,
    CheckTargets,
    CloneRollout,
    CloseRegistration,
    CompleteRollout,
    EditRollout,
    FindParticipantByCode,
    GetCommitteeList,
    LaunchRollout,
    ListRollouts,
    PlanRollout,
    RegisterParticipant,
    StartRollout,
)
from services.registration.fakes import FakeRegistrationUnitOfWork
from services.registration.schemas import CloneIn, ParticipantIn, RolloutEdit, RolloutIn
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound

ROLLOUT = {
    "program": "Internet Aman untuk Anak",
    "city_name": "Pontianak",
    "province": "Kalimantan Barat",
    "starts_on": "2019-05-02",
    "ends_on": "2019-05-03",
    "committee_name": "Panitia Lokal",
    "committee_email": "panitia@pontianak.example",
    "sessions": [
        {"key": "workshop", "day": 1, "date": "2019-05-02", "title": "Workshop", "audience": "activists",
         "topics": [{"title": "Hukum", "facilitators": [{"name": "Ahmad Sofian", "organisation": "ECPAT"}]}]},
        {"key": "socialisation", "day": 2, "date": "2019-05-03", "title": "Sosialisasi", "audience": "students",
         "topics": [{"title": "Jejak Digital"}]},
    ],
}
ADULT = {"full_name": "Umi Farida", "category": "educator", "email": "umi@example.org"}
CHILD = {"full_name": "Siti Aminah", "category": "student", "age_band": "13-15", "consent_by": "school"}


def planned(uow, data=ROLLOUT, **session_changes):
    """A draft, from the API's JSON as the edge loads it."""
    data = copy.deepcopy(data)
    for session in data["sessions"]:
        session.update(session_changes.get(session["key"], {}))
    return rollouts.plan_rollout(PlanRollout.from_input(RolloutIn().load(data)), uow)


def launched(uow, data=ROLLOUT, **session_changes):
    rollout = planned(uow, data, **session_changes)
    return rollouts.launch_rollout(LaunchRollout(rollout.id), uow)


def register(uow, rollout_id, data):
    return participants.register_participant(RegisterParticipant.from_input(rollout_id, ParticipantIn().load(data)),
                                             uow)


def emitted(uow, event):
    """(city, fields) of each ``event`` the handlers emitted, in order."""
    return [(city, fields) for e, city, fields in uow.events if e is event]


@pytest.fixture
def uow():
    return FakeRegistrationUnitOfWork()


def test_a_city_name_without_a_slug_is_refused_when_planned(uow):
    with pytest.raises(InvalidInput) as raised:
        planned(uow, {**ROLLOUT, "city_name": "  "})
    assert "city_name" in raised.value.details["fields"]
    assert uow.rollouts.list() == []


def test_a_planned_rollout_is_a_draft_and_announces_nothing(uow):
    rollout = planned(uow)

    assert (rollout.status, rollout.city, rollout.registration_open) == ("draft", "pontianak", True)
    assert [s.key for s in rollout.sessions] == ["workshop", "socialisation"]
    assert uow.events == []


def test_launch_announces_the_whole_agenda(uow):
    rollout = launched(uow)

    [(city, fields)] = emitted(uow, events.ROLLOUT_LAUNCHED)
    assert (city, fields["rollout_id"], fields["city_name"]) == ("pontianak", rollout.id, "Pontianak")
    assert [s["key"] for s in fields["sessions"]] == ["workshop", "socialisation"]
    assert fields["sessions"][1]["topics"] == [{"title": "Jejak Digital", "facilitators": []}]


def test_launching_twice_is_a_conflict_announced_once(uow):
    rollout = launched(uow)

    with pytest.raises(Conflict) as raised:
        rollouts.launch_rollout(LaunchRollout(rollout.id), uow)
    assert raised.value.details["field"] == "status"
    assert len(emitted(uow, events.ROLLOUT_LAUNCHED)) == 1


def test_an_unknown_rollout_is_not_found_naming_the_field(uow):
    with pytest.raises(NotFound) as raised:
        rollouts.launch_rollout(LaunchRollout(404), uow)
    assert raised.value.details["field"] == "rollout_id"


def test_the_lifecycle_draft_launched_running_completed_is_each_announced(uow):
    rollout = launched(uow)
    assert rollouts.start_rollout(StartRollout(rollout.id), uow).status == "running"
    assert rollouts.complete_rollout(CompleteRollout(rollout.id), uow).status == "completed"

    assert [(f["status"], f["changed"]) for _, f in emitted(uow, events.ROLLOUT_UPDATED)] == [
        ("running", ["status"]), ("completed", ["status"])]
    assert rollout.registration_open is False
    with pytest.raises(Conflict):
        rollouts.cancel_rollout(CancelRollout(rollout.id), uow)


@pytest.mark.parametrize("step", [StartRollout, CompleteRollout])
def test_steps_out_of_order_are_conflicts_and_announce_nothing(uow, step):
    rollout = planned(uow)
    handler = {StartRollout: rollouts.start_rollout, CompleteRollout: rollouts.complete_rollout}[step]
    with pytest.raises(Conflict) as raised:
        handler(step(rollout.id), uow)
    assert raised.value.details["field"] == "status"
    assert uow.events == []


def test_a_cancellation_is_announced_with_its_reason_and_closes_registration(uow):
    rollout = launched(uow)
    assert rollouts.cancel_rollout(CancelRollout(rollout.id, "banjir"), uow).status == "cancelled"

    assert [f["reason"] for _, f in emitted(uow, events.ROLLOUT_CANCELLED)] == ["banjir"]
    with pytest.raises(Conflict):
        register(uow, rollout.id, CHILD)


def edited(uow, rollout_id, body):
    return rollouts.edit_rollout(EditRollout.from_input(rollout_id, RolloutEdit().load(body)), uow)


def test_an_edit_announces_the_names_of_the_fields_that_changed(uow):
    rollout = launched(uow)
    edited(uow, rollout.id, {
        "venue": "Hotel Mercure", "committee_name": "Panitia Lokal",  # the second is unchanged
        "sessions": [{"key": "socialisation", "capacity": 300,
                      "topics": [{"title": "Kejahatan Siber",
                                  "facilitators": [{"name": "Inayatun", "organisation": "Unit PPA"}]}]}]})

    assert rollout.venue == "Hotel Mercure"
    [(_, update)] = emitted(uow, events.ROLLOUT_UPDATED)
    assert update["changed"] == ["venue", "sessions.socialisation.topics", "sessions.socialisation.capacity"]
    assert update["status"] == "launched"


@pytest.mark.parametrize("body, field", [
    ({"venue": "Aula", "sessions": [{"key": "nope", "capacity": 3}]}, "sessions"),
    ({"venue": "Aula", "ends_on": "2019-04-01"}, "ends_on"),
    ({"venue": "Aula", "sessions": [{"key": "workshop", "quotas": [{"category": "student", "minimum": 1}]}]},
     "sessions"),
])
def test_a_bad_edit_names_the_field_and_changes_nothing(uow, body, field):
    rollout = launched(uow)
    with pytest.raises(InvalidInput) as raised:
        edited(uow, rollout.id, body)
    assert field in raised.value.details["fields"]
    assert (rollout.venue, rollout.ends_on) == (None, date(2019, 5, 3))
    assert emitted(uow, events.ROLLOUT_UPDATED) == []


def test_a_completed_rollout_can_no_longer_be_edited(uow):
    rollout = launched(uow)
    rollouts.start_rollout(StartRollout(rollout.id), uow)
    rollouts.complete_rollout(CompleteRollout(rollout.id), uow)
    with pytest.raises(Conflict):
        edited(uow, rollout.id, {"venue": "Aula"})


def test_the_template_is_cloned_per_city_with_its_own_dates_venue_and_committee(uow):
    template = planned(uow, socialisation={"capacity": 150, "quotas": [{"category": "student", "minimum": 100}]})
    body = CloneIn().load({"city_name": "Medan", "venue": "Aula Dinas PPA", "starts_on": "2020-03-10",
                           "committee_name": "Panitia Medan", "committee_email": "panitia@medan.example"})
    medan = rollouts.clone_rollout(CloneRollout(template_id=template.id, **body), uow)

    assert (medan.city, medan.status, medan.venue, medan.committee_email, medan.program) == (
        "medan", "draft", "Aula Dinas PPA", "panitia@medan.example", template.program)
    assert (medan.starts_on, medan.ends_on) == (date(2020, 3, 10), date(2020, 3, 11))
    assert [(s.key, s.date, s.capacity) for s in medan.sessions] == [
        ("workshop", date(2020, 3, 10), None), ("socialisation", date(2020, 3, 11), 150)]
    assert medan.sessions[0].topics[0]["facilitators"] == [{"name": "Ahmad Sofian", "organisation": "ECPAT"}]
    assert medan.id != template.id


def test_rollouts_are_listed_by_status_and_city_slug(uow):
    pontianak = launched(uow)
    planned(uow, {**ROLLOUT, "city_name": "Kota Bandar Lampung"})

    assert [r.id for r in rollouts.list_rollouts(ListRollouts(status="launched"), uow)] == [pontianak.id]
    assert [r.city for r in rollouts.list_rollouts(ListRollouts(city="Kota Bandar Lampung"), uow)] == [
        "kota-bandar-lampung"]


def test_closing_registration_counts_the_participants_and_refuses_more(uow):
    rollout = launched(uow)
    register(uow, rollout.id, ADULT)
    rollouts.close_registration(CloseRegistration(rollout.id), uow)

    [(_, closed)] = emitted(uow, events.REGISTRATION_CLOSED)
    assert closed["participant_count"] == 1
    with pytest.raises(Conflict) as raised:
        register(uow, rollout.id, CHILD)
    assert "closed for registration" in raised.value.message


def test_a_target_gap_is_announced_once_a_day_as_its_session_nears(uow):
    rollout = launched(uow, workshop={"quotas": [{"category": "educator", "minimum": 2, "maximum": 30},
                                                 {"category": "lsm", "minimum": 1}]})
    register(uow, rollout.id, {"full_name": "Rina", "category": "lsm"})
    register(uow, rollout.id, {"full_name": "Umi", "category": "educator"})

    def check(today):
        return rollouts.check_targets(CheckTargets(rollout.id, today=today, within_days=7), uow)

    assert check(date(2019, 4, 1)) == []  # a month ahead: not near yet
    [gap] = check(date(2019, 4, 28))
    assert (gap["category"], gap["minimum"], gap["registered"], gap["announced"]) == ("educator", 2, 1, True)
    assert check(date(2019, 4, 28))[0]["announced"] is False
    [(_, event)] = emitted(uow, events.TARGET_GAP)
    assert (event["session_key"], event["category"], event["registered"], event["session_date"]) == (
        "workshop", "educator", 1, date(2019, 5, 2))
    assert rollouts.rollouts_to_check(uow) == [rollout.id]


def test_the_committee_list_has_only_that_rollouts_participants_and_what_the_committee_needs(uow):
    pontianak = launched(uow)
    singkawang = launched(uow, {**ROLLOUT, "city_name": "Singkawang"})
    umi = register(uow, pontianak.id, ADULT)
    siti = register(uow, pontianak.id, CHILD)
    register(uow, singkawang.id, {"full_name": "Andi", "category": "lsm"})

    listing = participants.committee_list(GetCommitteeList(pontianak.id), uow)

    assert (listing["city"], listing["committee_email"]) == ("pontianak", "panitia@pontianak.example")
    assert [p["participant_id"] for p in listing["participants"]] == [umi.id, siti.id]
    assert listing["participants"][0] == {
        "participant_id": umi.id, "code": umi.code, "full_name": "Umi Farida",
        "category": "Tenaga pendidikan", "organisation": "", "session": "Workshop", "day": 1,
    }
    with pytest.raises(NotFound):
        participants.committee_list(GetCommitteeList(404), uow)


def test_a_participant_is_found_by_code_without_their_name(uow):
    rollout = launched(uow)
    siti = register(uow, rollout.id, CHILD)

    assert participants.participant_by_code(FindParticipantByCode(siti.code), uow) == {
        "participant_id": siti.id, "code": siti.code, "rollout_id": rollout.id, "city": "pontianak",
        "session_key": "socialisation", "category": "student"}
    assert participants.participant_by_code(FindParticipantByCode("PON-NOBODY"), uow) is None
