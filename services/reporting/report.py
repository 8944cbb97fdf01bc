"""The activity report of a city, and the national roll-up, as the seed report is written.

A report is built here from the read models as data: its tables (a ``Table``
of raw values each), its charts (``charts.Chart``) and what the templates
print (``Report.context``).  ``document.py`` renders that data through one
template per report kind, in Bahasa Indonesia (the default) or English, to
HTML, to PDF (from the HTML) and to Markdown; ``exports.py`` gives the tables
as CSV and XLSX.  Every text a coordinator, a facilitator or a participant
typed stays data: it is escaped wherever it is printed, never read as markup.

Words come from gettext catalogues (``locale/``, through Babel), numbers and
dates from Babel's locale data.  Every date printed comes from the events
(the rollout's days, its narrative's issue date), never from the clock.
"""
from dataclasses import dataclass, field
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.support import NullTranslations, Translations

from services.reporting import charts, publication
from services.reporting import figures as read
from shared import events
from shared.errors import InvalidInput, NotFound

LANGUAGES = events.LANGUAGES
FORMATS = ("md", "html", "pdf")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "reporting"


def N_(message: str) -> str:
    """Marks ``message`` for the catalogues; it is translated where it is shown."""
    return message


CATEGORIES = {"educator": N_("Educators"), "skpd": N_("SKPD (local government)"),
              "patbm": N_("PATBM (community groups)"), "unit_ppa": N_("Unit PPA (police unit)"),
              "lsm": N_("LSM (NGOs)"), "forum_anak": N_("Forum Anak (children's forum)"),
              "student": N_("Students")}
SEXES = {"F": N_("Female"), "M": N_("Male"), read.UNKNOWN: N_("Not known")}
STATUSES = {"planned": N_("Planned"), "in_progress": N_("In progress"), "done": N_("Done"),
            "dropped": N_("Dropped")}
OWNERS = {"participant": N_("Participant"), "group": N_("Group")}
CHANNELS = {"mail": N_("e-mail"), "webhook": N_("webhook")}
# Words of file names (laporan-pontianak-2019-topik.svg), used inside f-strings the extractor cannot read.
FILE_WORDS = (N_("report"), N_("national"), N_("topics"), N_("categories"), N_("cities"), N_("public"))


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang`` (compiled ``.mo`` files ship in the package)."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}")
    found = Translations.load(str(LOCALE_DIR), [lang], domain=DOMAIN)
    if not isinstance(found, Translations):
        raise RuntimeError(f"the {lang} catalogue is missing from {LOCALE_DIR.name}/ (pybabel compile)")
    return found


def tanggal(day: date, lang: str = "id") -> str:
    return babel_dates.format_date(day, "d MMMM y", locale=lang)


def rentang(start: date, end: date, lang: str = "id") -> str:
    """A span of days as the seed writes it: "2-3 Mei 2019"."""
    if start == end:
        return tanggal(start, lang)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}-{tanggal(end, lang)}"
    return f"{tanggal(start, lang)} - {tanggal(end, lang)}"


def number(value: int | float | str | None, lang: str = "id") -> str:
    """A count as the language writes it; a public report's marker ("<5", "x") as it is."""
    if isinstance(value, str):
        return value
    return "-" if value is None else babel_numbers.format_decimal(value, "#,##0", locale=lang)


def persen(value: float | None, lang: str = "id") -> str:
    return "-" if value is None else babel_numbers.format_decimal(value, "#,##0.0", locale=lang) + "%"


def decimal(value: float | None, lang: str = "id") -> str:
    return "-" if value is None else babel_numbers.format_decimal(value, "0.00", locale=lang)


def local(text: Any, lang: str) -> str | None:
    """A narrative text in ``lang``: as written for every language, or its ``lang`` version
    (or, when only the other language was written, that one rather than nothing)."""
    if text is None or isinstance(text, str):
        return text
    return text.get(lang) or next(iter(text.values()), None)


# --- tables -----------------------------------------------------------------

@dataclass
class Table:
    """A report table: raw values, with each column's kind saying how to show and publish it.

    Kinds: ``text``; ``count`` (people); ``percent`` and ``gain``.  A public report is built
    from the released public figures (``publication``), so its counts are already numbers,
    "<5" or "x", and no percentage rests on a hidden count.
    """

    name: str
    columns: list  # (heading, kind)
    rows: list
    n_column: int | None = None  # the count a row's percentages and gain rest on
    # Where counts are parts of a whole, one hidden part could be worked out from the others:
    breakdown: bool = False  # the rows are parts (of the last row, the total, if ``total``)
    total: bool = False
    part_columns: tuple = ()  # in each row, these columns are parts of another one
    sheet: str = ""  # its name in the language of the report: the sheet's and the CSV file's

    def __post_init__(self):
        self.sheet = self.sheet or self.name

    def shown(self, lang):
        return [[_show(value, kind, lang) for value, (_, kind) in zip(row, self.columns)] for row in self.rows]

    def is_total(self, index: int) -> bool:
        """Whether row ``index`` is the table's total (set apart when printed)."""
        return self.total and index == len(self.rows) - 1

    def public_rows(self):
        """Rows as a partner may see them: those of a report built with ``public=True``."""
        return self.rows


def _show(value, kind, lang):
    if value is None:
        return "-"
    if kind == "percent":
        return persen(value, lang)
    if kind == "gain":
        return decimal(value, lang)
    if kind == "count" and isinstance(value, int):
        return number(value, lang)
    return str(value)


@dataclass
class Report:
    """A report as data: what its template prints, its tables and its charts."""

    kind: str  # "activity" (a city's rollout) or "national": the template it is written with
    stem: str  # file name without extension, e.g. laporan-pontianak-2019
    lang: str
    title: str
    context: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)  # name -> Table
    charts: dict = field(default_factory=dict)  # file name -> charts.Chart
    public: bool = False  # built from the released public figures; otherwise internal (exact figures)

    @cached_property
    def markdown(self) -> str:
        from services.reporting import document

        return document.markdown(self)


class Words:
    """gettext and Babel's numbers and dates in one language: what a report is written with
    (the templates get plurals through the same catalogue, see ``document._environment``)."""

    def __init__(self, lang: str):
        self.lang = lang
        self.catalogue = translations(lang)

    def __call__(self, message: str, **values) -> str:
        text = self.catalogue.gettext(message)
        return text % values if values else text

    def label(self, labels: dict, key: str | None) -> str:
        if key in labels:
            return self(labels[key])
        return self(SEXES[read.UNKNOWN]) if key in (None, read.UNKNOWN) else key

    def date(self, day: date | None) -> str:
        return "-" if day is None else tanggal(day, self.lang)

    def number(self, n: int | float | str | None) -> str:
        return number(n, self.lang)

    def percent(self, value: float | None) -> str:
        return persen(value, self.lang)

    def gain(self, value: float | None) -> str:
        return decimal(value, self.lang)


def _labelled(counts, labels, words):
    return [[words.label(labels, key), n] for key, n in counts.items()]


def _with_total(rows, label, total=None):
    """The rows and their total (a public report gives the published total: its rows may hold "<5" or "x")."""
    return rows + [[label, sum(n for _, n in rows) if total is None else total]] if rows else rows


def _known(counts):
    return any(key != read.UNKNOWN for key in counts)


def _test_tables(tests, words):
    _ = words
    return {
        "tests": Table("tests", [(_("Test"), "text"), (_("Participants"), "count"), (_("Mean score"), "percent"),
                                 (_("Passed"), "count")],
                       [[_("Pre-test"), tests["pre"]["n"], tests["pre"]["mean_percent"], tests["pre"]["passed"]],
                        [_("Post-test"), tests["post"]["n"], tests["post"]["mean_percent"],
                         tests["post"]["passed"]]], n_column=1, sheet=_("tests")),
        "topics": Table("topics", [(_("Topic"), "text"), (_("Pre-test"), "percent"), (_("Post-test"), "percent"),
                                   (_("Normalised gain"), "gain"), (_("Took both tests"), "count")],
                        [[t["topic"], t["pre_percent"], t["post_percent"], t["gain"], tests["paired"]]
                         for t in tests["by_topic"]], n_column=4, sheet=_("topics")),
    }


def _common_tables(figures, words):
    _ = words
    plans = figures["action_plans"]
    tables = {
        "categories": Table("categories", [(_("Participant category"), "text"), (_("Number"), "count")],
                            _with_total(_labelled(figures["by_category"], CATEGORIES, words), _("Total"),
                                        figures["participants"]),
                            breakdown=True, total=True, sheet=_("categories")),
        **_test_tables(figures["tests"], words),
        "action_plans": Table("action_plans", [(_("Status"), "text"), (_("Number"), "count")],
                              _with_total(_labelled(plans["by_status"], STATUSES, words), _("Total"), plans["total"]),
                              breakdown=True, total=True, sheet=_("action-plans")),
    }
    if _known(figures["by_sex"]):
        tables["sex"] = Table("sex", [(_("Sex"), "text"), (_("Number"), "count")],
                              _labelled(figures["by_sex"], SEXES, words), breakdown=True, sheet=_("sex"))
    if _known(figures["by_age_band"]):
        tables["age_bands"] = Table("age_bands", [(_("Age band"), "text"), (_("Number"), "count")],
                                    _labelled(figures["by_age_band"], {}, words), breakdown=True,
                                    sheet=_("age-bands"))
    return tables


def _n_note(words, **counts):
    """ "n = 120 (pre-test), 114 (post-test)": the people a chart rests on. """
    return "n = " + ", ".join(f"{words.number(n)} ({what})" for what, n in counts.items())


def _charts(stem, figures, words, people="topics"):
    """The topic chart and the category chart, under their file names (in the report's language)."""
    _ = words
    tests, by_category = figures["tests"], figures["by_category"]
    drawn = {}
    # A public report's percentages resting on a hidden count are None: such a bar is marked "-", never
    # drawn as 0, and a chart with nothing left to draw is left out.
    topics = [(t["topic"], t["pre_percent"], t["post_percent"]) for t in tests["by_topic"]]
    if any(charts.is_value(v) for _topic, *values in topics for v in values):
        drawn[f"{stem}-{_('topics')}.svg"] = charts.pre_post(
            charts.chart_id(stem, "topics"), _("Mean pre-test and post-test score per topic (%)"), topics,
            pre=_("Pre-test"), post=_("Post-test"), value_axis=_("Mean score (%)"), row_axis=_("Topic"),
            n_note=_n_note(words, **{_("took both tests"): tests["paired"]}), shown=words.number)
    # A hidden count ("<5" or "x") gets its marker and no bar; n is the published total, never a sum.
    if any(charts.is_value(n) for n in by_category.values()):
        drawn[f"{stem}-{_('categories')}.svg"] = charts.counts(
            charts.chart_id(stem, "categories"), _("Participants by category"),
            [(words.label(CATEGORIES, c), n) for c, n in by_category.items()],
            value_axis=_("Participants"), row_axis=_("Category"),
            n_note=_n_note(words, **{_("registered"): figures["participants"]}), shown=words.number)
    return drawn


def _chart_files(drawn, stem, words):
    """{"topics": file name, ...}: which chart the template puts where."""
    _ = words
    return {key: name for key in ("topics", "categories", "cities")
            for name in drawn if name == f"{stem}-{_(key)}.svg"}


def _narrative(rollout, lang):
    """The rollout's narrative in ``lang``: each field's texts, or None where nothing was written."""
    given = rollout.narrative or {}
    texts = {name: [local(text, lang) for text in given.get(name) or []] or None
             for name in ("background", "aims", "expected_learning", "tips", "findings", "recommendations",
                          "follow_up")}
    texts["reporting_institutions"] = [{**place, "channel": local(place["channel"], lang)}
                                       for place in given.get("reporting_institutions") or []] or None
    texts["qa"] = [{"question": local(item["question"], lang), "answer": local(item["answer"], lang)}
                   for item in given.get("qa") or []] or None
    texts["organisation"] = given.get("organisation")
    issued = given.get("issued_on")
    texts["issued_on"] = date.fromisoformat(issued) if issued else None
    return texts


# --- the city report ----------------------------------------------------------

def city_report(uow, city, lang="id", rollout_id=None, public=False):
    """The report of the city's latest rollout (or of ``rollout_id``), or None if there is none.

    ``public``: from the figures last released to the public instead of the exact ones."""
    rollouts = read.rollouts_in(uow, city, rollout_id)
    if not rollouts:
        return None
    rollout = rollouts[-1]
    words = _ = Words(lang)
    figures = (publication.released_figures(uow, city, rollout.rollout_id) if public
               else read.city_figures(uow, city, rollout.rollout_id))
    attended = {a["day"]: a["checked_in"] for a in figures["attendance"]}
    stem = _stem(words, city, rollout.starts_on.year, public)  # laporan-pontianak-2019 in Bahasa Indonesia
    tables = _common_tables(figures, words)
    sessions = []
    for s in rollout.sessions:
        key, day = s["key"], _date(s["date"])
        counts = figures["by_session"].get(key, {})
        ordered = {c: counts[c] for c in read.CATEGORY_ORDER if c in counts}
        ordered.update({c: n for c, n in counts.items() if c not in ordered})
        totals = figures.get("by_session_total")  # a public report's (its counts may be "<5" or "x")
        registered = totals.get(key, 0) if totals is not None else sum(counts.values())
        session_tables = {
            "topics": Table(f"{key}_topics", [(_("No"), "text"), (_("Topic"), "text"),
                                              (_("Facilitators / speakers"), "text")],
                            [[str(i), t["title"], ", ".join(f"{f['name']} ({f['organisation']})"
                                                            for f in t["facilitators"])]
                             for i, t in enumerate(s["topics"], 1)], sheet=f"{key}-{_('topics')}"),
            "categories": Table(f"{key}_categories", [(_("Participant category"), "text"), (_("Number"), "count")],
                                _with_total(_labelled(ordered, CATEGORIES, words), _("Total"), registered),
                                breakdown=True, total=True, sheet=f"{key}-{_('categories')}"),
        }
        sex = figures["by_session_sex"].get(key, {})
        ages = figures["by_session_age_band"].get(key, {})
        if _known(sex):
            session_tables["sex"] = Table(f"{key}_sex", [(_("Sex"), "text"), (_("Number"), "count")],
                                          _labelled(sex, SEXES, words), breakdown=True, sheet=f"{key}-{_('sex')}")
        if _known(ages):
            session_tables["age_bands"] = Table(f"{key}_age_bands", [(_("Age band"), "text"), (_("Number"), "count")],
                                                _labelled(ages, {}, words), breakdown=True,
                                                sheet=f"{key}-{_('age-bands')}")
        tables.update({t.name: t for t in session_tables.values()})
        opened_by = (local(s.get("opened_by"), lang) or "").rstrip(".")  # the sentence has its own stop
        sessions.append({"key": key, "day": s["day"], "date": day, "title": s["title"],
                         "audience": s["audience"], "opened_by": opened_by or None,
                         "summary": [local(text, lang) for text in s.get("summary") or []],
                         "registered": registered, "attended": attended.get(s["day"]),
                         "tables": session_tables})
    tables["attendance"] = Table("attendance", [(_("Day"), "text"), (_("Date"), "text"), (_("Session"), "text"),
                                                (_("Registered"), "count"), (_("Attended (checked in)"), "count")],
                                 [[str(s["day"]), words.date(s["date"]), s["title"], s["registered"], s["attended"]]
                                  for s in sessions], sheet=_("attendance"))
    # Each plan is one person's or group's: a public report lists none (its count may be "<5").
    plans = [] if public else [{"owner": plan.group_name if plan.owner == "group" and plan.group_name
              else words.label(OWNERS, plan.owner),
              "commitment": plan.commitment, "due_on": words.date(plan.due_on),
              "status": words.label(STATUSES, plan.status)}
             for plan in uow.read_models.action_plans(city, rollout.rollout_id)]
    if not public:
        tables["action_plan_list"] = Table(
            "action_plan_list", [(_("No"), "text"), (_("Owner"), "text"), (_("Commitment"), "text"),
                                 (_("Due date"), "text"), (_("Status"), "text")],
            [[str(i), p["owner"], p["commitment"] or _("(not recorded)"), p["due_on"], p["status"]]
             for i, p in enumerate(plans, 1)], sheet=_("action-plan-list"))
    drawn = _charts(stem, figures, words)
    narrative = _narrative(rollout, lang)
    title = _("Activity report: %(program)s in %(city)s", program=rollout.program, city=rollout.city_name)
    context = {
        "title": title, "program": rollout.program, "city_name": rollout.city_name, "province": rollout.province,
        "venue": rollout.venue, "dates": rentang(rollout.starts_on, rollout.ends_on, lang),
        "issued": words.date(narrative["issued_on"] or rollout.ends_on),
        "author": rollout.author, "editor": rollout.editor, "narrative": narrative, "sessions": sessions,
        "people": figures, "tests": figures["tests"], "plans": plans, "plan_figures": figures["action_plans"],
        **_attendances(attended.values()),
        # The size of a committee's list is not published.
        "notifications": [{"count": None if public else n.participant_count,
                           "channel": words.label(CHANNELS, n.channel)}
                          for n in read.notifications_in(uow, city, rollout.rollout_id)],
        "pass_percent": rollout.pass_percent, "chart_files": _chart_files(drawn, stem, words),
    }
    return Report("activity", stem, lang, title, _classified(context, public, lang), tables, drawn, public)


def activity_report(uow, city, lang="id", rollout_id=None):
    """Markdown of the city's latest rollout (or of ``rollout_id``), or None if there is none."""
    written = city_report(uow, city, lang, rollout_id)
    return written.markdown if written else None


def _date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value


# --- the national roll-up -----------------------------------------------------

def national_report(uow, lang="id", public=False):
    """The roll-up over every city's live rollouts, or None before the first launch.

    ``public``: from the figures last released to the public instead of the exact ones."""
    figures = publication.released_figures(uow, events.NATIONAL) if public else read.national_figures(uow)
    if not figures["rollouts"]:
        return None
    words = _ = Words(lang)
    first = min(date.fromisoformat(r["starts_on"]) for r in figures["rollouts"])
    last = max(date.fromisoformat(r["ends_on"]) for r in figures["rollouts"])
    stem = _stem(words, _("national"), last.year, public)
    tables = _common_tables(figures, words)
    tables["cities"] = Table("cities", [
        (_("City"), "text"), (_("Rollouts"), "text"), (_("Participants"), "count"),
        (_("Activists"), "count"), (_("Students"), "count"), (_("n pre-test"), "count"),
        (_("Pre-test %"), "percent"), (_("n post-test"), "count"), (_("Post-test %"), "percent"),
        (_("Took both tests"), "count"), (_("Normalised gain"), "gain"),
    ], [[c["city_name"], str(c["rollouts"]), c["participants"], c["activists"], c["students"], c["pre_n"],
         c["pre_percent"], c["post_n"], c["post_percent"], c["paired"], c["gain"]] for c in figures["cities"]],
        # Cities are parts of the nation, and activists and students make up the participants.
        n_column=9, breakdown=True, part_columns=(3, 4), sheet=_("cities"))
    drawn = _charts(stem, figures, words)
    cities_with_tests = [(f"{c['city_name']} (n = {words.number(c['paired'])})", c["pre_percent"], c["post_percent"])
                         for c in figures["cities"] if c["pre_n"] or c["post_n"]]
    if cities_with_tests:
        drawn[f"{stem}-{_('cities')}.svg"] = charts.pre_post(
            charts.chart_id(stem, "cities"), _("Mean pre-test and post-test score per city (%)"), cities_with_tests,
            pre=_("Pre-test"), post=_("Post-test"), value_axis=_("Mean score (%)"), row_axis=_("City"),
            n_note=_n_note(words, **{_("took both tests"): figures["tests"]["paired"]}), shown=words.number)
    program = ", ".join(sorted({r.program for r in read.rollouts_in(uow, events.NATIONAL)}))
    title = _("National report: %(program)s", program=program)
    context = {
        "title": title, "program": program, "period": rentang(first, last, lang), "issued": words.date(last),
        "cities": len(figures["cities"]), "rollouts": len(figures["rollouts"]), "people": figures,
        "tests": figures["tests"], "plan_figures": figures["action_plans"],
        **_attendances(a["checked_in"] for a in figures["attendance"]),
        "chart_files": _chart_files(drawn, stem, words),
    }
    return Report("national", stem, lang, title, _classified(context, public, lang), tables, drawn, public)


def _stem(words, place, year, public):
    """laporan-pontianak-2019, report-national-2019-public: a public name never overwrites an internal one."""
    _ = words
    return f"{_('report')}-{place}-{year}" + (f"-{_('public')}" if public else "")


def _attendances(per_day):
    """The check-ins of every day added up: None when none were taken, and not published
    (``attended_hidden``) when a day's count is a marker, which is never added up."""
    days = list(per_day)
    if not all(publication.is_number(n) for n in days):
        return {"attended": None, "attended_hidden": True}
    return {"attended": sum(days) if days else None, "attended_hidden": False}


def _classified(context, public, lang):
    """What the templates print about the figures: a public report explains its two markers,
    an internal one says on every page that it is internal."""
    return {**context, "public": public,
            "markers": list(publication.MARKERS[lang].items()) if public else []}


def build(uow, city, lang="id", rollout_id=None, public=False):
    """The city's report (of its latest rollout, or of ``rollout_id``), or the national one for ``national``;
    None when there is nothing to report.  ``public``: from the released public figures."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}")
    if city == events.NATIONAL:
        return national_report(uow, lang, public)
    return city_report(uow, city, lang, rollout_id, public)


def required(uow, city, lang="id", rollout_id=None, public=False):
    """``build``, or the refusal naming what is wrong or missing."""
    if city == events.NATIONAL and rollout_id is not None:
        problem = "chooses one of a city's rollouts; the national report has them all"
        raise InvalidInput(f"rollout_id {problem}", fields={"rollout_id": [problem]})
    written = build(uow, city, lang, rollout_id, public)
    if written is None and rollout_id is not None:
        raise NotFound(f"{city} has no launched rollout {rollout_id}", field="rollout_id")
    if written is None:
        raise NotFound(f"city {city} has no launched rollout", field="city")
    return written


def write(written, reports_dir, formats=("md",)):
    """Write the report in ``formats`` (md, html, pdf), the Markdown with its charts; returns {format: path}."""
    from services.reporting import document

    directory = Path(reports_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    if "md" in formats:
        for name, chart in written.charts.items():
            (directory / name).write_text(chart.svg_file(), encoding="utf-8")
        paths["md"] = directory / f"{written.stem}.md"
        paths["md"].write_text(written.markdown, encoding="utf-8")
    page = document.html(written) if {"html", "pdf"} & set(formats) else None
    if "html" in formats:
        paths["html"] = directory / f"{written.stem}.html"
        paths["html"].write_text(page, encoding="utf-8")
    if "pdf" in formats:
        paths["pdf"] = directory / f"{written.stem}.pdf"
        paths["pdf"].write_bytes(document.pdf(written, page))
    return paths


def write_and_describe(written, reports_dir, formats=("md",)):
    """``write``, and what ``POST /reports/<city>/activity-report`` answers: the files' names in the
    reports directory (never where that directory is on the server), and the Markdown."""
    paths = write(written, reports_dir, formats)
    answer = {"files": {f: p.name for f, p in paths.items()}, "markdown": written.markdown}
    if "md" in paths:
        answer["file"] = paths["md"].name
    return answer


MEDIA_TYPES = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def document_file(written, file_format: str) -> tuple[str, str, bytes]:
    """(file name, media type, bytes) of the report in one format, made in memory: what a download answers.
    The Markdown links its charts as files beside it, so HTML or PDF is the format to open on its own."""
    from services.reporting import document

    if file_format == "md":
        content = written.markdown.encode("utf-8")
    elif file_format == "html":
        content = document.html(written).encode("utf-8")
    else:
        content = document.pdf(written)
    return f"{written.stem}.{file_format}", MEDIA_TYPES[file_format], content
