"""What the public may see of the figures, and when it is published (no nameko here).

Public summaries hold aggregates only: a count of 1 to 4 people is published
as ``"<5"``, a mean resting on such a count not at all, and where counts are
parts of a whole a lone hidden part takes the next smallest with it.

A city's figures change as its events are applied (``projections`` counts the
changes); a timer calls ``publish_changed_summaries`` at most once a second,
so a busy city is summarised once a round, not once an event.
"""
from services.reporting import figures
from shared import events

HIDDEN = f"<{events.SMALL_CELL}"


# --- small-cell suppression (pure) -------------------------------------------

def suppress(n):
    """A count as published: cells under SMALL_CELL people become "<5"."""
    return HIDDEN if 0 < n < events.SMALL_CELL else n


def suppress_breakdown(counts: dict) -> dict:
    """Counts that add up to a published total, suppressed so none can be recovered.

    One hidden cell could be worked out by subtracting the others from the
    total, so the next smallest cell is hidden with it (secondary suppression).
    """
    hidden = {key for key, n in counts.items() if 0 < n < events.SMALL_CELL}
    if len(hidden) == 1:
        others = sorted((n, key) for key, n in counts.items() if key not in hidden and n > 0)
        if others:
            hidden.add(others[0][1])
    return {key: (HIDDEN if key in hidden else n) for key, n in counts.items()}


def public_phase(phase: dict) -> dict:
    """One test's figures as published: no mean over fewer than SMALL_CELL people."""
    shown = phase["n"] >= events.SMALL_CELL
    return {"n": suppress(phase["n"]), "mean_percent": phase["mean_percent"] if shown else None}


def summarise(people: dict, tests: dict, rollouts: int) -> list[tuple]:
    """(summary event, fields) pairs from exact figures: aggregates only, small cells suppressed."""
    return [
        (events.PARTICIPANTS_SUMMARY, {
            "participants": suppress(people["participants"]),
            "by_category": suppress_breakdown(people["by_category"]),
            "by_audience": suppress_breakdown(people["by_audience"]),
            "rollouts": rollouts,
        }),
        (events.TESTS_SUMMARY, {
            "pre": public_phase(tests["pre"]),
            "post": public_phase(tests["post"]),
            "paired": suppress(tests["paired"]),
            "gain": tests["gain"] if tests["paired"] >= events.SMALL_CELL else None,
        }),
    ]


def nothing_counted(summaries: list[tuple]) -> bool:
    (_, people), (_, tests) = summaries
    return people["participants"] == 0 and tests["pre"]["n"] == 0 and tests["post"]["n"] == 0


# --- summaries from the read models ------------------------------------------

def public_summaries(uow, city: str) -> list[tuple]:
    """(summary event, fields) pairs for ``city`` (or ``national``) as they stand now."""
    return summarise(figures.participant_figures(uow, city), figures.test_figures(uow, city),
                     len(figures.rollouts_in(uow, city)))


def current_summaries(uow, city: str) -> dict:
    """{routing key: body} of the city's summaries now, as a subscriber that just arrived reads them."""
    return {summary.routing_key(city): summary.create(city, **fields)
            for summary, fields in public_summaries(uow, city)}


def summary_cities(uow) -> list[str]:
    """Cities whose summaries have been published (or are due), then ``national``."""
    cities = uow.city_changes.cities()
    return [*cities, events.NATIONAL] if cities else []


def publish_changed_summaries(uow, cities: list[str] | None = None) -> list[str]:
    """Emit summaries for every city (of ``cities``, or all) whose figures changed
    since the last ones, then the nation's; returns the cities published.

    A city appears on the exchange once it has someone to count: a rollout just
    launched, with no participant or test yet, waits (its first summary would
    say nothing but zeros).  Once published, every change is published, down to zero.

    The figures are read first and the cities marked published last, so the
    handlers counting new changes wait for this round's commit alone, not for
    its computing.
    """
    published = {}
    for city, changes, published_before in uow.city_changes.due(cities):
        summaries = public_summaries(uow, city)
        if not published_before and nothing_counted(summaries):
            continue
        for summary, fields in summaries:
            uow.emit(summary, city, **fields)
        published[city] = changes
    if published:
        for summary, fields in public_summaries(uow, events.NATIONAL):
            uow.emit(summary, events.NATIONAL, **fields)
    for city, changes in published.items():  # in city order, the order handlers count changes in
        uow.city_changes.mark_published(city, changes)
    return list(published)
