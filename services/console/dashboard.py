"""The national dashboard: every city's rollouts, their places against capacity and each
category's minimum, check-ins per day, the committee's deliveries and the tests.

``progress`` is a pure function of what three API calls answer (registration's rollouts,
reporting's rollout figures, notification's deliveries), so the page is the same whether
it is drawn whole or polled, and ``bench/console_bench.py`` times it without a server.
A person who may not see exact figures (a committee member, a partner) sees the public
summaries instead, where a cell under five people reads "<5".
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.console.app import Context, Reply, route
from services.console.client import Refused

POLL_SECONDS = 10
CATEGORY_ORDER = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak", "student")
# A delivery's states from the least to the most settled: a rollout shows its least settled one.
DELIVERY_ORDER = ("failed", "queued", "sent", "acknowledged")


@dataclass
class CategoryTarget:
    category: str
    minimum: int
    held: int

    @property
    def gap(self) -> int:
        """How many more people the category needs to reach its minimum (0: reached)."""
        return max(0, self.minimum - self.held)


@dataclass
class SessionProgress:
    key: str
    title: str
    day: int
    date: str
    capacity: int | None
    held: int
    targets: list[CategoryTarget]
    others: dict[str, int]  # categories without a minimum that hold places

    @property
    def fill_percent(self) -> int | None:
        return None if not self.capacity else min(100, round(100 * self.held / self.capacity))

    @property
    def gaps(self) -> list[CategoryTarget]:
        return [t for t in self.targets if t.gap]


@dataclass
class RolloutProgress:
    rollout_id: int
    city: str
    city_name: str
    program: str
    status: str
    starts_on: str
    ends_on: str
    registration_open: bool
    sessions: list[SessionProgress]
    attendance: list[dict[str, Any]]  # {"day", "session_key", "checked_in"}
    tests: dict[str, Any] | None  # pre_n, pre_percent, post_n, post_percent, paired, gain
    deliveries: dict[str, int]  # status -> how many
    figures_known: bool  # reporting has heard of the rollout (it is launched)

    @property
    def held(self) -> int:
        return sum(s.held for s in self.sessions)

    @property
    def capacity(self) -> int | None:
        capacities = [s.capacity for s in self.sessions]
        return None if not capacities or None in capacities else sum(c for c in capacities if c)

    @property
    def gaps(self) -> list[tuple[SessionProgress, CategoryTarget]]:
        """Categories short of their minimum; none before reporting has figures (a draft's are not counted)."""
        return [(s, t) for s in self.sessions for t in s.gaps] if self.figures_known else []

    @property
    def checked_in(self) -> int:
        return sum(a["checked_in"] for a in self.attendance)

    @property
    def delivery_state(self) -> str | None:
        """The least settled state of the rollout's deliveries (None: nothing sent yet)."""
        return next((state for state in DELIVERY_ORDER if self.deliveries.get(state)), None)


@dataclass
class Progress:
    rollouts: list[RolloutProgress]
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def cities(self) -> int:
        return len({r.city for r in self.rollouts})

    @property
    def held(self) -> int:
        return sum(r.held for r in self.rollouts)

    @property
    def gaps(self) -> int:
        return sum(len(r.gaps) for r in self.rollouts)

    @property
    def checked_in(self) -> int:
        return sum(r.checked_in for r in self.rollouts)

    @property
    def failed_deliveries(self) -> int:
        return sum(r.deliveries.get("failed", 0) for r in self.rollouts)


def progress(rollouts: list[dict[str, Any]], figures: list[dict[str, Any]],
             deliveries: list[dict[str, Any]]) -> Progress:
    """Each rollout (by city, then date) with its places, gaps, check-ins, deliveries and tests."""
    figures_of = {f["rollout_id"]: f for f in figures}
    sent = {}
    for delivery in deliveries:
        sent.setdefault(delivery["rollout_id"], Counter())[delivery["status"]] += 1
    rows = [_rollout_progress(r, figures_of.get(r["id"]), sent.get(r["id"], Counter()))
            for r in sorted(rollouts, key=lambda r: (r["city_name"], r["starts_on"], r["id"]))]
    return Progress(rows, dict(Counter(r["status"] for r in rollouts)))


def _rollout_progress(rollout: dict[str, Any], figures: dict[str, Any] | None, deliveries: Counter) -> RolloutProgress:
    held_by_session = (figures or {}).get("by_session") or {}
    sessions = []
    for session in sorted(rollout.get("sessions") or [], key=lambda s: (s["day"], s["key"])):
        held = held_by_session.get(session["key"]) or {}
        minimums = {q["category"]: q.get("minimum") or 0 for q in session.get("quotas") or []}
        targets = [CategoryTarget(c, minimums[c], held.get(c, 0))
                   for c in sorted(minimums, key=_category_rank) if minimums[c]]
        others = {c: n for c, n in sorted(held.items(), key=lambda item: _category_rank(item[0]))
                  if not minimums.get(c)}
        sessions.append(SessionProgress(session["key"], session["title"], session["day"], session["date"],
                                        session.get("capacity"), sum(held.values()), targets, others))
    return RolloutProgress(
        rollout["id"], rollout["city"], rollout["city_name"], rollout["program"], rollout["status"],
        rollout["starts_on"], rollout["ends_on"], bool(rollout.get("registration_open")), sessions,
        (figures or {}).get("attendance") or [], (figures or {}).get("tests"), dict(deliveries),
        figures is not None)


def _category_rank(category: str) -> int:
    return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)


# --- reading it from the API, as the signed-in person ---------------------------------

def exact_progress(ctx: Context) -> Progress:
    """For those who may see exact figures: registration's rollouts, reporting's figures and
    notification's deliveries, each list filtered by the services to the person's cities."""
    api = ctx.api
    rollouts = ctx.attempt(lambda: api.items("/rollouts"), [])
    principal = ctx.principal
    scopes = ["national"] if principal is None or principal.every_city else list(principal.cities)
    figures: list[dict[str, Any]] = []
    for scope in scopes:
        figures += ctx.attempt(lambda scope=scope: api.get(f"/reports/{scope}/rollout-figures")["rollouts"], [])
    deliveries = ctx.attempt(lambda: api.items("/deliveries"), []) if ctx.may("deliveries:read") else []
    return progress(rollouts, figures, deliveries)


@dataclass
class PublicRow:
    city: str
    participants: Any  # a number, or "<5" / "x" as released
    by_category: dict[str, Any]
    tests: dict[str, Any]


def public_summaries(ctx: Context) -> list[PublicRow]:
    """The public summaries of the cities the person sees (and the nation, for every-city roles)."""
    api = ctx.api
    cities = ctx.attempt(lambda: api.get("/summaries")["cities"], [])
    rows = []
    for city in cities:
        try:
            snapshot = api.get(f"/summaries/{city}")
        except Refused as exc:
            if exc.status in (401,) or exc.status >= 500:
                raise
            continue  # nothing released for it yet
        people = snapshot.get(f"summary.participants.{city}") or {}
        tests = snapshot.get(f"summary.tests.{city}") or {}
        rows.append(PublicRow(city, people.get("participants"), people.get("by_category") or {}, tests))
    return rows


def dashboard_data(ctx: Context) -> dict[str, Any]:
    data: dict[str, Any] = {"poll_seconds": POLL_SECONDS, "exact": None, "public": None, "plans": None}
    if ctx.may("reports:internal"):
        data["exact"] = exact_progress(ctx)
    elif ctx.may("rollouts:read"):
        # A committee member: the city's rollouts and their agenda, without figures of their own.
        data["plans"] = progress(ctx.attempt(lambda: ctx.api.items("/rollouts"), []), [], [])
    if data["exact"] is None and ctx.may("summaries:read"):
        data["public"] = public_summaries(ctx)
    return data


@route("GET", "/")
def dashboard(ctx: Context) -> Reply:
    return ctx.page("dashboard.html.j2", **dashboard_data(ctx))


@route("GET", "/dashboard/live")
def dashboard_live(ctx: Context) -> Reply:
    """The part of the dashboard htmx polls, every POLL_SECONDS."""
    return ctx.page("dashboard_live.html.j2", **dashboard_data(ctx))

