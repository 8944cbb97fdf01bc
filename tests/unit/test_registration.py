"""Rollouts through their handlers, against in-memory repositories: lifecycle, edits, clones, targets."""
import copy
import json
from datetime import date

import pytest
from marshmallow import ValidationError

from campaign.demo import load_seed
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
from shared import events, safe_input
from shared.errors import Conflict, InvalidInput, NotFound

ROLLOUT = {
    "program": "Internet Aman untuk Anak",
    "city_name": "Pontianak",
    "province": "Kalimantan Barat",
    "venue": "Hotel Kapuas",
    "starts_on": "2019-05-02",
    "ends_on": "2019-05-03",
    "committee_name": "Panitia Lokal",
    "committee_email": "panitia@pontianak.example",
    "organisation": "ECPAT Indonesia",
    "author": "Andy Ardian",
    "editor": "Muhammad Shobar Arief",
    "sessions": [
        {"key": "workshop", "day": 1, "date": "2019-05-02", "title": "Workshop", "audience": "activists",
         "topics": [{"title": "Hukum", "facilitators": [{"name": "Ahmad Sofian", "organisation": "ECPAT"}]}]},
        {"key": "socialisation", "day": 2, "date": "2019-05-03", "title": "Sosialisasi", "audience": "students",
         "topics": [{"title": "Jejak Digital", "facilitators": [{"name": "Widuri", "organisation": "ICT Watch"}]}]},
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
    assert uow.rollouts.by_id == {}


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
    assert fields["sessions"][1]["topics"] == [
        {"title": "Jejak Digital", "facilitators": [{"name": "Widuri", "organisation": "ICT Watch"}]}]


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
    assert update["venue"] == "Hotel Mercure"  # the report's overview prints it: the edit carries it


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
    assert (rollout.venue, rollout.ends_on) == ("Hotel Kapuas", date(2019, 5, 3))
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

    assert [r.id for r in rollouts.list_rollouts(ListRollouts(status="launched"), uow).items] == [pontianak.id]
    assert [r.city for r in rollouts.list_rollouts(ListRollouts(city="Kota Bandar Lampung"), uow).items] == [
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
    assert [p["participant_id"] for p in listing["items"]] == [umi.id, siti.id]
    assert listing["next_after"] is None
    assert listing["items"][0] == {
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


# --- the report's narrative, what a clone keeps, what a launch needs ---------------------------

def test_the_seed_is_planned_with_its_narrative_and_launched_with_all_of_it(uow):
    seed = load_seed()
    rollout = launched(uow, seed)

    [(_, launch)] = emitted(uow, events.ROLLOUT_LAUNCHED)
    for name in events.NARRATIVE_FIELDS:
        assert launch[name] == getattr(rollout, name) and launch[name], name
    assert launch["background"] == seed["background"] and launch["issued_on"] == date(2019, 5, 31)
    assert launch["qa"] == seed["qa"]
    day_2 = launch["sessions"][1]
    assert day_2["opened_by"] == seed["sessions"][1]["opened_by"] and day_2["summary"] == seed["sessions"][1]["summary"]
    # What is published names the institutions and speakers, not which of them are the city's alone.
    [published] = uow.emitted
    assert [set(place) for place in published["reporting_institutions"]] == [{"name", "channel", "contact"}] * 4
    assert published["sessions"][1]["topics"][0]["facilitators"] == [
        {"name": "Paryono", "organisation": "Dinas Pendidikan dan Kebudayaan Kota Pontianak"}]


def test_a_clone_for_another_city_keeps_what_the_program_shares_and_nothing_of_the_city(uow):
    pontianak = launched(uow, load_seed(), socialisation={"capacity": 150,
                                                         "quotas": [{"category": "student", "minimum": 100}]})
    medan = rollouts.clone_rollout(CloneRollout(**CloneIn().load({"city_name": "Medan"}), template_id=pontianak.id),
                                   uow)

    # The program's: its agenda and targets, aims, expected learning, tips, national institutions, report's authors.
    for name in ("program", "organisation", "author", "editor", "aims", "expected_learning", "tips"):
        assert getattr(medan, name) == getattr(pontianak, name), name
    assert [p["name"] for p in medan.reporting_institutions] == ["KPPPA (SAPA 129)", "ECPAT Indonesia"]
    assert [(s.key, s.day, s.title, s.capacity, s.quotas) for s in medan.sessions] == [
        (s.key, s.day, s.title, s.capacity, s.quotas) for s in pontianak.sessions]
    assert [[t["title"] for t in s.topics] for s in medan.sessions] == [
        [t["title"] for t in s.topics] for s in pontianak.sessions]
    # Pontianak's own: none of its mayor, venue, province, committee, dates, local speakers or story.
    assert (medan.city, medan.status, medan.city_name) == ("medan", "draft", "Medan")
    for name in ("province", "venue", "committee_name", "committee_email", "starts_on", "ends_on", "background",
                 "findings", "qa", "recommendations", "follow_up", "issued_on"):
        assert getattr(medan, name) is None, name
    assert [(s.date, s.opened_by, s.summary) for s in medan.sessions] == [(None, None, None)] * 2
    assert "Pontianak" not in repr(rollouts.fields_of(medan))
    assert pontianak.sessions[1].topics[0]["facilitators"][0]["name"] == "Paryono"  # the template keeps its own


def test_a_clone_in_the_same_city_keeps_the_citys_fields_but_not_the_occasions(uow):
    pontianak = launched(uow, load_seed())
    again = rollouts.clone_rollout(CloneRollout(template_id=pontianak.id, city_name="Pontianak",
                                                starts_on=date(2020, 5, 4), venue="Aula Kantor Walikota"), uow)

    assert (again.province, again.committee_email) == (pontianak.province, pontianak.committee_email)
    assert again.venue == "Aula Kantor Walikota"  # given
    assert len(again.reporting_institutions) == 4 and again.sessions[1].topics[0]["facilitators"][0]["local"]
    assert (again.background, again.findings, again.sessions[1].opened_by, again.sessions[1].summary) == (
        None, None, None, None)
    assert rollouts.launch_rollout(LaunchRollout(again.id), uow).status == "launched"


def test_an_incomplete_launch_is_refused_naming_every_missing_field_and_announces_nothing(uow):
    pontianak = launched(uow, load_seed())
    medan = rollouts.clone_rollout(CloneRollout(template_id=pontianak.id, city_name="Medan"), uow)

    with pytest.raises(Conflict) as raised:
        rollouts.launch_rollout(LaunchRollout(medan.id), uow)

    missing = ["province", "venue", "starts_on", "ends_on", "committee_email", "sessions.workshop.date",
               "sessions.socialisation.date", "sessions.socialisation.topics.0.facilitators",
               "sessions.socialisation.topics.1.facilitators"]
    assert list(raised.value.details["fields"]) == missing
    assert all(name in raised.value.message for name in missing)
    assert medan.status == "draft" and len(emitted(uow, events.ROLLOUT_LAUNCHED)) == 1  # Pontianak's alone
    # Filled in (a draft's edits are not announced), it is launched.
    speakers = [{"title": t["title"], "facilitators": t["facilitators"] or [{"name": "Ahmad", "organisation": "Polda"}]}
                for t in medan.sessions[1].topics]
    edited(uow, medan.id, {"province": "Sumatera Utara", "venue": "Aula Dinas PPA", "starts_on": "2020-03-10",
                           "ends_on": "2020-03-11", "committee_email": "panitia@medan.example",
                           "sessions": [{"key": "workshop", "date": "2020-03-10"},
                                        {"key": "socialisation", "date": "2020-03-11", "topics": speakers}]})
    assert emitted(uow, events.ROLLOUT_UPDATED) == []
    assert rollouts.launch_rollout(LaunchRollout(medan.id), uow).status == "launched"


def test_a_clone_given_its_first_day_has_the_templates_days_moved_there(uow):
    pontianak = planned(uow)
    medan = rollouts.clone_rollout(CloneRollout(template_id=pontianak.id, city_name="Medan",
                                                starts_on=date(2020, 3, 10)), uow)
    assert (medan.starts_on, medan.ends_on, [s.date for s in medan.sessions]) == (
        date(2020, 3, 10), date(2020, 3, 11), [date(2020, 3, 10), date(2020, 3, 11)])


def test_a_narrative_edit_of_a_launched_rollout_is_announced_with_what_it_changed(uow):
    rollout = launched(uow)
    edited(uow, rollout.id, {"findings": [{"id": "Temuan", "en": "Finding"}], "issued_on": "2019-05-31",
                             "sessions": [{"key": "socialisation", "summary": ["Hari kedua."]}]})

    [(_, update)] = emitted(uow, events.ROLLOUT_UPDATED)
    assert update["changed"] == ["issued_on", "findings", "sessions.socialisation.summary"]
    assert (update["findings"], update["issued_on"]) == ([{"id": "Temuan", "en": "Finding"}], date(2019, 5, 31))
    assert [s["summary"] for s in update["sessions"]] == [None, ["Hari kedua."]]
    assert "tips" not in update  # not edited, not carried


def test_a_launched_rollout_keeps_what_its_launch_needed(uow):
    rollout = launched(uow)
    with pytest.raises(InvalidInput) as raised:
        edited(uow, rollout.id, {"venue": None, "author": "Andy", "sessions": [
            {"key": "workshop", "topics": [{"title": "Hukum"}]}]})
    assert list(raised.value.details["fields"]) == ["venue", "sessions.workshop.topics.0.facilitators"]
    assert (rollout.venue, rollout.author) == ("Hotel Kapuas", "Andy Ardian")
    assert emitted(uow, events.ROLLOUT_UPDATED) == []


@pytest.mark.parametrize("narrative, field", [
    ({"background": ["x" * 3001]}, "background"),
    ({"background": [{"id": "Latar", "fr": "Contexte"}]}, "background"),
    ({"tips": ["   "]}, "tips"),
    ({"aims": ["Tujuan"] * 41}, "aims"),
    ({"qa": [{"question": "Apa?"}]}, "qa"),
    ({"reporting_institutions": [{"name": "KPAI", "channel": "Telepon", "contact": "x" * 301}]},
     "reporting_institutions"),
    ({"issued_on": "31 Mei 2019"}, "issued_on"),
])
def test_narrative_text_is_bounded_and_shaped_or_refused_naming_the_field(narrative, field):
    with pytest.raises(ValidationError) as raised:
        RolloutIn().load({**ROLLOUT, **narrative})
    assert field in raised.value.messages
    with pytest.raises(ValidationError) as raised:
        RolloutEdit().load(narrative)
    assert field in raised.value.messages


def test_narrative_text_with_a_control_character_is_refused_at_the_door():
    with pytest.raises(InvalidInput) as raised:
        safe_input.load_json(json.dumps({**ROLLOUT, "findings": [{"id": "Temuan\u0007", "en": "Finding"}]}).encode())
    assert raised.value.details["field"] == "findings.0.id"
