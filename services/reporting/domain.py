"""Figures from the read models, and what may be published of them (no nameko here).

Every event reporting handles goes through ``handle``: it is kept in the event
log and applied to the read models in one unit of work.  ``rebuild`` empties
the read models and applies the log again, so any figure can be recomputed
from the events alone.

Aggregation rules, for a city and for the nation alike: counts are summed over
the rollouts in scope (cancelled rollouts are left out); percentages and the
normalised gain are computed from the pooled scores of everyone in scope, never
by averaging the cities' own percentages or gains.
"""
from collections import Counter, defaultdict
from datetime import timezone

from sqlalchemy import and_, case, func, insert, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.reporting.models import (READ_MODELS, ActionPlanFact, AttendanceFact, CityChanges, EventLog,
                                       NotificationFact, ParticipantFact, RolloutFact, ScoreFact, ScorePair,
                                       SessionGainFact, TopicScoreFact, TopicTotal)
from shared import events
from shared.turns import taking_turns

# The order the seed report lists participant categories in.
CATEGORY_ORDER = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak", "student")
UNKNOWN = "unknown"  # sex or age band not given


# --- recording events -------------------------------------------------------

def _changed(session, city):
    if session.get(CityChanges, city) is None:
        session.add(CityChanges(city=city, changes=1, published=0))
        session.flush()
    else:
        session.execute(update(CityChanges).where(CityChanges.city == city)
                        .values(changes=CityChanges.changes + 1))


def _get_or_add(session, model, key, **defaults):
    new = session.info.get("new", set())
    row = None if (model, key) in new else session.get(model, key)
    if row is None:
        row = model(**defaults)
        session.add(row)
        new.discard((model, key))
    return row


def _look_up_participants(session, events):
    """One query for a batch's participants: each recorder then finds its row,
    or knows it is new, without a query of its own."""
    ids = {event["participant_id"] for event in events if "participant_id" in event}
    if len(ids) < 2:
        return []
    found = session.scalars(select(ParticipantFact).where(ParticipantFact.participant_id.in_(ids))).all()
    session.info["new"] = {(ParticipantFact, i) for i in ids} - {(ParticipantFact, p.participant_id) for p in found}
    return found  # the caller holds them: the session's identity map keeps only weak references


def record_rollout(session, event):
    rollout = _get_or_add(session, RolloutFact, event["rollout_id"], rollout_id=event["rollout_id"],
                          cancelled=False)
    rollout.city = event["city"]
    for field in ("city_name", "province", "program", "venue", "starts_on", "ends_on", "author", "editor"):
        setattr(rollout, field, event[field])
    rollout.sessions = events.SessionSchema(many=True).dump(event["sessions"])


def record_rollout_cancelled(session, event):
    rollout = _get_or_add(session, RolloutFact, event["rollout_id"], rollout_id=event["rollout_id"],
                          city=event["city"])
    rollout.cancelled = True


def _participant(session, event):
    return _get_or_add(session, ParticipantFact, event["participant_id"], participant_id=event["participant_id"],
                       rollout_id=event["rollout_id"], city=event["city"], session_key=event["session_key"],
                       waitlisted=False, promoted=False, cancelled=False)


def _set_category(person, event):
    if person.category_at is None or event["occurred_at"] >= _aware(person.category_at):
        person.category = event["category"]
        person.category_at = event["occurred_at"]


def _recount(person):
    registered = person.minor is not None  # the registration itself has been heard of
    person.counted = bool(registered and person.category and not person.cancelled
                          and (not person.waitlisted or person.promoted))


def record_participant(session, event):
    person = _participant(session, event)
    person.session_key = event["session_key"]
    person.minor, person.sex, person.age_band = event["minor"], event["sex"], event["age_band"]
    person.waitlisted = event["status"] == "waitlisted"
    _set_category(person, event)
    _recount(person)


def record_participant_updated(session, event):
    person = _participant(session, event)
    _set_category(person, event)
    _recount(person)


def record_participant_cancelled(session, event):
    person = _participant(session, event)
    person.cancelled = True
    _recount(person)


def record_participant_promoted(session, event):
    person = _participant(session, event)
    person.promoted = True
    _recount(person)


def record_check_in(session, event):
    session.merge(AttendanceFact(participant_id=event["participant_id"], day=event["day"],
                                 rollout_id=event["rollout_id"], city=event["city"],
                                 session_key=event["session_key"]))


def record_score(session, event):
    session.merge(ScoreFact(
        submission_id=event["submission_id"], rollout_id=event["rollout_id"], city=event["city"],
        instrument_id=event["instrument_id"], session_key=event["session_key"],
        participant_code=event["participant_code"], phase=event["phase"], score=event["score"],
        max_score=event["max_score"], passed=event["passed"],
    ))
    side = {f"{event['phase']}_{name}": event[name] for name in ("submission_id", "score", "max_score", "passed")}
    session.execute(_upsert(session, ScorePair).values(
        participant_code=event["participant_code"], session_key=event["session_key"],
        rollout_id=event["rollout_id"], city=event["city"], **side,
    ).on_conflict_do_update(index_elements=["participant_code", "session_key"], set_=side))
    # A submission scored again replaces its topics: take the old ones out of the totals first.
    replaced = select(TopicScoreFact).where(TopicScoreFact.submission_id == event["submission_id"])
    for old in session.scalars(replaced):
        _add_to_total(session, old, -1)
        session.delete(old)
    session.flush()
    for position, topic in enumerate(event["topics"]):
        part = TopicScoreFact(submission_id=event["submission_id"], topic=topic["topic"], position=position,
                              score=topic["score"], max_score=topic["max_score"], rollout_id=event["rollout_id"],
                              city=event["city"], phase=event["phase"])
        session.add(part)
        _add_to_total(session, part, +1)


def _upsert(session, model):
    """An INSERT that can say what to do when the row exists (both databases support it)."""
    dialect = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return dialect(model)


def _add_to_total(session, part, sign):
    """Add a topic score to its rollout's total, atomically even with other handlers at it."""
    key = {"rollout_id": part.rollout_id, "topic": part.topic, "phase": part.phase}
    session.execute(_upsert(session, TopicTotal)
                    .values(**key, city=part.city, position=part.position, score=0, max_score=0)
                    .on_conflict_do_nothing())
    session.execute(update(TopicTotal).filter_by(**key).values(
        score=TopicTotal.score + sign * part.score, max_score=TopicTotal.max_score + sign * part.max_score))


def record_action_plan(session, event):
    plan = _get_or_add(session, ActionPlanFact, event["action_plan_id"], action_plan_id=event["action_plan_id"])
    if plan.updated_at is None or event["occurred_at"] >= _aware(plan.updated_at):
        plan.rollout_id, plan.city, plan.session_key = event["rollout_id"], event["city"], event["session_key"]
        plan.owner, plan.due_on, plan.status = event["owner"], event["due_on"], event["status"]
        plan.updated_at = event["occurred_at"]


def record_notification(session, event):
    session.merge(NotificationFact(
        delivery_id=event["delivery_id"], rollout_id=event["rollout_id"], city=event["city"],
        kind=event["kind"], channel=event["channel"], participant_count=event["participant_count"],
        notified_at=event["occurred_at"],
    ))


GAIN_FIELDS = ("paired", "perfect_pre", "pre_only", "post_only", "mean_pre", "mean_post",
               "gain_of_averages", "mean_of_gains")


def record_gain_summary(session, event):
    fact = session.get(SessionGainFact, (event["rollout_id"], event["session_key"]))
    if fact is not None and _aware(fact.as_of) >= event["occurred_at"]:
        return  # an older summary arriving late changes nothing
    session.merge(SessionGainFact(
        rollout_id=event["rollout_id"], session_key=event["session_key"], city=event["city"],
        summary={field: event[field] for field in GAIN_FIELDS}, as_of=event["occurred_at"],
    ))


def gain_by_session(session, city, rollout_id=None):
    """Assessment's gain per session, with its confidence intervals."""
    facts = session.scalars(select(SessionGainFact).where(_scope(SessionGainFact, city, rollout_id))
                            .order_by(SessionGainFact.rollout_id, SessionGainFact.session_key)).all()
    return [{"rollout_id": f.rollout_id, "session_key": f.session_key, **f.summary} for f in facts]


def _aware(moment):
    # SQLite hands timestamps back without their zone; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# Every event reporting consumes, and how it changes the read models.
RECORDERS = {
    events.ROLLOUT_LAUNCHED: record_rollout,
    events.ROLLOUT_CANCELLED: record_rollout_cancelled,
    events.PARTICIPANT_REGISTERED: record_participant,
    events.PARTICIPANT_UPDATED: record_participant_updated,
    events.PARTICIPANT_CANCELLED: record_participant_cancelled,
    events.PARTICIPANT_PROMOTED: record_participant_promoted,
    events.PARTICIPANT_CHECKED_IN: record_check_in,
    events.TEST_SCORED: record_score,
    events.ACTION_PLAN_RECORDED: record_action_plan,
    events.ACTION_PLAN_UPDATED: record_action_plan,
    events.COMMITTEE_NOTIFIED: record_notification,
    events.GAIN_SUMMARY: record_gain_summary,
}
_BY_NAME = {kind.name: kind for kind in RECORDERS}


def handle(uow, kind, payload):
    """Keep ``payload`` (an event of ``kind``) in the log and apply it; False if seen before."""
    return handle_batch(uow, kind, [payload]) == 1


def handle_batch(uow, kind, payloads):
    """``handle`` for a batch of events of one kind, in one transaction; returns how many were new."""
    loaded = [(kind.load(payload), payload) for payload in taking_turns(payloads)]
    fresh = uow.first_deliveries([event for event, _ in loaded])
    new = {str(event["event_id"]) for event in fresh}
    participants = _look_up_participants(uow.session, fresh)  # noqa: F841 (kept in the session while applied)
    cities, applied, logged = set(), 0, []
    for event, payload in loaded:
        event_id = str(event["event_id"])
        if event_id not in new:
            continue
        new.discard(event_id)  # the same event twice in a batch is applied once
        logged.append({"event_id": event_id, "event_type": kind.name, "city": event["city"],
                       "occurred_at": event["occurred_at"], "payload": payload})
        RECORDERS[kind](uow.session, event)
        cities.add(event["city"])
        applied += 1
    if logged:
        uow.session.execute(insert(EventLog), logged)  # one statement for the batch's log
    for city in sorted(cities):
        _changed(uow.session, city)
    return applied


def rebuild(session):
    """Recompute every read model from the event log; returns how many events were applied.

    Runs in the caller's transaction: readers see the old figures until it commits.
    The read-model tables are dropped and created afresh, so a new version of
    them is filled from the same log.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Handlers wait while the log is replayed, then apply their event to the new models.
        session.execute(text("LOCK TABLE event_log IN EXCLUSIVE MODE"))
    connection = session.connection()
    for model in READ_MODELS:
        model.__table__.drop(connection, checkfirst=True)
        model.__table__.create(connection)
    applied, last_id, cities = 0, 0, set()
    while True:
        page = session.scalars(select(EventLog).where(EventLog.id > last_id).order_by(EventLog.id)
                               .limit(1000)).all()
        if not page:
            break
        for logged in page:
            kind = _BY_NAME[logged.event_type]
            RECORDERS[kind](session, kind.load(logged.payload))
            cities.add(logged.city)
        applied, last_id = applied + len(page), page[-1].id
        session.flush()
        session.expunge_all()  # keeps memory flat over a long log
    for city in sorted(cities):
        _changed(session, city)  # subscribers get the rebuilt figures too
    return applied


# --- figures ----------------------------------------------------------------

def _cancelled_rollouts():
    return select(RolloutFact.rollout_id).where(RolloutFact.cancelled)


def _scope(model, city, rollout_id=None):
    """Rows of one rollout, of a city's live rollouts, or (for ``national``) of all live ones."""
    if rollout_id is not None:
        return model.rollout_id == rollout_id
    live = model.rollout_id.not_in(_cancelled_rollouts())
    return live if city == events.NATIONAL else and_(model.city == city, live)


def _ordered(counts, order):
    known = [key for key in order if counts.get(key)]
    return {key: counts[key] for key in known + sorted(k for k in counts if k not in order and counts[k])}


def participant_figures(session, city, rollout_id=None):
    """Participants holding a place (not waitlisted, not cancelled), by category, sex and age band."""
    rows = session.execute(
        select(ParticipantFact.session_key, ParticipantFact.category, ParticipantFact.sex,
               ParticipantFact.age_band, func.count())
        .where(_scope(ParticipantFact, city, rollout_id), ParticipantFact.counted)
        .group_by(ParticipantFact.session_key, ParticipantFact.category, ParticipantFact.sex,
                  ParticipantFact.age_band)
    ).all()
    by_category, by_sex, by_age = Counter(), Counter(), Counter()
    by_session = defaultdict(Counter)
    session_sex, session_age = defaultdict(Counter), defaultdict(Counter)
    for session_key, category, sex, age_band, n in rows:
        by_category[category] += n
        by_session[session_key][category] += n
        by_sex[sex or UNKNOWN] += n
        by_age[age_band or UNKNOWN] += n
        session_sex[session_key][sex or UNKNOWN] += n
        session_age[session_key][age_band or UNKNOWN] += n
    sexes = ("F", "M", UNKNOWN)
    return {
        "participants": sum(by_category.values()),
        "by_category": _ordered(by_category, CATEGORY_ORDER),
        "by_audience": {
            "activists": sum(n for c, n in by_category.items() if c != "student"),
            "students": by_category["student"],
        },
        "by_sex": _ordered(by_sex, sexes),
        "by_age_band": dict(sorted(by_age.items(), key=lambda item: (item[0] == UNKNOWN, item[0]))),
        "by_session": {key: dict(counts) for key, counts in by_session.items()},
        "by_session_sex": {key: _ordered(counts, sexes) for key, counts in session_sex.items()},
        "by_session_age_band": {key: dict(sorted(c.items(), key=lambda i: (i[0] == UNKNOWN, i[0])))
                                for key, c in session_age.items()},
    }


def attendance_figures(session, city, rollout_id=None):
    """Check-ins per day of the rollout, of participants who still hold their place."""
    rows = session.execute(
        select(AttendanceFact.day, AttendanceFact.session_key, func.count())
        .join(ParticipantFact, ParticipantFact.participant_id == AttendanceFact.participant_id)
        .where(_scope(AttendanceFact, city, rollout_id), ParticipantFact.counted)
        .group_by(AttendanceFact.day, AttendanceFact.session_key)
        .order_by(AttendanceFact.day, AttendanceFact.session_key)
    ).all()
    return [{"day": day, "session_key": key, "checked_in": n} for day, key, n in rows]


def _percent(score, maximum):
    return round(100.0 * score / maximum, 1) if maximum else None


def normalised_gain(pre_percent, post_percent):
    """<g> = (post - pre) / (100 - pre) on mean percentages; None where undefined."""
    if pre_percent is None or post_percent is None or pre_percent >= 100:
        return None
    return round((post_percent - pre_percent) / (100.0 - pre_percent), 3)


def _unpaired_submissions(where):
    """Submissions whose participant has not (yet) taken the other test: usually few."""
    return union_all(
        select(ScorePair.pre_submission_id).where(where, ScorePair.post_submission_id.is_(None)),
        select(ScorePair.post_submission_id).where(where, ScorePair.pre_submission_id.is_(None)),
    )


def _test_sums(session, where, by_city=False):
    """{city or None: sums} over the score pairs ``where`` selects, in one pass."""
    both = and_(ScorePair.pre_submission_id.is_not(None), ScorePair.post_submission_id.is_not(None))
    cities = [ScorePair.city] if by_city else []
    def when_both(column):
        return func.sum(case((both, column), else_=0))

    columns = [func.count(ScorePair.pre_submission_id), func.sum(ScorePair.pre_score),
               func.sum(ScorePair.pre_max_score), func.sum(case((ScorePair.pre_passed, 1), else_=0)),
               func.count(ScorePair.post_submission_id), func.sum(ScorePair.post_score),
               func.sum(ScorePair.post_max_score), func.sum(case((ScorePair.post_passed, 1), else_=0)),
               when_both(1), when_both(ScorePair.pre_score), when_both(ScorePair.pre_max_score),
               when_both(ScorePair.post_score), when_both(ScorePair.post_max_score)]
    rows = session.execute(select(*cities, *columns).where(where).group_by(*cities)).all()
    return {(row[0] if by_city else None): [int(v or 0) for v in row[len(cities):]] for row in rows}


def _phase_figures(sums):
    pre_n, pre_score, pre_max, pre_passed, post_n, post_score, post_max, post_passed, paired, \
        paired_pre, paired_pre_max, paired_post, paired_post_max = sums or [0] * 13
    figures = {
        "pre": {"n": pre_n, "mean_percent": _percent(pre_score, pre_max), "passed": pre_passed},
        "post": {"n": post_n, "mean_percent": _percent(post_score, post_max), "passed": post_passed},
        # Gain is measured on the people who took both tests, never across different groups.
        "paired": paired,
        "paired_pre_percent": _percent(paired_pre, paired_pre_max),
        "paired_post_percent": _percent(paired_post, paired_post_max),
    }
    figures["gain"] = normalised_gain(figures["paired_pre_percent"], figures["paired_post_percent"])
    return figures


def test_figures(session, city, rollout_id=None):
    """Pre- and post-test figures summed in the database, pooled over everything in scope."""
    where = _scope(ScorePair, city, rollout_id)
    figures = _phase_figures(_test_sums(session, where).get(None))

    def topic_sums(model, condition):
        return {(topic, phase): [int(score), int(maximum), position]
                for topic, phase, score, maximum, position in session.execute(
                    select(model.topic, model.phase, func.sum(model.score), func.sum(model.max_score),
                           func.min(model.position))
                    .where(condition).group_by(model.topic, model.phase))}

    # Per topic, the paired sums are the totals less the topics of the unpaired submissions.
    all_topics = topic_sums(TopicTotal, _scope(TopicTotal, city, rollout_id))
    unpaired = topic_sums(TopicScoreFact, TopicScoreFact.submission_id.in_(_unpaired_submissions(where)))
    topics, first_seen = defaultdict(dict), {}
    for (topic, phase), (score, maximum, position) in all_topics.items():
        left_out = unpaired.get((topic, phase), [0, 0])
        if maximum - left_out[1]:
            topics[topic][phase] = _percent(score - left_out[0], maximum - left_out[1])
            first_seen[topic] = min(position, first_seen.get(topic, position))
    figures["by_topic"] = [
        {"topic": topic, "pre_percent": topics[topic].get("pre"), "post_percent": topics[topic].get("post"),
         "gain": normalised_gain(topics[topic].get("pre"), topics[topic].get("post"))}
        for topic in sorted(topics, key=lambda t: (first_seen[t], t))
    ]
    return figures


def rollouts_in(session, city, rollout_id=None):
    """Launched rollouts in scope (a cancelled one only when asked for by id), earliest first."""
    where = [_scope(RolloutFact, city, rollout_id), RolloutFact.city_name.is_not(None)]
    if rollout_id is None:
        where.append(RolloutFact.cancelled.is_(False))
    return session.scalars(select(RolloutFact).where(*where)
                           .order_by(RolloutFact.starts_on, RolloutFact.rollout_id)).all()


def notifications_in(session, city, rollout_id=None):
    return session.scalars(select(NotificationFact).where(_scope(NotificationFact, city, rollout_id))
                           .order_by(NotificationFact.delivery_id)).all()


def action_plan_figures(session, city, rollout_id=None):
    """Action plans by who owns them and how far they got."""
    rows = session.execute(
        select(ActionPlanFact.owner, ActionPlanFact.status, func.count())
        .where(_scope(ActionPlanFact, city, rollout_id))
        .group_by(ActionPlanFact.owner, ActionPlanFact.status)
    ).all()
    by_status, by_owner = Counter(), Counter()
    for owner, status, n in rows:
        by_status[status] += n
        by_owner[owner] += n
    statuses = ("planned", "in_progress", "done", "dropped")
    return {"total": sum(by_status.values()), "by_owner": _ordered(by_owner, ("participant", "group")),
            "by_status": _ordered(by_status, statuses)}


def city_figures(session, city, rollout_id=None):
    """The coordinator's exact figures for a city (or ``national``), or one of its rollouts."""
    return {
        "city": city,
        "rollouts": [{"rollout_id": r.rollout_id, "city": r.city, "city_name": r.city_name,
                      "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat()}
                     for r in rollouts_in(session, city, rollout_id)],
        **participant_figures(session, city, rollout_id),
        "attendance": attendance_figures(session, city, rollout_id),
        "tests": test_figures(session, city, rollout_id),
        "gain_by_session": gain_by_session(session, city, rollout_id),
        "action_plans": action_plan_figures(session, city, rollout_id),
        "notifications": [{"delivery_id": n.delivery_id, "kind": n.kind, "channel": n.channel,
                           "participant_count": n.participant_count}
                          for n in notifications_in(session, city, rollout_id)],
    }


def cities_side_by_side(session):
    """One row per city with live rollouts: the national report's comparison table.

    Each figure comes from one query grouped by city, not from a report per city.
    """
    rollouts = defaultdict(list)
    for r in rollouts_in(session, events.NATIONAL):
        rollouts[r.city].append(r)
    people = defaultdict(Counter)
    for city, category, n in session.execute(
        select(ParticipantFact.city, ParticipantFact.category, func.count())
        .where(_scope(ParticipantFact, events.NATIONAL), ParticipantFact.counted)
        .group_by(ParticipantFact.city, ParticipantFact.category)
    ):
        people[city]["students" if category == "student" else "activists"] += n
    sums = _test_sums(session, _scope(ScorePair, events.NATIONAL), by_city=True)
    rows = []
    for city in sorted(rollouts):
        tests = _phase_figures(sums.get(city))
        rows.append({
            "city": city, "city_name": ", ".join(sorted({r.city_name for r in rollouts[city]})),
            "rollouts": len(rollouts[city]), "participants": sum(people[city].values()),
            "activists": people[city]["activists"], "students": people[city]["students"],
            "pre_n": tests["pre"]["n"], "pre_percent": tests["pre"]["mean_percent"],
            "post_n": tests["post"]["n"], "post_percent": tests["post"]["mean_percent"],
            "paired": tests["paired"], "gain": tests["gain"],
        })
    return rows


def national_figures(session):
    """The roll-up: figures pooled over every live rollout, and the cities side by side."""
    return {**city_figures(session, events.NATIONAL), "cities": cities_side_by_side(session)}

# --- what the public may see ------------------------------------------------

def suppress(n):
    """A count as published: cells under SMALL_CELL people become "<5"."""
    return f"<{events.SMALL_CELL}" if 0 < n < events.SMALL_CELL else n


def suppress_breakdown(counts):
    """Counts that add up to a published total, suppressed so none can be recovered.

    One hidden cell could be worked out by subtracting the others from the
    total, so the next smallest cell is hidden with it (secondary suppression).
    """
    hidden = {key for key, n in counts.items() if 0 < n < events.SMALL_CELL}
    if len(hidden) == 1:
        others = sorted((n, key) for key, n in counts.items() if key not in hidden and n > 0)
        if others:
            hidden.add(others[0][1])
    return {key: (f"<{events.SMALL_CELL}" if key in hidden else n) for key, n in counts.items()}


def public_summaries(session, city):
    """(summary event, fields) pairs for ``city``: aggregates only, small cells suppressed."""
    people = participant_figures(session, city)
    tests = test_figures(session, city)

    def phase(figures):
        shown = figures["n"] >= events.SMALL_CELL
        return {"n": suppress(figures["n"]), "mean_percent": figures["mean_percent"] if shown else None}

    return [
        (events.PARTICIPANTS_SUMMARY, {
            "participants": suppress(people["participants"]),
            "by_category": suppress_breakdown(people["by_category"]),
            "by_audience": suppress_breakdown(people["by_audience"]),
            "rollouts": len(rollouts_in(session, city)),
        }),
        (events.TESTS_SUMMARY, {
            "pre": phase(tests["pre"]),
            "post": phase(tests["post"]),
            "paired": suppress(tests["paired"]),
            "gain": tests["gain"] if tests["paired"] >= events.SMALL_CELL else None,
        }),
    ]


def summary_cities(session):
    """Cities whose summaries have been published (or are due), then ``national``."""
    cities = session.scalars(select(CityChanges.city).order_by(CityChanges.city)).all()
    return [*cities, events.NATIONAL] if cities else []


def publish_changed_summaries(uow, cities=None):
    """Emit summaries for every city (of ``cities``, or all) whose figures changed
    since the last ones, then the nation's.

    A city appears on the exchange once it has someone to count: a rollout just
    launched, with no participant or test yet, waits (its first summary would
    say nothing but zeros).  Once published, every change is published, down to zero.

    The figures are read first and the cities marked published last, so the
    handlers counting new changes wait for this round's commit alone, not for
    its computing.
    """
    query = select(CityChanges.city, CityChanges.changes, CityChanges.published) \
        .where(CityChanges.changes > CityChanges.published).order_by(CityChanges.city)
    if cities is not None:
        query = query.where(CityChanges.city.in_(cities))
    published = {}
    for city, changes, published_before in uow.session.execute(query).all():
        summaries = public_summaries(uow.session, city)
        if not published_before and _nothing_counted(summaries):
            continue
        for summary, fields in summaries:
            uow.emit(summary, city, **fields)
        published[city] = changes
    if published:
        for summary, fields in public_summaries(uow.session, events.NATIONAL):
            uow.emit(summary, events.NATIONAL, **fields)
    for city, changes in published.items():  # in city order, the order handlers lock cities in
        uow.session.execute(update(CityChanges)  # another worker may have published later figures
                            .where(CityChanges.city == city, CityChanges.published < changes)
                            .values(published=changes))
    return list(published)


def _nothing_counted(summaries):
    (_, people), (_, tests) = summaries
    return people["participants"] == 0 and tests["pre"]["n"] == 0 and tests["post"]["n"] == 0
