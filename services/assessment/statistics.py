"""Learning gain and item analysis, in plain Python (no database, no nameko).

Scores enter as fractions of the test's maximum (0.0 to 1.0), so a pre-test
and a post-test on different versions of an instrument still compare.

Normalised gain (Hake): for one participant with both tests
``g = (post - pre) / (max - pre)``; undefined when the pre-test was perfect.
For a group two figures are reported, each with its n and a 95% confidence
interval:

- the gain of averages ``<g> = (mean post - mean pre) / (max - mean pre)``
  over every paired participant.  It is a ratio of two means, so its interval
  is the usual ratio-estimator (delta-method) one:
  ``SE = sqrt(sum((d_i - <g> r_i)^2) / (n - 1) / n) / mean(r)`` with
  ``d_i = post_i - pre_i`` and ``r_i = max - pre_i``, and
  ``<g> +- t(0.975, n - 1) * SE``;
- the mean of individual gains over the paired participants whose gain is
  defined, with the Student t-interval ``mean +- t(0.975, n - 1) * s / sqrt(n)``.

An interval needs n >= 2 (else it is None).  Participants with a perfect
pre-test and tests without their other half are counted, never dropped.
"""
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Two-sided 95% quantiles of Student's t, df 1..30 (standard tables).
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z975 = 1.959964

# {participant key: score as a fraction of the maximum}; any sortable key (a code, a tuple...).
Fractions = Mapping[Any, float]


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("a t quantile needs one degree of freedom or more")
    if df <= len(_T975):
        return _T975[df - 1]
    # Cornish-Fisher expansion around the normal quantile: within 0.001 of the table from df 31 on.
    z = _Z975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def individual_gain(pre: float, post: float, maximum: float = 1.0) -> float | None:
    """g = (post - pre) / (max - pre); None when the pre-test was already perfect."""
    if pre >= maximum:
        return None
    return (post - pre) / (maximum - pre)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _interval(centre: float, standard_error: float, n: int) -> list[float] | None:
    if n < 2:
        return None
    half = t975(n - 1) * standard_error
    return [centre - half, centre + half]


def mean_with_interval(values: Sequence[float]) -> dict[str, Any]:
    """{"value", "n", "ci"}: the mean and its Student t 95% interval."""
    n = len(values)
    if n == 0:
        return {"value": None, "n": 0, "ci": None}
    mean = _mean(values)
    if n < 2:
        return {"value": mean, "n": n, "ci": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return {"value": mean, "n": n, "ci": _interval(mean, sd / math.sqrt(n), n)}


def gain_of_averages(pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """<g> over (pre, post) fractions, with its ratio-estimator 95% interval."""
    n = len(pairs)
    if n == 0:
        return {"value": None, "n": 0, "ci": None}
    rises = [post - pre for pre, post in pairs]
    room = [1.0 - pre for pre, _ in pairs]
    mean_room = _mean(room)
    if mean_room <= 0:  # everyone had a perfect pre-test: nothing left to gain
        return {"value": None, "n": n, "ci": None}
    g = _mean(rises) / mean_room
    if n < 2:
        return {"value": g, "n": n, "ci": None}
    residual = sum((d - g * r) ** 2 for d, r in zip(rises, room)) / (n - 1)
    return {"value": g, "n": n, "ci": _interval(g, math.sqrt(residual / n) / mean_room, n)}


def gain_summary(pre: Fractions, post: Fractions) -> dict[str, Any]:
    """The gain figures of one group from ``{participant: fraction}`` per phase.

    ``paired`` counts participants with both tests; ``perfect_pre`` those of
    them whose gain is undefined; ``pre_only`` and ``post_only`` the tests
    without their other half.  Means are fractions of the maximum.
    """
    paired = sorted(pre.keys() & post.keys())
    pairs = [(pre[p], post[p]) for p in paired]
    gains = [individual_gain(a, b) for a, b in pairs]
    defined = [g for g in gains if g is not None]
    return {
        "paired": len(pairs),
        "perfect_pre": len(gains) - len(defined),
        "pre_only": len(pre.keys() - post.keys()),
        "post_only": len(post.keys() - pre.keys()),
        "mean_pre": _mean([a for a, _ in pairs]) if pairs else None,
        "mean_post": _mean([b for _, b in pairs]) if pairs else None,
        "gain_of_averages": gain_of_averages(pairs),
        "mean_of_gains": mean_with_interval(defined),
    }


def gain_report(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Gain for a whole scope, and per topic, from scored tests.

    ``results`` are dicts with ``participant`` (a key unique within the
    scope, e.g. (rollout, session, code)), ``phase``, ``score``, ``max_score``
    and ``topics`` ([{"topic", "score", "max_score"}]).
    """
    overall: dict[str, dict[Any, float]] = {"pre": {}, "post": {}}
    by_topic: defaultdict[str, dict[str, dict[Any, float]]] = defaultdict(lambda: {"pre": {}, "post": {}})
    for result in results:
        phase, who = result["phase"], result["participant"]
        if result["max_score"]:
            overall[phase][who] = result["score"] / result["max_score"]
        for topic in result["topics"]:
            if topic["max_score"]:
                by_topic[topic["topic"]][phase][who] = topic["score"] / topic["max_score"]
    return {
        **gain_summary(overall["pre"], overall["post"]),
        "by_topic": [{"topic": topic, **gain_summary(cells["pre"], cells["post"])}
                     for topic, cells in sorted(by_topic.items())],
    }


# --- item analysis, as Moodle's quiz statistics define it ------------------

def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    mx, my = _mean(xs), _mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if n < 2 or sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def item_analysis(question_ids: Sequence[str], marks: Sequence[Mapping[str, int]]) -> list[dict[str, Any]]:
    """Facility and discrimination index of each question, in percent.

    ``marks`` is one ``{question id: mark (0 or 1)}`` per attempt.  Moodle's
    definitions: the facility index is the mean mark on the question as a
    percentage of its maximum; the discrimination index is 100 times the
    Pearson correlation between the mark on the question and the score on
    the rest of the test (the total without that question).  It is None when
    either has no spread (everyone right, or everyone alike on the rest).
    """
    totals = [sum(attempt.get(q, 0) for q in question_ids) for attempt in marks]
    items = []
    for question in question_ids:
        item = [attempt.get(question, 0) for attempt in marks]
        rest = [total - mark for total, mark in zip(totals, item)]
        r = _correlation(item, rest) if marks else None
        items.append({
            "question": question,
            "n": len(marks),
            "facility_index": 100.0 * _mean(item) if marks else None,
            "discrimination_index": None if r is None else 100.0 * r,
        })
    return items
