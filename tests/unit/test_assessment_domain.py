"""Instruments, bulk import, gain and item analysis from the database, and action plans."""
import json
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.assessment import domain
from services.assessment.models import Base, Submission
from shared import events
from shared.database import OutboxMessage
from shared.errors import Conflict, InvalidInput, NotFound

TOPICS = ["Jejak Digital", "Kejahatan Siber"]
QUESTIONS = [
    {"id": "q1", "text": "…", "topic": "Jejak Digital", "kind": "true_false", "answer": True},
    {"id": "q2", "text": "…", "topic": "Jejak Digital", "kind": "multiple_choice",
     "choices": ["a", "b", "c"], "answer": "b"},
    {"id": "q3", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": False},
    {"id": "q4", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": True},
]


@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="assessment")


def launched(store, city="pontianak", rollout_id=1):
    event = events.ROLLOUT_LAUNCHED.load(events.ROLLOUT_LAUNCHED.create(
        city, rollout_id=rollout_id, program="Internet Aman untuk Anak", city_name=city.title(),
        starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3),
        sessions=[{"key": "socialisation", "day": 2, "date": date(2019, 5, 3), "title": "Sosialisasi",
                   "audience": "students", "topics": [{"title": t, "facilitators": []} for t in TOPICS]}]))
    with store.unit_of_work() as uow:
        domain.remember_rollout(uow.session, event)


def instrument(store, rollout_id=1, **extra):
    with store.unit_of_work() as uow:
        return domain.create_instrument(uow, {"rollout_id": rollout_id, "session_key": "socialisation",
                                              "title": "Tes", "questions": QUESTIONS, **extra})


def person(code, city="pontianak", rollout_id=1):
    return SimpleNamespace(code=code, participant_id=1, rollout_id=rollout_id, city=city,
                           session_key="socialisation")


def known(store, *people):
    with store.unit_of_work() as uow:
        for p in people:
            domain.remember_participant(uow.session, {"code": p.code, "participant_id": p.participant_id,
                                                      "rollout_id": p.rollout_id, "city": p.city,
                                                      "session_key": p.session_key})


def submit(store, instrument_id, who, phase, right):
    """Answer the first ``right`` questions right and leave the rest blank."""
    answers = {q["id"]: q["answer"] for q in QUESTIONS[:right]}
    with store.unit_of_work() as uow:
        return domain.submit(uow, domain.parse_submission(
            {"instrument_id": instrument_id, "participant_code": who.code, "phase": phase, "answers": answers}), who)


def outbox(store, prefix):
    with store.read() as session:
        return [json.loads(r.payload) for r in session.scalars(
            select(OutboxMessage).where(OutboxMessage.routing_key.startswith(prefix)).order_by(OutboxMessage.id))]


# --- instruments ------------------------------------------------------------

def test_versions_count_up_per_session_and_a_taken_version_is_a_conflict(store):
    assert [instrument(store).version, instrument(store).version] == [1, 2]
    assert instrument(store, rollout_id=2).version == 1

    with pytest.raises(Conflict) as raised:
        instrument(store, version=2)
    assert raised.value.details["field"] == "version"
    assert instrument(store, version=5).version == 5


def test_questions_must_carry_the_sessions_topics_once_the_launch_is_known(store):
    launched(store)
    off_agenda = [*QUESTIONS, {"id": "q9", "text": "…", "topic": "Memasak", "kind": "true_false", "answer": True}]

    with pytest.raises(InvalidInput) as raised:
        instrument(store, questions=off_agenda)
    assert raised.value.details["fields"]["questions"] == {4: {"topic": ["must be one of: Jejak Digital; "
                                                                         "Kejahatan Siber"]}}
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.create_instrument(uow, {"rollout_id": 1, "session_key": "workshop", "title": "T",
                                           "questions": QUESTIONS})
    assert "session_key" in raised.value.details["fields"]
    assert instrument(store).version == 1


# --- submissions ------------------------------------------------------------

def test_incomplete_answers_are_scored_and_listed(store):
    tes = instrument(store)
    saved = submit(store, tes.id, person("PON-A"), "pre", right=2)

    assert (saved.score, saved.max_score, saved.unanswered) == (2, 4, ["q3", "q4"])
    [event] = outbox(store, "test_scored.")
    assert (event["unanswered"], event["instrument_version"]) == (2, 1)


def test_one_pre_test_per_session_whichever_version(store):
    first, second = instrument(store), instrument(store)
    submit(store, first.id, person("PON-A"), "pre", right=1)

    with pytest.raises(Conflict) as raised:
        submit(store, second.id, person("PON-A"), "pre", right=1)
    assert raised.value.details["field"] == "phase"
    assert submit(store, second.id, person("PON-A"), "post", right=3).score == 3


# --- bulk import ------------------------------------------------------------

SHEET = ("participant_code,phase,q1,q2,q3,q4\n"
         "PON-A,pre,benar,b,,salah\n"       # q1, q2 right; q3 blank; q4 wrong: 2
         "PON-B,pre,false,a,false,true\n"   # q3, q4 right: 2
         "PON-A,post,true,b,false,true\n")  # 4


def test_a_sheet_is_imported_whole(store):
    tes = instrument(store)
    people = {"PON-A": person("PON-A"), "PON-B": person("PON-B")}

    rows = domain.read_submissions_csv(tes, SHEET)
    with store.unit_of_work() as uow:
        saved = domain.import_submissions(uow, tes.id, rows, people)

    assert [(s.participant_code, s.phase, s.score) for s in saved] == [
        ("PON-A", "pre", 2), ("PON-B", "pre", 2), ("PON-A", "post", 4)]
    assert len(outbox(store, "test_scored.pontianak")) == 3


def test_a_bad_row_refuses_the_whole_sheet_naming_line_and_field(store):
    tes = instrument(store)
    submit(store, tes.id, person("PON-C"), "pre", right=1)
    sheet = SHEET + ("PON-X,pre,true,b,true,true\n"   # line 5: unknown participant
                     "PON-B,pre,true,b,true,true\n"   # line 6: second pre-test in the sheet
                     "PON-C,pre,true,b,true,true\n")  # line 7: already has a pre-test
    rows = domain.read_submissions_csv(tes, sheet)

    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.import_submissions(uow, tes.id, rows, {"PON-A": person("PON-A"), "PON-B": person("PON-B"),
                                                          "PON-C": person("PON-C"), "PON-X": None})

    assert [(r["line"], r["field"]) for r in raised.value.details["rows"]] == [
        (5, "participant_code"), (6, "phase"), (7, "phase")]
    with store.read() as session:
        assert len(session.scalars(select(Submission)).all()) == 1  # only the earlier one
    assert len(outbox(store, "test_scored.")) == 1


def test_unreadable_cells_and_columns_are_reported_by_line(store):
    tes = instrument(store)
    with pytest.raises(InvalidInput) as raised:
        domain.read_submissions_csv(tes, "participant_code,phase,q1\nPON-A,during,mungkin\n")
    assert sorted((r["line"], r["field"]) for r in raised.value.details["rows"]) == [(2, "phase"), (2, "q1")]

    with pytest.raises(InvalidInput) as raised:
        domain.read_submissions_csv(tes, "participant_code,q1,q7\nPON-A,true,true\n")
    assert raised.value.details["fields"]["header"] == ["missing column phase", "unknown column q7"]


# --- gain and item analysis -------------------------------------------------

def test_gain_per_session_city_and_nation(store):
    pontianak, medan = instrument(store, rollout_id=1), instrument(store, rollout_id=2)
    a, b, c = person("PON-A"), person("PON-B"), person("PON-C")
    m = person("MDN-A", city="medan", rollout_id=2)
    known(store, a, b, c, m)
    # Pontianak: A 1/4 -> 3/4 (g = 0.5/0.75 = 2/3), B 4/4 -> 4/4 (perfect pre), C pre only.
    submit(store, pontianak.id, a, "pre", 1)
    submit(store, pontianak.id, a, "post", 3)
    submit(store, pontianak.id, b, "pre", 4)
    submit(store, pontianak.id, b, "post", 4)
    submit(store, pontianak.id, c, "pre", 2)
    # Medan: 2/4 -> 4/4, g = 1.
    submit(store, medan.id, m, "pre", 2)
    submit(store, medan.id, m, "post", 4)

    with store.read() as session:
        city = domain.gains(session, "pontianak")
        nation = domain.gains(session, events.NATIONAL)

    # Pontianak <g> = (mean post 7/8 - mean pre 5/8) / (1 - 5/8) = (2/8) / (3/8) = 2/3
    assert (city["paired"], city["perfect_pre"], city["pre_only"], city["post_only"]) == (2, 1, 1, 0)
    assert city["gain_of_averages"]["value"] == pytest.approx(2 / 3)
    assert city["mean_of_gains"] == {"value": pytest.approx(2 / 3), "n": 1, "ci": None}
    assert [(s["rollout_id"], s["city"]) for s in city["by_session"]] == [(1, "pontianak")]
    # Nation: pre 1/4, 4/4, 2/4 -> mean 7/12; post 3/4, 4/4, 4/4 -> mean 11/12; <g> = (4/12) / (5/12) = 0.8
    assert nation["paired"] == 3
    assert nation["gain_of_averages"]["value"] == pytest.approx(0.8)
    assert [s["city"] for s in nation["by_session"]] == ["pontianak", "medan"]
    jejak = next(t for t in nation["by_topic"] if t["topic"] == "Jejak Digital")
    # Jejak Digital (q1, q2): A 1/2 -> 2/2, B 2/2 -> 2/2, M 2/2 -> 2/2: <g> = (1 - 5/6) / (1 - 5/6) = 1
    assert (jejak["paired"], jejak["perfect_pre"]) == (3, 2)
    assert jejak["gain_of_averages"]["value"] == pytest.approx(1.0)


def test_a_changed_session_gets_one_gain_summary_event(store):
    pontianak = instrument(store, rollout_id=1)
    a, b = person("PON-A"), person("PON-B")
    known(store, a, b)
    # A 1/4 -> 3/4 (g = 2/3); B 2/4 -> 4/4 (g = 1): <g> = (7/8 - 3/8) / (1 - 3/8) = 0.8
    for who, pre, post in ((a, 1, 3), (b, 2, 4)):
        submit(store, pontianak.id, who, "pre", pre)
        submit(store, pontianak.id, who, "post", post)

    with store.unit_of_work() as uow:
        assert domain.publish_gain_summaries(uow) == 1
    with store.unit_of_work() as uow:
        assert domain.publish_gain_summaries(uow) == 0  # nothing changed since

    [summary] = outbox(store, "gain_summary.")
    assert (summary["rollout_id"], summary["session_key"], summary["city"]) == (1, "socialisation", "pontianak")
    assert (summary["paired"], summary["perfect_pre"], summary["pre_only"], summary["post_only"]) == (2, 0, 0, 0)
    assert summary["gain_of_averages"]["value"] == pytest.approx(0.8)
    assert summary["mean_of_gains"]["value"] == pytest.approx((2 / 3 + 1) / 2)
    assert summary["mean_of_gains"]["n"] == 2 and len(summary["mean_of_gains"]["ci"]) == 2
    assert events.GAIN_SUMMARY.load(summary)  # what reporting reads


def test_item_analysis_of_an_instrument(store):
    tes = instrument(store)
    # right answers: P1 q1..q4, P2 q1..q2, P3 q1 only, P4 none
    for code, right in (("PON-1", 4), ("PON-2", 2), ("PON-3", 1), ("PON-4", 0)):
        submit(store, tes.id, person(code), "post", right)

    with store.read() as session:
        analysis = domain.item_analysis(session, tes.id, "post")

    assert analysis["attempts"] == 4
    # facility: q1 3/4, q2 2/4, q3 1/4, q4 1/4
    assert [i["facility_index"] for i in analysis["items"]] == pytest.approx([75.0, 50.0, 25.0, 25.0])
    # q4: marks 1,0,0,0; rest 3,2,1,0 -> dev .75,-.25,-.25,-.25 and 1.5,.5,-.5,-1.5:
    # sxy = 1.125 - .125 + .125 + .375 = 1.5, sxx = .75, syy = 5 -> r = 1.5 / sqrt(3.75) = 0.774597
    assert analysis["items"][3]["discrimination_index"] == pytest.approx(77.4597, abs=1e-4)
    assert analysis["items"][3]["topic"] == "Kejahatan Siber"


# --- action plans -----------------------------------------------------------

def test_a_participants_plan_is_recorded_and_followed_up(store):
    plan_in = domain.parse_action_plan({"rollout_id": 1, "session_key": "socialisation", "owner": "participant",
                                        "participant_code": "PON-A", "commitment": "Lapor bila ada perundungan",
                                        "due_on": "2019-06-01"})
    with store.unit_of_work() as uow:
        plan = domain.record_action_plan(uow, plan_in, person("PON-A"))
    with store.unit_of_work() as uow:
        domain.update_action_plan(uow, plan.id, {"status": "in_progress", "note": "dua kali lapor"})
    with store.unit_of_work() as uow:
        done = domain.update_action_plan(uow, plan.id, {"status": "done"})

    assert done.status == "done"
    assert [(f["status"], f["note"]) for f in done.follow_ups] == [("in_progress", "dua kali lapor"), ("done", None)]
    recorded, *updated = outbox(store, "action_plan_")
    assert recorded["status"] == "planned" and recorded["due_on"] == "2019-06-01"
    assert [u["status"] for u in updated] == ["in_progress", "done"]
    # The report prints what was committed to; the participant is named by code only, never by name.
    assert all(e["commitment"] == "Lapor bila ada perundungan" and e["participant_code"] == "PON-A"
               and "full_name" not in e for e in [recorded, *updated])


def test_a_groups_plan_needs_a_launched_session(store):
    plan_in = domain.parse_action_plan({"rollout_id": 1, "session_key": "socialisation", "owner": "group",
                                        "group_name": "Kelas 8B", "commitment": "Poster di sekolah"})
    with pytest.raises(NotFound) as raised:
        with store.unit_of_work() as uow:
            domain.record_action_plan(uow, plan_in)
    assert raised.value.details["field"] == "session_key"

    launched(store, city="pontianak")
    with store.unit_of_work() as uow:
        plan = domain.record_action_plan(uow, plan_in)
    assert (plan.city, plan.status) == ("pontianak", "planned")
    assert outbox(store, "action_plan_recorded.pontianak")[0]["owner"] == "group"


@pytest.mark.parametrize("change, field", [
    ({"owner": "participant"}, "participant_code"),
    ({"group_name": None}, "group_name"),
    ({"owner": "teacher"}, "owner"),
    ({"due_on": "besok"}, "due_on"),
])
def test_a_bad_plan_is_refused_naming_the_field(change, field):
    data = {"rollout_id": 1, "session_key": "s", "owner": "group", "group_name": "Kelas 8B",
            "commitment": "Poster", **change}
    with pytest.raises(InvalidInput) as raised:
        domain.parse_action_plan(data)
    assert field in raised.value.details["fields"]


def test_unknown_plan_or_status(store):
    with pytest.raises(NotFound) as raised:
        with store.unit_of_work() as uow:
            domain.update_action_plan(uow, 99, {"status": "done"})
    assert raised.value.details["field"] == "action_plan_id"
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.update_action_plan(uow, 99, {"status": "finished"})
    assert "status" in raised.value.details["fields"]


def test_plans_are_listed_by_status_and_an_unknown_status_is_refused(store):
    launched(store)
    plan_in = domain.parse_action_plan({"rollout_id": 1, "session_key": "socialisation", "owner": "group",
                                        "group_name": "Kelas 8B", "commitment": "Poster di sekolah"})
    with store.unit_of_work() as uow:
        first = domain.record_action_plan(uow, plan_in)
        domain.record_action_plan(uow, plan_in)
    with store.unit_of_work() as uow:
        domain.update_action_plan(uow, first.id, {"status": "done"})

    with store.read() as session:
        assert [p.id for p in domain.list_action_plans(session, rollout_id=1, status="done")] == [first.id]
        assert len(domain.list_action_plans(session, rollout_id=1)) == 2
        with pytest.raises(InvalidInput) as raised:
            domain.list_action_plans(session, status="finished")
    assert "status" in raised.value.details["fields"]


def test_a_test_scored_event_without_the_newer_fields_still_loads():
    payload = events.TEST_SCORED.create(
        "pontianak", rollout_id=1, submission_id=1, instrument_id=1, session_key="socialisation",
        participant_code="PON-A", phase="pre", score=1, max_score=2, passed=False, topics=[])
    assert "unanswered" not in payload  # as an older producer sends it

    event = events.TEST_SCORED.load(payload)

    assert (event["unanswered"], event["instrument_version"]) == (0, None)
