"""Reporting on the real broker and databases: events in, summary events out, rebuild from replay.

Only the reporting service runs here; the events the other services would
publish are published with pika, as those services put them on the wire.
"""
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pika
import pytest

from campaign.demo import load_rollout
from services.reporting import contracts
from shared import events
from tests.support.cluster import Cluster, Databases, Vhost, wait_until
from tests.support.summaries import SummarySubscriber
from tests.support.tokens import local_issuer, session

http = session()  # a national coordinator of the tests' own signing key, a fresh token per request

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = str(Path(sys.executable).parent / "campaign")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def reporting(request, tmp_path_factory):
    """The reporting service alone, in its own process, on a fresh vhost and database."""
    workdir = tmp_path_factory.mktemp(f"reporting-{request.param}")
    vhost = Vhost()
    databases = Databases(request.param, workdir)
    # No identity here: the service trusts the tests' own signing key (tests.support.tokens).
    cluster = Cluster(workdir, vhost.amqp_uri, databases.urls, "smtp://127.0.0.1:1", OUTBOX_INTERVAL=0.2,
                      IDENTITY_JWKS=json.dumps(local_issuer().jwks))
    service = cluster.services["reporting"]
    service.vhost, service.database_url = vhost, databases.urls["reporting"]
    try:
        service.start()
        service.wait_ready()
        yield service
    finally:
        service.stop()
        databases.drop() if databases.created else None
        vhost.delete()


class Producer:
    """Publishes events as the outbox relays of the other services do."""

    def __init__(self, amqp_uri):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def __call__(self, kind, city, /, **fields):
        payload = kind.create(city, **fields)
        self.channel.exchange_declare(kind.exchange, exchange_type="topic", durable=True)
        self.channel.basic_publish(kind.exchange, kind.routing_key(city), json.dumps(payload),
                                   pika.BasicProperties(content_type="application/json", delivery_mode=2),
                                   mandatory=True)  # a reporting queue must take it
        return payload

    def close(self):
        self.connection.close()


def launch(publish, rollout_id, city, city_name):
    seed = load_rollout()
    publish(events.ROLLOUT_LAUNCHED, city, rollout_id=rollout_id, program=seed["program"], city_name=city_name,
            province=None, venue=city_name, starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3),
            author=seed["author"], editor=seed["editor"],
            sessions=[{**s, "date": date.fromisoformat(s["date"])} for s in seed["sessions"]])


def register(publish, participant_id, rollout_id, city, category="student"):
    publish(events.PARTICIPANT_REGISTERED, city, rollout_id=rollout_id, participant_id=participant_id,
            participant_code=f"P{participant_id}", session_key="socialisation", category=category,
            minor=True, sex="F", age_band="13-15")


def score(publish, submission_id, participant_id, phase, right, rollout_id, city):
    publish(events.TEST_SCORED, city, rollout_id=rollout_id, submission_id=submission_id, instrument_id=rollout_id,
            session_key="socialisation", participant_code=f"P{participant_id}", phase=phase, score=right,
            max_score=4, passed=right >= 3,
            topics=[{"topic": "Kejahatan Siber", "score": min(right, 2), "max_score": 2},
                    {"topic": "Jejak Digital dan Privasi", "score": max(right - 2, 0), "max_score": 2}])


def test_events_in_summaries_out_and_a_rebuild_gives_the_same_figures(reporting):
    amqp = reporting.vhost.amqp_uri
    pontianak_only = SummarySubscriber(amqp, "summary.*.pontianak")
    national_tests = SummarySubscriber(amqp, "summary.tests.national", "summary.participants.medan")
    publish = Producer(amqp)

    launch(publish, 1, "pontianak", "Pontianak")
    launch(publish, 2, "medan", "Medan")
    launch(publish, 3, "medan", "Medan")
    for i in range(1, 9):
        register(publish, i, 1, "pontianak")
    register(publish, 9, 1, "pontianak", category="educator")
    publish(events.PARTICIPANT_CANCELLED, "pontianak", rollout_id=1, participant_id=8, participant_code="P8",
            session_key="socialisation")
    for i in range(1, 7):
        publish(events.PARTICIPANT_CHECKED_IN, "pontianak", rollout_id=1, participant_id=i,
                participant_code=f"P{i}", session_key="socialisation", day=2)
        score(publish, 100 + i, i, "pre", 2, 1, "pontianak")
        score(publish, 200 + i, i, "post", 4, 1, "pontianak")
    for i in (20, 21):
        register(publish, i, 2, "medan")
    register(publish, 30, 3, "medan")
    publish(events.ROLLOUT_CANCELLED, "medan", rollout_id=3, reason="banjir")
    publish(events.ACTION_PLAN_RECORDED, "pontianak", rollout_id=1, action_plan_id=1, session_key="socialisation",
            owner="group", status="planned")
    publish(events.ACTION_PLAN_UPDATED, "pontianak", rollout_id=1, action_plan_id=1, session_key="socialisation",
            owner="group", status="done")
    publish(events.COMMITTEE_NOTIFIED, "pontianak", rollout_id=1, delivery_id=1, kind="participant_list",
            channel="mail", participant_count=9)
    publish.close()

    def figures(city):
        answer = http.get(f"{reporting.url}/reports/{city}/figures", timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def settled():
        pontianak = figures("pontianak")
        return (pontianak["notifications"] and pontianak["tests"]["paired"] == 6
                and pontianak["action_plans"]["by_status"] == {"done": 1} and pontianak["participants"] == 8
                and len(pontianak["attendance"]) == 1 and figures("medan")["participants"] == 2)

    wait_until(settled, "reporting to apply every event")
    pontianak = figures("pontianak")
    assert pontianak["by_category"] == {"educator": 1, "student": 7}
    assert pontianak["attendance"] == [{"day": 2, "session_key": "socialisation", "checked_in": 6}]
    assert pontianak["tests"]["gain"] == 1.0
    # One of a city's rollouts, by id; another city's rollout is not found under it.
    rollout = http.get(f"{reporting.url}/reports/medan/figures?rollout_id=2", timeout=30)
    assert rollout.status_code == 200 and rollout.json()["participants"] == 2
    elsewhere = http.get(f"{reporting.url}/reports/pontianak/figures?rollout_id=2", timeout=30)
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["field"] == "rollout_id"

    # Summaries: each subscriber gets exactly the routing keys it bound, and each validates.
    def latest_has(subscriber, key, check):
        return lambda received: (body := subscriber.latest(key)) is not None and check(body)

    pontianak_only.collect_until(latest_has(pontianak_only, "summary.tests.pontianak",
                                            lambda body: body["paired"] == 6))
    pontianak_only.collect_until(latest_has(pontianak_only, "summary.participants.pontianak",
                                            lambda body: body["by_category"].get("student") == 7))
    national_tests.collect_until(latest_has(national_tests, "summary.tests.national",
                                            lambda body: body["paired"] == 6))
    national_tests.collect_until(latest_has(national_tests, "summary.participants.medan",
                                            lambda body: body["participants"] == "<5"))
    assert {k for k, _, _ in pontianak_only.received} == {"summary.participants.pontianak",
                                                           "summary.tests.pontianak"}
    assert {k for k, _, _ in national_tests.received} == {"summary.tests.national", "summary.participants.medan"}
    for key, _, body in pontianak_only.received + national_tests.received:
        assert contracts.problems(key, body) == [], (key, body)
    people = pontianak_only.latest("summary.participants.pontianak")
    # 1 educator is "<5"; the total of 8 less the 7 students would give it away, so the total is "x".
    assert people["by_category"] == {"educator": "<5", "student": 7} and people["participants"] == "x"
    pontianak_only.close()
    national_tests.close()

    # A new subscriber asks for the snapshot instead of waiting for the next change: the very
    # messages last sent, so a second snapshot (nothing changed) carries the same event ids.
    snapshot = http.get(f"{reporting.url}/summaries/pontianak", timeout=30).json()
    assert set(snapshot) == {"summary.participants.pontianak", "summary.tests.pontianak"}
    for key, body in snapshot.items():
        assert contracts.problems(key, body) == []
        assert body == pontianak_only.latest(key)
    assert http.get(f"{reporting.url}/summaries/pontianak", timeout=30).json() == snapshot
    unknown = http.get(f"{reporting.url}/summaries/atlantis", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "city"
    env = {**reporting.env, "AMQP_URI": amqp, "CAMPAIGN_TOKEN": local_issuer().token("partner")}
    watched = subprocess.run([CAMPAIGN, "subscribe", "summary.*.medan", "--snapshot", reporting.url,
                              "--count", "2", "--timeout", "20"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert watched.returncode == 0, watched.stderr
    lines = [line.split(" ", 1) for line in watched.stdout.strip().splitlines()]
    assert sorted(key for key, _ in lines) == ["summary.participants.medan", "summary.tests.medan"]
    for key, body in lines:
        assert contracts.problems(key, json.loads(body)) == []
    example = subprocess.run([sys.executable, str(ROOT / "examples" / "summary_consumer.py"), "--amqp", amqp,
                              "--api", reporting.url.removesuffix("/api/v1"), "--count", "2", "--timeout", "20",
                              "summary.*.national"], capture_output=True, text=True, timeout=60, env=env)
    assert example.returncode == 0, example.stderr
    seen = [json.loads(line) for line in example.stdout.splitlines()]
    assert sorted(m["routing_key"] for m in seen) == ["summary.participants.national", "summary.tests.national"]
    assert all(contracts.problems(m["routing_key"], m["body"]) == [] for m in seen)

    # Rebuild from the event log: the same figures as the live read models.
    live = {city: figures(city) for city in ("pontianak", "medan", events.NATIONAL)}
    rebuilt = subprocess.run([CAMPAIGN, "reporting", "rebuild"], env=reporting.env, capture_output=True,
                             text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt the read models from 38 events" in rebuilt.stdout
    assert {city: figures(city) for city in ("pontianak", "medan", events.NATIONAL)} == live
    assert live[events.NATIONAL]["participants"] == 10   # cancelled rollout 3 is left out

    # The coordinator's report, written from the same read models, in English.
    written = http.post(f"{reporting.url}/reports/pontianak/activity-report?lang=en&format=md,pdf",
                                          timeout=60)
    assert written.status_code == 201, written.text
    assert "| Post-test | 6 | 100.0% | 6 |" in written.json()["markdown"]
    files = written.json()["files"]
    assert files == {"md": "report-pontianak-2019.md", "pdf": "report-pontianak-2019.pdf"}  # names, not server paths
    assert (Path(reporting.env["REPORTS_DIR"]) / files["pdf"]).read_bytes().startswith(b"%PDF")
    refused = http.post(f"{reporting.url}/reports/pontianak/activity-report?format=doc", timeout=30)
    assert refused.status_code == 422 and "format" in refused.text

    # Partners fetch the report's tables with small cells suppressed; the coordinator gets them exact.
    exact = http.get(f"{reporting.url}/reports/pontianak/tables/categories.csv", timeout=30)
    public = http.get(f"{reporting.url}/reports/pontianak/tables/categories.csv?public=1", timeout=30)
    assert exact.status_code == public.status_code == 200, public.text
    assert exact.text.splitlines()[1:3] == ["Tenaga pendidikan,1", "Pelajar,7"]
    chosen = http.get(f"{reporting.url}/reports/pontianak/tables/categories.csv?rollout_id=1", timeout=30)
    assert chosen.text == exact.text  # Pontianak's only rollout, named
    # 1 educator of 8 would be 8 - 7: the total is hidden with it, and both markers are explained.
    assert public.text.splitlines()[1:4] == ["Tenaga pendidikan,<5", "Pelajar,7", "Jumlah,x"]
    assert public.text.splitlines()[-2].startswith("<5: ") and public.text.splitlines()[-1].startswith("x: ")
    workbook = http.get(f"{reporting.url}/reports/national/export.xlsx?public=1&lang=en", timeout=30)
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")  # an XLSX is a zip
    unknown = http.get(f"{reporting.url}/reports/pontianak/tables/names.csv", timeout=30)
    assert unknown.status_code == 404 and "name" in unknown.json()["error"]["field"]
