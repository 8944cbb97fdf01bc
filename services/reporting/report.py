"""The activity report of a city, and the national roll-up, as the seed report is written.

Bahasa Indonesia by default, English on request.  Every table of a report is
built once here (a ``Table`` of raw values); the Markdown shows it formatted,
the exports (``exports.py``) give it as CSV and XLSX, and ``document.py`` turns
the Markdown into HTML and PDF with the charts drawn in.
"""
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from services.reporting import charts, publication
from services.reporting import figures as read
from shared import events
from shared.errors import InvalidInput, NotFound

LANGUAGES = ("id", "en")
PUBLIC_SUFFIX = "-publik"  # a public report's files never overwrite the internal ones
FORMATS = ("md", "html", "pdf")

MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
           "Agustus", "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December"),
}

LABELS = {
    "id": {
        "category": {"educator": "Tenaga pendidikan", "skpd": "SKPD", "patbm": "PATBM", "unit_ppa": "Unit PPA",
                     "lsm": "LSM", "forum_anak": "Forum Anak", "student": "Pelajar"},
        "sex": {"F": "Perempuan", "M": "Laki-laki", read.UNKNOWN: "Tidak diketahui"},
        "unknown": "Tidak diketahui",
        "status": {"planned": "Direncanakan", "in_progress": "Berjalan", "done": "Selesai", "dropped": "Dibatalkan"},
        "owner": {"participant": "Peserta", "group": "Kelompok"},
        "channel": {"mail": "email", "webhook": "webhook"},
        "total": "Jumlah",
        "columns": {
            "no": "No", "topic": "Topik", "facilitators": "Fasilitator / pembicara", "category": "Kategori peserta",
            "count": "Jumlah", "sex": "Jenis kelamin", "age_band": "Kelompok umur", "day": "Hari",
            "date": "Tanggal", "session": "Agenda", "registered": "Terdaftar", "checked_in": "Hadir",
            "test": "Tes", "takers": "Jumlah peserta", "mean": "Rata-rata skor", "passed": "Lulus",
            "pre": "Pre-test", "post": "Post-test", "gain": "Gain", "status": "Status", "owner": "Pemilik",
            "channel": "Saluran", "participants": "Jumlah peserta", "city": "Kota", "rollouts": "Rollout",
            "activists": "Aktivis", "students": "Pelajar", "paired": "Ikut kedua tes",
        },
        "chart_topics": "Rata-rata skor pre-test dan post-test per topik (%)",
        "chart_categories": "Peserta per kategori",
        "chart_cities": "Rata-rata skor pre-test dan post-test per kota (%)",
    },
    "en": {
        "category": {"educator": "Educators", "skpd": "SKPD (local government)", "patbm": "PATBM (community groups)",
                     "unit_ppa": "Unit PPA (police unit)", "lsm": "LSM (NGOs)", "forum_anak": "Forum Anak",
                     "student": "Students"},
        "sex": {"F": "Female", "M": "Male", read.UNKNOWN: "Not known"},
        "unknown": "Not known",
        "status": {"planned": "Planned", "in_progress": "In progress", "done": "Done", "dropped": "Dropped"},
        "owner": {"participant": "Participant", "group": "Group"},
        "channel": {"mail": "e-mail", "webhook": "webhook"},
        "total": "Total",
        "columns": {
            "no": "No", "topic": "Topic", "facilitators": "Facilitators / speakers", "category": "Participant category",
            "count": "Number", "sex": "Sex", "age_band": "Age band", "day": "Day", "date": "Date",
            "session": "Session", "registered": "Registered", "checked_in": "Attended", "test": "Test",
            "takers": "Participants", "mean": "Mean score", "passed": "Passed", "pre": "Pre-test",
            "post": "Post-test", "gain": "Gain", "status": "Status", "owner": "Owner", "channel": "Channel",
            "participants": "Participants", "city": "City", "rollouts": "Rollouts", "activists": "Activists",
            "students": "Students", "paired": "Took both tests",
        },
        "chart_topics": "Mean pre-test and post-test score per topic (%)",
        "chart_categories": "Participants by category",
        "chart_cities": "Mean pre-test and post-test score per city (%)",
    },
}


def tanggal(day, lang="id"):
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def rentang(start, end, lang="id"):
    if start == end:
        return tanggal(start, lang)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}-{end.day} {MONTHS[lang][end.month - 1]} {end.year}"
    return f"{tanggal(start, lang)} - {tanggal(end, lang)}"


def persen(value, lang="id"):
    if value is None:
        return "-"
    shown = f"{value:.1f}%"
    return shown.replace(".", ",") if lang == "id" else shown


def decimal(value, lang="id"):
    if value is None:
        return "-"
    shown = f"{value:.2f}"
    return shown.replace(".", ",") if lang == "id" else shown


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

    def shown(self, lang):
        return [[_show(value, kind, lang) for value, (_, kind) in zip(row, self.columns)] for row in self.rows]

    def public_rows(self):
        """Rows as a partner may see them: those of a report built with ``public=True``."""
        return self.rows

    def markdown(self, lang):
        headings = [heading for heading, _ in self.columns]
        align = ["---:" if kind != "text" else "---" for _, kind in self.columns]
        lines = ["| " + " | ".join(headings) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.shown(lang)]
        return "\n".join(lines)


def _show(value, kind, lang):
    if value is None:
        return "-"
    if kind == "percent":
        return persen(value, lang)
    if kind == "gain":
        return decimal(value, lang)
    return str(value)


@dataclass
class Report:
    """A written report: its Markdown, the tables it shows and the charts it draws."""

    stem: str  # file name without extension, e.g. laporan-pontianak-2019
    lang: str
    title: str
    markdown: str
    tables: dict = field(default_factory=dict)  # name -> Table
    charts: dict = field(default_factory=dict)  # file name -> reportlab Drawing
    public: bool = False  # built from the released public figures; otherwise internal (exact figures)


_templates = Environment(
    loader=PackageLoader("services.reporting", "templates"),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


def _labelled(counts, labels, unknown):
    return [[labels.get(key, unknown if key == read.UNKNOWN else key), n] for key, n in counts.items()]


def _with_total(rows, label, total=None):
    """The rows and their total (a public report gives the published total: its rows may hold "<5" or "x")."""
    return rows + [[label, sum(n for _, n in rows) if total is None else total]] if rows else rows


def _known(counts):
    return any(key != read.UNKNOWN for key in counts)


def _test_tables(tests, labels, prefix=""):
    col = labels["columns"]
    return {
        f"{prefix}tests": Table(f"{prefix}tests", [(col["test"], "text"), (col["takers"], "count"),
                                                   (col["mean"], "percent"), (col["passed"], "count")],
                                [[col["pre"], tests["pre"]["n"], tests["pre"]["mean_percent"], tests["pre"]["passed"]],
                                 [col["post"], tests["post"]["n"], tests["post"]["mean_percent"],
                                  tests["post"]["passed"]]], n_column=1),
        f"{prefix}topics": Table(f"{prefix}topics", [(col["topic"], "text"), (col["pre"], "percent"),
                                                     (col["post"], "percent"), (col["gain"], "gain"),
                                                     (col["paired"], "count")],
                                 [[t["topic"], t["pre_percent"], t["post_percent"], t["gain"], tests["paired"]]
                                  for t in tests["by_topic"]], n_column=4),
    }


def _common_tables(figures, labels):
    col = labels["columns"]
    plans = figures["action_plans"]
    tables = {
        "categories": Table("categories", [(col["category"], "text"), (col["count"], "count")],
                            _with_total(_labelled(figures["by_category"], labels["category"], labels["unknown"]),
                                        labels["total"], figures["participants"]), breakdown=True, total=True),
        **_test_tables(figures["tests"], labels),
        "action_plans": Table("action_plans", [(col["status"], "text"), (col["count"], "count")],
                              _with_total(_labelled(plans["by_status"], labels["status"], labels["unknown"]),
                                          labels["total"], plans["total"]), breakdown=True, total=True),
    }
    if _known(figures["by_sex"]):
        tables["sex"] = Table("sex", [(col["sex"], "text"), (col["count"], "count")],
                              _labelled(figures["by_sex"], labels["sex"], labels["unknown"]), breakdown=True)
    if _known(figures["by_age_band"]):
        tables["age_bands"] = Table("age_bands", [(col["age_band"], "text"), (col["count"], "count")],
                                    _labelled(figures["by_age_band"], {}, labels["unknown"]), breakdown=True)
    return tables


def _charts(stem, tests, by_category, labels):
    drawn = {}
    if tests["by_topic"]:
        drawn[f"{stem}-topik.svg"] = charts.pre_post(
            [(t["topic"], t["pre_percent"], t["post_percent"]) for t in tests["by_topic"]],
            labels["chart_topics"], labels["columns"]["pre"], labels["columns"]["post"])
    shown = {c: n for c, n in by_category.items() if isinstance(n, int)}  # a public report draws no hidden cell
    if shown:
        drawn[f"{stem}-kategori.svg"] = charts.counts(
            [(labels["category"].get(c, c), n) for c, n in shown.items()], labels["chart_categories"])
    return drawn


# --- the city report ----------------------------------------------------------

def city_report(uow, city, lang="id", rollout_id=None, public=False):
    """The report of the city's latest rollout (or of ``rollout_id``), or None if there is none.

    ``public``: from the figures last released to the public instead of the exact ones."""
    rollouts = read.rollouts_in(uow, city, rollout_id)
    if not rollouts:
        return None
    rollout = rollouts[-1]
    labels, col = LABELS[lang], LABELS[lang]["columns"]
    figures = (publication.released_figures(uow, city, rollout.rollout_id) if public
               else read.city_figures(uow, city, rollout.rollout_id))
    attendance = {a["day"]: a["checked_in"] for a in figures["attendance"]}
    stem = f"{'laporan' if lang == 'id' else 'report'}-{city}-{rollout.starts_on.year}{PUBLIC_SUFFIX * public}"
    tables = _common_tables(figures, labels)
    sessions = []
    for s in rollout.sessions:
        key, day = s["key"], _date(s["date"])
        counts = figures["by_session"].get(key, {})
        ordered = {c: counts[c] for c in read.CATEGORY_ORDER if c in counts}
        ordered.update({c: n for c, n in counts.items() if c not in ordered})
        totals = figures.get("by_session_total")  # a public report's (its counts may be "<5" or "x")
        total = totals.get(key, 0) if totals is not None else sum(counts.values())
        session_tables = {
            "topics": Table(f"{key}_topics", [(col["no"], "text"), (col["topic"], "text"),
                                              (col["facilitators"], "text")],
                            [[str(i), t["title"], ", ".join(f"{f['name']} ({f['organisation']})"
                                                            for f in t["facilitators"])]
                             for i, t in enumerate(s["topics"], 1)]),
            "categories": Table(f"{key}_categories", [(col["category"], "text"), (col["count"], "count")],
                                _with_total(_labelled(ordered, labels["category"], labels["unknown"]),
                                            labels["total"], total), breakdown=True, total=True),
        }
        sex = figures["by_session_sex"].get(key, {})
        ages = figures["by_session_age_band"].get(key, {})
        if _known(sex):
            session_tables["sex"] = Table(f"{key}_sex", [(col["sex"], "text"), (col["count"], "count")],
                                          _labelled(sex, labels["sex"], labels["unknown"]), breakdown=True)
        if _known(ages):
            session_tables["age_bands"] = Table(f"{key}_age_bands", [(col["age_band"], "text"),
                                                                     (col["count"], "count")],
                                                _labelled(ages, {}, labels["unknown"]), breakdown=True)
        tables.update({t.name: t for t in session_tables.values()})
        sessions.append({**s, "date": day, "date_text": tanggal(day, lang), "participants": total,
                         "checked_in": attendance.get(s["day"]), "tables": {
                             name: t.markdown(lang) for name, t in session_tables.items()}})
    tables["attendance"] = Table("attendance", [(col["day"], "text"), (col["date"], "text"),
                                                (col["session"], "text"), (col["registered"], "count"),
                                                (col["checked_in"], "count")],
                                 [[str(s["day"]), s["date_text"], s["title"], s["participants"], s["checked_in"]]
                                  for s in sessions])
    drawn = _charts(stem, figures["tests"], figures["by_category"], labels)
    notifications = [{"count": "-" if public else n.participant_count,  # not published
                      "channel": labels["channel"].get(n.channel, n.channel),
                      "date": tanggal(n.notified_at, lang)}
                     for n in read.notifications_in(uow, city, rollout.rollout_id)]
    markdown = _templates.get_template(f"activity-report.{lang}.md.j2").render(
        rollout=rollout, dates=rentang(rollout.starts_on, rollout.ends_on, lang), sessions=sessions,
        people=figures, tests=figures["tests"], gain=decimal(figures["tests"]["gain"], lang),
        plans=figures["action_plans"], notifications=notifications,
        any_attendance=bool(figures["attendance"]), charts=list(drawn),
        tables={name: t.markdown(lang) for name, t in tables.items()},
    )
    title = markdown.splitlines()[0].lstrip("# ")
    return Report(stem, lang, title, _noted(markdown, public, lang), tables, drawn, public)


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
    labels, col = LABELS[lang], LABELS[lang]["columns"]
    first = min(date.fromisoformat(r["starts_on"]) for r in figures["rollouts"])
    last = max(date.fromisoformat(r["ends_on"]) for r in figures["rollouts"])
    stem = f"{'laporan' if lang == 'id' else 'report'}-nasional-{last.year}{PUBLIC_SUFFIX * public}"
    tables = _common_tables(figures, labels)
    tables["cities"] = Table("cities", [
        (col["city"], "text"), (col["rollouts"], "text"), (col["participants"], "count"),
        (col["activists"], "count"), (col["students"], "count"), ("Pre n", "count"),
        ("Pre %", "percent"), ("Post n", "count"), ("Post %", "percent"),
        (col["paired"], "count"), (col["gain"], "gain"),
    ], [[c["city_name"], str(c["rollouts"]), c["participants"], c["activists"], c["students"], c["pre_n"],
         c["pre_percent"], c["post_n"], c["post_percent"], c["paired"], c["gain"]] for c in figures["cities"]],
        # Cities are parts of the nation, and activists and students make up the participants.
        n_column=9, breakdown=True, part_columns=(3, 4))
    drawn = _charts(stem, figures["tests"], figures["by_category"], labels)
    cities_with_tests = [(c["city_name"], c["pre_percent"], c["post_percent"]) for c in figures["cities"]
                         if c["pre_n"] or c["post_n"]]
    if cities_with_tests:
        drawn[f"{stem}-kota.svg"] = charts.pre_post(cities_with_tests, labels["chart_cities"],
                                                    col["pre"], col["post"])
    markdown = _templates.get_template(f"national-report.{lang}.md.j2").render(
        figures=figures, period=rentang(first, last, lang), cities=len(figures["cities"]),
        tests=figures["tests"], gain=decimal(figures["tests"]["gain"], lang), plans=figures["action_plans"],
        charts=list(drawn), tables={name: t.markdown(lang) for name, t in tables.items()},
    )
    title = markdown.splitlines()[0].lstrip("# ")
    return Report(stem, lang, title, _noted(markdown, public, lang), tables, drawn, public)


def _noted(markdown, public, lang):
    """A public report ends by explaining its two markers."""
    if not public:
        return markdown
    heading = "Catatan tentang angka publik" if lang == "id" else "About the public figures"
    return f"{markdown.rstrip()}\n\n## {heading}\n\n{publication.markers_note(lang)}.\n"


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
    """Write the report in ``formats`` (md, html, pdf) with its charts; returns {format: path}."""
    from services.reporting import document

    directory = Path(reports_dir)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    if "md" in formats:
        for name, drawing in written.charts.items():
            (directory / name).write_text(charts.svg(drawing), encoding="utf-8")
        paths["md"] = directory / f"{written.stem}.md"
        paths["md"].write_text(written.markdown, encoding="utf-8")
    if "html" in formats:
        paths["html"] = directory / f"{written.stem}.html"
        paths["html"].write_text(document.html(written), encoding="utf-8")
    if "pdf" in formats:
        paths["pdf"] = directory / f"{written.stem}.pdf"
        paths["pdf"].write_bytes(document.pdf(written))
    return paths


def write_and_describe(written, reports_dir, formats=("md",)):
    """``write``, and where it went: what ``POST /reports/<city>/activity-report`` answers."""
    paths = write(written, reports_dir, formats)
    answer = {"paths": {f: str(p) for f, p in paths.items()}, "markdown": written.markdown}
    if "md" in paths:
        answer["path"] = str(paths["md"])
    return answer
