"""The city activity report, written as the seed report is: in Bahasa Indonesia."""
from datetime import date
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from services.reporting import domain

MONTHS_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
             "Agustus", "September", "Oktober", "November", "Desember")
CATEGORY_LABELS = {
    "educator": "Tenaga pendidikan",
    "skpd": "SKPD",
    "patbm": "PATBM",
    "unit_ppa": "Unit PPA",
    "lsm": "LSM",
    "forum_anak": "Forum Anak",
    "student": "Pelajar",
}


def tanggal(day):
    return f"{day.day} {MONTHS_ID[day.month - 1]} {day.year}"


def rentang(start, end):
    if start == end:
        return tanggal(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}-{end.day} {MONTHS_ID[end.month - 1]} {end.year}"
    return f"{tanggal(start)} - {tanggal(end)}"


def persen(value):
    return "-" if value is None else f"{value:.1f}%".replace(".", ",")


_templates = Environment(
    loader=PackageLoader("services.reporting", "templates"),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)
_templates.filters.update(tanggal=tanggal, persen=persen)


def activity_report(session, city):
    """Markdown of the city's latest rollout, or None if the city has none."""
    rollouts = domain.rollouts_in(session, city)
    if not rollouts:
        return None
    rollout = rollouts[-1]
    people = domain.participant_figures(session, city, rollout.rollout_id)
    sessions = []
    for s in rollout.sessions:
        counts = people["by_session"].get(s["key"], {})
        sessions.append({
            **s,
            "date": _date(s["date"]),
            "participants": sum(counts.values()),
            "by_category": [(CATEGORY_LABELS.get(c, c), counts[c]) for c in domain.CATEGORY_ORDER if c in counts],
        })
    return _templates.get_template("activity-report.id.md.j2").render(
        rollout=rollout,
        dates=rentang(rollout.starts_on, rollout.ends_on),
        sessions=sessions,
        people=people,
        tests=domain.test_figures(session, city, rollout.rollout_id),
        notifications=domain.notifications_in(session, city, rollout.rollout_id),
    )


def _date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value


def write_activity_report(session, city, reports_dir):
    markdown = activity_report(session, city)
    if markdown is None:
        return None
    rollout = domain.rollouts_in(session, city)[-1]
    path = Path(reports_dir) / f"laporan-{city}-{rollout.starts_on.year}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    return path
