"""``campaign demo`` as a new user runs it: embedded, then through RabbitMQ."""
import mailbox
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from campaign import runner
from tests.support.cluster import Vhost
from tests.support.summaries import SummarySubscriber
from tests.unit.test_reporting_documents import has_every_section_of_the_original

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
WORKSHOP = {"Tenaga pendidikan": 24, "SKPD": 16, "PATBM": 14, "Unit PPA": 8, "LSM": 12, "Forum Anak": 12}


def run_demo(workdir, **env):
    clean_env = {k: v for k, v in os.environ.items()
                 if k != "AMQP_URI" and not k.endswith("_DATABASE_URL") and k not in ("SMTP_URL", "CITY")}
    started = time.monotonic()
    result = subprocess.run([CAMPAIGN, "demo", "--dir", str(workdir)], env={**clean_env, **env},
                            capture_output=True, text=True, timeout=300)
    print(f"campaign demo took {time.monotonic() - started:.1f}s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    report = re.search(r"^Report: (.+)$", result.stdout, re.M).group(1)
    return result.stdout, Path(report).read_text(encoding="utf-8")


def serve_demo(workdir):
    """``campaign demo --serve`` until it serves: (what it printed, the report, the console's address, the
    password, the process still running)."""
    clean_env = {k: v for k, v in os.environ.items()
                 if k != "AMQP_URI" and not k.endswith("_DATABASE_URL") and k not in ("SMTP_URL", "CITY")}
    started = time.monotonic()
    process = subprocess.Popen([CAMPAIGN, "demo", "--serve", "--dir", str(workdir)], env=clean_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    printed = []
    for line in process.stdout:  # until it says it serves, or ends
        printed.append(line)
        if line.startswith("Serving until stopped") or time.monotonic() - started > 300:
            break
    stdout = "".join(printed)
    print(f"campaign demo --serve took {time.monotonic() - started:.1f}s to serve")
    assert process.poll() is None and "Traceback" not in stdout, stdout
    console, password = re.search(r"^Console: (\S+)  \(sign in as nasional, password (\S+);", stdout, re.M).groups()
    report = re.search(r"^Report: (.+)$", stdout, re.M).group(1)
    return stdout, Path(report).read_text(encoding="utf-8"), console, password, process


def english_report(stdout):
    return Path(re.search(r"^  in English: (.+)$", stdout, re.M).group(1)).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def embedded_demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    stdout, report, console, password, process = serve_demo(workdir)
    try:
        # What it prints is true: the console answers, and its sign-in opens the dashboard of the demo's rollout.
        http = requests.Session()
        form = http.get(console + "sign-in", timeout=30)
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        dashboard = http.post(console + "sign-in", data={"csrf": csrf, "username": "nasional", "password": password},
                              timeout=60)
        assert dashboard.status_code == 200 and "Pontianak" in dashboard.text and 'data-rollout="1"' in dashboard.text
        # Every process shares the one web server: its readiness speaks for each, and /metrics answers once.
        base = console.split("/console/")[0]
        ready = http.get(base + "/health/ready", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json()["services"] == {runner.service_class(name).name: "ready" for name in runner.EVERYTHING}
        assert http.get(base + "/metrics", timeout=30).status_code == 200
    finally:
        process.terminate()  # Ctrl-C's SIGINT and SIGTERM alike: stopped within seconds
        assert process.wait(60) == 0
    return workdir, stdout, report


def test_the_demo_runs_with_no_broker_and_reports_the_seed(embedded_demo):
    workdir, stdout, report = embedded_demo
    assert "broker: in-process" in stdout
    assert "**86 peserta** terdaftar dari unsur aktivis anak" in report   # registered, not "attended"
    for label, count in WORKSHOP.items():
        assert f"| {label} | {count} |" in report
    assert "2-3 Mei 2019" in report
    for facilitator in ("Umi Farida (ECPAT Indonesia)", "Widuri (ICT Watch)", "Ahmad Sofian (ECPAT Indonesia)",
                        "Paryono (Dinas Pendidikan dan Kebudayaan Kota Pontianak)",
                        "Oviani Fathul Janah (ECPAT Indonesia)"):
        assert facilitator in report
    assert "| Pasca-tes | 114 |" in report
    assert "Penyusun Laporan : Andy Ardian (Program Manager)" in report
    # It made its own accounts, one of each role, and says how to sign in to what it left.
    accounts = re.search(r"^Accounts (.+), password (\S+) ", stdout, re.M)
    assert accounts.group(1).split(", ") == ["nasional", "pontianak", "komite-pontianak", "komite-medan", "mitra",
                                                "operator"]
    assert "Console: http://127.0.0.1:" in stdout and "campaign login --username nasional" in stdout
    assert "2026" not in report and "Tanggal terbit : 31 Mei 2019" in report  # dates from the events


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_demo_report_has_every_section_of_the_original_in_both_languages(embedded_demo, lang):
    """The narrative the coordinator entered (the seed's, through registration) reaches the report."""
    _, stdout, report = embedded_demo
    has_every_section_of_the_original(report if lang == "id" else english_report(stdout), lang)


def test_the_demo_committee_gets_one_mail_with_everyone(embedded_demo):
    workdir, _, _ = embedded_demo
    messages = list(mailbox.Maildir(workdir / "data" / "maildir", create=False))
    assert len(messages) == 1
    attachment = [part for part in messages[0].walk() if part.get_filename()][0]
    rows = attachment.get_payload(decode=True).decode("utf-8").strip().splitlines()
    assert len(rows) == 1 + 86 + 120


def test_the_demo_through_rabbitmq_gives_the_same_report_and_a_subscriber_its_final_figures(embedded_demo,
                                                                                            tmp_path):
    vhost = Vhost()
    try:
        # An independent subscriber, bound before the demo starts (no heartbeats: it idles meanwhile).
        subscriber = SummarySubscriber(f"{vhost.amqp_uri}?heartbeat=0", "summary.*.pontianak",
                                       "summary.*.national")
        stdout, report = run_demo(tmp_path, AMQP_URI=vhost.amqp_uri)
        queues = vhost.queues()
        # The services have stopped: whatever they sent is in the queue already.
        subscriber.collect_until(lambda received: subscriber.latest("summary.tests.pontianak"), timeout=10)
        subscriber.drain()
        subscriber.close()
    finally:
        vhost.delete()
    broker = urlsplit(vhost.amqp_uri)
    assert f"broker: {broker.hostname}:{broker.port}/" in stdout
    assert report == embedded_demo[2]
    # Its last Pontianak summaries are the report's figures, not those of a second before the stop.
    people, tests = subscriber.latest("summary.participants.pontianak"), subscriber.latest("summary.tests.pontianak")
    assert people["participants"] == 206 and people["by_audience"] == {"activists": 86, "students": 120}
    assert people["by_category"] == {"educator": 24, "skpd": 16, "patbm": 14, "unit_ppa": 8, "lsm": 12,
                                     "forum_anak": 12, "student": 120}
    assert (tests["pre"]["n"], tests["post"]["n"], tests["paired"]) == (120, 114, 114)
    assert "| Pasca-tes | 114 |" in report and f"post 114 (mean {tests['post']['mean_percent']}%)" in stdout
    envelope = {"event_id", "occurred_at", "city"}
    national = subscriber.latest("summary.tests.national")
    assert {k: v for k, v in national.items() if k not in envelope} == {
        k: v for k, v in tests.items() if k not in envelope}  # one city: the nation is Pontianak
    # Reporting takes every kind of event through one queue per city (consume_events).
    assert "reporting.pontianak" in queues and "reporting.other-cities" in queues
    assert not [name for name in queues if name.endswith(("--reporting.on_participant_registered",
                                                          "--reporting.on_test_scored"))]
