"""City and national figures, from the read models (no nameko, no SQL here).

The read models (``uow.read_models``: SQL in ``repository.py``, in memory in
``fakes.py``) do the counting and summing; the rules here turn those sums into
the figures people read.

Aggregation rules, for a city and for the nation alike: counts are summed over
the rollouts in scope (cancelled rollouts are left out); percentages and the
normalised gain are computed from the pooled scores of everyone in scope, never
by averaging the cities' own percentages or gains.

A scope is a city's live rollouts, every live rollout (``national``), or one
rollout by id (of that city, or of any city for ``national``).
"""
from collections import Counter, defaultdict
from typing import NamedTuple

from shared import events
from shared.errors import NotFound

# The order the seed report lists participant categories in.
CATEGORY_ORDER = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak", "student")
UNKNOWN = "unknown"  # sex or age band not given
SEXES = ("F", "M", UNKNOWN)
PLAN_STATUSES = ("planned", "in_progress", "done", "dropped")
PLAN_OWNERS = ("participant", "group")


class ScoreSums(NamedTuple):
    """Sums over score pairs: each side on its own, and both sides of the complete pairs."""

    pre_n: int = 0
    pre_score: int = 0
    pre_max: int = 0
    pre_passed: int = 0
    post_n: int = 0
    post_score: int = 0
    post_max: int = 0
    post_passed: int = 0
    paired: int = 0
    paired_pre_score: int = 0
    paired_pre_max: int = 0
    paired_post_score: int = 0
    paired_post_max: int = 0


# --- pure rules -------------------------------------------------------------

def percent(score: int, maximum: int) -> float | None:
    return round(100.0 * score / maximum, 1) if maximum else None


def normalised_gain(pre_percent: float | None, post_percent: float | None) -> float | None:
    """<g> = (post - pre) / (100 - pre) on mean percentages; None where undefined."""
    if pre_percent is None or post_percent is None or pre_percent >= 100:
        return None
    return round((post_percent - pre_percent) / (100.0 - pre_percent), 3)


def ordered(counts: dict, order) -> dict:
    """Non-zero counts, the keys of ``order`` first in that order, then the others sorted."""
    known = [key for key in order if counts.get(key)]
    return {key: counts[key] for key in known + sorted(k for k in counts if k not in order and counts[k])}


def _by_band(counts):
    return dict(sorted(counts.items(), key=lambda item: (item[0] == UNKNOWN, item[0])))


def phase_figures(sums: ScoreSums | None) -> dict:
    """Pre- and post-test figures from their sums; the gain only over people who took both."""
    s = sums or ScoreSums()
    figures = {
        "pre": {"n": s.pre_n, "mean_percent": percent(s.pre_score, s.pre_max), "passed": s.pre_passed},
        "post": {"n": s.post_n, "mean_percent": percent(s.post_score, s.post_max), "passed": s.post_passed},
        # Gain is measured on the people who took both tests, never across different groups.
        "paired": s.paired,
        "paired_pre_percent": percent(s.paired_pre_score, s.paired_pre_max),
        "paired_post_percent": percent(s.paired_post_score, s.paired_post_max),
    }
    figures["gain"] = normalised_gain(figures["paired_pre_percent"], figures["paired_post_percent"])
    return figures


def topic_figures(totals: dict, unpaired: dict) -> list[dict]:
    """Per topic, the paired percentages: the totals less the topics of unpaired submissions.

    Both map (topic, phase) to (score, max score, position in the instrument).
    """
    topics, first_seen = defaultdict(dict), {}
    for (topic, phase), (score, maximum, position) in totals.items():
        left_out = unpaired.get((topic, phase), (0, 0, position))
        if maximum - left_out[1]:
            topics[topic][phase] = percent(score - left_out[0], maximum - left_out[1])
            first_seen[topic] = min(position, first_seen.get(topic, position))
    return [
        {"topic": topic, "pre_percent": topics[topic].get("pre"), "post_percent": topics[topic].get("post"),
         "gain": normalised_gain(topics[topic].get("pre"), topics[topic].get("post"))}
        for topic in sorted(topics, key=lambda t: (first_seen[t], t))
    ]


# --- figures from the read models --------------------------------------------

def rollouts_in(uow, city: str, rollout_id: int | None = None) -> list:
    """Launched rollouts in scope (a cancelled one only when asked for by id), earliest first."""
    return uow.read_models.rollouts(city, rollout_id)


def notifications_in(uow, city: str, rollout_id: int | None = None) -> list:
    return uow.read_models.notifications(city, rollout_id)


def participant_figures(uow, city: str, rollout_id: int | None = None) -> dict:
    """Participants holding a place (not waitlisted, not cancelled), by category, sex and age band."""
    by_category, by_sex, by_age = Counter(), Counter(), Counter()
    by_session = defaultdict(Counter)
    session_sex, session_age = defaultdict(Counter), defaultdict(Counter)
    for session_key, category, sex, age_band, n in uow.read_models.participant_counts(city, rollout_id):
        by_category[category] += n
        by_session[session_key][category] += n
        by_sex[sex or UNKNOWN] += n
        by_age[age_band or UNKNOWN] += n
        session_sex[session_key][sex or UNKNOWN] += n
        session_age[session_key][age_band or UNKNOWN] += n
    return {
        "participants": sum(by_category.values()),
        "by_category": ordered(by_category, CATEGORY_ORDER),
        "by_audience": {
            "activists": sum(n for c, n in by_category.items() if c != "student"),
            "students": by_category["student"],
        },
        "by_sex": ordered(by_sex, SEXES),
        "by_age_band": _by_band(by_age),
        "by_session": {key: dict(counts) for key, counts in by_session.items()},
        "by_session_sex": {key: ordered(counts, SEXES) for key, counts in session_sex.items()},
        "by_session_age_band": {key: _by_band(counts) for key, counts in session_age.items()},
    }


def attendance_figures(uow, city: str, rollout_id: int | None = None) -> list[dict]:
    """Check-ins per day of the rollout, of participants who still hold their place."""
    return [{"day": day, "session_key": key, "checked_in": n}
            for day, key, n in uow.read_models.attendance_counts(city, rollout_id)]


def test_figures(uow, city: str, rollout_id: int | None = None) -> dict:
    """Pre- and post-test figures summed in the read models, pooled over everything in scope."""
    models = uow.read_models
    figures = phase_figures(models.test_sums(city, rollout_id).get(None))
    figures["by_topic"] = topic_figures(models.topic_sums(city, rollout_id),
                                        models.unpaired_topic_sums(city, rollout_id))
    return figures



def gain_by_session(uow, city: str, rollout_id: int | None = None) -> list[dict]:
    """Assessment's gain per session, with its confidence intervals."""
    return [{"rollout_id": f.rollout_id, "session_key": f.session_key, **f.summary}
            for f in uow.read_models.session_gains(city, rollout_id)]


def action_plan_figures(uow, city: str, rollout_id: int | None = None) -> dict:
    """Action plans by who owns them and how far they got."""
    by_status, by_owner = Counter(), Counter()
    for owner, status, n in uow.read_models.action_plan_counts(city, rollout_id):
        by_status[status] += n
        by_owner[owner] += n
    return {"total": sum(by_status.values()), "by_owner": ordered(by_owner, PLAN_OWNERS),
            "by_status": ordered(by_status, PLAN_STATUSES)}


def city_figures(uow, city: str, rollout_id: int | None = None) -> dict:
    """The coordinator's exact figures for a city (or ``national``), or one of its rollouts."""
    return {
        "city": city,
        "rollouts": [{"rollout_id": r.rollout_id, "city": r.city, "city_name": r.city_name,
                      "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat()}
                     for r in rollouts_in(uow, city, rollout_id)],
        **participant_figures(uow, city, rollout_id),
        "attendance": attendance_figures(uow, city, rollout_id),
        "tests": test_figures(uow, city, rollout_id),
        "gain_by_session": gain_by_session(uow, city, rollout_id),
        "action_plans": action_plan_figures(uow, city, rollout_id),
        "notifications": [{"delivery_id": n.delivery_id, "kind": n.kind, "channel": n.channel,
                           "participant_count": n.participant_count}
                          for n in notifications_in(uow, city, rollout_id)],
    }


def cities_side_by_side(uow) -> list[dict]:
    """One row per city with live rollouts: the national report's comparison table.

    Each figure comes from one query grouped by city, not from a report per city.
    """
    rollouts = defaultdict(list)
    for r in rollouts_in(uow, events.NATIONAL):
        rollouts[r.city].append(r)
    people = defaultdict(Counter)
    for city, category, n in uow.read_models.category_counts_by_city():
        people[city]["students" if category == "student" else "activists"] += n
    sums = uow.read_models.test_sums(events.NATIONAL, by_city=True)
    rows = []
    for city in sorted(rollouts):
        tests = phase_figures(sums.get(city))
        rows.append({
            "city": city, "city_name": ", ".join(sorted({r.city_name for r in rollouts[city]})),
            "rollouts": len(rollouts[city]), "participants": sum(people[city].values()),
            "activists": people[city]["activists"], "students": people[city]["students"],
            "pre_n": tests["pre"]["n"], "pre_percent": tests["pre"]["mean_percent"],
            "post_n": tests["post"]["n"], "post_percent": tests["post"]["mean_percent"],
            "paired": tests["paired"], "gain": tests["gain"],
        })
    return rows


def national_figures(uow) -> dict:
    """The roll-up: figures pooled over every live rollout, and the cities side by side."""
    return {**city_figures(uow, events.NATIONAL), "cities": cities_side_by_side(uow)}


def rollout_figures(uow, city: str) -> dict:
    """Each live rollout of the city (or of the nation) side by side, for a dashboard: places held per
    session and category, check-ins per day, the tests, the committee's notifications.

    A handful of grouped queries, whatever the number of rollouts."""
    models = uow.read_models
    held: dict = defaultdict(lambda: defaultdict(Counter))
    for rollout_id, session_key, category, n in models.session_counts_by_rollout(city):
        held[rollout_id][session_key][category] += n
    attendance = defaultdict(list)
    for rollout_id, day, session_key, n in models.attendance_counts_by_rollout(city):
        attendance[rollout_id].append({"day": day, "session_key": session_key, "checked_in": n})
    notifications = defaultdict(list)
    for note in notifications_in(uow, city):
        notifications[note.rollout_id].append({"delivery_id": note.delivery_id, "kind": note.kind,
                                               "channel": note.channel, "participant_count": note.participant_count})
    sums = models.test_sums(city, by_rollout=True)
    rows = []
    for r in rollouts_in(uow, city):
        tests = phase_figures(sums.get(r.rollout_id))
        rows.append({
            "rollout_id": r.rollout_id, "city": r.city, "city_name": r.city_name,
            "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat(),
            "by_session": {key: ordered(counts, CATEGORY_ORDER) for key, counts in held[r.rollout_id].items()},
            "attendance": sorted(attendance[r.rollout_id], key=lambda a: (a["day"], a["session_key"])),
            "tests": {"pre_n": tests["pre"]["n"], "pre_percent": tests["pre"]["mean_percent"],
                      "post_n": tests["post"]["n"], "post_percent": tests["post"]["mean_percent"],
                      "paired": tests["paired"], "gain": tests["gain"]},
            "notifications": notifications[r.rollout_id],
        })
    return {"city": city, "rollouts": rows}


def figures_for(uow, city: str, rollout_id: int | None = None) -> dict:
    """What ``GET /reports/<city>/figures`` answers: a city's, a rollout's, or the national figures.

    A rollout asked for by id must be one of the city's (any city's for ``national``).
    """
    if rollout_id is None:
        return national_figures(uow) if city == events.NATIONAL else city_figures(uow, city)
    if not rollouts_in(uow, city, rollout_id):
        raise NotFound(f"{city} has no launched rollout {rollout_id}", field="rollout_id")
    return city_figures(uow, city, rollout_id)
