"""How long the console's national dashboard takes over a large campaign, server-side.

    python bench/console_bench.py [--cities 50] [--participants 10000] [--runs 20]

Fills a reporting database (SQLite, as the embedded default) with that many cities' launched
rollouts and participants (check-ins and test pairs for most of them), then times, per run:

- reporting's side of the dashboard: ``figures.rollout_figures`` for the nation, the grouped
  queries ``GET /reports/national/rollout-figures`` answers;
- the console's side: ``dashboard.progress`` over those figures, registration's rollouts and
  notification's deliveries (as their APIs answer them), and the page rendered by its Jinja2
  templates in Bahasa Indonesia.

The baseline, measured in the same run: a plain Jinja2 template writing the same number of cells
(every value of every rollout, no logic, no filters), the least any page of that size costs.  It
prints the median of each, the ratio of the console's rendering to the baseline, and the total
against the target of 300 ms.  HTTP between the processes is not included.
"""
import argparse
import random
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

ACTIVISTS = ["educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak"]
TARGET_MS = 300
PLAIN = ("<table>{% for row in rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}"
         "</table>")


def rollouts_of(cities):
    """registration's ``GET /rollouts``: one launched rollout a city, a workshop with minimums and a socialisation."""
    found = []
    for i in range(cities):
        starts = date(2026, 5, 4) + timedelta(days=7 * i)
        found.append({
            "id": i + 1, "program": "Internet Aman untuk Anak", "city": f"kota-{i:02d}", "city_name": f"Kota {i:02d}",
            "status": "launched", "starts_on": starts.isoformat(), "ends_on": (starts + timedelta(days=1)).isoformat(),
            "registration_open": True,
            "sessions": [
                {"key": "workshop", "day": 1, "date": starts.isoformat(), "title": "Workshop", "audience": "activists",
                 "capacity": 120, "quotas": [{"category": c, "minimum": 15, "maximum": None} for c in ACTIVISTS]},
                {"key": "socialisation", "day": 2, "date": (starts + timedelta(days=1)).isoformat(),
                 "title": "Sosialisasi", "audience": "students", "capacity": 150,
                 "quotas": [{"category": "student", "minimum": 100, "maximum": None}]}]})
    return found


def deliveries_of(cities):
    """notification's ``GET /deliveries``: a digest and a list a city, a few not yet acknowledged."""
    states = ["acknowledged", "sent", "failed", "queued"]
    return [{"id": 2 * i + k + 1, "rollout_id": i + 1, "city": f"kota-{i:02d}", "kind": kind, "channel": "mail",
             "status": states[(i + k) % 4] if k else "acknowledged"}
            for i in range(cities) for k, kind in enumerate(("digest", "participant_list"))]


def populate(url, cities, participants):
    from sqlalchemy import insert

    from services.reporting.models import (
        AttendanceFact,
        Base,
        NotificationFact,
        ParticipantFact,
        RolloutFact,
        ScorePair,
    )
    from services.reporting.repository import ReportingUnitOfWork
    from shared.database import Store

    rng = random.Random(2019)
    store = Store(url, Base.metadata, consumer="bench", unit_of_work=ReportingUnitOfWork)
    rollouts = rollouts_of(cities)
    with store.engine.begin() as db:
        db.execute(insert(RolloutFact), [
            {"rollout_id": r["id"], "city": r["city"], "city_name": r["city_name"], "program": r["program"],
             "starts_on": date.fromisoformat(r["starts_on"]), "ends_on": date.fromisoformat(r["ends_on"]),
             "sessions": r["sessions"], "cancelled": False} for r in rollouts])
        people, present, pairs = [], [], []
        for pid in range(1, participants + 1):
            rollout = rollouts[pid % cities]
            student = pid % 3 != 0
            session = "socialisation" if student else "workshop"
            people.append({"participant_id": pid, "rollout_id": rollout["id"], "city": rollout["city"],
                           "session_key": session, "category": "student" if student else rng.choice(ACTIVISTS),
                           "minor": student, "sex": rng.choice("FM"), "waitlisted": False, "promoted": False,
                           "cancelled": False, "counted": True})
            if pid % 5:
                present.append({"participant_id": pid, "day": 2 if student else 1, "rollout_id": rollout["id"],
                                "city": rollout["city"], "session_key": session})
            if student:
                pre = rng.randint(3, 7)
                pairs.append({"participant_code": f"P{pid:06d}", "session_key": session, "rollout_id": rollout["id"],
                              "city": rollout["city"], "pre_submission_id": 2 * pid, "pre_score": pre,
                              "pre_max_score": 10, "pre_passed": pre >= 7, "post_submission_id": 2 * pid + 1,
                              "post_score": min(10, pre + 3), "post_max_score": 10, "post_passed": pre + 3 >= 7})
        db.execute(insert(ParticipantFact), people)
        db.execute(insert(AttendanceFact), present)
        db.execute(insert(ScorePair), pairs)
        db.execute(insert(NotificationFact), [
            {"delivery_id": i + 1, "rollout_id": r["id"], "city": r["city"], "kind": "participant_list",
             "channel": "mail", "participant_count": participants // cities, "notified_at": datetime.now(timezone.utc)}
            for i, r in enumerate(rollouts)])
    return store


def median_ms(work, runs):
    """(median wall ms, median CPU ms of this process, the last result): on a shared machine the CPU
    time says what the work costs, the wall time what a person waits."""
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return statistics.median(walls), statistics.median(cpus), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cities", type=int, default=50)
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from jinja2 import Environment

    from services.console import dashboard, render
    from services.console.app import PREFIX, url
    from services.reporting import figures
    from shared import auth

    with tempfile.TemporaryDirectory() as directory:
        store = populate(f"sqlite:///{directory}/reporting.db", args.cities, args.participants)
        rollouts, deliveries = rollouts_of(args.cities), deliveries_of(args.cities)
        principal = auth.Principal("1", "nasional", "national_coordinator")

        def reporting_side():
            with store.read() as uow:
                return figures.rollout_figures(uow, "national")["rollouts"]

        def console_side(found):
            progress = dashboard.progress(rollouts, found, deliveries)
            return render.render("dashboard.html.j2", "id", ctx=None, principal=principal, csrf="x", path="/",
                                 query={}, flash=None, notices=[], prefix=PREFIX, url=url, exact=progress,
                                 public=None, plans=None, poll_seconds=dashboard.POLL_SECONDS), progress

        reporting_side()  # the first run compiles the statements and the templates: not counted
        found = reporting_side()
        console_side(found)
        reporting_ms, reporting_cpu, found = median_ms(reporting_side, args.runs)
        console_ms, console_cpu, (page, progress) = median_ms(lambda: console_side(found), args.runs)

        # The same cells, written by a template with no logic at all.
        rows = [[r.city_name, r.status, r.starts_on, r.ends_on, r.held, r.checked_in, r.delivery_state,
                 *(v for s in r.sessions for v in (s.title, s.held, s.capacity, s.fill_percent)),
                 *(v for s in r.sessions for t in s.targets for v in (t.category, t.held, t.minimum, t.gap)),
                 *(v for a in r.attendance for v in (a["day"], a["checked_in"])),
                 *((r.tests or {}).values())] for r in progress.rollouts]
        plain = Environment(autoescape=True).from_string(PLAIN)
        plain.render(rows=rows)
        baseline_ms, baseline_cpu, plain_page = median_ms(lambda: plain.render(rows=rows), args.runs)
        store.dispose()

    people = sum(r.held for r in progress.rollouts)
    cells = sum(len(row) for row in rows)
    print(f"dashboard of {args.cities} cities, {people} participants holding a place, {progress.gaps} gaps; "
          f"median of {args.runs} runs")
    print(f"  reporting's rollout figures (grouped queries, SQLite): {reporting_ms:7.1f} ms "
          f"({reporting_cpu:.1f} ms CPU)")
    print(f"  console: progress and page rendered ({len(page) // 1024} KB): {console_ms:7.1f} ms "
          f"({console_cpu:.1f} ms CPU)")
    print(f"  baseline: plain Jinja2 table of the same {cells} cells ({len(plain_page) // 1024} KB): "
          f"{baseline_ms:7.1f} ms ({baseline_cpu:.1f} ms CPU); console / baseline {console_ms / baseline_ms:.1f}")
    total, total_cpu = reporting_ms + console_ms, reporting_cpu + console_cpu
    print(f"  server-side total {total:.1f} ms, {total_cpu:.1f} ms CPU "
          f"(target under {TARGET_MS} ms: {'met' if total < TARGET_MS else 'NOT met'})")


if __name__ == "__main__":
    main()
