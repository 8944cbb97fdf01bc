"""Hostile input to assessment through its real web layer (issue 13), each case named.

Every case ends in a 4xx naming the field (a sheet's: its line and field), and
assessment's instruments, action plans and scored tests are as they were.
"""
import pytest

from services.assessment.service import AssessmentService
from tests.support.hostile import MAX_REQUEST_BYTES, assert_refused, at_the_door
from tests.support.in_process import serving
from tests.unit.test_assessment_container import PARTICIPANTS, QUESTIONS

INSTRUMENT = {"rollout_id": 1, "session_key": "socialisation", "title": "Tes awal", "questions": QUESTIONS}
PLAN = {"rollout_id": 1, "session_key": "socialisation", "owner": "group", "group_name": "OSIS",
        "commitment": "Berbagi materi ke kelas lain"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serving([AssessmentService], tmp_path_factory.mktemp("hostile-assessment"), replace=("registration",),
                 MAX_REQUEST_BYTES=MAX_REQUEST_BYTES) as served:
        served.stand_ins["registration"].participant_by_code.side_effect = PARTICIPANTS.get
        yield served


@pytest.fixture(scope="module")
def instrument(served):
    """An instrument of rollout 1 (assessment takes it as given until it hears of the launch)."""
    created = served.call("POST", "/instruments", json=INSTRUMENT)
    assert created.status_code == 201, created.text
    return {"instrument": created.json()["id"]}


def held(served, instrument):
    """What a refused request could have written: instruments, action plans, tests scored."""
    scored = [served.call("GET", f"/instruments/{instrument['instrument']}/item-analysis",
                          params={"phase": phase}).json()["attempts"] for phase in ("pre", "post")]
    return served.call("GET", "/instruments").json(), served.call("GET", "/action-plans").json(), scored


def sheet(text):
    return {"data": text.encode(), "headers": {"Content-Type": "text/csv"}}


SUBMISSION = {"instrument_id": "{instrument}", "participant_code": "PON-A", "phase": "pre", "answers": {"q1": True}}
SHEET = "/instruments/{instrument}/submissions/import"

CASES = [
    *[(case, "POST", "/instruments", request, status, field)
      for case, request, status, field in at_the_door(INSTRUMENT, "title")],
    ("instrument-for-rollout-minus-5", "POST", "/instruments", {"json": {**INSTRUMENT, "rollout_id": -5}}, 422,
     "rollout_id"),
    ("instrument-for-rollout-0", "POST", "/instruments", {"json": {**INSTRUMENT, "rollout_id": 0}}, 422,
     "rollout_id"),
    ("instrument-for-rollout-2^40", "POST", "/instruments", {"json": {**INSTRUMENT, "rollout_id": 2**40}}, 422,
     "rollout_id"),
    ("bell-in-a-question", "POST", "/instruments",
     {"json": {**INSTRUMENT, "questions": [{**QUESTIONS[0], "text": "Benar\u0007?"}]}}, 422, "questions.0.text"),
    ("instrument-id-2^40", "GET", "/instruments/1099511627776", {}, 404, "instrument_id"),
    ("instruments-of-rollout-minus-5", "GET", "/instruments", {"params": {"rollout_id": "-5"}}, 422, "rollout_id"),
    ("test-of-instrument-minus-1", "POST", "/submissions", {"json": {**SUBMISSION, "instrument_id": -1}}, 422,
     "instrument_id"),
    ("nul-in-a-participant-code", "POST", "/submissions",
     {"json": {**SUBMISSION, "participant_code": "PON-\u0000A"}}, 422, "participant_code"),
    ("nul-in-an-answers-question", "POST", "/submissions", {"json": {**SUBMISSION, "answers": {"q\u00001": True}}},
     422, "answers.q\u00001"),
    ("plan-for-rollout-minus-5", "POST", "/action-plans", {"json": {**PLAN, "rollout_id": -5}}, 422, "rollout_id"),
    ("plan-due-in-year-1", "POST", "/action-plans", {"json": {**PLAN, "due_on": "0001-01-01"}}, 422, "due_on"),
    ("plan-due-in-2999", "POST", "/action-plans", {"json": {**PLAN, "due_on": "2999-01-01"}}, 422, "due_on"),
    ("follow-up-due-in-year-1", "PATCH", "/action-plans/1", {"json": {"status": "done", "due_on": "0001-01-01"}},
     422, "due_on"),
    ("plans-of-rollout-2^40", "GET", "/action-plans", {"params": {"rollout_id": str(2**40)}}, 422, "rollout_id"),
    ("control-character-in-a-gain-scope", "GET", "/gains/ponti%01anak", {}, 422, "scope"),
    ("gains-of-rollout-minus-5", "GET", "/gains/national", {"params": {"rollout_id": "-5"}}, 422, "rollout_id"),
    ("sheet-with-nul-in-a-code", "POST", SHEET, sheet("participant_code,phase,q1\nPON-\u0000A,pre,benar\n"), 422,
     "participant_code"),
    ("sheet-with-cells-past-the-header", "POST", SHEET, sheet("participant_code,phase,q1\nPON-A,pre,benar,salah\n"),
     422, "row"),
    ("sheet-not-utf8", "POST", SHEET, {"data": b"participant_code,phase,q1\nPON-\xffA,pre,benar\n"}, 422, "body"),
    ("sheet-past-the-limit", "POST", SHEET, {"data": b"x" * (MAX_REQUEST_BYTES + 1)}, 413, None),
]


def filled(value, instrument):
    """``value`` with ``{instrument}`` put in its strings (a JSON body's id as a number)."""
    if isinstance(value, dict):
        return {key: filled(item, instrument) for key, item in value.items()}
    if value == "{instrument}":
        return instrument["instrument"]
    return value.format(**instrument) if isinstance(value, str) else value


@pytest.mark.parametrize("method, path, request_, status, field",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_request_is_refused_naming_the_field_and_writes_nothing(served, instrument, method, path, request_,
                                                                          status, field):
    before = held(served, instrument)
    answer = served.call(method, path.format(**instrument), **filled(request_, instrument))
    assert_refused(answer, status, field)
    assert held(served, instrument) == before
