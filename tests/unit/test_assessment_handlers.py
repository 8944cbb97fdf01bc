"""Assessment's handlers: instruments, tests one by one and by sheet, gain, item analysis, action plans.

Each test runs twice: over the in-memory fakes, and over the real repositories
on a SQLite file, so the fakes cannot drift from the SQL they stand in for.
"""
import json
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import select

from services.assessment import action_plans, gains, instruments, submissions
from services.assessment.commands import (
    CreateInstrument,
    FollowUpActionPlan,
    ImportSubmissions,
    KnownParticipant,
    PublishGainSummaries,
    RecordActionPlan,
    RememberParticipants,
    SubmitTest,
)
from services.assessment.fakes import FakeAssessmentUnitOfWork
from services.assessment.models import Base
from services.assessment.repository import AssessmentUnitOfWork
from shared import events
from shared.database import OutboxMessage, Store
from shared.errors import Conflict, InvalidInput, NotFound

TOPICS = ["Jejak Digital", "Kejahatan Siber"]
QUESTIONS = [
    {"id": "q1", "text": "…", "topic": "Jejak Digital", "kind": "true_false", "answer": True},
    {"id": "q2", "text": "…", "topic": "Jejak Digital", "kind": "multiple_choice",
     "choices": ["a", "b", "c"], "answer": "b"},
    {"id": "q3", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": False},
    {"id": "q4", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": True},
]


class Fakes:
    """Every unit of work is the same in-memory one."""

    def __init__(self):
        self.uow = FakeAssessmentUnitOfWork()

    @contextmanager
    def unit_of_work(self):
        yield self.uow

    read = unit_of_work

    def emitted(self, event):
        return [event.load(event.create(city, **fields)) for kind, city, fields in self.uow.events if kind is event]


class Sqlite:
    """Real repositories on a SQLite file: each unit of work commits, or rolls back on an error."""

    def __init__(self, path):
        self.store = Store(f"sqlite:///{path}", Base.metadata, consumer="assessment",
                           unit_of_work=AssessmentUnitOfWork)

    def unit_of_work(self):
        return self.store.unit_of_work()

    def read(self):
        return self.store.read()

    def emitted(self, event):
        with self.store.read() as uow:
            rows = uow.session.scalars(select(OutboxMessage).where(
                OutboxMessage.routing_key.startswith(event.name + ".")).order_by(OutboxMessage.id)).all()
            return [event.load(json.loads(row.payload)) for row in rows]


@pytest.fixture(params=["fakes", "sqlite"])
def db(request, tmp_path):
    if request.param == "fakes":
        yield Fakes()
        return
    database = Sqlite(tmp_path / "assessment.db")
    yield database
    database.store.dispose()


def launched(db, city="pontianak", rollout_id=1):
    event = events.ROLLOUT_LAUNCHED.load(events.ROLLOUT_LAUNCHED.create(
        city, rollout_id=rollout_id, program="Internet Aman untuk Anak", city_name=city.title(),
        starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3),
        sessions=[{"key": "socialisation", "day": 2, "date": date(2019, 5, 3), "title": "Sosialisasi",
                   "audience": "students", "topics": [{"title": t, "facilitators": []} for t in TOPICS]}]))
    with db.unit_of_work() as uow:
        instruments.remember_rollout(uow, event)


def instrument(db, rollout_id=1, **extra):
    command = CreateInstrument(**{"rollout_id": rollout_id, "session_key": "socialisation", "title": "Tes",
                                  "questions": QUESTIONS, **extra})
    with db.unit_of_work() as uow:
        return instruments.create_instrument(command, uow)


def person(code, city="pontianak", rollout_id=1, session_key="socialisation"):
    return KnownParticipant(code=code, participant_id=1, rollout_id=rollout_id, city=city, session_key=session_key)


def known(db, *people):
    with db.unit_of_work() as uow:
        submissions.remember_participants(RememberParticipants(people), uow)


def submit(db, instrument_id, code, phase, right=0, answers=None):
    """Answer the first ``right`` questions right and leave the rest blank."""
    answers = answers if answers is not None else {q["id"]: q["answer"] for q in QUESTIONS[:right]}
    with db.unit_of_work() as uow:
        return submissions.submit_test(SubmitTest(instrument_id, code, phase, answers), uow)


# --- instruments ------------------------------------------------------------

def test_versions_count_up_per_session_and_a_taken_version_is_a_conflict(db):
    assert [instrument(db).version, instrument(db).version] == [1, 2]
    assert instrument(db, rollout_id=2).version == 1

    with pytest.raises(Conflict) as raised:
        instrument(db, version=2)
    assert raised.value.details["field"] == "version"
    assert instrument(db, version=5).version == 5


def test_questions_must_carry_the_sessions_topics_once_the_launch_is_known(db):
    launched(db)
    off_agenda = [*QUESTIONS, {"id": "q9", "text": "…", "topic": "Memasak", "kind": "true_false", "answer": True}]

    with pytest.raises(InvalidInput) as raised:
        instrument(db, questions=off_agenda)
    assert raised.value.details["fields"]["questions"] == {4: {"topic": ["must be one of: Jejak Digital; "
                                                                         "Kejahatan Siber"]}}
    with pytest.raises(InvalidInput) as raised:
        instrument(db, session_key="workshop")
    assert "session_key" in raised.value.details["fields"]
    assert instrument(db).version == 1


def test_instruments_are_found_by_id_and_listed_by_session(db):
    first, _ = instrument(db), instrument(db, rollout_id=2)
    with db.read() as uow:
        assert instruments.get_instrument(uow, first.id).title == "Tes"
        assert [i.rollout_id for i in instruments.list_instruments(uow, rollout_id=2).items] == [2]
        assert len(instruments.list_instruments(uow, session_key="socialisation").items) == 2
        with pytest.raises(NotFound) as raised:
            instruments.get_instrument(uow, 404)
    assert raised.value.details["field"] == "instrument_id"


# --- tests one by one -------------------------------------------------------

def test_a_test_is_scored_and_emits_test_scored_with_its_unanswered_count(db):
    tes = instrument(db)
    known(db, person("PON-A"))
    saved = submit(db, tes.id, "PON-A", "pre", answers={"q1": True, "q2": "b", "q3": True})

    assert (saved.score, saved.max_score, saved.passed, saved.unanswered) == (2, 4, False, ["q4"])
    [event] = db.emitted(events.TEST_SCORED)
    assert (event["city"], event["submission_id"], event["participant_code"]) == ("pontianak", saved.id, "PON-A")
    assert (event["score"], event["unanswered"], event["instrument_version"]) == (2, 1, 1)
    assert event["pass_percent"] == 60  # the pass mark the report states beside the pass rate
    assert event["topics"] == [{"topic": "Jejak Digital", "score": 2, "max_score": 2},
                               {"topic": "Kejahatan Siber", "score": 0, "max_score": 2}]


def test_one_pre_test_per_session_whichever_version(db):
    first, second = instrument(db), instrument(db)
    known(db, person("PON-A"))
    earlier = submit(db, first.id, "PON-A", "pre", right=1)

    with pytest.raises(Conflict) as raised:
        submit(db, second.id, "PON-A", "pre", right=1)
    assert raised.value.details == {"field": "phase", "submission_id": earlier.id}
    assert submit(db, second.id, "PON-A", "post", right=3).score == 3
    assert [e["phase"] for e in db.emitted(events.TEST_SCORED)] == ["pre", "post"]


@pytest.mark.parametrize("who, error, field", [
    (None, NotFound, "participant_code"),
    (person("PON-A", session_key="workshop"), InvalidInput, "participant_code"),
])
def test_a_test_of_an_unknown_or_other_sessions_participant_is_refused(db, who, error, field):
    tes = instrument(db)
    if who is not None:
        known(db, who)
    with pytest.raises(error) as raised:
        submit(db, tes.id, "PON-A", "pre", right=1)
    assert field in json.dumps(raised.value.as_dict())
    assert db.emitted(events.TEST_SCORED) == []


def test_a_test_of_an_unknown_instrument_is_not_found(db):
    with pytest.raises(NotFound) as raised:
        submit(db, 404, "PON-A", "pre")
    assert raised.value.details["field"] == "instrument_id"


def test_an_answer_to_a_question_the_instrument_lacks_writes_nothing(db):
    tes = instrument(db)
    known(db, person("PON-A"))
    with pytest.raises(InvalidInput) as raised:
        submit(db, tes.id, "PON-A", "pre", answers={"q42": True})
    assert raised.value.details["fields"] == {"answers": ["unknown question q42"]}
    assert db.emitted(events.TEST_SCORED) == []
    with db.read() as uow:
        assert gains.gains(uow, "pontianak")["pre_only"] == 0


def test_only_codes_not_met_before_are_asked_about(db):
    known(db, person("PON-A"))
    with db.read() as uow:
        assert submissions.unknown_codes(uow, ["PON-B", "PON-A", "PON-C", "PON-B"]) == ["PON-B", "PON-C"]


# --- a sheet of tests -------------------------------------------------------

SHEET = ("participant_code,phase,q1,q2,q3,q4\n"
         "PON-A,pre,benar,b,,salah\n"       # q1, q2 right; q3 blank; q4 wrong: 2
         "PON-B,pre,false,a,false,true\n"   # q3, q4 right: 2
         "PON-A,post,true,b,false,true\n")  # 4


def test_a_sheet_is_imported_whole_with_one_event_per_test(db):
    tes = instrument(db)
    known(db, person("PON-A"), person("PON-B"))
    command = ImportSubmissions(tes.id, SHEET.encode())
    with db.read() as uow:
        assert submissions.codes_in_sheet(command, uow) == ["PON-A", "PON-B", "PON-A"]

    with db.unit_of_work() as uow:
        saved = submissions.import_submissions(command, uow)

    assert [(s.participant_code, s.phase, s.score) for s in saved] == [
        ("PON-A", "pre", 2), ("PON-B", "pre", 2), ("PON-A", "post", 4)]
    scored = db.emitted(events.TEST_SCORED)
    assert [(e["participant_code"], e["score"], e["city"]) for e in scored] == [
        ("PON-A", 2, "pontianak"), ("PON-B", 2, "pontianak"), ("PON-A", 4, "pontianak")]


def test_a_bad_row_refuses_the_whole_sheet_naming_line_and_field(db):
    tes = instrument(db)
    known(db, person("PON-A"), person("PON-B"), person("PON-C"))
    submit(db, tes.id, "PON-C", "pre", right=1)
    sheet = SHEET + ("PON-X,pre,true,b,true,true\n"   # line 5: unknown participant
                     "PON-B,pre,true,b,true,true\n"   # line 6: second pre-test in the sheet
                     "PON-C,pre,true,b,true,true\n")  # line 7: already has a pre-test

    with pytest.raises(InvalidInput) as raised:
        with db.unit_of_work() as uow:
            submissions.import_submissions(ImportSubmissions(tes.id, sheet.encode()), uow)

    assert [(r["line"], r["field"]) for r in raised.value.details["rows"]] == [
        (5, "participant_code"), (6, "phase"), (7, "phase")]
    assert len(db.emitted(events.TEST_SCORED)) == 1  # only the earlier one


def test_an_unreadable_sheet_is_refused_before_anyone_is_asked_about_its_codes(db):
    tes = instrument(db)
    with db.read() as uow:
        with pytest.raises(InvalidInput) as raised:
            submissions.codes_in_sheet(ImportSubmissions(tes.id, b"participant_code,q1,q7\nPON-A,true,true\n"), uow)
        assert raised.value.details["fields"]["header"] == ["missing column phase"]
        with pytest.raises(InvalidInput) as raised:
            submissions.codes_in_sheet(ImportSubmissions(tes.id, b"participant_code,phase,q7\nPON-A,pre,a\n"), uow)
    assert raised.value.details["fields"]["header"] == ["unknown column q7"]


def test_a_sheet_without_its_two_columns_is_refused_whichever_instrument_it_names(db):
    with db.read() as uow:
        with pytest.raises(InvalidInput) as raised:
            submissions.codes_in_sheet(ImportSubmissions(404, b"name,kind\nx,y\n"), uow)
        assert "header" in raised.value.details["fields"]
        with pytest.raises(NotFound):
            submissions.codes_in_sheet(ImportSubmissions(404, SHEET.encode()), uow)


# --- gain and item analysis -------------------------------------------------

def test_gain_per_session_city_and_nation(db):
    pontianak, medan = instrument(db, rollout_id=1), instrument(db, rollout_id=2)
    known(db, person("PON-A"), person("PON-B"), person("PON-C"), person("MDN-A", city="medan", rollout_id=2))
    # Pontianak: A 1/4 -> 3/4 (g = 0.5/0.75 = 2/3), B 4/4 -> 4/4 (perfect pre), C pre only.
    for code, phase, right in (("PON-A", "pre", 1), ("PON-A", "post", 3), ("PON-B", "pre", 4),
                               ("PON-B", "post", 4), ("PON-C", "pre", 2)):
        submit(db, pontianak.id, code, phase, right)
    # Medan: 2/4 -> 4/4, g = 1.
    submit(db, medan.id, "MDN-A", "pre", 2)
    submit(db, medan.id, "MDN-A", "post", 4)

    with db.read() as uow:
        city = gains.gains(uow, "pontianak")
        nation = gains.gains(uow, events.NATIONAL)

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
    with db.read() as uow:
        assert gains.gains(uow, events.NATIONAL, rollout_id=2)["paired"] == 1


def test_a_changed_session_gets_one_gain_summary_event(db):
    pontianak = instrument(db, rollout_id=1)
    known(db, person("PON-A"), person("PON-B"))
    # A 1/4 -> 3/4 (g = 2/3); B 2/4 -> 4/4 (g = 1): <g> = (7/8 - 3/8) / (1 - 3/8) = 0.8
    for code, pre, post in (("PON-A", 1, 3), ("PON-B", 2, 4)):
        submit(db, pontianak.id, code, "pre", pre)
        submit(db, pontianak.id, code, "post", post)

    with db.unit_of_work() as uow:
        assert gains.publish_gain_summaries(PublishGainSummaries(), uow) == 1
    with db.unit_of_work() as uow:
        assert gains.publish_gain_summaries(PublishGainSummaries(), uow) == 0  # nothing changed since

    [summary] = db.emitted(events.GAIN_SUMMARY)
    assert (summary["rollout_id"], summary["session_key"], summary["city"]) == (1, "socialisation", "pontianak")
    assert (summary["paired"], summary["perfect_pre"], summary["pre_only"], summary["post_only"]) == (2, 0, 0, 0)
    assert summary["gain_of_averages"]["value"] == pytest.approx(0.8)
    assert summary["mean_of_gains"]["value"] == pytest.approx((2 / 3 + 1) / 2)
    assert summary["mean_of_gains"]["n"] == 2 and len(summary["mean_of_gains"]["ci"]) == 2


def test_a_sheet_counts_as_a_change_of_its_session(db):
    tes = instrument(db)
    known(db, person("PON-A"), person("PON-B"))
    with db.unit_of_work() as uow:
        submissions.import_submissions(ImportSubmissions(tes.id, SHEET.encode()), uow)
    with db.unit_of_work() as uow:
        assert gains.publish_gain_summaries(PublishGainSummaries(), uow) == 1
    [summary] = db.emitted(events.GAIN_SUMMARY)
    assert (summary["paired"], summary["pre_only"]) == (1, 1)


def test_item_analysis_of_an_instrument(db):
    tes = instrument(db)
    # right answers: P1 q1..q4, P2 q1..q2, P3 q1 only, P4 none
    people = [("PON-1", 4), ("PON-2", 2), ("PON-3", 1), ("PON-4", 0)]
    known(db, *(person(code) for code, _ in people))
    for code, right in people:
        submit(db, tes.id, code, "post", right)

    with db.read() as uow:
        analysis = gains.item_analysis(uow, tes.id, "post")
        assert gains.item_analysis(uow, tes.id, "pre")["attempts"] == 0

    assert analysis["attempts"] == 4
    # facility: q1 3/4, q2 2/4, q3 1/4, q4 1/4
    assert [i["facility_index"] for i in analysis["items"]] == pytest.approx([75.0, 50.0, 25.0, 25.0])
    # q4: marks 1,0,0,0; rest 3,2,1,0 -> dev .75,-.25,-.25,-.25 and 1.5,.5,-.5,-1.5:
    # sxy = 1.125 - .125 + .125 + .375 = 1.5, sxx = .75, syy = 5 -> r = 1.5 / sqrt(3.75) = 0.774597
    assert analysis["items"][3]["discrimination_index"] == pytest.approx(77.4597, abs=1e-4)
    assert analysis["items"][3]["topic"] == "Kejahatan Siber"


# --- action plans -----------------------------------------------------------

def group_plan(**change):
    return RecordActionPlan(**{"rollout_id": 1, "session_key": "socialisation", "owner": "group",
                               "group_name": "Kelas 8B", "commitment": "Poster di sekolah", **change})


def test_a_participants_plan_is_recorded_and_followed_up_with_its_commitment_but_no_name_on_the_broker(db):
    known(db, person("PON-A"))
    command = RecordActionPlan(rollout_id=1, session_key="socialisation", owner="participant",
                               participant_code="PON-A", commitment="Lapor bila ada perundungan",
                               due_on=date(2019, 6, 1))
    with db.unit_of_work() as uow:
        plan = action_plans.record_action_plan(command, uow)
    with db.unit_of_work() as uow:
        action_plans.follow_up_action_plan(FollowUpActionPlan(plan.id, "in_progress", note="dua kali lapor"), uow)
    with db.unit_of_work() as uow:
        done = action_plans.follow_up_action_plan(FollowUpActionPlan(plan.id, "done"), uow)

    assert (done.status, done.city) == ("done", "pontianak")
    assert [(f["status"], f["note"]) for f in done.follow_ups] == [("in_progress", "dua kali lapor"), ("done", None)]
    recorded = db.emitted(events.ACTION_PLAN_RECORDED)
    updated = db.emitted(events.ACTION_PLAN_UPDATED)
    assert recorded[0]["status"] == "planned" and recorded[0]["due_on"] == date(2019, 6, 1)
    assert [u["status"] for u in updated] == ["in_progress", "done"]
    # The report prints what was committed to; the participant is named by code only, and the
    # follow-up notes stay in assessment.
    assert all(e["commitment"] == "Lapor bila ada perundungan" and e["participant_code"] == "PON-A"
               and "full_name" not in e and "note" not in e for e in [*recorded, *updated])


def test_a_participants_plan_needs_a_known_participant_of_that_session(db):
    command = RecordActionPlan(rollout_id=1, session_key="socialisation", owner="participant",
                               participant_code="PON-A", commitment="Poster")
    with pytest.raises(NotFound) as raised:
        with db.unit_of_work() as uow:
            action_plans.record_action_plan(command, uow)
    assert raised.value.details["field"] == "participant_code"
    known(db, person("PON-A", session_key="workshop"))
    with pytest.raises(InvalidInput) as raised:
        with db.unit_of_work() as uow:
            action_plans.record_action_plan(command, uow)
    assert "participant_code" in raised.value.details["fields"]


def test_a_groups_plan_needs_a_launched_session(db):
    with pytest.raises(NotFound) as raised:
        with db.unit_of_work() as uow:
            action_plans.record_action_plan(group_plan(), uow)
    assert raised.value.details["field"] == "session_key"

    launched(db, city="pontianak")
    with db.unit_of_work() as uow:
        plan = action_plans.record_action_plan(group_plan(), uow)
    assert (plan.city, plan.status) == ("pontianak", "planned")
    [recorded] = db.emitted(events.ACTION_PLAN_RECORDED)
    assert (recorded["owner"], recorded["group_name"], recorded["commitment"]) == (
        "group", "Kelas 8B", "Poster di sekolah")


def test_an_unknown_plan_is_not_found(db):
    with pytest.raises(NotFound) as raised:
        with db.unit_of_work() as uow:
            action_plans.follow_up_action_plan(FollowUpActionPlan(99, "done"), uow)
    assert raised.value.details["field"] == "action_plan_id"


def test_plans_are_listed_by_rollout_and_status(db):
    launched(db)
    with db.unit_of_work() as uow:
        first = action_plans.record_action_plan(group_plan(), uow)
        action_plans.record_action_plan(group_plan(), uow)
    with db.unit_of_work() as uow:
        action_plans.follow_up_action_plan(FollowUpActionPlan(first.id, "done"), uow)

    with db.read() as uow:
        assert [p.id for p in action_plans.list_action_plans(uow, rollout_id=1, status="done").items] == [first.id]
        assert len(action_plans.list_action_plans(uow, rollout_id=1).items) == 2
        assert action_plans.list_action_plans(uow, rollout_id=2).items == []



def test_a_test_scored_event_without_the_newer_fields_still_loads():
    payload = events.TEST_SCORED.create(
        "pontianak", rollout_id=1, submission_id=1, instrument_id=1, session_key="socialisation",
        participant_code="PON-A", phase="pre", score=1, max_score=2, passed=False, topics=[])
    assert "unanswered" not in payload  # as an older producer sends it

    event = events.TEST_SCORED.load(payload)

    assert (event["unanswered"], event["instrument_version"]) == (0, None)
