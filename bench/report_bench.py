"""How long the national report takes to build over a large campaign, and its peak memory.

    python bench/report_bench.py [--participants 100000] [--submissions 200000] [--cities 20]

Fills a reporting database (SQLite, as the embedded default) with read-model
rows for that many participants and test submissions (five topics each), then
builds the national report (figures pooled in the database, the cities side by
side, Markdown, tables and charts) in a fresh process and prints its time and
peak memory (the process's maximum resident set).  The baseline, measured in
the same run on the same data, is the way the walking skeleton computed test
figures: every submission loaded into Python and paired there.  Targets: under
3 seconds and under 300 MB.
"""
import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from datetime import date, datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

TOPICS = ["Literasi di Era Digitalisasi Dunia Pendidikan", "Kejahatan Siber",
          "Eksploitasi Seksual Anak di Ranah Online", "Jejak Digital dan Privasi", "What you(th) can do?"]
CATEGORIES = ["educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak"]


def populate(url, participants, submissions, cities):
    from sqlalchemy import case, func, insert, select

    from campaign.demo import load_rollout
    from services.reporting.models import (
        Base,
        NotificationFact,
        ParticipantFact,
        RolloutFact,
        ScoreFact,
        ScorePair,
        TopicScoreFact,
        TopicTotal,
    )
    from shared.database import Store

    rng = random.Random(2019)
    store = Store(url, Base.metadata)
    seed = load_rollout()
    slugs = [f"kota-{i:02d}" for i in range(cities)]
    with store.engine.begin() as db:
        db.execute(insert(RolloutFact), [
            {"rollout_id": i + 1, "city": slug, "city_name": slug.title(), "province": None,
             "program": seed["program"], "venue": None, "starts_on": date(2019, 5, 2), "ends_on": date(2019, 5, 3),
             "author": seed["author"], "editor": seed["editor"], "sessions": seed["sessions"], "cancelled": False}
            for i, slug in enumerate(slugs)])
        people = []
        for pid in range(1, participants + 1):
            rollout = pid % cities
            student = pid % 5 != 0  # one in five an activist
            people.append({"participant_id": pid, "rollout_id": rollout + 1, "city": slugs[rollout],
                           "session_key": "socialisation" if student else "workshop",
                           "category": "student" if student else rng.choice(CATEGORIES), "minor": student,
                           "sex": rng.choice("FM"), "age_band": "13-15" if student else "25-39",
                           "waitlisted": False, "promoted": False, "cancelled": False, "counted": True})
        db.execute(insert(ParticipantFact), people)
        scores, topics = [], []
        for sid in range(1, submissions + 1):
            pid = (sid - 1) // 2 % participants + 1  # pre then post for each participant in turn
            phase = "pre" if sid % 2 else "post"
            rollout = pid % cities
            instrument = rollout + 1
            session_key = "socialisation"
            if phase == "post" and pid % 33 == 0:  # some leave early: a pre-test of day 1 too, unpaired
                phase, instrument, session_key = "pre", rollout + 1001, "workshop"
            parts = [rng.randint(0, 2) + (phase == "post") * rng.randint(0, 1) for _ in TOPICS]
            parts = [min(p, 2) for p in parts]
            scores.append({"submission_id": sid, "rollout_id": rollout + 1, "city": slugs[rollout],
                           "instrument_id": instrument, "session_key": session_key,
                           "participant_code": f"P{pid:06d}", "phase": phase, "score": sum(parts),
                           "max_score": 10, "passed": sum(parts) >= 7})
            topics += [{"submission_id": sid, "topic": t, "position": i, "score": p, "max_score": 2,
                        "rollout_id": rollout + 1, "city": slugs[rollout], "phase": phase}
                       for i, (t, p) in enumerate(zip(TOPICS, parts))]
            if len(topics) >= 100_000:
                db.execute(insert(TopicScoreFact), topics)
                topics = []
        db.execute(insert(ScoreFact), scores)
        if topics:
            db.execute(insert(TopicScoreFact), topics)
        # What record_score writes and adds up as each submission arrives.
        def side(phase, column):
            return func.max(case((ScoreFact.phase == phase, column)))
        db.execute(insert(ScorePair).from_select(
            ["participant_code", "session_key", "rollout_id", "city",
             *(f"{phase}_{name}" for phase in ("pre", "post") for name in ("submission_id", "score", "max_score",
                                                                           "passed"))],
            select(ScoreFact.participant_code, ScoreFact.session_key, func.min(ScoreFact.rollout_id),
                   func.min(ScoreFact.city),
                   *(side(phase, column) for phase in ("pre", "post")
                     for column in (ScoreFact.submission_id, ScoreFact.score, ScoreFact.max_score, ScoreFact.passed)))
            .group_by(ScoreFact.participant_code, ScoreFact.session_key)))
        db.execute(insert(TopicTotal).from_select(
            ["rollout_id", "topic", "phase", "city", "position", "score", "max_score"],
            select(TopicScoreFact.rollout_id, TopicScoreFact.topic, TopicScoreFact.phase, TopicScoreFact.city,
                   func.min(TopicScoreFact.position), func.sum(TopicScoreFact.score),
                   func.sum(TopicScoreFact.max_score))
            .group_by(TopicScoreFact.rollout_id, TopicScoreFact.topic, TopicScoreFact.phase, TopicScoreFact.city)))
        db.execute(insert(NotificationFact), [
            {"delivery_id": i + 1, "rollout_id": i + 1, "city": slug, "kind": "participant_list", "channel": "mail",
             "participant_count": participants // cities, "notified_at": datetime.now(timezone.utc)}
            for i, slug in enumerate(slugs)])
    store.dispose()


def build_report(url):
    """The national report as ``campaign reporting report national`` builds it."""
    from services.reporting import report
    from services.reporting.models import Base
    from services.reporting.repository import ReportingUnitOfWork
    from shared.database import Store

    store = Store(url, Base.metadata, unit_of_work=ReportingUnitOfWork)
    with store.read() as uow:
        written = report.build(uow, "national")
    return {"cities": len(written.tables["cities"].rows)}


def baseline(url):
    """The walking skeleton's way: every submission into Python, pairs and topics summed there."""
    from sqlalchemy import select

    from services.reporting.models import Base, ScoreFact, TopicScoreFact
    from shared.database import Store

    store = Store(url, Base.metadata)
    with store.read() as session:
        topics_of = defaultdict(list)
        for sid, topic, score, maximum in session.execute(select(TopicScoreFact.submission_id, TopicScoreFact.topic,
                                                                  TopicScoreFact.score, TopicScoreFact.max_score)):
            topics_of[sid].append((topic, score, maximum))
        by_code = {"pre": {}, "post": {}}
        for sid, code, phase, score, maximum in session.execute(
                select(ScoreFact.submission_id, ScoreFact.participant_code, ScoreFact.phase, ScoreFact.score,
                       ScoreFact.max_score)):
            by_code[phase][code] = (score, maximum, topics_of[sid])
        paired = by_code["pre"].keys() & by_code["post"].keys()
        sums = defaultdict(lambda: [0, 0])
        for code in paired:
            for phase in ("pre", "post"):
                for topic, score, maximum in by_code[phase][code][2]:
                    sums[(topic, phase)][0] += score
                    sums[(topic, phase)][1] += maximum
    return {"pairs": len(paired)}


def child(task, url):
    # Imports are the process starting, not the report being built: do them before the clock starts.
    import services.reporting.report  # noqa: F401
    import shared.database  # noqa: F401

    started = time.perf_counter()
    result = {"build": build_report, "baseline": baseline}[task](url)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": peak_resident_mb(), **result}))


def peak_resident_mb():
    """The process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(task, url):
    out = subprocess.run([sys.executable, __file__, "--child", task, url], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=200_000)
    parser.add_argument("--cities", type=int, default=20)
    parser.add_argument("--child", nargs=2, metavar=("TASK", "URL"), help=argparse.SUPPRESS)
    parser.add_argument("--fill", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    if args.fill:
        return populate(args.fill, args.participants, args.submissions, args.cities)

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/reporting.db"
        started = time.perf_counter()
        # Filled by another process, so this one stays small and each measurement starts clean.
        subprocess.run([sys.executable, __file__, "--fill", url, "--participants", str(args.participants),
                        "--submissions", str(args.submissions), "--cities", str(args.cities)], check=True)
        print(f"data: {args.participants:,} participants, {args.submissions:,} test submissions "
              f"({len(TOPICS)} topics each), {args.cities} cities; filled in {time.perf_counter() - started:.1f}s")
        measure("build", url)  # a first run warms the file cache, as a running service's would be
        built = measure("build", url)
        base = measure("baseline", url)
    print(f"national report: {built['seconds']:.2f}s, peak memory {built['peak_mb']:.0f} MB "
          f"({built['cities']} cities side by side)  [target: < 3 s, < 300 MB]")
    print(f"baseline (every submission paired in Python, test figures only): {base['seconds']:.2f}s, "
          f"peak memory {base['peak_mb']:.0f} MB")
    print(f"ratio report / baseline: time {built['seconds'] / base['seconds']:.2f}, "
          f"memory {built['peak_mb'] / base['peak_mb']:.2f}")


if __name__ == "__main__":
    main()
