"""Scoring one set of answers, reading a sheet of tests, and what the API refuses: no database here."""
import pytest

from services.assessment import sheets
from services.assessment.commands import SubmitTest
from services.assessment.schemas import ActionPlanIn, ActionPlanQuery, InstrumentIn, ItemAnalysisQuery, SubmissionIn
from services.assessment.scoring import AnswerKey, score
from shared.commands import validated
from shared.errors import InvalidInput

QUESTIONS = [
    {"id": "q1", "text": "…", "topic": "Jejak Digital", "kind": "true_false", "answer": True},
    {"id": "q2", "text": "…", "topic": "Jejak Digital", "kind": "multiple_choice",
     "choices": ["a", "b", "c"], "answer": "b"},
    {"id": "q3", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": False},
    {"id": "q4", "text": "…", "topic": "Kejahatan Siber", "kind": "multiple_choice",
     "choices": ["a", "b"], "answer": "a"},
    {"id": "q5", "text": "…", "topic": "Kejahatan Siber", "kind": "true_false", "answer": True},
]


def test_all_right():
    total, max_score, passed, topics = score(
        QUESTIONS, {"q1": True, "q2": "b", "q3": False, "q4": "a", "q5": True}, 60)

    assert (total, max_score, passed) == (5, 5, True)
    assert topics == [
        {"topic": "Jejak Digital", "score": 2, "max_score": 2},
        {"topic": "Kejahatan Siber", "score": 3, "max_score": 3},
    ]


def test_wrong_and_unanswered_questions_score_nothing():
    # q1 right, q2 wrong, q3 unanswered, q4 right, q5 wrong: 2 of 5
    total, max_score, passed, topics = score(
        QUESTIONS, {"q1": True, "q2": "c", "q4": "a", "q5": False}, 60)

    assert (total, max_score, passed) == (2, 5, False)
    assert topics == [
        {"topic": "Jejak Digital", "score": 1, "max_score": 2},
        {"topic": "Kejahatan Siber", "score": 1, "max_score": 3},
    ]


def test_false_is_not_the_same_as_unanswered():
    total, *_ = score(QUESTIONS, {"q3": False}, 60)
    assert total == 1
    total, *_ = score(QUESTIONS, {"q3": None}, 60)
    assert total == 0


@pytest.mark.parametrize("right, pass_percent, passed", [
    (3, 60, True),    # 3/5 = 60% meets a 60% pass mark exactly
    (2, 60, False),   # 40%
    (3, 61, False),   # 60% is just under 61%
    (4, 80, True),
    (0, 0, True),     # no pass mark: everyone passes
    (5, 100, True),
    (4, 100, False),
])
def test_pass_mark_boundary(right, pass_percent, passed):
    answers = {q["id"]: q["answer"] for q in QUESTIONS[:right]}

    total, max_score, did_pass, _ = score(QUESTIONS, answers, pass_percent)

    assert (total, max_score, did_pass) == (right, 5, passed)


def test_pass_mark_is_not_rounded():
    # 2 of 3 is 66.67%: passes 66, fails 67
    three = QUESTIONS[:3]
    answers = {"q1": True, "q2": "b"}
    assert score(three, answers, 66)[2] is True
    assert score(three, answers, 67)[2] is False


def test_unknown_question_is_refused():
    with pytest.raises(InvalidInput) as raised:
        score(QUESTIONS, {"q1": True, "q9": "a", "q0": True}, 60)

    assert raised.value.details["fields"] == {"answers": ["unknown question q0", "unknown question q9"]}


# --- reading a sheet --------------------------------------------------------

SHEET = ("participant_code,phase,q1,q2,q3,q4\n"
         "PON-A,pre,benar,b,,a\n"
         "PON-B,PRE,Ya,a,0,\n")


def test_a_sheet_reads_into_tests_with_blank_cells_unanswered():
    tests = sheets.read_tests(3, QUESTIONS[:4], ("\ufeff" + SHEET).encode("utf-8"))

    assert tests == [
        (2, SubmitTest(3, "PON-A", "pre", {"q1": True, "q2": "b", "q4": "a"})),
        (3, SubmitTest(3, "PON-B", "pre", {"q1": True, "q2": "a", "q3": False})),
    ]


def test_unreadable_cells_and_columns_are_reported_by_line():
    with pytest.raises(InvalidInput) as raised:
        sheets.read_tests(1, QUESTIONS, b"participant_code,phase,q1\nPON-A,during,mungkin\n,pre,\n")
    assert sorted((r["line"], r["field"]) for r in raised.value.details["rows"]) == [
        (2, "phase"), (2, "q1"), (3, "participant_code")]
    assert raised.value.message.startswith("3 bad row(s), nothing imported: line 2")

    with pytest.raises(InvalidInput) as raised:
        sheets.read_tests(1, QUESTIONS, b"participant_code,q1,q7\nPON-A,true,true\n")
    assert raised.value.details["fields"]["header"] == ["missing column phase", "unknown column q7"]


@pytest.mark.parametrize("sheet, field", [
    (b"participant_code,phase,q1\n", "body"),
    ("participant_code,phase\nPON-\u00c9,pre\n".encode("latin-1"), "body"),
])
def test_an_empty_or_non_utf8_sheet_is_refused(sheet, field):
    with pytest.raises(InvalidInput) as raised:
        sheets.read_tests(1, QUESTIONS, sheet)
    assert field in raised.value.details["fields"]


# --- what the API refuses (the edge's schemas) ---------------------------------

@pytest.mark.parametrize("change, field", [
    ({"phase": "during"}, "phase"),
    ({"answers": None}, "answers"),
    ({"extra": 1}, "extra"),
])
def test_a_bad_submission_is_refused_naming_the_field(change, field):
    data = {"instrument_id": 1, "participant_code": "PON-ABCDEF", "phase": "pre", "answers": {}, **change}
    with pytest.raises(InvalidInput) as raised:
        validated(SubmissionIn(), data)
    assert field in raised.value.details["fields"]


def test_a_multiple_choice_answer_must_be_one_of_its_choices():
    bad = {**QUESTIONS[1], "answer": "d"}
    with pytest.raises(InvalidInput) as raised:
        validated(InstrumentIn(), {"rollout_id": 1, "session_key": "s", "title": "t", "questions": [bad]})
    assert "answer" in raised.value.details["fields"]["questions"][0]


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
        validated(ActionPlanIn(), data)
    assert field in raised.value.details["fields"]


@pytest.mark.parametrize("schema, query, field", [
    (ActionPlanQuery, {"status": "finished"}, "status"),
    (ActionPlanQuery, {"rollout_id": "satu"}, "rollout_id"),
    (ItemAnalysisQuery, {"phase": "during"}, "phase"),
])
def test_a_bad_query_is_refused_naming_the_parameter(schema, query, field):
    with pytest.raises(InvalidInput) as raised:
        validated(schema(), query)
    assert field in raised.value.details["fields"]


def test_an_empty_query_value_is_left_out():
    query = validated(ActionPlanQuery(), {"rollout_id": "", "status": "done"})
    assert (query["rollout_id"], query["status"]) == (None, "done")
    assert validated(ItemAnalysisQuery(), {}) == {"phase": "post"}


def test_the_answer_key_marks_each_question_for_item_analysis():
    key = AnswerKey(QUESTIONS, 60)
    assert key.marks({"q1": True, "q2": "a", "q3": "False"}) == {"q1": 1, "q2": 0, "q3": 0, "q4": 0, "q5": 0}
