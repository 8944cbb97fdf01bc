"""Unit tests of the rollout lifecycle, waitlist, duplicates, check-in, quotas and files."""
import copy
import io
import json

import openpyxl
import pytest
from sqlalchemy import func, select

from services.registration import domain
from services.registration.models import Base, Participant
from shared.database import OutboxMessage
from shared.errors import Conflict, InvalidInput
from tests.unit.test_registration import ROLLOUT


@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="registration")


def plan(store, **session_changes):
    data = copy.deepcopy(ROLLOUT)
    for session in data["sessions"]:
        session.update(session_changes.get(session["key"], {}))
    with store.unit_of_work() as uow:
        return domain.plan_rollout(uow, data).id


def launched(store, **session_changes):
    rollout_id = plan(store, **session_changes)
    with store.unit_of_work() as uow:
        domain.launch_rollout(uow, rollout_id)
    return rollout_id


def emitted(store, name):
    with store.read() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)
                               .where(OutboxMessage.routing_key.like(f"{name}.%")))
        return [json.loads(row.payload) for row in rows]


def register(store, rollout_id, data):
    with store.unit_of_work() as uow:
        p = domain.register_participant(uow, rollout_id, dict(data))
        return p.id, p.status


def student(name, school="SMP Negeri 1"):
    return {"full_name": name, "category": "student", "organisation": school,
            "age_band": "13-15", "consent_by": "school"}


def step(store, action, rollout_id, *args):
    with store.unit_of_work() as uow:
        return getattr(domain, action)(uow, rollout_id, *args).status


# --- lifecycle ---------------------------------------------------------------

def test_lifecycle_draft_launched_running_completed_each_announced(store):
    rollout_id = plan(store)
    assert [step(store, a, rollout_id) for a in ("launch_rollout", "start_rollout", "complete_rollout")] == [
        "launched", "running", "completed"]
    assert len(emitted(store, "rollout_launched")) == 1
    assert [(e["status"], e["changed"]) for e in emitted(store, "rollout_updated")] == [
        ("running", ["status"]), ("completed", ["status"])]
    with pytest.raises(Conflict):
        step(store, "cancel_rollout", rollout_id, {})


@pytest.mark.parametrize("action", ["start_rollout", "complete_rollout"])
def test_steps_out_of_order_are_conflicts_and_announce_nothing(store, action):
    rollout_id = plan(store)
    with pytest.raises(Conflict) as raised:
        step(store, action, rollout_id)
    assert raised.value.details["field"] == "status"
    assert emitted(store, "rollout_updated") == []


def test_cancellation_is_announced_with_its_reason_and_closes_registration(store):
    rollout_id = launched(store)
    assert step(store, "cancel_rollout", rollout_id, {"reason": "banjir"}) == "cancelled"
    assert [(e["rollout_id"], e["reason"]) for e in emitted(store, "rollout_cancelled")] == [(rollout_id, "banjir")]
    with pytest.raises(Conflict):
        register(store, rollout_id, student("Putri Ayu"))


def test_edit_announces_the_fields_that_changed(store):
    rollout_id = launched(store)
    with store.unit_of_work() as uow:
        rollout = domain.edit_rollout(uow, rollout_id, {
            "venue": "Hotel Mercure", "committee_name": "Panitia Lokal",  # the second is unchanged
            "sessions": [{"key": "socialisation", "capacity": 300,
                          "topics": [{"title": "Kejahatan Siber",
                                      "facilitators": [{"name": "Inayatun", "organisation": "Unit PPA"}]}]}]})
        assert rollout.venue == "Hotel Mercure"
    [update] = emitted(store, "rollout_updated")
    assert update["changed"] == ["venue", "sessions.socialisation.topics", "sessions.socialisation.capacity"]
    assert update["status"] == "launched"


@pytest.mark.parametrize("edit, field", [
    ({"sessions": [{"key": "nope", "capacity": 3}]}, "sessions"),
    ({"ends_on": "2019-04-01"}, "ends_on"),
    ({"committee_email": "not-an-address"}, "committee_email"),
    ({"sessions": [{"key": "workshop", "quotas": [{"category": "student", "minimum": 1}]}]}, "sessions"),
    ({"colour": "red"}, "colour"),
])
def test_bad_edits_name_the_field_and_change_nothing(store, edit, field):
    rollout_id = launched(store)
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.edit_rollout(uow, rollout_id, edit)
    assert field in raised.value.details["fields"]
    assert emitted(store, "rollout_updated") == []
    with store.read() as session:
        assert domain.get_rollout(session, rollout_id).ends_on.isoformat() == "2019-05-03"


def test_template_is_cloned_per_city_with_its_own_dates_venue_and_committee(store):
    template_id = plan(store, socialisation={"capacity": 150, "quotas": [{"category": "student", "minimum": 100}]})
    with store.unit_of_work() as uow:
        medan = domain.clone_rollout(uow, template_id, {
            "city_name": "Medan", "venue": "Aula Dinas PPA", "starts_on": "2020-03-10",
            "committee_name": "Panitia Medan", "committee_email": "panitia@medan.example"})
        assert (medan.city, medan.status, medan.venue, medan.committee_email) == (
            "medan", "draft", "Aula Dinas PPA", "panitia@medan.example")
        assert (medan.starts_on.isoformat(), medan.ends_on.isoformat()) == ("2020-03-10", "2020-03-11")
        assert [(s.key, s.date.isoformat(), s.capacity) for s in medan.sessions] == [
            ("workshop", "2020-03-10", None), ("socialisation", "2020-03-11", 150)]
        assert medan.sessions[0].topics[0]["facilitators"] == [{"name": "Ahmad Sofian", "organisation": "ECPAT"}]
        assert medan.id != template_id


# --- waitlist ------------------------------------------------------------------

def test_full_session_waitlists_and_a_cancellation_promotes_the_first(store):
    rollout_id = launched(store, socialisation={"capacity": 2})
    ids = [register(store, rollout_id, student(n)) for n in ("Ani", "Budi", "Cici", "Dodi")]
    assert [status for _, status in ids] == ["registered", "registered", "waitlisted", "waitlisted"]
    assert [e["status"] for e in emitted(store, "participant_registered")] == [
        "registered", "registered", "waitlisted", "waitlisted"]

    with store.unit_of_work() as uow:
        domain.cancel_participant(uow, rollout_id, ids[0][0])
    assert [e["participant_id"] for e in emitted(store, "participant_cancelled")] == [ids[0][0]]
    assert [e["participant_id"] for e in emitted(store, "participant_promoted")] == [ids[2][0]]
    with store.read() as session:
        statuses = [p.status for p in domain.list_participants(session, rollout_id)]
    assert statuses == ["cancelled", "registered", "registered", "waitlisted"]


def test_a_category_at_its_maximum_waitlists(store):
    rollout_id = launched(store, workshop={"quotas": [{"category": "lsm", "minimum": 0, "maximum": 1}]})
    first = register(store, rollout_id, {"full_name": "Rina", "category": "lsm"})
    second = register(store, rollout_id, {"full_name": "Rudi", "category": "lsm"})
    other = register(store, rollout_id, {"full_name": "Umi", "category": "educator"})
    assert [first[1], second[1], other[1]] == ["registered", "waitlisted", "registered"]


def test_raising_the_capacity_promotes_the_waitlist(store):
    rollout_id = launched(store, socialisation={"capacity": 1})
    register(store, rollout_id, student("Ani"))
    waiting, _ = register(store, rollout_id, student("Budi"))
    with store.unit_of_work() as uow:
        domain.edit_rollout(uow, rollout_id, {"sessions": [{"key": "socialisation", "capacity": 5}]})
    assert [e["participant_id"] for e in emitted(store, "participant_promoted")] == [waiting]


def test_cancelling_twice_is_a_conflict(store):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Ani"))
    with store.unit_of_work() as uow:
        domain.cancel_participant(uow, rollout_id, pid)
    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.cancel_participant(uow, rollout_id, pid)


# --- duplicates ------------------------------------------------------------------

@pytest.mark.parametrize("again", [
    student("Dédé  Kurniawan", "SMP Negeri 1"),
    student("dede kurniawan", "smp  negeri 1"),
    student(" DEDE KURNIAWAN ", "SMP NEGERI 1"),
])
def test_the_same_person_twice_is_refused_with_the_existing_id(store, again):
    rollout_id = launched(store)
    first, _ = register(store, rollout_id, student("Dede Kurniawan", "SMP Negeri 1"))
    with pytest.raises(Conflict) as raised:
        register(store, rollout_id, again)
    assert raised.value.details["existing_participant_id"] == first
    assert raised.value.details["field"] == "full_name"
    assert len(emitted(store, "participant_registered")) == 1


def test_same_name_at_another_school_is_another_person(store):
    rollout_id = launched(store)
    register(store, rollout_id, student("Dede Kurniawan", "SMP Negeri 1"))
    assert register(store, rollout_id, student("Dede Kurniawan", "SMP Negeri 3"))[1] == "registered"


def test_a_cancelled_person_may_register_again(store):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Ani"))
    with store.unit_of_work() as uow:
        domain.cancel_participant(uow, rollout_id, pid)
    assert register(store, rollout_id, student("Ani"))[1] == "registered"


# --- check-in ----------------------------------------------------------------------

def test_check_in_per_day_and_session_once(store):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Ani"))
    with store.unit_of_work() as uow:
        record = domain.check_in(uow, rollout_id, pid, {"session_key": "socialisation", "day": 2})
    assert (record["session_key"], record["day"]) == ("socialisation", 2)
    [event] = emitted(store, "participant_checked_in")
    assert (event["participant_id"], event["day"], event["session_key"]) == (pid, 2, "socialisation")
    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.check_in(uow, rollout_id, pid, {})


@pytest.mark.parametrize("body, field", [({"day": 1}, "day"), ({"session_key": "workshop"}, "session_key"),
                                         ({"day": "x"}, "day"), ({"seat": 4}, "seat")])
def test_check_in_on_the_wrong_day_or_session_names_the_field(store, body, field):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Ani"))
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.check_in(uow, rollout_id, pid, body)
    assert field in raised.value.details["fields"]
    assert emitted(store, "participant_checked_in") == []


def test_waitlisted_participant_cannot_check_in(store):
    rollout_id = launched(store, socialisation={"capacity": 1})
    register(store, rollout_id, student("Ani"))
    waiting, _ = register(store, rollout_id, student("Budi"))
    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.check_in(uow, rollout_id, waiting)


# --- minors ------------------------------------------------------------------------

def test_minor_keeps_who_consented_and_when_and_a_pseudonymous_code(store):
    rollout_id = launched(store)
    with store.unit_of_work() as uow:
        child = domain.register_participant(uow, rollout_id, {
            **student("Siti"), "consent_by": "guardian", "consent_at": "2019-04-20T09:00:00+07:00"})
        assert (child.minor, child.consent_by, child.consent_at.isoformat()) == (
            True, "guardian", "2019-04-20T09:00:00+07:00")
        assert child.code.startswith("PON-") and "Siti" not in child.code
    [event] = emitted(store, "participant_registered")
    assert "Siti" not in json.dumps(event) and event["participant_code"] == child.code


@pytest.mark.parametrize("data, field", [
    ({**student("Siti"), "email": "siti@example.org"}, "email"),
    ({**student("Siti"), "birth_date": "2006-01-01"}, "birth_date"),
    ({**student("Siti"), "consent_at": "2999-01-01T00:00:00+00:00"}, "consent_at"),
    ({**student("Siti"), "age_band": "13"}, "age_band"),
])
def test_minors_rules_name_the_field(store, data, field):
    rollout_id = launched(store)
    with pytest.raises(InvalidInput) as raised:
        register(store, rollout_id, data)
    assert field in raised.value.details["fields"]


# --- quotas and target gaps ----------------------------------------------------------

def test_target_gap_is_announced_once_a_day_when_a_category_is_short_as_the_session_nears(store):
    rollout_id = launched(store, workshop={"quotas": [{"category": "educator", "minimum": 2, "maximum": 30},
                                                      {"category": "lsm", "minimum": 1}]})
    register(store, rollout_id, {"full_name": "Rina", "category": "lsm"})
    register(store, rollout_id, {"full_name": "Umi", "category": "educator"})

    def check(today):
        with store.unit_of_work() as uow:
            return domain.check_targets(uow, rollout_id, {"today": today, "within_days": 7})

    assert check("2019-04-01") == []  # a month ahead: not near yet
    [gap] = check("2019-04-28")
    assert (gap["category"], gap["minimum"], gap["registered"], gap["announced"]) == ("educator", 2, 1, True)
    assert check("2019-04-28")[0]["announced"] is False
    [event] = emitted(store, "target_gap")
    assert (event["session_key"], event["category"], event["registered"], event["session_date"]) == (
        "workshop", "educator", 1, "2019-05-02")


def test_quota_minimum_above_maximum_is_refused(store):
    with pytest.raises(InvalidInput) as raised:
        plan(store, workshop={"quotas": [{"category": "lsm", "minimum": 5, "maximum": 2}]})
    assert "sessions" in raised.value.details["fields"]


# --- files -----------------------------------------------------------------------------

HEADER = ["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"]


def xlsx(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_imports_like_csv(store):
    rollout_id = launched(store)
    rows = domain.read_participant_file(xlsx([
        ["Umi Farida", "educator", "ECPAT", "F", "25-39", "umi@example.org", None, None],
        ["Siti", "student", "SMPN 3", "F", "13-15", None, None, "school"],
    ]))
    with store.unit_of_work() as uow:
        imported = domain.import_participants(uow, rollout_id, rows)
    assert [p.status for p in imported] == ["registered", "registered"]
    assert len(emitted(store, "participant_registered")) == 2


def test_xlsx_bad_rows_are_each_named_by_line_and_field():
    data = xlsx([["Umi", "educator"], ["Siti", "student", "SMPN 3", "F", "13-15", "s@example.org", None, "school"],
                 [None, "teacher"]])
    with pytest.raises(InvalidInput) as raised:
        domain.read_participant_file(data)
    assert [(r["line"], r["field"]) for r in raised.value.details["rows"]] == [
        (3, "email"), (4, "category"), (4, "full_name")]


def test_not_a_workbook_is_refused():
    with pytest.raises(InvalidInput):
        domain.read_participant_file(b"PK\x03\x04 broken")


def test_import_refuses_duplicates_in_the_file_and_in_the_database(store):
    rollout_id = launched(store)
    existing, _ = register(store, rollout_id, student("Ani"))
    text = ("full_name,category,organisation,age_band,consent_by\n"
            "Budi,student,SMP Negeri 1,13-15,school\n"
            "ANI,student,SMP Negeri 1,13-15,school\n"
            "budi,student,SMP  negeri 1,13-15,school\n")
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.import_participants(uow, rollout_id, domain.read_participant_csv(text))
    assert [(r["line"], r["problem"]) for r in raised.value.details["rows"]] == [
        (3, f"already registered as participant {existing}"), (4, "the same person as line 2")]
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 1


def test_import_fills_places_then_the_waitlist(store):
    rollout_id = launched(store, socialisation={"capacity": 2})
    text = "full_name,category,age_band,consent_by\n" + "".join(
        f"Anak {i},student,13-15,school\n" for i in range(3))
    with store.unit_of_work() as uow:
        imported = domain.import_participants(uow, rollout_id, domain.read_participant_csv(text))
    assert [p.status for p in imported] == ["registered", "registered", "waitlisted"]


def big_csv(count, bad_line=None):
    lines = ["full_name,category,organisation,sex,age_band,email,phone,consent_by"]
    for i in range(count):
        if i % 2:
            lines.append(f"Peserta {i},educator,Sekolah {i % 50},F,25-39,p{i}@example.org,,")
        else:
            lines.append(f"Pelajar {i},student,SMP {i % 50},M,13-15,,,school")
    if bad_line is not None:
        lines[bad_line - 1] = "Pelajar X,student,SMP 1,M,13-15,anak@example.org,,school"  # a minor's e-mail
    return "\n".join(lines) + "\n"


def test_twenty_thousand_rows_with_one_bad_row_import_nothing_and_name_it(store):
    rollout_id = launched(store)
    with pytest.raises(InvalidInput) as raised:
        rows = domain.read_participant_csv(big_csv(20000, bad_line=10001))
        with store.unit_of_work() as uow:
            domain.import_participants(uow, rollout_id, rows)
    assert raised.value.details["rows"] == [
        {"line": 10001, "field": "email", "problem": "must not be given for a minor"}]
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 0


def test_twenty_thousand_rows_all_land_with_their_events(store):
    rollout_id = launched(store)
    rows = domain.read_participant_csv(big_csv(20000))
    with store.unit_of_work() as uow:
        imported = domain.import_participants(uow, rollout_id, rows)
    assert len({p.code for p in imported}) == 20000
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Participant)) == 20000
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.routing_key == "participant_registered.pontianak")) == 20000


# --- corrections ---------------------------------------------------------------------

def edit(store, rollout_id, pid, data):
    with store.unit_of_work() as uow:
        return domain.edit_participant(uow, rollout_id, pid, data).status


def test_a_correction_is_announced_by_field_names_only(store):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Siti Aminah"))
    edit(store, rollout_id, pid, {"organisation": "SMP Negeri 3", "age_band": "13-15"})  # the second unchanged
    [event] = emitted(store, "participant_updated")
    assert (event["participant_id"], event["category"], event["changed"]) == (pid, "student", ["organisation"])
    assert "SMP" not in json.dumps(event)


@pytest.mark.parametrize("data, field", [
    ({"email": "siti@example.org"}, "email"),  # still a minor
    ({"category": "educator"}, "category"),  # another audience, another session
    ({"full_name": ""}, "full_name"),
    ({"nickname": "Siti"}, "nickname"),
    ({}, "body"),
])
def test_a_correction_keeps_the_rules_naming_the_field(store, data, field):
    rollout_id = launched(store)
    pid, _ = register(store, rollout_id, student("Siti Aminah"))
    with pytest.raises(InvalidInput) as raised:
        edit(store, rollout_id, pid, data)
    assert field in raised.value.details["fields"]
    assert emitted(store, "participant_updated") == []


def test_a_correction_into_someone_else_is_refused_as_a_duplicate(store):
    rollout_id = launched(store)
    first, _ = register(store, rollout_id, student("Ani"))
    second, _ = register(store, rollout_id, student("Budi"))
    with pytest.raises(Conflict) as raised:
        edit(store, rollout_id, second, {"full_name": "ANI"})
    assert raised.value.details["existing_participant_id"] == first
