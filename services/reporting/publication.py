"""What the public may see of the figures, and when it is published (no nameko here).

Every public output (the summary events, ``GET /summaries/<city>``, public
exports and the public national report) shows a **release**: the public figures
that one publication round made, stored in ``public_releases``.  A timer runs a
round at most once a second (and once more when the service stops); a round
releases the cities whose figures changed, then the nation.

Disclosure control (``disclosure`` has the method and its sources):

- The **inner cells** are the finest counts, never published: people of one
  rollout by session, category, sex and age band; test takers, passes and pairs
  of one rollout; check-ins per day; action plans by owner and status.
- Every public cell (a category, a total, a session's sex table, a city in the
  national table, ...) is a sum of inner cells, in one rollout, one city or the
  nation.  All of them, across every table and scope, are suppressed together:
  "<5" for 1 to 4 people, "x" for a cell hidden so that a "<5" cannot be worked
  out from totals, other cells or linked tables.
- **Successive releases**: the released history is treated as more linked
  tables.  An inner cell that keeps its value from one release to the next is
  the same unknown in both (the conservative assumption: whoever reads them
  knows what did not change); one that changed is a new unknown.  What earlier
  releases published is known, what they hid stays protected, so no difference
  of two releases gives a hidden value away.
"""
from collections import defaultdict
from collections.abc import Iterable

from services.reporting import disclosure, figures
from shared import events
from shared.errors import NotFound

SMALL, PROTECTING, PUBLISHED = disclosure.SMALL, disclosure.PROTECTING, disclosure.PUBLISHED

# Every public file and schema explains both markers in these words.
MARKERS = {
    "en": {SMALL: "1 to 4 people (too few to publish)",
           PROTECTING: "hidden so that a cell of 1 to 4 people cannot be worked out from totals or other tables"},
    "id": {SMALL: "1 sampai 4 orang (terlalu sedikit untuk dipublikasikan)",
           PROTECTING: "disembunyikan agar sel berisi 1 sampai 4 orang tidak dapat dihitung dari jumlah "
                       "atau tabel lain"},
}

# The cells the summaries carry: published first, so secondary suppression falls on the detail tables.
HEADLINE = ("participants", "category:", "audience:", "tests:pre_n", "tests:post_n", "tests:paired")
TEST_MEASURES = ("pre_n", "pre_passed", "post_n", "post_passed", "paired")


def markers_note(lang: str = "en") -> str:
    """One line explaining both markers, for the foot of a public file."""
    return "; ".join(f'"{marker}": {meaning}' for marker, meaning in MARKERS[lang].items())


# --- inner cells and the public cells they add up to (pure) -----------------------

def _key(*parts) -> str:
    return "|".join(str(p) for p in parts)


def inner_cells(uow) -> dict[str, int]:
    """Every non-empty inner cell of every live rollout, as ``{key: count}``.

    Keys: ``kind|rollout|city|...`` (people: session, category, sex, age band;
    tests: measure; attendance: day; plans: owner, status).
    """
    counted: dict[str, int] = defaultdict(int)
    models = uow.read_models
    for rollout in figures.rollouts_in(uow, events.NATIONAL):
        r, city = rollout.rollout_id, rollout.city
        for session, category, sex, age_band, n in models.participant_counts(city, r):
            counted[_key("people", r, city, session, category, sex or figures.UNKNOWN,
                         age_band or figures.UNKNOWN)] += n
        sums = models.test_sums(city, r).get(None) or figures.ScoreSums()
        for measure in TEST_MEASURES:
            counted[_key("tests", r, city, measure)] += getattr(sums, measure)
        for day, _, n in models.attendance_counts(city, r):
            counted[_key("attendance", r, city, day)] += n
        for owner, status, n in models.action_plan_counts(city, r):
            counted[_key("plans", r, city, owner, status)] += n
    return {key: n for key, n in counted.items() if n}


def cell_names(inner_key: str) -> list[str]:
    """The public cells (within a scope) that an inner cell counts in."""
    kind, _, _, *rest = inner_key.split("|")
    if kind == "people":
        session, category, sex, age = rest
        audience = "students" if category == "student" else "activists"
        return ["participants", f"category:{category}", f"audience:{audience}", f"sex:{sex}", f"age:{age}",
                f"session:{session}:total", f"session:{session}:category:{category}",
                f"session:{session}:sex:{sex}", f"session:{session}:age:{age}"]
    if kind == "tests":
        return [f"tests:{rest[0]}"]
    if kind == "attendance":
        return [f"attendance:{rest[0]}"]
    owner, status = rest
    return ["plans:total", f"plans:owner:{owner}", f"plans:status:{status}"]


def scopes_of(inner_key: str) -> list[str]:
    """The scopes an inner cell counts in: its rollout, its city, the nation."""
    _, rollout_id, city, *_ = inner_key.split("|")
    return [f"rollout:{rollout_id}", city, events.NATIONAL]


def city_of(inner_key: str) -> str:
    return inner_key.split("|")[2]


def public_cells(inner: Iterable[str], scopes: set[str]) -> dict[str, set[str]]:
    """``{"<scope>/<cell>": inner keys}`` of every non-empty public cell of ``scopes``."""
    cells: dict[str, set[str]] = defaultdict(set)
    for key in inner:
        for scope in scopes_of(key):
            if scope in scopes:
                for name in cell_names(key):
                    cells[f"{scope}/{name}"].add(key)
    return cells


def _rank(name: str, value: int, inner: frozenset, threatened: set) -> tuple:
    """Which cells to publish first: headline figures, then cells apart from any small one, larger first."""
    cell = name.split("/", 1)[1]
    return (not cell.startswith(HEADLINE), bool(inner & threatened), -value, name)


class History:
    """The inner cells as unknowns over the released history: an inner cell that keeps
    its value from one release to the next stays the same unknown."""

    def __init__(self) -> None:
        self.ids: dict[tuple, int] = {}
        self.serial: dict[str, int] = {}
        self.last: dict[str, int] = {}

    def unknown(self, key: str) -> int:
        return self.ids.setdefault((key, self.serial.get(key, 0)), len(self.ids))

    def advance(self, inner: dict, covers) -> dict[str, int]:
        """Take in the inner cells a release (or this round) covers; returns their unknowns."""
        for key in set(inner) | {k for k in self.last if covers(k)}:
            value = inner.get(key, 0)
            if self.last.get(key, 0) != value:
                self.serial[key] = self.serial.get(key, 0) + 1
                self.last[key] = value
        return {key: self.unknown(key) for key in inner}


def _covers(city: str):
    return (lambda key: True) if city == events.NATIONAL else (lambda key: city_of(key) == city)


def release_plan(history: list, inner_now: dict[str, int], cities: list[str]) -> dict[str, tuple[int, str]]:
    """``{"<scope>/<cell>": (value, fate)}`` for the cities released now (with their rollouts)
    and the nation, suppressed against each other and against ``history``.

    ``history``: the earlier releases, oldest first (``city``, ``inner``, ``shown``).
    """
    unknowns = History()
    known, protect = set(), set()
    for release in history:
        ids = unknowns.advance(release.inner, _covers(release.city))
        scopes = set(_scopes_in(release.shown))
        for name, members in public_cells(release.inner, scopes).items():
            vector = frozenset(ids[k] for k in members)
            shown = release.shown.get(name)
            (protect if shown in (SMALL, PROTECTING) else known).add(vector)
    ids = unknowns.advance(inner_now, lambda key: True)
    scopes = {events.NATIONAL, *cities,
              *(f"rollout:{key.split('|')[1]}" for key in inner_now if city_of(key) in cities)}
    cells = {name: (frozenset(ids[k] for k in members), sum(inner_now[k] for k in members))
             for name, members in public_cells(inner_now, scopes).items()}
    threatened = set().union(*protect, *(inner for inner, value in cells.values() if disclosure.is_small(value)))
    fate = disclosure.suppress(
        [disclosure.Cell(name, inner, value, _rank(name, value, inner, threatened))
         for name, (inner, value) in cells.items()],
        known=known, protect=protect - known)
    return {name: (value, fate[name]) for name, (_, value) in cells.items()}


def _scopes_in(shown: dict) -> set[str]:
    return {name.split("/", 1)[0] for name in shown}


# --- public figures, in the shape of figures.city_figures (pure) -------------------

def _shown(plan: dict, scope: str, cell: str):
    value, fate = plan.get(f"{scope}/{cell}", (0, PUBLISHED))
    return value if fate == PUBLISHED else fate


def _parts(plan: dict, scope: str, prefix: str, order=()) -> dict:
    found = {name[len(scope) + 1 + len(prefix):]: _shown(plan, scope, name[len(scope) + 1:])
             for name in plan if name.startswith(f"{scope}/{prefix}")}
    keys = [k for k in order if k in found] + sorted(k for k in found if k not in order)
    return {k: found[k] for k in keys}


def is_number(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def public_figures(exact: dict, plan: dict, scope: str) -> dict:
    """The exact figures of ``scope`` as the public may see them: counts from the plan
    (a number, "<5" or "x"), and no mean, percentage or gain resting on a hidden count."""
    def count(cell):
        return _shown(plan, scope, cell)

    def phase(name):
        n = count(f"tests:{name}_n")
        return {"n": n, "mean_percent": exact["tests"][name]["mean_percent"] if is_number(n) else None,
                "passed": count(f"tests:{name}_passed")}

    sessions = sorted({name.split(":")[1] for name in plan
                       if name.startswith(f"{scope}/session:")} | set(exact.get("by_session", {})))
    paired = count("tests:paired")
    pairs_shown = is_number(paired)
    tests = {
        "pre": phase("pre"), "post": phase("post"), "paired": paired,
        "paired_pre_percent": exact["tests"]["paired_pre_percent"] if pairs_shown else None,
        "paired_post_percent": exact["tests"]["paired_post_percent"] if pairs_shown else None,
        "gain": exact["tests"]["gain"] if pairs_shown else None,
        "by_topic": [topic if pairs_shown else {**topic, "pre_percent": None, "post_percent": None, "gain": None}
                     for topic in exact["tests"]["by_topic"]],
    }
    return {
        **exact,
        "participants": count("participants"),
        "by_category": _parts(plan, scope, "category:", figures.CATEGORY_ORDER),
        "by_audience": {"activists": count("audience:activists"), "students": count("audience:students")},
        "by_sex": _parts(plan, scope, "sex:", figures.SEXES),
        "by_age_band": _parts(plan, scope, "age:"),
        "by_session": {s: _parts(plan, scope, f"session:{s}:category:", figures.CATEGORY_ORDER) for s in sessions},
        "by_session_total": {s: count(f"session:{s}:total") for s in sessions},
        "by_session_sex": {s: _parts(plan, scope, f"session:{s}:sex:", figures.SEXES) for s in sessions},
        "by_session_age_band": {s: _parts(plan, scope, f"session:{s}:age:") for s in sessions},
        "attendance": [{**a, "checked_in": count(f"attendance:{a['day']}")} for a in exact["attendance"]],
        "tests": tests,
        "gain_by_session": [],  # assessment's per-session gains rest on counts not published here
        "action_plans": {"total": count("plans:total"), "by_owner": _parts(plan, scope, "plans:owner:"),
                         "by_status": _parts(plan, scope, "plans:status:", figures.PLAN_STATUSES)},
        "notifications": [{**n, "participant_count": None} for n in exact["notifications"]],
        "public": True,
    }


def city_row(public: dict, city: str, exact_row: dict) -> dict:
    """A city's row of the national table, from its public figures."""
    tests = public["tests"]
    return {**exact_row, "participants": public["participants"],
            "activists": public["by_audience"]["activists"], "students": public["by_audience"]["students"],
            "pre_n": tests["pre"]["n"], "pre_percent": tests["pre"]["mean_percent"],
            "post_n": tests["post"]["n"], "post_percent": tests["post"]["mean_percent"],
            "paired": tests["paired"], "gain": tests["gain"]}


def summary_fields(public: dict) -> list[tuple]:
    """(summary event, fields) pairs from public figures."""
    tests = public["tests"]
    return [
        (events.PARTICIPANTS_SUMMARY, {
            "participants": public["participants"], "by_category": public["by_category"],
            "by_audience": public["by_audience"], "rollouts": len(public["rollouts"]),
        }),
        (events.TESTS_SUMMARY, {
            "pre": {k: tests["pre"][k] for k in ("n", "mean_percent")},
            "post": {k: tests["post"][k] for k in ("n", "mean_percent")},
            "paired": tests["paired"], "gain": tests["gain"],
        }),
    ]


# --- publication rounds --------------------------------------------------------------

def publish_changed_summaries(uow, cities: list[str] | None = None) -> list[str]:
    """Release every city (of ``cities``, or all) whose figures changed since its last
    release, then the nation; emit their summaries; returns the cities released.

    A city appears once it has someone to count (a launch alone would publish only
    zeros); from then on every change is released, down to zero.  A change that
    leaves every inner cell as it was (a re-sent event) releases nothing.
    """
    due = uow.city_changes.due(cities)
    if not due:
        return []
    uow.releases.lock()
    inner_now = inner_cells(uow)
    released = []
    for city, _, _ in due:
        latest = uow.releases.latest(city)
        mine = {k: n for k, n in inner_now.items() if city_of(k) == city}
        if (latest is None and not mine) or (latest is not None and latest.inner == mine):
            continue
        released.append(city)
    if released:
        _release(uow, inner_now, released)
    for city, changes, _ in due:  # in city order, the order handlers count changes in
        uow.city_changes.mark_published(city, changes)
    return released


def _release(uow, inner_now: dict, cities: list[str]) -> None:
    plan = release_plan(uow.releases.all(), inner_now, cities)
    public_by_city = {}
    for city in cities:
        exact = figures.city_figures(uow, city)
        public_by_city[city] = public_figures(exact, plan, city)
        scoped = {city: public_by_city[city]}
        for rollout in figures.rollouts_in(uow, city):
            scope = f"rollout:{rollout.rollout_id}"
            scoped[scope] = public_figures(figures.city_figures(uow, city, rollout.rollout_id), plan, scope)
        _store(uow, city, {k: n for k, n in inner_now.items() if city_of(k) == city},
               {name: shown for name, shown in _shown_cells(plan).items() if name.split("/")[0] in scoped},
               scoped, public_by_city[city])
    exact = figures.national_figures(uow)
    national = public_figures(exact, plan, events.NATIONAL)
    rows = []
    for row in exact["cities"]:
        city_public = public_by_city.get(row["city"]) or _latest_public(uow, row["city"])
        rows.append(city_row(city_public, row["city"], row) if city_public else _all_hidden(row))
    national["cities"] = rows
    _store(uow, events.NATIONAL, inner_now,
           {name: shown for name, shown in _shown_cells(plan).items() if name.startswith(f"{events.NATIONAL}/")},
           {events.NATIONAL: national}, national)


def _shown_cells(plan: dict) -> dict:
    return {name: value if fate == PUBLISHED else fate for name, (value, fate) in plan.items()}


def _all_hidden(row: dict) -> dict:
    """A city's row before its first release (nothing counted yet): nothing to show."""
    return {**row, **{k: PROTECTING for k in ("participants", "activists", "students", "pre_n", "post_n", "paired")
                      if row[k]}, "pre_percent": None, "post_percent": None, "gain": None}


def _latest_public(uow, city: str) -> dict | None:
    latest = uow.releases.latest(city)
    return latest.figures[city] if latest else None


def _store(uow, city: str, inner: dict, shown: dict, scoped: dict, public: dict) -> None:
    summaries = {}
    for summary, fields in summary_fields(public):
        summaries[summary.routing_key(city)] = uow.emit(summary, city, **fields)
    uow.releases.add(city, inner, shown, scoped, summaries)


# --- what the public reads -------------------------------------------------------------

def current_summaries(uow, city: str) -> dict:
    """{routing key: body} of the city's latest release: the very messages sent, event ids and all."""
    latest = uow.releases.latest(city)
    if latest is None:
        raise NotFound(f"no summaries of {city} have been published", field="city")
    return latest.summaries


def summary_cities(uow) -> list[str]:
    """Cities with published summaries, then ``national``."""
    cities = [c for c in uow.releases.cities() if c != events.NATIONAL]
    return [*cities, events.NATIONAL] if cities else []


def released_figures(uow, city: str, rollout_id: int | None = None) -> dict:
    """The public figures of a city (its latest rollout's, or ``rollout_id``'s) or the nation,
    as last released; NotFound if nothing of it has been released."""
    latest = uow.releases.latest(city)
    if latest is None:
        raise NotFound(f"no figures of {city} have been published", field="city")
    scope = city if city == events.NATIONAL or rollout_id is None else f"rollout:{rollout_id}"
    if scope not in latest.figures:
        raise NotFound(f"{city} has no published rollout {rollout_id}", field="rollout_id")
    return latest.figures[scope]


def public_summaries(uow, city: str) -> list[tuple]:
    """(summary event, fields) pairs of ``city`` (or ``national``) as a release made now would show them."""
    inner_now = inner_cells(uow)
    cities = sorted({city_of(k) for k in inner_now} | ({city} - {events.NATIONAL}))
    plan = release_plan(uow.releases.all(), inner_now, cities)
    exact = figures.national_figures(uow) if city == events.NATIONAL else figures.city_figures(uow, city)
    return summary_fields(public_figures(exact, plan, city))
