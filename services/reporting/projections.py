"""Events into read models: the event log, and the rebuild from it (no nameko, no SQL here).

Every event reporting consumes goes through ``record``: it is kept in the event
log and applied to the read models in one unit of work, and its city is marked
changed so its summaries are published again.  ``rebuild`` empties the read
models and applies the log again through the same ``apply``, so any figure
can be recomputed from the events alone.

Facts are written so the order events arrive in does not matter: a
cancellation of an unknown participant leaves a placeholder the registration
later fills; a category or action-plan change is applied only if it is newer;
a pre-test and its post-test are put side by side by an upsert from either
side; topic totals are sums.
"""
import functools
from datetime import date, datetime, timezone
from itertools import groupby
from uuid import UUID

from shared import event_codec, events
from shared.handling import batched
from shared.turns import taking_turns

# --- how each kind of event changes the read models -------------------------

def rollout_launched(models, event: dict) -> None:
    rollout = models.rollout(event["rollout_id"], event["city"])
    rollout.city = event["city"]
    for field in ("city_name", "province", "program", "venue", "starts_on", "ends_on", "author", "editor"):
        setattr(rollout, field, event[field])
    rollout.sessions = _sessions.dump(event["sessions"])
    _set_narrative(rollout, event, events.NARRATIVE_FIELDS)


def rollout_updated(models, event: dict) -> None:
    """An edit of the narrative, the cover or the sessions' summaries replaces what it names in ``changed``."""
    edited = [field for field in event["changed"] if field in events.NARRATIVE_FIELDS]
    cover = [field for field in event["changed"] if field in events.COVER_FIELDS]
    if not edited and not cover and event["sessions"] is None:
        return  # a lifecycle step, or an edit of nothing the report prints
    rollout = models.rollout(event["rollout_id"], event["city"])
    if not _older(rollout, event):
        for field in cover:
            setattr(rollout, field, event[field])
        if event["sessions"] is not None:
            rollout.sessions = _sessions.dump(event["sessions"])
    _set_narrative(rollout, event, edited)


_sessions = events.SessionSchema(many=True)
_narrative = events.NarrativeSchema()


def _older(rollout, event: dict) -> bool:
    return rollout.narrative_at is not None and _aware(rollout.narrative_at) > event["occurred_at"]


def _set_narrative(rollout, event: dict, edited) -> None:
    """The fields ``edited`` of the event's narrative over what the rollout had, kept JSON-ready.

    An event older than the rollout's narrative (overtaken on the way) only fills what is missing.
    """
    given = _narrative.dump({field: event[field] for field in edited if event.get(field) is not None})
    current = rollout.narrative or {}
    if _older(rollout, event):
        rollout.narrative = {**given, **current}
        return
    rollout.narrative = {**{f: text for f, text in current.items() if f not in edited}, **given}
    rollout.narrative_at = event["occurred_at"]


def rollout_cancelled(models, event: dict) -> None:
    models.rollout(event["rollout_id"], event["city"]).cancelled = True


def _participant(models, event):
    return models.participant(event["participant_id"], event["rollout_id"], event["city"], event["session_key"])


def _set_category(person, event):
    if person.category_at is None or event["occurred_at"] >= _aware(person.category_at):
        person.category = event["category"]
        person.category_at = event["occurred_at"]


def _recount(person):
    registered = person.minor is not None  # the registration itself has been heard of
    person.counted = bool(registered and person.category and not person.cancelled
                          and (not person.waitlisted or person.promoted))


def participant_registered(models, event: dict) -> None:
    person = _participant(models, event)
    person.session_key = event["session_key"]
    person.minor, person.sex, person.age_band = event["minor"], event["sex"], event["age_band"]
    person.waitlisted = event["status"] == "waitlisted"
    _set_category(person, event)
    _recount(person)


def participant_updated(models, event: dict) -> None:
    person = _participant(models, event)
    _set_category(person, event)
    _recount(person)


def participant_cancelled(models, event: dict) -> None:
    person = _participant(models, event)
    person.cancelled = True
    _recount(person)


def participant_promoted(models, event: dict) -> None:
    person = _participant(models, event)
    person.promoted = True
    _recount(person)


def participant_checked_in(models, event: dict) -> None:
    models.put_attendance(participant_id=event["participant_id"], day=event["day"],
                          rollout_id=event["rollout_id"], city=event["city"], session_key=event["session_key"])


def test_scored(models, event: dict) -> None:
    if event["pass_percent"] is not None:
        models.rollout(event["rollout_id"], event["city"]).pass_percent = event["pass_percent"]
    models.put_score(
        submission_id=event["submission_id"], rollout_id=event["rollout_id"], city=event["city"],
        instrument_id=event["instrument_id"], session_key=event["session_key"],
        participant_code=event["participant_code"], phase=event["phase"], score=event["score"],
        max_score=event["max_score"], passed=event["passed"],
    )
    # The participant's pre-test and post-test side by side, whichever comes first.
    side = {f"{event['phase']}_{name}": event[name] for name in ("submission_id", "score", "max_score", "passed")}
    models.put_score_side(event["participant_code"], event["session_key"], event["rollout_id"], event["city"],
                          side)
    # A submission scored again replaces its topics (and their share of the totals).
    models.replace_topic_scores(event["submission_id"], [
        {"topic": topic["topic"], "position": position, "score": topic["score"],
         "max_score": topic["max_score"], "rollout_id": event["rollout_id"], "city": event["city"],
         "phase": event["phase"]}
        for position, topic in enumerate(event["topics"])])



def action_plan_changed(models, event: dict) -> None:
    plan = models.action_plan(event["action_plan_id"])
    if plan.updated_at is None or event["occurred_at"] >= _aware(plan.updated_at):
        plan.rollout_id, plan.city, plan.session_key = event["rollout_id"], event["city"], event["session_key"]
        plan.owner, plan.due_on, plan.status = event["owner"], event["due_on"], event["status"]
        plan.group_name, plan.commitment = event["group_name"], event["commitment"]
        plan.updated_at = event["occurred_at"]


def committee_notified(models, event: dict) -> None:
    models.put_notification(delivery_id=event["delivery_id"], rollout_id=event["rollout_id"], city=event["city"],
                            kind=event["kind"], channel=event["channel"],
                            participant_count=event["participant_count"], notified_at=event["occurred_at"])


GAIN_FIELDS = ("paired", "perfect_pre", "pre_only", "post_only", "mean_pre", "mean_post",
               "gain_of_averages", "mean_of_gains")


def gain_summarised(models, event: dict) -> None:
    known = models.session_gain(event["rollout_id"], event["session_key"])
    if known is not None and _aware(known.as_of) >= event["occurred_at"]:
        return  # an older summary arriving late changes nothing
    models.put_session_gain(rollout_id=event["rollout_id"], session_key=event["session_key"], city=event["city"],
                            summary={field: event[field] for field in GAIN_FIELDS}, as_of=event["occurred_at"])


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# Every event reporting consumes, and how it changes the read models.
APPLY = {
    events.ROLLOUT_LAUNCHED: rollout_launched,
    events.ROLLOUT_UPDATED: rollout_updated,
    events.ROLLOUT_CANCELLED: rollout_cancelled,
    events.PARTICIPANT_REGISTERED: participant_registered,
    events.PARTICIPANT_UPDATED: participant_updated,
    events.PARTICIPANT_CANCELLED: participant_cancelled,
    events.PARTICIPANT_PROMOTED: participant_promoted,
    events.PARTICIPANT_CHECKED_IN: participant_checked_in,
    events.TEST_SCORED: test_scored,
    events.ACTION_PLAN_RECORDED: action_plan_changed,
    events.ACTION_PLAN_UPDATED: action_plan_changed,
    events.COMMITTEE_NOTIFIED: committee_notified,
    events.GAIN_SUMMARY: gain_summarised,
}
_BY_NAME = {kind.name: kind for kind in APPLY}
# The kinds that change a participant's row (a check-in only adds attendance).
_OF_PARTICIPANTS = {events.PARTICIPANT_REGISTERED, events.PARTICIPANT_UPDATED, events.PARTICIPANT_CANCELLED,
                    events.PARTICIPANT_PROMOTED}


# --- the one path: live events and the rebuild --------------------------------

def apply(uow, kind, batch: list[dict]) -> set[str]:
    """Apply loaded events of one kind to the read models, in order; returns their cities."""
    models = uow.read_models
    with models.applying({event["participant_id"] for event in batch} if kind in _OF_PARTICIPANTS else set()):
        for event in taking_turns(batch):
            APPLY[kind](models, event)
    return {event["city"] for event in batch}


def record(uow, kind, batch: list[dict]) -> int:
    """Keep events of ``kind`` (loaded and claimed) in the event log, apply them,
    and mark their cities changed; returns how many were recorded."""
    if not batch:
        return 0
    published = [_as_published(kind, event) for event in batch]
    uow.event_log.append([{"event_id": payload["event_id"], "event_type": kind.name, "city": event["city"],
                           "occurred_at": event["occurred_at"], "payload": payload}
                          for event, payload in zip(batch, published)])
    uow.city_changes.count(sorted(apply(uow, kind, batch)))
    return len(batch)


def rebuild(uow) -> int:
    """Recompute every read model from the event log; returns how many events were applied.

    Runs in the caller's unit of work: readers see the old figures until it
    commits.  The read models are emptied (their tables made afresh, so a new
    version of them is filled from the same log), then the log is applied page
    by page, consecutive events of a kind together, as live batches are.
    """
    uow.event_log.hold()  # handlers wait while the log is replayed, then apply theirs to the new models
    uow.read_models.reset()
    applied, cities = 0, set()
    for page in uow.event_log.pages():
        for event_type, logged in groupby(page, key=lambda entry: entry[0]):
            kind = _BY_NAME[event_type]
            cities |= apply(uow, kind, [kind.load(payload) for _, payload in logged])
        applied += len(page)
        uow.read_models.checkpoint()  # keeps memory flat over a long log
    uow.city_changes.count(sorted(cities))  # subscribers get the rebuilt figures too
    return applied


@functools.cache
def _dumper(kind):
    return kind.schema()  # one schema per kind: building one copies every field


def _as_published(kind, event):
    """The event as its producer published it (JSON-ready), for the log to replay.

    A flat event (``event_codec``) holds plain values, ids, moments and dates only:
    each is written as its schema's field writes it, without the schema's machinery
    per field (a registration's dump cost as much as applying it).
    """
    if event_codec.codec(kind) is None:
        return _dumper(kind).dump(event)
    return {name: _JSON_READY.get(type(value), _as_is)(value) for name, value in event.items()}


def _as_is(value):
    return value


# What marshmallow's UUID, AwareDateTime and Date fields write.
_JSON_READY = {UUID: str, datetime: datetime.isoformat, date: date.isoformat}


# --- the handlers ``consume_events`` calls (see service.py) -------------------

def record_rollout_launched(uow, event: dict) -> None:
    record(uow, events.ROLLOUT_LAUNCHED, [event])


def record_rollout_updated(uow, event: dict) -> None:
    record(uow, events.ROLLOUT_UPDATED, [event])


def record_rollout_cancelled(uow, event: dict) -> None:
    record(uow, events.ROLLOUT_CANCELLED, [event])


def record_registrations(uow, batch: list[dict]) -> None:
    """Registrations come in thousands (bulk imports): a batch in one unit of work."""
    record(uow, events.PARTICIPANT_REGISTERED, batch)


def record_participant_updates(uow, batch: list[dict]) -> None:
    record(uow, events.PARTICIPANT_UPDATED, batch)


def record_cancellations(uow, batch: list[dict]) -> None:
    record(uow, events.PARTICIPANT_CANCELLED, batch)


def record_promotions(uow, batch: list[dict]) -> None:
    record(uow, events.PARTICIPANT_PROMOTED, batch)


def record_check_ins(uow, batch: list[dict]) -> None:
    """Check-ins come in thousands on a rollout's days: a batch in one unit of work."""
    record(uow, events.PARTICIPANT_CHECKED_IN, batch)


def record_scores(uow, batch: list[dict]) -> None:
    """Scores come in thousands (test sheets): a batch in one unit of work."""
    record(uow, events.TEST_SCORED, batch)


def record_gain_summary(uow, event: dict) -> None:
    record(uow, events.GAIN_SUMMARY, [event])


def record_action_plan(uow, event: dict) -> None:
    record(uow, events.ACTION_PLAN_RECORDED, [event])


def record_action_plan_update(uow, event: dict) -> None:
    record(uow, events.ACTION_PLAN_UPDATED, [event])


def record_notification(uow, event: dict) -> None:
    record(uow, events.COMMITTEE_NOTIFIED, [event])


# What each event does to the read models, as the consumer hands it over (shared.handling.dispatch).
# Participants' events and scores are handled a run of one kind at a time: registrations and test
# sheets come in thousands (bulk imports), check-ins on a rollout's days.
HANDLERS = {
    events.ROLLOUT_LAUNCHED: record_rollout_launched,
    events.ROLLOUT_UPDATED: record_rollout_updated,
    events.ROLLOUT_CANCELLED: record_rollout_cancelled,
    events.PARTICIPANT_REGISTERED: batched(record_registrations),
    events.PARTICIPANT_UPDATED: batched(record_participant_updates),
    events.PARTICIPANT_CANCELLED: batched(record_cancellations),
    events.PARTICIPANT_PROMOTED: batched(record_promotions),
    events.PARTICIPANT_CHECKED_IN: batched(record_check_ins),
    events.TEST_SCORED: batched(record_scores),
    events.GAIN_SUMMARY: record_gain_summary,
    events.ACTION_PLAN_RECORDED: record_action_plan,
    events.ACTION_PLAN_UPDATED: record_action_plan_update,
    events.COMMITTEE_NOTIFIED: record_notification,
}
