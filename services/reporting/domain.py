"""Figures from the read models, and what may be published of them (no nameko here)."""
from collections import Counter, defaultdict

from sqlalchemy import func, select, update

from services.reporting.models import CityChanges, NotificationFact, ParticipantFact, RolloutFact, ScoreFact
from shared import events

# The order the seed report lists participant categories in.
CATEGORY_ORDER = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak", "student")


# --- recording events -------------------------------------------------------

def _changed(session, city):
    if session.get(CityChanges, city) is None:
        session.add(CityChanges(city=city, changes=1, published=0))
        session.flush()
    else:
        session.execute(update(CityChanges).where(CityChanges.city == city)
                        .values(changes=CityChanges.changes + 1))


def record_rollout(session, event):
    session.merge(RolloutFact(
        rollout_id=event["rollout_id"], city=event["city"], city_name=event["city_name"],
        province=event["province"], program=event["program"], venue=event["venue"],
        starts_on=event["starts_on"], ends_on=event["ends_on"], author=event["author"],
        editor=event["editor"], sessions=events.SessionSchema(many=True).dump(event["sessions"]),
    ))
    _changed(session, event["city"])


def record_participant(session, event):
    session.merge(ParticipantFact(
        participant_id=event["participant_id"], rollout_id=event["rollout_id"], city=event["city"],
        session_key=event["session_key"], category=event["category"], minor=event["minor"],
        sex=event["sex"], age_band=event["age_band"],
    ))
    _changed(session, event["city"])


def record_score(session, event):
    session.merge(ScoreFact(
        submission_id=event["submission_id"], rollout_id=event["rollout_id"], city=event["city"],
        session_key=event["session_key"], participant_code=event["participant_code"],
        phase=event["phase"], score=event["score"], max_score=event["max_score"],
        passed=event["passed"], topics=event["topics"],
    ))
    _changed(session, event["city"])


def record_notification(session, event):
    session.merge(NotificationFact(
        delivery_id=event["delivery_id"], rollout_id=event["rollout_id"], city=event["city"],
        kind=event["kind"], channel=event["channel"], participant_count=event["participant_count"],
        notified_at=event["occurred_at"],
    ))
    _changed(session, event["city"])


# --- figures ----------------------------------------------------------------

def _scope(model, city, rollout_id=None):
    """Rows of one rollout, of a city's rollouts, or (for ``national``) of all."""
    if rollout_id is not None:
        return model.rollout_id == rollout_id
    return True if city == events.NATIONAL else model.city == city


def participant_figures(session, city, rollout_id=None):
    rows = session.execute(
        select(ParticipantFact.session_key, ParticipantFact.category, func.count())
        .where(_scope(ParticipantFact, city, rollout_id))
        .group_by(ParticipantFact.session_key, ParticipantFact.category)
    ).all()
    by_category, by_session = Counter(), defaultdict(Counter)
    for session_key, category, n in rows:
        by_category[category] += n
        by_session[session_key][category] += n
    ordered = {c: by_category[c] for c in CATEGORY_ORDER if by_category[c]}
    return {
        "participants": sum(by_category.values()),
        "by_category": ordered,
        "by_audience": {
            "activists": sum(n for c, n in by_category.items() if c != "student"),
            "students": by_category["student"],
        },
        "by_session": {key: dict(counts) for key, counts in by_session.items()},
    }


def _mean_percent(scores):
    total = sum(s for s, _ in scores)
    maximum = sum(m for _, m in scores)
    return round(100.0 * total / maximum, 1) if maximum else None


def normalised_gain(pre_percent, post_percent):
    """<g> = (post - pre) / (100 - pre) on mean percentages; None where undefined."""
    if pre_percent is None or post_percent is None or pre_percent >= 100:
        return None
    return round((post_percent - pre_percent) / (100.0 - pre_percent), 3)


def test_figures(session, city, rollout_id=None):
    rows = session.execute(
        select(ScoreFact.participant_code, ScoreFact.phase, ScoreFact.score, ScoreFact.max_score,
               ScoreFact.passed, ScoreFact.topics)
        .where(_scope(ScoreFact, city, rollout_id))
    ).all()
    phases = {"pre": [], "post": []}
    passed = Counter()
    by_code = {"pre": {}, "post": {}}
    for code, phase, score, max_score, did_pass, topic_scores in rows:
        phases[phase].append((score, max_score))
        passed[phase] += did_pass
        by_code[phase][code] = (score, max_score, topic_scores)
    figures = {phase: {"n": len(scores), "mean_percent": _mean_percent(scores), "passed": passed[phase]}
               for phase, scores in phases.items()}
    # Gain is measured on the people who took both tests, never across different groups.
    paired = by_code["pre"].keys() & by_code["post"].keys()
    paired_pre = _mean_percent([by_code["pre"][c][:2] for c in paired])
    paired_post = _mean_percent([by_code["post"][c][:2] for c in paired])
    topics = defaultdict(lambda: {"pre": [], "post": []})
    for code in paired:
        for phase in ("pre", "post"):
            for topic in by_code[phase][code][2]:
                topics[topic["topic"]][phase].append((topic["score"], topic["max_score"]))
    by_topic = []
    for topic, cells in topics.items():
        pre, post = _mean_percent(cells["pre"]), _mean_percent(cells["post"])
        by_topic.append({"topic": topic, "pre_percent": pre, "post_percent": post,
                         "gain": normalised_gain(pre, post)})
    figures["paired"] = len(paired)
    figures["paired_pre_percent"] = paired_pre
    figures["paired_post_percent"] = paired_post
    figures["gain"] = normalised_gain(paired_pre, paired_post)
    figures["by_topic"] = by_topic
    return figures


def rollouts_in(session, city, rollout_id=None):
    return session.scalars(select(RolloutFact).where(_scope(RolloutFact, city, rollout_id))
                           .order_by(RolloutFact.starts_on)).all()


def notifications_in(session, city, rollout_id=None):
    return session.scalars(select(NotificationFact).where(_scope(NotificationFact, city, rollout_id))
                           .order_by(NotificationFact.delivery_id)).all()


def city_figures(session, city, rollout_id=None):
    """The coordinator's exact figures for a city (or ``national``), or one of its rollouts."""
    return {
        "city": city,
        "rollouts": [{"rollout_id": r.rollout_id, "city_name": r.city_name, "starts_on": r.starts_on.isoformat(),
                      "ends_on": r.ends_on.isoformat()} for r in rollouts_in(session, city, rollout_id)],
        **participant_figures(session, city, rollout_id),
        "tests": test_figures(session, city, rollout_id),
        "notifications": [{"delivery_id": n.delivery_id, "kind": n.kind, "channel": n.channel,
                           "participant_count": n.participant_count}
                          for n in notifications_in(session, city, rollout_id)],
    }


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


def publish_changed_summaries(uow):
    """Emit summaries for every city whose figures changed since the last ones, then the nation's."""
    changed = uow.session.execute(
        select(CityChanges.city, CityChanges.changes).where(CityChanges.changes > CityChanges.published)
    ).all()
    for city, changes in changed:
        for summary, fields in public_summaries(uow.session, city):
            uow.emit(summary, city, **fields)
        uow.session.execute(update(CityChanges).where(CityChanges.city == city).values(published=changes))
    if changed:
        for summary, fields in public_summaries(uow.session, events.NATIONAL):
            uow.emit(summary, events.NATIONAL, **fields)
    return [city for city, _ in changed]
