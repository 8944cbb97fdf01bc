"""Scoring tests, one at a time or a whole sheet, and the participants they belong to.

Registration owns participants; the service asks it about codes assessment
has not met (``unknown_codes``) and records the answers here
(``remember_participants``) before a test is scored.
"""
from services.assessment import sheets
from services.assessment.commands import Cities, ImportSubmissions, RememberParticipants, SubmitTest
from services.assessment.instruments import get_instrument
from services.assessment.scoring import AnswerKey
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound


def unknown_codes(uow, codes) -> list[str]:
    """The codes assessment has not heard of from registration yet, in order."""
    return uow.participants.unknown(list(dict.fromkeys(codes)))


def codes_in_sheet(command: ImportSubmissions, uow) -> list[str]:
    """The participant codes of a sheet; refuses an unreadable sheet before anyone is asked about them."""
    sheets.check_header(command.sheet)
    instrument = get_instrument(uow, command.instrument_id, command.cities)
    return [test.participant_code for _, test in sheets.read_tests(instrument.id, instrument.questions,
                                                                    command.sheet)]


def remember_participants(command: RememberParticipants, uow) -> None:
    for participant in command.participants:
        uow.participants.remember(participant)


def submit_test(command: SubmitTest, uow):
    """Score one test and emit ``test_scored``."""
    instrument = get_instrument(uow, command.instrument_id, command.cities)
    participant = _participant(uow, command.participant_code, command.cities)
    if participant is None:
        raise NotFound(f"participant_code: no participant has code {command.participant_code}",
                       field="participant_code")
    if (participant.rollout_id, participant.session_key) != (instrument.rollout_id, instrument.session_key):
        raise InvalidInput("participant_code: the participant does not attend this instrument's session",
                           fields={"participant_code": ["not in the instrument's session"]})
    earlier = uow.submissions.taken(instrument.rollout_id, instrument.session_key, [command.participant_code])
    if (command.participant_code, command.phase) in earlier:
        raise Conflict(f"phase: participant {command.participant_code} already has a {command.phase}-test "
                       f"for session {instrument.session_key}", field="phase",
                       submission_id=earlier[command.participant_code, command.phase])
    submission, scored = _score(uow, instrument, command, AnswerKey(instrument.questions, instrument.pass_percent))
    uow.emit(events.TEST_SCORED, participant.city, **scored)
    uow.changes.count(instrument.rollout_id, instrument.session_key, participant.city)
    return submission


def import_submissions(command: ImportSubmissions, uow) -> list:
    """Score every row of a sheet, or none: one bad row refuses the whole sheet.

    Unknown codes, participants of another session, second tests (in the sheet
    or already recorded) and unknown questions are all reported by line and field.
    """
    sheets.check_header(command.sheet)
    instrument = get_instrument(uow, command.instrument_id, command.cities)
    tests = sheets.read_tests(instrument.id, instrument.questions, command.sheet)
    codes = list(dict.fromkeys(test.participant_code for _, test in tests))
    participants = {code: _participant(uow, code, command.cities) for code in codes}
    earlier = uow.submissions.taken(instrument.rollout_id, instrument.session_key, codes)
    errors, seen = [], {}
    for line, test in tests:
        code, phase = test.participant_code, test.phase
        participant = participants[code]
        if participant is None:
            errors.append({"line": line, "field": "participant_code", "problem": f"no participant has code {code}"})
        elif (participant.rollout_id, participant.session_key) != (instrument.rollout_id, instrument.session_key):
            errors.append({"line": line, "field": "participant_code",
                           "problem": "the participant does not attend this instrument's session"})
        if (code, phase) in seen:
            errors.append({"line": line, "field": "phase",
                           "problem": f"second {phase}-test for {code} (first on line {seen[code, phase]})"})
        elif (code, phase) in earlier:
            errors.append({"line": line, "field": "phase", "problem": f"{code} already has a {phase}-test"})
        seen.setdefault((code, phase), line)
    if errors:
        raise sheets.bad_rows(errors)
    key = AnswerKey(instrument.questions, instrument.pass_percent)
    saved, scored = [], []
    for _, test in tests:
        submission, fields = _score(uow, instrument, test, key)
        saved.append(submission)
        scored.append((participants[test.participant_code].city, fields))
    uow.emit_many(events.TEST_SCORED, scored)
    for city in dict.fromkeys(city for city, _ in scored):
        uow.changes.count(instrument.rollout_id, instrument.session_key, city,
                          by=sum(1 for c, _ in scored if c == city))
    return saved


def _participant(uow, code: str, cities: Cities):
    """The participant of ``code``, if of one of ``cities`` (None: any): another city's code is unknown here."""
    participant = uow.participants.get(code)
    return participant if participant is not None and (cities is None or participant.city in cities) else None


def unanswered(questions: list[dict], answers: dict) -> list[str]:
    return [q["id"] for q in questions if answers.get(q["id"]) is None]


def _score(uow, instrument, test, key):
    """The scored submission, saved, and the fields of its ``test_scored`` event."""
    total, max_score, passed, topics = key.score(test.answers)
    submission = uow.submissions.add(
        instrument_id=instrument.id, participant_code=test.participant_code, phase=test.phase,
        answers=test.answers, score=total, max_score=max_score, passed=passed, topic_scores=topics)
    if submission is None:
        # The same test sent twice at once: the table's unique key let only one in.
        raise Conflict(f"phase: participant {test.participant_code} already has a {test.phase}-test "
                       f"for instrument {instrument.id}", field="phase")
    submission.unanswered = unanswered(instrument.questions, test.answers)
    return submission, dict(
        rollout_id=instrument.rollout_id, submission_id=submission.id, instrument_id=instrument.id,
        session_key=instrument.session_key, participant_code=submission.participant_code,
        phase=submission.phase, score=total, max_score=max_score, passed=passed, topics=topics,
        instrument_version=instrument.version, pass_percent=instrument.pass_percent,
        unanswered=len(submission.unanswered),
    )
