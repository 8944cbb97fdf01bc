"""Registration's rules through the real service, broker and database (SQLite and PostgreSQL)."""
import csv
import io
import json
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import openpyxl
import pika
import pytest
from click.testing import CliRunner

from campaign import registration_commands
from shared.config import SERVICES
from tests.integration.conftest import rollout_for
from tests.support.cluster import free_port


class EventTap:
    """A queue bound to ``registration.events`` before anything is published, as a consumer's would be."""

    def __init__(self, amqp_uri, *binding_keys):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare("registration.events", exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in binding_keys:
            self.channel.queue_bind(self.queue, "registration.events", routing_key=key)
        self.received = []  # (routing key, payload)

    def until(self, condition, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not condition(self.received):
            if time.monotonic() > deadline:
                raise AssertionError(f"events did not arrive; got {[k for k, _ in self.received]}")
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
                continue
            self.received.append((method.routing_key, json.loads(body)))
        return self.received

    def keys(self, rollout_id):
        return [k for k, p in self.received if p["rollout_id"] == rollout_id]

    def close(self):
        self.connection.close()


@pytest.fixture
def tap(cluster):
    taps = []

    def make(*keys):
        taps.append(EventTap(cluster.vhost.amqp_uri, *keys))
        return taps[-1]
    yield make
    for t in taps:
        t.close()


def ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


def refused(response, status, field):
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert field in json.dumps(error), error
    return error


def plan(cluster, city, **session_changes):
    data = rollout_for(city, f"{city.lower()}-{cluster.backend}@committee.example")
    for session in data["sessions"]:
        session.update(session_changes.get(session["key"], {}))
    return ok(cluster.post("registration", "/rollouts", json=data), 201)


def student(name, school="SMP Negeri 1"):
    return {"full_name": name, "category": "student", "organisation": school, "age_band": "13-15",
            "consent_by": "school"}


def test_every_lifecycle_change_is_announced(cluster, tap):
    events = tap("rollout_launched.*", "rollout_updated.*", "rollout_cancelled.*")
    template = plan(cluster, "Pontianak")  # the demo's rollout, with the original report's narrative
    # Cloned for Medan: the program's agenda, aims and tips, moved to Medan's first day; none of
    # Pontianak's mayor, venue, province, committee, local speakers or story.
    medan = ok(cluster.post("registration", f"/rollouts/{template['id']}/clone", json={
        "city_name": "Medan", "starts_on": "2020-03-10"}), 201)
    assert (medan["status"], medan["starts_on"], medan["ends_on"]) == ("draft", "2020-03-10", "2020-03-11")
    assert [s["date"] for s in medan["sessions"]] == ["2020-03-10", "2020-03-11"]
    assert (medan["aims"], medan["tips"]) == (template["aims"], template["tips"])
    assert medan["sessions"][0]["topics"] == template["sessions"][0]["topics"]
    assert [s["opened_by"] for s in medan["sessions"]] == [None, None]
    for name in ("venue", "province", "committee_name", "committee_email", "background", "findings", "qa"):
        assert medan[name] is None, name
    assert "Pontianak" not in json.dumps(medan) and "Walikota" not in json.dumps(medan)

    # Launched only with what its committee and report need, every missing field named.
    base = f"/rollouts/{medan['id']}"
    error = refused(cluster.post("registration", base + "/launch"), 409, "venue")
    assert list(error["fields"]) == ["province", "venue", "committee_email",
                                     "sessions.socialisation.topics.0.facilitators",
                                     "sessions.socialisation.topics.1.facilitators"]
    rahmat = [{"name": "Rahmat", "organisation": "Polda"}]
    speakers = [{"title": t["title"], "facilitators": t["facilitators"] or rahmat}
                for t in medan["sessions"][1]["topics"]]
    ok(cluster.patch("registration", base, json={
        "province": "Sumatera Utara", "venue": "Aula Kantor Walikota", "committee_name": "Panitia Medan",
        "committee_email": "panitia@medan.example", "sessions": [{"key": "socialisation", "topics": speakers}]}))
    ok(cluster.post("registration", base + "/launch"))
    edited = ok(cluster.patch("registration", base, json={"venue": "Hotel Santika"}))
    assert edited["venue"] == "Hotel Santika"
    ok(cluster.post("registration", base + "/start"))
    refused(cluster.post("registration", base + "/launch"), 409, "status")
    assert ok(cluster.post("registration", base + "/complete"))["status"] == "completed"
    other = plan(cluster, "Padang")
    assert ok(cluster.post("registration", f"/rollouts/{other['id']}/cancel",
                           json={"reason": "banjir"}))["status"] == "cancelled"

    # Published at least once: an event sent again under load has the same event_id, and counts once.
    events.until(lambda got: len({p["event_id"] for _, p in got}) >= 5)
    announced = {p["event_id"]: (k, p) for k, p in events.received}.values()
    medan_events = [(k, p.get("status"), p.get("changed")) for k, p in announced if p["rollout_id"] == medan["id"]]
    assert medan_events == [("rollout_launched.medan", None, None),
                            ("rollout_updated.medan", "launched", ["venue"]),
                            ("rollout_updated.medan", "running", ["status"]),
                            ("rollout_updated.medan", "completed", ["status"])]
    assert [(k, p["reason"]) for k, p in announced if p["rollout_id"] == other["id"]] == [
        ("rollout_cancelled.padang", "banjir")]
    listed = cluster.items("registration", "/rollouts", status="completed")
    assert [r["id"] for r in listed] == [medan["id"]]
    refused(cluster.get("registration", "/rollouts", params={"status": "finished"}), 422, "status")


def test_waitlist_duplicates_minors_and_check_in(cluster, tap):
    changes = ("registered", "cancelled", "promoted", "checked_in", "updated")
    events = tap(*(f"participant_{change}.bandung" for change in changes))
    rollout = plan(cluster, "Bandung", socialisation={"capacity": 2})
    base = f"/rollouts/{rollout['id']}"
    ok(cluster.post("registration", base + "/launch"))
    people = [ok(cluster.post("registration", base + "/participants", json=student(n)), 201)
              for n in ("Putri Ayu", "Rizky Pratama", "Nur Aini")]
    assert [p["status"] for p in people] == ["registered", "registered", "waitlisted"]

    # The same child again, typed differently: refused, naming who holds the registration.
    error = refused(cluster.post("registration", base + "/participants",
                                 json=student("  PUTRI   áyu", "smp negeri 1")), 409, "full_name")
    assert error["existing_participant_id"] == people[0]["id"]
    # A minor gives no e-mail and no phone number; a birth date is not asked for.
    refused(cluster.post("registration", base + "/participants",
                         json={**student("Intan"), "phone": "+62 812 000 111"}), 422, "phone")
    refused(cluster.post("registration", base + "/participants",
                         json={**student("Intan"), "birth_date": "2006-02-01"}), 422, "birth_date")

    ok(cluster.post("registration", f"{base}/participants/{people[0]['id']}/cancel"))
    promoted = ok(cluster.get("registration", f"{base}/participants/{people[2]['id']}"))
    assert promoted["status"] == "registered"

    ok(cluster.post("registration", base + "/start"))
    record = ok(cluster.post("registration", f"{base}/participants/{people[2]['id']}/check-in",
                             json={"session_key": "socialisation", "day": 2}), 201)
    assert (record["code"], record["day"]) == (people[2]["code"], 2)
    refused(cluster.post("registration", f"{base}/participants/{people[2]['id']}/check-in"), 409, "day")
    refused(cluster.post("registration", f"{base}/participants/{people[1]['id']}/check-in", json={"day": 1}),
            422, "day")

    corrected = ok(cluster.patch("registration", f"{base}/participants/{people[1]['id']}",
                                 json={"organisation": "SMP Negeri 7"}))
    assert corrected["organisation"] == "SMP Negeri 7"
    refused(cluster.patch("registration", f"{base}/participants/{people[1]['id']}",
                          json={"email": "rizky@example.org"}), 422, "email")

    events.until(lambda got: any(k.startswith("participant_updated") for k, _ in got))
    # Published at least once: an event sent again under load has the same event_id, and counts once.
    announced = {p["event_id"]: (k, p) for k, p in events.received}.values()
    assert [(k.split(".")[0], p["participant_id"], p.get("status")) for k, p in announced] == [
        ("participant_registered", people[0]["id"], "registered"),
        ("participant_registered", people[1]["id"], "registered"),
        ("participant_registered", people[2]["id"], "waitlisted"),
        ("participant_cancelled", people[0]["id"], None),
        ("participant_promoted", people[2]["id"], None),
        ("participant_checked_in", people[2]["id"], None),
        ("participant_updated", people[1]["id"], None),
    ]
    for _, payload in events.received:  # children appear by code only
        assert "Putri" not in json.dumps(payload) and "Nur Aini" not in json.dumps(payload)


def test_a_short_category_is_announced_as_its_session_nears(cluster, tap):
    events = tap("target_gap.*")
    rollout = plan(cluster, "Makassar", workshop={"quotas": [
        {"category": "educator", "minimum": 2, "maximum": 30}, {"category": "lsm", "minimum": 1, "maximum": 1}]})
    base = f"/rollouts/{rollout['id']}"
    ok(cluster.post("registration", base + "/launch"))
    ok(cluster.post("registration", base + "/participants", json={"full_name": "Umi", "category": "educator"}), 201)
    ok(cluster.post("registration", base + "/participants", json={"full_name": "Rina", "category": "lsm"}), 201)
    over = ok(cluster.post("registration", base + "/participants", json={"full_name": "Rudi", "category": "lsm"}), 201)
    assert over["status"] == "waitlisted"  # the lsm maximum is 1

    assert ok(cluster.post("registration", base + "/target-check", json={"today": "2019-03-01"})) == []
    [gap] = ok(cluster.post("registration", base + "/target-check", json={"today": "2019-04-30", "within_days": 7}))
    assert (gap["category"], gap["minimum"], gap["registered"], gap["announced"]) == ("educator", 2, 1, True)
    refused(cluster.post("registration", base + "/target-check", json={"within_days": -1}), 422, "within_days")

    [(key, payload)] = events.until(lambda got: len(got) >= 1)
    assert key == "target_gap.makassar"
    assert (payload["session_key"], payload["category"], payload["registered"]) == ("workshop", "educator", 1)


def sheet(count, bad_line=None):
    rows = [[f"Pelajar {i}", "student", f"SMP {i % 30}", "F", "13-15", "", "", "school"] for i in range(count)]
    if bad_line:
        rows[bad_line - 2][5] = "anak@example.org"
    return rows


def as_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"])
    writer.writerows(rows)
    return buffer.getvalue().encode()


def as_xlsx(rows):
    book = openpyxl.Workbook()
    book.active.append(["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"])
    for row in rows:
        book.active.append([cell or None for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_file_with_one_bad_row_imports_nothing_and_names_it(cluster):
    rollout = plan(cluster, "Surabaya")
    base = f"/rollouts/{rollout['id']}"
    ok(cluster.post("registration", base + "/launch"))
    failed = cluster.import_participants(rollout["id"], as_csv(sheet(2000, 1001)))
    assert (failed["status"], failed["rows_done"], failed["rows_total"]) == ("failed", 2000, 2000)
    assert failed["errors"] == [{"line": 1001, "field": "email", "problem": "must not be given for a minor"}]
    assert ok(cluster.get("registration", base + "/participants")) == {"items": [], "next_cursor": None}

    job = cluster.import_participants(rollout["id"], as_xlsx(sheet(2000)),
                                      headers={"Content-Type": "application/vnd.openxmlformats-officedocument"
                                                               ".spreadsheetml.sheet"})
    assert job["status"] == "succeeded", job
    imported = job["result"]
    assert (imported["imported"], imported["waitlisted"]) == (2000, 0)
    assert len(cluster.items("registration", base + "/participants")) == 2000


def test_a_returning_participant_joins_a_later_rollout_in_the_same_city_linked_to_their_earlier_record(cluster):
    first = plan(cluster, "Kupang")
    ok(cluster.post("registration", f"/rollouts/{first['id']}/launch"))
    earlier = ok(cluster.post("registration", f"/rollouts/{first['id']}/participants",
                              json=student("Yohana Lede", "SMP Negeri 2")), 201)
    later = ok(cluster.post("registration", f"/rollouts/{first['id']}/clone", json={
        "city_name": "Kupang", "starts_on": "2020-05-02", "committee_email": "panitia@kupang.example"}), 201)
    base = f"/rollouts/{later['id']}"
    ok(cluster.post("registration", base + "/launch"))

    # The same child a year later, typed differently: welcome, and linked to last year's record.
    again = ok(cluster.post("registration", base + "/participants", json=student(" YOHANA  lede", "smp negeri 2")), 201)
    assert (again["status"], again["returning_of"]) == ("registered", earlier["id"])
    assert ok(cluster.get("registration", f"/rollouts/{first['id']}/participants"))["items"][0]["returning_of"] is None
    assert again["code"] != earlier["code"]
    # Twice in the same rollout is still a duplicate.
    error = refused(cluster.post("registration", base + "/participants", json=student("Yohana Lede", "SMP Negeri 2")),
                    409, "full_name")
    assert error["existing_participant_id"] == again["id"]
    # A file brings returning participants the same way.
    imported = cluster.import_participants(later["id"], as_csv([
        ["Yohana Lede", "student", "SMP Negeri 3", "F", "13-15", "", "", "school"]]))
    assert imported["result"]["imported"] == 1, imported
    listed = ok(cluster.get("registration", base + "/participants"))["items"]
    assert [p["returning_of"] for p in listed] == [earlier["id"], None]


def test_a_file_lists_every_problem_at_once_and_imports_nothing(cluster):
    data = rollout_for("Jayapura", f"jayapura-{cluster.backend}@committee.example")
    data["sessions"] = [s for s in data["sessions"] if s["audience"] == "students"]
    rollout = ok(cluster.post("registration", "/rollouts", json=data), 201)
    base = f"/rollouts/{rollout['id']}"
    ok(cluster.post("registration", base + "/launch"))
    ani = ok(cluster.post("registration", base + "/participants", json=student("Ani")), 201)

    error = cluster.import_participants(rollout["id"], as_csv([
        ["Budi", "student", "SMP Negeri 1", "M", "13-15", "", "", "school"],                # line 2: good
        ["Cici", "student", "SMP Negeri 1", "F", "13-15", "cici@example.org", "", "school"],  # 3: a minor's e-mail
        ["budi", "student", "SMP  negeri 1", "M", "13-15", "", "", "school"],              # 4: line 2 again
        ["ANI", "student", "SMP Negeri 1", "F", "13-15", "", "", "school"],                 # 5: registered already
        ["Umi Farida", "educator", "ECPAT", "F", "25-39", "", "", ""],                     # 6: no workshop here
    ]))
    assert error["status"] == "failed"
    assert [(r["line"], r["field"]) for r in error["errors"]] == [
        (3, "email"), (4, "full_name"), (5, "full_name"), (6, "category")]
    assert error["errors"][1]["problem"] == "the same person as line 2"
    assert error["errors"][2]["existing_participant_id"] == ani["id"]
    assert "4 problem(s)" in error["message"]
    assert [p["id"] for p in ok(cluster.get("registration", base + "/participants"))["items"]] == [ani["id"]]


@pytest.fixture
def gateway(cluster, tmp_path):
    """``campaign gateway`` in front of the four service processes."""
    port = free_port()
    routes = [f"--route={name}={service.url.rsplit('/api/v1', 1)[0]}" for name, service in cluster.services.items()
              if name in SERVICES]  # the import worker answers no requests
    process = subprocess.Popen([sys.executable, "-m", "campaign.cli", "gateway", f"--listen=127.0.0.1:{port}", *routes],
                               stderr=subprocess.PIPE, text=True)
    ready = threading.Event()

    def follow():
        for line in process.stderr:
            if line.startswith("ready:"):
                ready.set()
    threading.Thread(target=follow, daemon=True).start()
    assert ready.wait(60), "the gateway did not start"
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", token=cluster.token)
    process.terminate()
    process.wait(10)


def campaign(gateway, group, *args):
    """``campaign <group> <args>`` as a user runs it (in this process, to keep the test quick)."""
    result = CliRunner().invoke(getattr(registration_commands, group), list(args),
                                env={"CAMPAIGN_API_URL": gateway.url, "CAMPAIGN_TOKEN": gateway.token()},
                                catch_exceptions=False)
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def test_one_base_url_and_the_command_line(cluster, gateway, tmp_path):
    # Each service answers through the gateway, and so does the OpenAPI document.
    http, base_url = cluster.http, gateway.url  # the gateway passes the token on
    document = ok(http.get(base_url + "/api/v1/openapi.json", timeout=30))
    assert "/rollouts/{rollout_id}/participants/import" in document["paths"]
    refused(http.post(base_url + "/api/v1/instruments", json={}, timeout=30), 422, "title")
    assert http.get(base_url + "/api/v1/reports/nowhere/figures", timeout=30).status_code < 500
    assert http.get(base_url + "/api/v1/nothing-here", timeout=30).status_code == 404

    planned = campaign(gateway, "rollout", "plan", "--city", "Semarang", "--starts-on", "2020-07-01",
                       "--committee-email", "panitia@semarang.example", "--venue", "Balai Kota", "--json")
    assert planned.returncode == 0, planned.stderr
    rollout = json.loads(planned.stdout)
    assert (rollout["city"], rollout["starts_on"], rollout["sessions"][1]["date"]) == (
        "semarang", "2020-07-01", "2020-07-02")
    rid = str(rollout["id"])
    # Planned from the seed, it has none of Pontianak's province or local speakers: the launch says what is missing.
    refused_launch = campaign(gateway, "rollout", "launch", rid)
    assert refused_launch.returncode == 1 and refused_launch.stderr.startswith("error: ")
    for missing in ("province", "sessions.socialisation.topics.0.facilitators",
                    "sessions.socialisation.topics.1.facilitators"):
        assert missing in refused_launch.stderr
    speakers = tmp_path / "speakers.json"
    speakers.write_text(json.dumps({"sessions": [{"key": "socialisation", "topics": [
        {"title": t["title"], "facilitators": t["facilitators"] or [{"name": "Rahmat", "organisation": "Polrestabes"}]}
        for t in rollout["sessions"][1]["topics"]]}]}))
    edited = campaign(gateway, "rollout", "edit", rid, "--province", "Jawa Tengah", "--body", str(speakers))
    assert edited.returncode == 0, edited.stderr
    assert campaign(gateway, "rollout", "launch", rid).returncode == 0
    assert "semarang" in campaign(gateway, "rollout", "list", "--status", "launched").stdout
    shown = campaign(gateway, "rollout", "show", rid).stdout
    assert "Kejahatan Siber: Rahmat (Polrestabes)" in shown and "Inayatun Nurhasanah" not in shown

    added = campaign(gateway, "participants", "add", rid, "--name", "Umi Farida", "--category", "educator",
                     "--email", "umi@example.org", "--json")
    assert added.returncode == 0, added.stderr
    umi = json.loads(added.stdout)
    minor = campaign(gateway, "participants", "add", rid, "--name", "Siti", "--category", "student",
                     "--age-band", "13-15", "--consent-by", "school", "--email", "siti@example.org")
    assert minor.returncode == 1 and "email" in minor.stderr and "Traceback" not in minor.stderr

    big = tmp_path / "peserta.csv"
    big.write_bytes(as_csv(sheet(8000)))  # large enough for the progress bar
    imported = campaign(gateway, "participants", "import", rid, str(big))
    assert imported.returncode == 0, imported.stderr
    assert "imported 8000 participants" in imported.stdout
    assert "Sending peserta.csv" in imported.stderr  # the bar's label (the bar itself draws on a terminal)
    bad = tmp_path / "salah.csv"
    bad.write_bytes(as_csv(sheet(20, bad_line=7)))
    refused_file = campaign(gateway, "participants", "import", rid, str(bad))
    assert refused_file.returncode == 1 and "line 7, email" in refused_file.stderr

    assert campaign(gateway, "participants", "checkin", rid, str(umi["id"])).returncode == 0
    again = campaign(gateway, "participants", "checkin", rid, str(umi["id"]))
    assert again.returncode == 1 and "already checked in" in again.stderr
    assert campaign(gateway, "participants", "cancel", rid, str(umi["id"])).returncode == 0
    listed = campaign(gateway, "participants", "list", rid, "--status", "cancelled", "--json")
    assert [p["id"] for p in json.loads(listed.stdout)] == [umi["id"]]
    assert campaign(gateway, "rollout", "cancel", rid, "--reason", "dipindah").returncode == 0
    missing = campaign(gateway, "rollout", "show", "999999")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    unreachable = campaign(gateway, "rollout", "list", "--api-url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1 and "cannot reach the API" in unreachable.stderr
    installed = subprocess.run([sys.executable, "-m", "campaign.cli", "rollout", "--help"], capture_output=True,
                               text=True, timeout=60)
    assert installed.returncode == 0 and "plan" in installed.stdout and "cancel" in installed.stdout
