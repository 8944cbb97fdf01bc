"""Disclosure control: the suppression method (pure), and an audit of every public output.

The audit is an attacker with linear algebra: every published number is an
equation over the unknown true inner cells (a city's educators, a city's
pre-test takers, ...), a national figure the sum of the cities', a total the
sum of its cells, and an inner cell that did not change between two releases
the same unknown in both.  A hidden cell is recovered exactly when its
indicator vector lies in the row space of the published equations.  The solver
here is its own small exact Gaussian elimination, written apart from
``services.reporting.disclosure``.
"""
import json
from fractions import Fraction

import pytest

from services.reporting import disclosure, exports, publication, report
from services.reporting.fakes import FakeReportingUnitOfWork
from shared import events
from tests.unit.test_reporting import deliver, participant_event, rollout_event, score_event

# --- the method, on small tables -------------------------------------------------------


def cells(table, rank=None):
    """{name: (inner ids, value)} as Cells, ranked in the order given."""
    return [disclosure.Cell(name, frozenset(inner), value, (i,) if rank is None else rank[name])
            for i, (name, (inner, value)) in enumerate(table.items())]


def test_a_cell_under_five_is_marked_small_and_a_cell_of_120_is_never_small():
    # educators 2, students 120, total 122: the total would give the educators away.
    table = {"educators": ({0}, 2), "students": ({1}, 120), "total": ({0, 1}, 122)}
    fate = disclosure.suppress(cells(table))
    assert fate["educators"] == disclosure.SMALL
    assert {fate["students"], fate["total"]} == {disclosure.PUBLISHED, disclosure.PROTECTING}
    assert disclosure.SMALL not in (fate["students"], fate["total"])


def test_the_ranking_chooses_which_cell_protects():
    table = {"educators": ({0}, 2), "students": ({1}, 120), "total": ({0, 1}, 122)}
    fate = disclosure.suppress(cells(table, {"educators": (0,), "students": (0,), "total": (1,)}))
    assert fate == {"educators": "<5", "students": "published", "total": "x"}


def test_a_two_way_table_needs_four_hidden_cells_around_one_small_one():
    # rows a, b; columns 1, 2; inner cells 0..3 = a1, a2, b1, b2; every margin and the grand total.
    table = {"a1": ({0}, 3), "a2": ({1}, 20), "b1": ({2}, 30), "b2": ({3}, 40),
             "a": ({0, 1}, 23), "b": ({2, 3}, 70), "1": ({0, 2}, 33), "2": ({1, 3}, 60), "all": ({0, 1, 2, 3}, 93)}
    fate = disclosure.suppress(cells(table))
    hidden = {name for name, f in fate.items() if f != disclosure.PUBLISHED}
    published = [table[name][0] for name in table if name not in hidden]
    assert solver_recovers(published, [table[name][0] for name in hidden]) == []
    assert len(hidden) >= 4


def test_what_earlier_releases_published_is_known_and_what_they_hid_stays_protected():
    # Release 1 hid the educators (inner 0) and the total; release 2 may not publish that total.
    fate = disclosure.suppress(cells({"total": ({0, 1}, 122)}), known=[frozenset({1})], protect=[frozenset({0})])
    assert fate == {"total": disclosure.PROTECTING}


def test_a_zero_is_published_and_changes_nothing():
    fate = disclosure.suppress(cells({"none": (set(), 0), "some": ({0}, 7)}))
    assert fate == {"none": disclosure.PUBLISHED, "some": disclosure.PUBLISHED}


# --- the attacker -------------------------------------------------------------------------

def echelon(rows, width):
    """Row-echelon form of integer rows, by exact Gaussian elimination: [(pivot column, row)]."""
    basis = []
    for row in rows:
        reduced = reduce_by(basis, [Fraction(x) for x in row])
        pivot = next((c for c in range(width) if reduced[c]), None)
        if pivot is not None:
            basis.append((pivot, [x / reduced[pivot] for x in reduced]))
    return basis


def reduce_by(basis, row):
    for pivot, base in basis:
        if row[pivot]:
            factor = row[pivot]
            row = [x - factor * y for x, y in zip(row, base)]
    return row


def solver_recovers(published, hidden):
    """Which of the hidden sums (sets of unknowns) follow exactly from the published ones:
    those whose indicator vector reduces to zero against the published equations."""
    unknowns = sorted(set().union(*published, *hidden))
    index = {u: i for i, u in enumerate(unknowns)}

    def row(members):
        found = [0] * len(unknowns)
        for u in members:
            found[index[u]] = 1
        return found

    basis = echelon([row(p) for p in {frozenset(p) for p in published}], len(unknowns))
    return [i for i, h in enumerate(hidden) if not any(reduce_by(basis, [Fraction(x) for x in row(h)]))]


class Attacker:
    """Turns what was published into equations over the true inner cells of the scenario.

    The inner cells here: each city's educators and students, and its pre-test, post-test
    and paired counts and passes.  One that keeps its value from a release to the next is
    the same unknown (the attacker is assumed to know what did not change).
    """

    MEASURES = {"pre_n": ("pre", "n"), "post_n": ("post", "n"), "paired": ("paired",),
                "pre_passed": ("pre", "passed"), "post_passed": ("post", "passed")}

    def __init__(self):
        self.version, self.last = {}, {}
        self.published, self.hidden = [], []  # (set of unknowns, what was shown, truth)

    def now(self, truth):
        """The unknowns of the inner cells as they stand: ``truth`` is {(city, cell): count}."""
        for cell, value in truth.items():
            if self.last.get(cell) != value:
                self.version[cell] = self.version.get(cell, 0) + 1
                self.last[cell] = value
        self.truth = dict(truth)
        return {cell: (cell, self.version[cell]) for cell in truth}

    def see(self, shown, cells):
        """One published figure: ``shown`` (a number or a marker) is the sum of ``cells``."""
        members = {self.unknowns[c] for c in cells}
        value = sum(self.truth[c] for c in cells)
        if isinstance(shown, int):
            assert shown == value, (cells, shown, value)
            self.published.append(members)
        else:
            assert shown in ("<5", "x"), shown
            assert (shown == "<5") == (0 < value < 5), (cells, shown, value)
            self.hidden.append((members, cells, value))

    def read_figures(self, public, cities):
        """Every count of a public figures dict (what public exports and the public report show)."""
        def category(cat):
            return [(c, cat) for c in cities]
        self.see(public["participants"], category("educator") + category("student"))
        for cat in ("educator", "student"):
            self.see(public["by_category"].get(cat, 0), category(cat))
        self.see(public["by_audience"]["activists"], category("educator"))
        self.see(public["by_audience"]["students"], category("student"))
        for session, cat in (("workshop", "educator"), ("socialisation", "student")):
            self.see(public["by_session"].get(session, {}).get(cat, 0), category(cat))
            self.see(public["by_session_total"].get(session, 0), category(cat))
        self.see(public["by_sex"].get("unknown", 0), category("educator") + category("student"))
        tests = public["tests"]
        for measure, path in self.MEASURES.items():
            shown = tests
            for step in path:
                shown = shown[step]
            self.see(shown, [(c, measure) for c in cities])
        for row in public.get("cities", []):
            self.read_figures_row(row)

    def read_figures_row(self, row):
        city = row["city"]
        self.see(row["participants"], [(city, "educator"), (city, "student")])
        self.see(row["activists"], [(city, "educator")])
        self.see(row["students"], [(city, "student")])
        for column, measure in (("pre_n", "pre_n"), ("post_n", "post_n"), ("paired", "paired")):
            self.see(row[column], [(city, measure)])

    def read_summary(self, body, cities):
        category = {cat: [(c, cat) for c in cities] for cat in ("educator", "student")}
        if "participants" in body:
            self.see(body["participants"], category["educator"] + category["student"])
            for cat in ("educator", "student"):
                self.see(body["by_category"].get(cat, 0), category[cat])
            self.see(body["by_audience"]["activists"], category["educator"])
            self.see(body["by_audience"]["students"], category["student"])
        else:
            for measure in ("pre_n", "post_n"):
                self.see(body[measure[:-2]]["n"], [(c, measure) for c in cities])
            self.see(body["paired"], [(c, "paired") for c in cities])

    def recovered(self):
        """(cells, true value) of every hidden figure the published ones give away."""
        found = solver_recovers([p for p in self.published], [h for h, _, _ in self.hidden])
        return [(self.hidden[i][1], self.hidden[i][2]) for i in found]


CITIES = ("pontianak", "medan")


def truth_of(uow):
    """The scenario's true inner cells, from the exact figures."""
    from services.reporting import figures
    truth = {}
    for city in CITIES:
        exact = figures.city_figures(uow, city)
        truth[city, "educator"] = exact["by_category"].get("educator", 0)
        truth[city, "student"] = exact["by_category"].get("student", 0)
        tests = exact["tests"]
        truth.update({(city, "pre_n"): tests["pre"]["n"], (city, "post_n"): tests["post"]["n"],
                      (city, "paired"): tests["paired"], (city, "pre_passed"): tests["pre"]["passed"],
                      (city, "post_passed"): tests["post"]["passed"]})
    return truth


def students(ids, city, rollout_id):
    return [participant_event(i, rollout_id=rollout_id, city=city) for i in ids]


def educators(ids, city, rollout_id):
    return [participant_event(i, "educator", rollout_id=rollout_id, city=city) for i in ids]


def pre_tests(ids, city, rollout_id, score=4):
    return [score_event(1000 + i, f"C{i}", "pre", score, rollout_id=rollout_id, city=city) for i in ids]


def post_tests(ids, city, rollout_id, score=8):
    return [score_event(2000 + i, f"C{i}", "post", score, rollout_id=rollout_id, city=city) for i in ids]


# Small cells in two cities over successive updates; each step is one publication round.
STEPS = [
    [rollout_event(1), *students(range(1, 7), "pontianak", 1), *educators((7, 8), "pontianak", 1),
     *pre_tests(range(1, 7), "pontianak", 1)],
    [rollout_event(2, "medan", "Medan"), *students((20, 21, 22), "medan", 2)],
    [*educators((9,), "pontianak", 1), *students((23,), "medan", 2)],
    [*educators((24, 25), "medan", 2), *post_tests((1, 2, 3), "pontianak", 1)],
    [*students(range(30, 40), "pontianak", 1), *pre_tests((20, 21, 22, 23), "medan", 2)],
    [*post_tests((4, 5, 6), "pontianak", 1), *students((26, 27, 28), "medan", 2)],
]


def scenario(publish):
    """Run the steps; ``publish(uow)`` makes one round's public outputs, fed to the attacker."""
    uow, attacker = FakeReportingUnitOfWork(), Attacker()
    for step in STEPS:
        deliver(uow, *step)
        attacker.unknowns = attacker.now(truth_of(uow))
        publish(uow, attacker)
    return uow, attacker


def every_public_output(uow, attacker):
    """One round: the summary messages, the snapshots, and the released figures of every scope
    (what public exports and the public national report are made of)."""
    uow.emitted.clear()
    publication.publish_changed_summaries(uow)
    for body in uow.emitted:
        attacker.read_summary(json.loads(json.dumps(body)), CITIES if body["city"] == "national" else [body["city"]])
    for city in publication.summary_cities(uow):
        for body in publication.current_summaries(uow, city).values():
            attacker.read_summary(body, CITIES if city == "national" else [city])
        scope_cities = CITIES if city == "national" else [city]
        attacker.read_figures(publication.released_figures(uow, city), scope_cities)
        if city != "national":
            for rollout in publication.released_figures(uow, city)["rollouts"]:
                attacker.read_figures(publication.released_figures(uow, city, rollout["rollout_id"]), [city])


def test_no_public_output_over_successive_releases_gives_a_hidden_value_away():
    uow, attacker = scenario(every_public_output)

    assert len(attacker.hidden) > 20  # the scenario has small cells to hide, in both cities
    assert {"<5", "x"} <= {shown for shown in _markers(uow)}
    assert attacker.recovered() == []


def _markers(uow):
    return {value for release in uow.releases.rows for value in release.shown.values() if isinstance(value, str)}


# What reporting published before: each city's cells under 5 as "<5", a lone hidden part of a
# breakdown taking the next smallest with it, figures recomputed on every change.
def legacy_count(n):
    return "<5" if 0 < n < 5 else n


def legacy_breakdown(counts):
    hidden = {key for key, n in counts.items() if 0 < n < 5}
    if len(hidden) == 1:
        others = sorted((n, key) for key, n in counts.items() if key not in hidden and n > 0)
        if others:
            hidden.add(others[0][1])
    return {key: ("<5" if key in hidden else n) for key, n in counts.items()}


def legacy_publish(uow, attacker):
    from services.reporting import figures
    for city in (*CITIES, "national"):
        people, tests = figures.participant_figures(uow, city), figures.test_figures(uow, city)
        if not people["participants"]:
            continue
        scope = CITIES if city == "national" else [city]
        attacker.read_summary({"participants": legacy_count(people["participants"]),
                               "by_category": legacy_breakdown(people["by_category"]),
                               "by_audience": legacy_breakdown(people["by_audience"])}, scope)
        attacker.read_summary({"pre": {"n": legacy_count(tests["pre"]["n"])},
                               "post": {"n": legacy_count(tests["post"]["n"])},
                               "paired": legacy_count(tests["paired"])}, scope)


def test_the_same_solver_recovers_hidden_values_from_the_suppression_it_replaces():
    _, attacker = scenario(_tolerant(legacy_publish))
    recovered = attacker.recovered()
    assert recovered  # e.g. Medan's students: the national count less Pontianak's
    assert any(0 < value < 5 for _, value in recovered)


def _tolerant(publish):
    """The old suppression marked cells of 5 or more "<5" too: let the attacker read them as hidden."""
    def run(uow, attacker):
        see = attacker.see

        def lenient(shown, cells):
            if shown == "<5" and not 0 < sum(attacker.truth[c] for c in cells) < 5:
                shown = "x"
            see(shown, cells)
        attacker.see = lenient
        try:
            publish(uow, attacker)
        finally:
            attacker.see = see
    return run


# --- the public files -----------------------------------------------------------------------

def test_public_exports_and_the_public_national_report_show_the_release_and_explain_both_markers(tmp_path):
    uow, _ = scenario(every_public_output)
    public = report.required(uow, "national", "en", public=True)
    internal = report.required(uow, "national", "en")
    assert public.public and not internal.public
    released = publication.released_figures(uow, events.NATIONAL)
    assert public.tables["categories"].rows[-1][1] == released["participants"]
    assert "About the public figures" in public.markdown and "About the public figures" not in internal.markdown
    csv_text = exports.table_csv(public.tables["cities"], public=True)
    assert csv_text.splitlines()[-2:] == [f"<5: {publication.MARKERS['en']['<5']}",
                                          f"x: {publication.MARKERS['en']['x']}"]  # the note at its foot
    medan = next(row for row in public.tables["cities"].rows if row[0] == "Medan")
    assert all(not isinstance(v, int) or not 0 < v < 5 for v in medan)
    city = report.required(uow, "medan", "id", public=True)
    assert "Catatan tentang angka publik" in city.markdown
    assert exports.table_csv(city.tables["categories"], public=True).splitlines()[-4].startswith("<5: 1 sampai 4")


def test_a_city_with_nothing_released_has_no_public_figures():
    uow = deliver(FakeReportingUnitOfWork(), rollout_event(1))
    with pytest.raises(Exception) as refused:
        publication.released_figures(uow, "pontianak")
    assert refused.value.code == "not_found"
