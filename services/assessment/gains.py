"""Learning gain (per session, city and nation) and item analysis, from the scored tests."""
from typing import Any

from services.assessment import statistics
from services.assessment.commands import PublishGainSummaries
from services.assessment.instruments import get_instrument
from services.assessment.repository import AssessmentUnitOfWork
from services.assessment.scoring import AnswerKey
from shared import events

SUMMARY_FIELDS = ("paired", "perfect_pre", "pre_only", "post_only", "mean_pre", "mean_post",
                  "gain_of_averages", "mean_of_gains")


def publish_gain_summaries(command: PublishGainSummaries, uow: AssessmentUnitOfWork) -> int:
    """Emit the gain of every session whose scores changed since its last summary; how many went out."""
    changed = uow.changes.unpublished()
    for rollout_id, session_key, city, changes in changed:
        results = [r for r in uow.submissions.results(city, rollout_id) if r["session"][1] == session_key]
        summary = statistics.gain_report(results)
        uow.emit(events.GAIN_SUMMARY, city, rollout_id=rollout_id, session_key=session_key,
                 **{field: summary[field] for field in SUMMARY_FIELDS})
        uow.changes.published(rollout_id, session_key, changes)
    return len(changed)


def gains(uow: AssessmentUnitOfWork, scope: str, rollout_id: int | None = None) -> dict[str, Any]:
    """Gain of a city (its slug) or of the nation (``national``), per topic and per session."""
    results = uow.submissions.results(scope, rollout_id)
    sessions: dict[tuple[int, str, str], list[dict[str, Any]]] = {}  # (rollout, session key, city): results
    for result in results:
        sessions.setdefault(result["session"], []).append(result)
    return {
        "scope": scope,
        **statistics.gain_report(results),
        "by_session": [{"rollout_id": rollout, "session_key": key, "city": city, **statistics.gain_report(rows)}
                       for (rollout, key, city), rows in sorted(sessions.items())],
    }


def item_analysis(uow: AssessmentUnitOfWork, instrument_id: int, phase: str = "post") -> dict[str, Any]:
    """Facility and discrimination index of each question of an instrument, on one phase's tests."""
    instrument = get_instrument(uow, instrument_id)
    key = AnswerKey(instrument.questions, 0)
    attempts = [key.marks(answers) for answers in uow.submissions.answers(instrument_id, phase)]
    topics = {q["id"]: q["topic"] for q in instrument.questions}
    items = statistics.item_analysis(list(topics), attempts)
    return {"instrument_id": instrument_id, "phase": phase, "attempts": len(attempts),
            "items": [{**item, "topic": topics[item["question"]]} for item in items]}
