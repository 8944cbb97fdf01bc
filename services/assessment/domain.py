"""Scoring rules, in plain Python over a unit of work (no nameko here)."""
import csv
import io
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.assessment import statistics
from services.assessment.scoring import AnswerKey, score  # noqa: F401 (score is part of this module's rules)
from services.assessment.models import (ActionPlan, Instrument, KnownParticipant, KnownSession, SessionChanges,
                                        Submission)
from services.assessment.schemas import PLAN_STATUSES, ActionPlanIn, ActionPlanUpdate, InstrumentIn, SubmissionIn
from shared import events
from shared.commands import validated
from shared.errors import Conflict, InvalidInput, NotFound


def remember_rollout(session, event):
    """Keep each launched session's topics, so instruments can be checked against the agenda."""
    for agenda in event["sessions"]:
        session.merge(KnownSession(rollout_id=event["rollout_id"], session_key=agenda["key"],
                                   city=event["city"], topics=[t["title"] for t in agenda["topics"]]))


def create_instrument(uow, data):
    """A new instrument, or a new version of a session's instrument.

    Once assessment has heard of the rollout's launch, the session must be on
    its agenda and every question tagged with one of that session's topics.
    Before that (the launch event may still be on its way) it is taken as given.
    """
    data = validated(InstrumentIn(), data)
    _check_topics(uow.session, data)
    same_session = (Instrument.rollout_id == data["rollout_id"], Instrument.session_key == data["session_key"])
    if data["version"] is None:
        data["version"] = (uow.session.scalar(select(func.max(Instrument.version)).where(*same_session)) or 0) + 1
    elif uow.session.scalar(select(Instrument.id).where(*same_session, Instrument.version == data["version"])):
        raise Conflict(f"version: session {data['session_key']} of rollout {data['rollout_id']} already has "
                       f"version {data['version']}; leave version out to create the next one", field="version")
    instrument = Instrument(**data)
    uow.session.add(instrument)
    uow.session.flush()
    return instrument


def _check_topics(session, data):
    agenda = session.scalars(select(KnownSession).where(KnownSession.rollout_id == data["rollout_id"])).all()
    if not agenda:
        return
    topics = {s.session_key: s.topics for s in agenda}
    if data["session_key"] not in topics:
        raise InvalidInput(f"session_key: rollout {data['rollout_id']} has no session {data['session_key']}",
                           fields={"session_key": [f"one of {', '.join(sorted(topics))}"]})
    allowed = topics[data["session_key"]]
    strangers = {i: q["topic"] for i, q in enumerate(data["questions"]) if q["topic"] not in allowed}
    if strangers:
        raise InvalidInput(
            "questions: topic not on the session's agenda: "
            + "; ".join(f"question {i + 1} ({t})" for i, t in strangers.items()),
            fields={"questions": {i: {"topic": [f"must be one of: {'; '.join(allowed)}"]} for i in strangers}})


def list_instruments(session, rollout_id=None, session_key=None):
    query = select(Instrument).order_by(Instrument.rollout_id, Instrument.session_key, Instrument.version)
    if rollout_id is not None:
        query = query.where(Instrument.rollout_id == rollout_id)
    if session_key is not None:
        query = query.where(Instrument.session_key == session_key)
    return session.scalars(query).all()


def get_instrument(session, instrument_id):
    instrument = session.get(Instrument, instrument_id)
    if instrument is None:
        raise NotFound(f"instrument {instrument_id} does not exist", field="instrument_id")
    return instrument


def unanswered(questions, answers):
    return [q["id"] for q in questions if answers.get(q["id"]) is None]


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
    duplicate = _earlier_submission(uow.session, instrument, data["participant_code"], data["phase"])
    if duplicate is not None:
        raise Conflict(f"phase: participant {data['participant_code']} already has a {data['phase']}-test "
                       f"for session {instrument.session_key}", field="phase", submission_id=duplicate)
    return _save(uow, instrument, data, participant.city)


def _earlier_submission(session, instrument, code, phase):
    """A participant takes each phase once per session, whichever version of its instrument."""
    return session.scalar(select(Submission.id).join(Instrument).where(
        Instrument.rollout_id == instrument.rollout_id,
        Instrument.session_key == instrument.session_key,
        Submission.participant_code == code,
        Submission.phase == phase,
    ))


def _save(uow, instrument, data, city, key=None):
    key = key or AnswerKey(instrument.questions, instrument.pass_percent)
    total, max_score, passed, topics = key.score(data["answers"])
    submission = Submission(
        instrument_id=instrument.id, participant_code=data["participant_code"], phase=data["phase"],
        answers=data["answers"], score=total, max_score=max_score, passed=passed, topic_scores=topics,
    )
    uow.session.add(submission)
    try:
        uow.session.flush()
    except IntegrityError:
        # The same test sent twice at once: the table's unique key let only one in.
        raise Conflict(f"phase: participant {data['participant_code']} already has a {data['phase']}-test "
                       f"for instrument {instrument.id}", field="phase")
    uow.emit(
        events.TEST_SCORED, city,
        rollout_id=instrument.rollout_id, submission_id=submission.id, instrument_id=instrument.id,
        session_key=instrument.session_key, participant_code=submission.participant_code,
        phase=submission.phase, score=total, max_score=max_score, passed=passed, topics=topics,
        instrument_version=instrument.version, pass_percent=instrument.pass_percent,
        unanswered=len(unanswered(instrument.questions, data["answers"])),
    )
    submission.unanswered = unanswered(instrument.questions, data["answers"])
    _session_changed(uow.session, instrument.rollout_id, instrument.session_key, city)
    return submission


def _session_changed(session, rollout_id, session_key, city):
    if session.get(SessionChanges, (rollout_id, session_key)) is None:
        session.add(SessionChanges(rollout_id=rollout_id, session_key=session_key, city=city, changes=1))
        session.flush()
    else:
        session.execute(update(SessionChanges).where(
            SessionChanges.rollout_id == rollout_id, SessionChanges.session_key == session_key,
        ).values(changes=SessionChanges.changes + 1))


def publish_gain_summaries(uow):
    """Emit the gain of every session whose scores changed since its last summary."""
    changed = uow.session.execute(select(
        SessionChanges.rollout_id, SessionChanges.session_key, SessionChanges.city, SessionChanges.changes,
    ).where(SessionChanges.changes > SessionChanges.published)).all()
    for rollout_id, session_key, city, changes in changed:
        results = [r for r in _results(uow.session, city, rollout_id) if r["session"][1] == session_key]
        summary = statistics.gain_report(results)
        uow.emit(events.GAIN_SUMMARY, city, rollout_id=rollout_id, session_key=session_key,
                 **{field: summary[field] for field in (
                     "paired", "perfect_pre", "pre_only", "post_only", "mean_pre", "mean_post",
                     "gain_of_averages", "mean_of_gains")})
        uow.session.execute(update(SessionChanges).where(
            SessionChanges.rollout_id == rollout_id, SessionChanges.session_key == session_key,
        ).values(published=changes))
    return len(changed)


def parse_submission(data):
    return validated(SubmissionIn(), data)


# --- bulk import ------------------------------------------------------------

TRUE_WORDS = {"true", "benar", "ya", "1"}
FALSE_WORDS = {"false", "salah", "tidak", "0"}


def read_submissions_csv(instrument, text):
    """Rows of a sheet: ``participant_code``, ``phase``, then one column per question id.

    A blank cell is an unanswered question.  True/false cells read true/false
    (or benar/salah).  Returns (line, submission data) pairs, or raises
    InvalidInput listing every bad row with its line and field.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    question_ids = [q["id"] for q in instrument.questions]
    missing = [c for c in ("participant_code", "phase") if c not in header]
    strangers = [c for c in header if c not in ("participant_code", "phase", *question_ids)]
    if missing or strangers:
        problems = [f"missing column {c}" for c in missing] + [f"unknown column {c}" for c in strangers]
        raise InvalidInput("header: " + "; ".join(problems), fields={"header": problems},
                           rows=[{"line": 1, "field": "header", "problem": p} for p in problems])
    kinds = {q["id"]: q["kind"] for q in instrument.questions}
    rows, errors = [], []
    for row in reader:
        line = reader.line_num
        answers = {}
        for question, kind in kinds.items():
            cell = (row.get(question) or "").strip()
            if not cell:
                continue
            if kind == "true_false":
                word = cell.lower()
                if word not in TRUE_WORDS | FALSE_WORDS:
                    errors.append({"line": line, "field": question, "problem": "must be true or false"})
                    continue
                answers[question] = word in TRUE_WORDS
            else:
                answers[question] = cell
        data = {"instrument_id": instrument.id, "participant_code": (row.get("participant_code") or "").strip(),
                "phase": (row.get("phase") or "").strip().lower(), "answers": answers}
        try:
            rows.append((line, parse_submission(data)))
        except InvalidInput as exc:
            errors.extend({"line": line, "field": field, "problem": " ".join(map(str, problems))}
                          for field, problems in exc.details["fields"].items())
    if not rows and not errors:
        raise InvalidInput("body: the sheet has no rows", fields={"body": ["no rows"]})
    if errors:
        raise _bad_rows(errors)
    return rows


def _bad_rows(errors):
    errors.sort(key=lambda e: e["line"])
    shown = "; ".join(f"line {e['line']}, {e['field']}: {e['problem']}" for e in errors[:10])
    return InvalidInput(f"{len(errors)} bad row(s), nothing imported: {shown}", rows=errors)


def import_submissions(uow, instrument_id, rows, participants):
    """Score every row of a sheet, or none: one bad row refuses the whole sheet.

    ``participants`` maps each code to what registration knows of it (None
    when unknown).  Unknown codes, participants of another session, second
    tests (in the sheet or already recorded) and unknown questions are all
    reported by line and field.
    """
    instrument = get_instrument(uow.session, instrument_id)
    errors, seen = [], {}
    for line, data in rows:
        code, phase = data["participant_code"], data["phase"]
        participant = participants.get(code)
        if participant is None:
            errors.append({"line": line, "field": "participant_code", "problem": f"no participant has code {code}"})
        elif (participant.rollout_id, participant.session_key) != (instrument.rollout_id, instrument.session_key):
            errors.append({"line": line, "field": "participant_code",
                           "problem": "the participant does not attend this instrument's session"})
        if (code, phase) in seen:
            errors.append({"line": line, "field": "phase",
                           "problem": f"second {phase}-test for {code} (first on line {seen[code, phase]})"})
        elif _earlier_submission(uow.session, instrument, code, phase) is not None:
            errors.append({"line": line, "field": "phase", "problem": f"{code} already has a {phase}-test"})
        seen.setdefault((code, phase), line)
    if errors:
        raise _bad_rows(errors)
    key = AnswerKey(instrument.questions, instrument.pass_percent)
    return [_save(uow, instrument, data, participants[data["participant_code"]].city, key) for _, data in rows]


# --- learning gain and item analysis ---------------------------------------

def _results(session, scope=events.NATIONAL, rollout_id=None):
    """Every scored test in a city (or the nation), with its session and city."""
    query = (select(Submission, Instrument.rollout_id, Instrument.session_key, KnownParticipant.city)
             .join(Instrument, Submission.instrument_id == Instrument.id)
             .join(KnownParticipant, Submission.participant_code == KnownParticipant.code))
    if scope != events.NATIONAL:
        query = query.where(KnownParticipant.city == scope)
    if rollout_id is not None:
        query = query.where(Instrument.rollout_id == rollout_id)
    return [{"participant": (rollout, key, s.participant_code), "session": (rollout, key, city),
             "phase": s.phase, "score": s.score, "max_score": s.max_score, "topics": s.topic_scores}
            for s, rollout, key, city in session.execute(query)]


def gains(session, scope, rollout_id=None):
    """Gain of a city (or ``national``), per topic and per session."""
    results = _results(session, scope, rollout_id)
    sessions = {}
    for result in results:
        sessions.setdefault(result["session"], []).append(result)
    return {
        "scope": scope,
        **statistics.gain_report(results),
        "by_session": [{"rollout_id": rollout, "session_key": key, "city": city,
                        **statistics.gain_report(rows)}
                       for (rollout, key, city), rows in sorted(sessions.items())],
    }


def item_analysis(session, instrument_id, phase="post"):
    instrument = get_instrument(session, instrument_id)
    answer_sets = session.scalars(select(Submission.answers).where(
        Submission.instrument_id == instrument_id, Submission.phase == phase)).all()
    key = AnswerKey(instrument.questions, 0)
    attempts = [key.marks(answers) for answers in answer_sets]
    topics = {q["id"]: q["topic"] for q in instrument.questions}
    items = statistics.item_analysis(list(topics), attempts)
    return {"instrument_id": instrument_id, "phase": phase, "attempts": len(attempts),
            "items": [{**item, "topic": topics[item["question"]]} for item in items]}


# --- action plans -----------------------------------------------------------

def record_action_plan(uow, data, participant=None):
    """``data`` is validated ActionPlanIn; ``participant`` is registration's answer for its code."""
    if data["owner"] == "participant":
        if participant is None:
            raise NotFound(f"participant_code: no participant has code {data['participant_code']}",
                           field="participant_code")
        if (participant.rollout_id, participant.session_key) != (data["rollout_id"], data["session_key"]):
            raise InvalidInput("participant_code: the participant does not attend this session",
                               fields={"participant_code": ["not in this session"]})
        city = participant.city
    else:
        known = uow.session.get(KnownSession, (data["rollout_id"], data["session_key"]))
        if known is None:
            raise NotFound(f"session_key: no launched rollout {data['rollout_id']} with session "
                           f"{data['session_key']}", field="session_key")
        city = known.city
    plan = ActionPlan(**data, city=city, status="planned", follow_ups=[])
    uow.session.add(plan)
    uow.session.flush()
    _emit_plan(uow, events.ACTION_PLAN_RECORDED, plan)
    return plan


def update_action_plan(uow, plan_id, data):
    """A follow-up: the plan's new status, with an optional note (and a new due date)."""
    data = validated(ActionPlanUpdate(), data)
    plan = get_action_plan(uow.session, plan_id)
    plan.status = data["status"]
    if data["due_on"] is not None:
        plan.due_on = data["due_on"]
    plan.follow_ups = [*plan.follow_ups, {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                          "status": data["status"], "note": data["note"]}]
    uow.session.flush()
    _emit_plan(uow, events.ACTION_PLAN_UPDATED, plan)
    return plan


def _emit_plan(uow, event, plan):
    # A participant is named by code only; the commitment and a group's name go into the report.
    uow.emit(event, plan.city, rollout_id=plan.rollout_id, action_plan_id=plan.id, session_key=plan.session_key,
             owner=plan.owner, due_on=plan.due_on, status=plan.status, participant_code=plan.participant_code,
             commitment=plan.commitment, group_name=plan.group_name)


def get_action_plan(session, plan_id):
    plan = session.get(ActionPlan, plan_id)
    if plan is None:
        raise NotFound(f"action plan {plan_id} does not exist", field="action_plan_id")
    return plan


def list_action_plans(session, rollout_id=None, status=None):
    query = select(ActionPlan).order_by(ActionPlan.id)
    if rollout_id is not None:
        query = query.where(ActionPlan.rollout_id == rollout_id)
    if status is not None:
        if status not in PLAN_STATUSES:
            raise InvalidInput(f"status: must be one of {', '.join(PLAN_STATUSES)}",
                               fields={"status": [f"must be one of {', '.join(PLAN_STATUSES)}"]})
        query = query.where(ActionPlan.status == status)
    return session.scalars(query).all()


def parse_action_plan(data):
    return validated(ActionPlanIn(), data)
