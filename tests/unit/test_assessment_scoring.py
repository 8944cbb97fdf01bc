import json
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.assessment import domain
from services.assessment.models import Base, Submission
from shared import events
from shared.database import OutboxMessage
from shared.errors import Conflict, InvalidInput, NotFound

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
    total, max_score, passed, topics = domain.score(
        QUESTIONS, {"q1": True, "q2": "b", "q3": False, "q4": "a", "q5": True}, 60)

    assert (total, max_score, passed) == (5, 5, True)
    assert topics == [
        {"topic": "Jejak Digital", "score": 2, "max_score": 2},
        {"topic": "Kejahatan Siber", "score": 3, "max_score": 3},
    ]


def test_wrong_and_unanswered_questions_score_nothing():
    # q1 right, q2 wrong, q3 unanswered, q4 right, q5 wrong: 2 of 5
    total, max_score, passed, topics = domain.score(
        QUESTIONS, {"q1": True, "q2": "c", "q4": "a", "q5": False}, 60)

    assert (total, max_score, passed) == (2, 5, False)
    assert topics == [
        {"topic": "Jejak Digital", "score": 1, "max_score": 2},
        {"topic": "Kejahatan Siber", "score": 1, "max_score": 3},
    ]


def test_false_is_not_the_same_as_unanswered():
    total, *_ = domain.score(QUESTIONS, {"q3": False}, 60)
    assert total == 1
    total, *_ = domain.score(QUESTIONS, {"q3": None}, 60)
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

    total, max_score, did_pass, _ = domain.score(QUESTIONS, answers, pass_percent)

    assert (total, max_score, did_pass) == (right, 5, passed)


def test_pass_mark_is_not_rounded():
    # 2 of 3 is 66.67%: passes 66, fails 67
    three = QUESTIONS[:3]
    answers = {"q1": True, "q2": "b"}
    assert domain.score(three, answers, 66)[2] is True
    assert domain.score(three, answers, 67)[2] is False


def test_unknown_question_is_refused():
    with pytest.raises(InvalidInput) as raised:
        domain.score(QUESTIONS, {"q1": True, "q9": "a", "q0": True}, 60)

    assert raised.value.details["fields"] == {"answers": ["unknown question q0", "unknown question q9"]}


# --- submitting -------------------------------------------------------------

@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="assessment")


@pytest.fixture
def instrument_id(store):
    with store.unit_of_work() as uow:
        return domain.create_instrument(uow, {
            "rollout_id": 1, "session_key": "socialisation", "title": "Pre/post-test",
            "pass_percent": 60, "questions": QUESTIONS,
        }).id


SITI = SimpleNamespace(code="PON-ABCDEF", participant_id=5, rollout_id=1, city="pontianak",
                       session_key="socialisation")


def submission(instrument_id, phase="pre", answers=None):
    return domain.parse_submission({"instrument_id": instrument_id, "participant_code": SITI.code,
                                    "phase": phase, "answers": answers or {"q1": True}})


def submit(store, data, participant=SITI):
    with store.unit_of_work() as uow:
        return domain.submit(uow, data, participant)


def scored_events(store):
    with store.read() as session:
        return [events.TEST_SCORED.load(json.loads(r.payload)) for r in session.scalars(
            select(OutboxMessage).where(OutboxMessage.routing_key == "test_scored.pontianak"))]


def test_submit_scores_and_emits_test_scored(store, instrument_id):
    saved = submit(store, submission(instrument_id, "pre", {"q1": True, "q2": "b", "q3": False}))

    assert (saved.score, saved.max_score, saved.passed) == (3, 5, True)
    [event] = scored_events(store)
    assert event["submission_id"] == saved.id
    assert (event["participant_code"], event["phase"], event["score"]) == ("PON-ABCDEF", "pre", 3)
    assert event["topics"] == [
        {"topic": "Jejak Digital", "score": 2, "max_score": 2},
        {"topic": "Kejahatan Siber", "score": 1, "max_score": 3},
    ]


def test_second_submission_of_the_same_phase_is_a_conflict(store, instrument_id):
    first = submit(store, submission(instrument_id, "pre"))

    with pytest.raises(Conflict) as raised:
        submit(store, submission(instrument_id, "pre", {"q1": True, "q2": "b"}))

    assert raised.value.details == {"field": "phase", "submission_id": first.id}
    submit(store, submission(instrument_id, "post"))  # the other phase is fine
    assert [e["phase"] for e in scored_events(store)] == ["pre", "post"]


def test_unknown_participant_is_not_found(store, instrument_id):
    with pytest.raises(NotFound) as raised:
        submit(store, submission(instrument_id), participant=None)

    assert raised.value.details["field"] == "participant_code"
    assert scored_events(store) == []


def test_unknown_instrument_is_not_found(store):
    with pytest.raises(NotFound) as raised:
        submit(store, submission(404))
    assert raised.value.details["field"] == "instrument_id"


def test_participant_of_another_session_is_refused(store, instrument_id):
    workshop = SimpleNamespace(**{**vars(SITI), "session_key": "workshop"})

    with pytest.raises(InvalidInput) as raised:
        submit(store, submission(instrument_id), participant=workshop)
    assert "participant_code" in raised.value.details["fields"]


def test_unknown_question_in_a_submission_writes_nothing(store, instrument_id):
    with pytest.raises(InvalidInput):
        submit(store, submission(instrument_id, answers={"q42": True}))

    with store.read() as session:
        assert session.scalars(select(Submission)).all() == []
    assert scored_events(store) == []


@pytest.mark.parametrize("change, field", [
    ({"phase": "during"}, "phase"),
    ({"answers": None}, "answers"),
    ({"extra": 1}, "extra"),
])
def test_bad_submission_is_refused_naming_the_field(change, field):
    data = {"instrument_id": 1, "participant_code": "PON-ABCDEF", "phase": "pre", "answers": {}, **change}

    with pytest.raises(InvalidInput) as raised:
        domain.parse_submission(data)
    assert field in raised.value.details["fields"]


def test_multiple_choice_answer_must_be_a_choice(store):
    bad = {**QUESTIONS[1], "answer": "d"}
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.create_instrument(uow, {"rollout_id": 1, "session_key": "s", "title": "t",
                                           "questions": [bad]})
    assert "answer" in raised.value.details["fields"]["questions"][0]
