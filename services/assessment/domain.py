"""Scoring rules, in plain Python over a unit of work (no nameko here)."""
from marshmallow import ValidationError
from sqlalchemy import select

from services.assessment.models import Instrument, KnownParticipant, Submission
from services.assessment.schemas import InstrumentIn, SubmissionIn
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound, describe_fields


def validated(schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(describe_fields(exc.messages), fields=exc.messages)


def create_instrument(uow, data):
    instrument = Instrument(**validated(InstrumentIn(), data))
    uow.session.add(instrument)
    uow.session.flush()
    return instrument


def get_instrument(session, instrument_id):
    instrument = session.get(Instrument, instrument_id)
    if instrument is None:
        raise NotFound(f"instrument {instrument_id} does not exist", field="instrument_id")
    return instrument


def score(questions, answers, pass_percent):
    """(score, max_score, passed, per-topic scores) for one set of answers.

    An unanswered question scores nothing; an answer to a question the
    instrument does not have is refused.
    """
    known = {q["id"] for q in questions}
    strangers = sorted(set(answers) - known)
    if strangers:
        raise InvalidInput(f"answers: unknown question(s) {', '.join(strangers)}",
                           fields={"answers": [f"unknown question {q}" for q in strangers]})
    topics = {}
    total = 0
    for question in questions:
        given = answers.get(question["id"])
        # Strict: 1 is not true and "True" is not true; an answer must be the key itself.
        right = type(given) is type(question["answer"]) and given == question["answer"]
        topic = topics.setdefault(question["topic"], {"topic": question["topic"], "score": 0, "max_score": 0})
        topic["max_score"] += 1
        topic["score"] += right
        total += right
    max_score = len(questions)
    passed = total * 100 >= pass_percent * max_score
    return total, max_score, passed, list(topics.values())


def remember_participant(session, participant):
    """Keep registration's answer about a participant code for the next submission."""
    known = KnownParticipant(
        code=participant["code"], participant_id=participant["participant_id"],
        rollout_id=participant["rollout_id"], city=participant["city"],
        session_key=participant["session_key"],
    )
    session.merge(known)
    return known


def known_participant(session, code):
    return session.get(KnownParticipant, code)


def submit(uow, data, participant):
    """Score one test submission; ``participant`` is what registration knows of its code."""
    instrument = get_instrument(uow.session, data["instrument_id"])
    if participant is None:
        raise NotFound(f"participant_code: no participant has code {data['participant_code']}",
                       field="participant_code")
    if (participant.rollout_id, participant.session_key) != (instrument.rollout_id, instrument.session_key):
        raise InvalidInput("participant_code: the participant does not attend this instrument's session",
                           fields={"participant_code": ["not in the instrument's session"]})
    duplicate = uow.session.scalar(select(Submission.id).where(
        Submission.instrument_id == instrument.id,
        Submission.participant_code == data["participant_code"],
        Submission.phase == data["phase"],
    ))
    if duplicate is not None:
        raise Conflict(f"participant {data['participant_code']} already has a {data['phase']}-test "
                       f"for instrument {instrument.id}", field="phase", submission_id=duplicate)
    total, max_score, passed, topics = score(instrument.questions, data["answers"], instrument.pass_percent)
    submission = Submission(
        instrument_id=instrument.id, participant_code=data["participant_code"], phase=data["phase"],
        answers=data["answers"], score=total, max_score=max_score, passed=passed, topic_scores=topics,
    )
    uow.session.add(submission)
    uow.session.flush()
    uow.emit(
        events.TEST_SCORED, participant.city,
        rollout_id=instrument.rollout_id, submission_id=submission.id, instrument_id=instrument.id,
        session_key=instrument.session_key, participant_code=submission.participant_code,
        phase=submission.phase, score=total, max_score=max_score, passed=passed, topics=topics,
    )
    return submission


def parse_submission(data):
    return validated(SubmissionIn(), data)
