"""Every ``campaign`` verb against the real services, with ``CAMPAIGN_API_URL`` set to the base URL.

The services run embedded in one ``campaign serve`` process (in-process broker, SQLite,
committee mail in a Maildir), as a coordinator would run them on a laptop: the first account
is made with the bootstrap token ``campaign serve`` prints, and signed in with ``campaign
login``.  Each verb is run as a user types it, with that sign-in; what went over the wire is
matched against the OpenAPI document, so an operation added without a verb, or a verb that
reaches no endpoint, fails here.
"""
import email
import json
import mailbox
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
import requests
from click.testing import CliRunner

from campaign.commands import API_COMMANDS
from tests.support.cluster import wait_until
from tests.support.embedded import CAMPAIGN, campaign_serve

PASSWORD = "kata sandi koordinator"
# Verbs that work on reporting's own database, not through the API.
WITHOUT_API = {("reporting", "rebuild")}


@pytest.fixture(scope="module")
def api_url(tmp_path_factory):
    """The base URL of the services, run by ``campaign serve`` in a process of their own, its data
    directory, and the environment of a national coordinator signed in there (``campaign login``)."""
    workdir = tmp_path_factory.mktemp("serve")
    with campaign_serve(workdir) as url:
        yield url, workdir / "data", first_account_signed_in(url, workdir)


def first_account_signed_in(url, workdir):
    """The first national coordinator, made with the token ``campaign serve`` printed, signed in:
    the environment in which ``campaign`` sends its token."""
    printed = wait_until(lambda: re.search(r"--bootstrap-token (\S+)", (workdir / "serve.log").read_text()),
                         "campaign serve to print the bootstrap token")
    env = {**os.environ, "CAMPAIGN_API_URL": url, "XDG_CONFIG_HOME": str(workdir / "config")}
    env.pop("CAMPAIGN_TOKEN", None)
    made = subprocess.run([CAMPAIGN, "accounts", "add", "nasional", "--role", "national_coordinator",
                           "--bootstrap-token", printed.group(1)], input=f"{PASSWORD}\n{PASSWORD}\n", env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    login = subprocess.run([CAMPAIGN, "login", "--username", "nasional"], input=f"{PASSWORD}\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    return {"CAMPAIGN_API_URL": url, "XDG_CONFIG_HOME": env["XDG_CONFIG_HOME"]}


def verbs(group=None, prefix=()):
    """Every verb of the API's command groups, as the words a user types."""
    found = set()
    for name, command in (group.commands.items() if group else ((c.name, c) for c in API_COMMANDS)):
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            found |= verbs(command, prefix + (name,))
        else:
            found.add(prefix + (name,))
    return found


class Wire:
    """What the commands sent and what answered, as (method, path, status, body)."""

    def __init__(self, monkeypatch):
        self.exchanges = []
        send = requests.Session.send

        def recording(session, request, **kwargs):
            answer = send(session, request, **kwargs)
            self.exchanges.append((request.method, urlsplit(request.url).path, answer.status_code, answer))
            return answer
        monkeypatch.setattr(requests.Session, "send", recording)


def operation_of(document, method, path):
    """The OpenAPI (method, path template) a request reached, or None."""
    for template, operations in document["paths"].items():
        pattern = re.escape("/api/v1" + template)
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", pattern)
        if re.fullmatch(pattern, path) and method.lower() in operations:
            return method.upper(), template
    return None


def test_every_verb_reaches_its_endpoint_with_the_base_url_and_every_operation_has_a_verb(
        api_url, tmp_path, monkeypatch):
    base, data_dir, signed_in = api_url
    document = requests.get(base + "/api/v1/openapi.json", timeout=30).json()
    wire = Wire(monkeypatch)
    ran = {}  # the verb's words -> the requests it made

    root = click.Group("campaign", commands=list(API_COMMANDS))

    def campaign(*args, ok=True):
        before = len(wire.exchanges)
        result = CliRunner().invoke(root, list(map(str, args)), env=signed_in)
        if ok:
            assert result.exit_code == 0, f"campaign {' '.join(map(str, args))}: {result.output}"
            assert "Traceback" not in result.output
        words = tuple(a for a in args if isinstance(a, str) and re.fullmatch(r"[a-z][a-z-]*", a))
        verb = next((v for v in sorted(verbs(), key=len, reverse=True) if words[:len(v)] == v), words)
        ran.setdefault(verb, []).extend(wire.exchanges[before:])
        return result

    def answer(*args):
        return json.loads(campaign(*args, "--json").stdout)

    # Rollouts: plan from the seed agenda, edit, clone (two ways), launch.
    rid = answer("rollout", "plan", "--city", "Pontianak", "--starts-on", "2019-05-02",
                 "--committee-email", "panitia@pontianak.example")["id"]
    assert answer("rollout", "edit", rid, "--venue", "Hotel Kapuas")["venue"] == "Hotel Kapuas"
    edits = tmp_path / "edit.json"
    edits.write_text(json.dumps({"province": "Kalimantan Barat"}))
    assert answer("rollout", "edit", rid, "--body", edits)["province"] == "Kalimantan Barat"
    medan = answer("rollout", "clone", rid, "--city", "Medan", "--starts-on", "2019-08-01",
                   "--committee-email", "panitia@medan.example")
    assert medan["city"] == "medan" and medan["sessions"][0]["date"] == "2019-08-01"
    assert "planned" in campaign("rollout", "plan", "--template", rid, "--city", "Palembang", "--starts-on",
                                 "2019-09-01", "--committee-email", "panitia@palembang.example").stdout
    assert answer("rollout", "launch", rid)["status"] == "launched"
    assert "pontianak" in campaign("rollout", "list", "--status", "launched").stdout
    assert "Hotel Kapuas" in campaign("rollout", "show", rid).stdout

    # Participants: one by one, from a sheet, shown, edited, checked in, cancelled.
    umi = answer("participants", "add", rid, "--name", "Umi Farida", "--category", "educator",
                 "--email", "umi@example.org")
    siti = answer("participants", "add", rid, "--name", "Siti Aminah", "--category", "student",
                  "--age-band", "13-15", "--consent-by", "school")
    budi = answer("participants", "add", rid, "--name", "Budi Santoso", "--category", "student",
                  "--age-band", "13-15", "--consent-by", "school")
    sheet = tmp_path / "peserta.csv"
    sheet.write_text("full_name,category,organisation,sex,age_band,email,phone,consent_by\n"
                     "Rina Wati,lsm,LPA Kalimantan Barat,F,25-39,rina@example.org,,\n"
                     "Andi Pratama,patbm,PATBM Tanjung Hulu,M,40-59,,,\n")
    assert "imported 2 participants" in campaign("participants", "import", rid, sheet).stdout
    assert len(answer("participants", "list", rid)) == 5
    assert answer("participants", "show", rid, umi["id"])["code"] == umi["code"]
    assert umi["code"] in campaign("participants", "committee-list", rid).stdout
    assert answer("participants", "edit", rid, umi["id"], "--organisation", "SMPN 3 Pontianak")[
        "organisation"] == "SMPN 3 Pontianak"
    assert "checked in" in campaign("participants", "check-in", rid, umi["id"]).stdout
    assert answer("participants", "cancel", rid, budi["id"])["status"] == "cancelled"
    assert "every target met" in campaign("rollout", "target-check", rid, "--today", "2019-05-01").stdout

    # The committee, then the list it is sent when registration closes, acknowledged from the mail's link.
    assert "panitia@pontianak.example" in campaign(
        "notifications", "committee", "set", rid, "--email", "panitia@pontianak.example").stdout
    assert answer("notifications", "committee", "show", rid)["emails"] == ["panitia@pontianak.example"]
    assert "panitia@pontianak.example" in campaign("notifications", "committee", rid).stdout
    assert "(not set) -> panitia@pontianak.example" in campaign("notifications", "committee", "changes", rid).stdout
    assert answer("rollout", "close-registration", rid)["registration_open"] is False
    deliveries = wait_until(lambda: [d for d in answer("notifications", "list", "--rollout", rid)
                                     if d["kind"] == "participant_list" and d["status"] == "sent"],
                            "the committee's list to be sent")
    delivery = deliveries[0]
    assert answer("notifications", "show", delivery["id"])["recipient"]
    link = re.search(r"\S+/deliveries/\d+/acknowledge#token=\S+", committee_mail_text(data_dir)).group(0)
    assert answer("notifications", "acknowledge", "--link", link)["status"] == "acknowledged"
    token = link.rsplit("token=", 1)[1]
    assert answer("notifications", "acknowledge", delivery["id"], "--token", token)["status"] == "acknowledged"
    assert "acknowledged" in campaign("notifications", "confirm-receipt", delivery["id"]).stdout  # as the console
    assert answer("notifications", "disclosures", siti["id"])[0]["delivery_id"] == delivery["id"]
    assert isinstance(answer("notifications", "alerts"), list)
    assert "queued again" in campaign("notifications", "resend", delivery["id"]).stdout

    # Tests: an instrument, one test at a time and from a sheet, gain, items, action plans.
    instrument = tmp_path / "instrument.json"
    instrument.write_text(json.dumps({
        "rollout_id": rid, "session_key": "socialisation", "title": "Tes sosialisasi", "pass_percent": 50,
        "questions": [{"id": "q1", "text": "Kata sandi boleh dibagikan.", "topic": "Kejahatan Siber",
                       "kind": "true_false", "answer": False},
                      {"id": "q2", "text": "Cek sumber berita.",
                       "topic": "Literasi di Era Digitalisasi Dunia Pendidikan", "kind": "true_false",
                       "answer": True}]}))
    def create_instrument():  # once assessment has heard of the launch
        result = campaign("assessment", "create-instrument", instrument, ok=False)
        assert result.exit_code == 0 or "rollout_id" in result.stderr, result.output
        return result if result.exit_code == 0 else None
    created = wait_until(create_instrument, "assessment to know the rollout")
    iid = int(re.search(r"instrument (\d+)", created.stdout).group(1))
    assert answer("assessment", "instruments", "--rollout", rid)[0]["id"] == iid
    assert len(answer("assessment", "instrument", iid)["questions"]) == 2
    assert "submission" in campaign("assessment", "submit", "--instrument", iid, "--code", siti["code"],
                                    "--phase", "pre", "--answers", '{"q1": true, "q2": true}').stdout
    tests = tmp_path / "post.csv"
    tests.write_text(f"participant_code,phase,q1,q2\n{siti['code']},post,salah,benar\n")
    assert "imported 1 tests" in campaign("assessment", "import", iid, tests).stdout
    assert "paired 1" in campaign("assessment", "gains", "pontianak").stdout
    assert "1 post-tests" in campaign("assessment", "items", iid).stdout
    plan = campaign("assessment", "plan", "add", "--rollout", rid, "--session", "socialisation",
                    "--participant", siti["code"], "--commitment", "Poster di kelas").stdout
    plan_id = re.search(r"action plan (\d+)", plan).group(1)
    assert "in_progress" in campaign("assessment", "plan", "update", plan_id, "--status", "in_progress").stdout
    assert "Poster di kelas" in campaign("assessment", "plan", "list", "--rollout", rid).stdout

    # Reporting, through the API, of the rollout chosen.
    wait_until(lambda: answer("reporting", "figures", "pontianak", "--rollout", rid)["tests"]["post"]["n"] == 1,
               "reporting to see the post-test")
    assert "participants 4" in campaign("reporting", "figures", "pontianak", "--rollout", rid).stdout
    assert f"rollout {rid} Pontianak" in campaign("reporting", "rollouts", "pontianak").stdout
    pdf = Path(campaign("reporting", "download", "pontianak", "--rollout", rid, "--dir", tmp_path).stdout.strip())
    assert pdf.name == "laporan-pontianak-2019.pdf" and pdf.read_bytes().startswith(b"%PDF")
    wait_until(lambda: "pontianak" in campaign("reporting", "summaries").stdout.split(),
               "reporting to release Pontianak's summaries (a round a second)")
    assert "summary.participants.pontianak" in campaign("reporting", "summaries", "pontianak").stdout
    written = campaign("reporting", "report", "pontianak", "--rollout", rid, "--format", "md").stdout.split()
    # The service names the file it wrote in its REPORTS_DIR, never where that is on the server.
    assert written[0] == "laporan-pontianak-2019.md" and (data_dir / "reports" / written[0]).exists()
    exported = campaign("reporting", "export", "pontianak", "--rollout", rid, "--dir", tmp_path / "x").stdout.split()
    assert {Path(p).suffix for p in exported} == {".xlsx", ".csv"}
    assert "Umi Farida" not in (tmp_path / "x" / "laporan-pontianak-2019-kehadiran.csv").read_text()

    # The audit of personal data (audit:read): the participant lists read above are in it.
    assert "listed" in campaign("audit", "--rollout", rid).stdout

    # Dead letters, as the operator sees them through the API (the in-process transport keeps none).
    assert "no dead letters" in campaign("dead-letters", "list").stdout
    for service in ("assessment", "notification", "reporting"):
        assert "no dead letters to replay" in campaign("dead-letters", "replay", service).stdout

    # The end of the rollouts' lives.
    assert answer("rollout", "start", rid)["status"] == "running"
    assert answer("rollout", "complete", rid)["status"] == "completed"
    assert answer("rollout", "cancel", medan["id"], "--reason", "dipindah")["status"] == "cancelled"

    # Every verb ran, and each request reached an operation of the document, never "no such path".
    assert verbs() - WITHOUT_API - set(ran) == set(), "verbs this test does not run"
    reached = set()
    for verb, exchanges in ran.items():
        assert exchanges, f"campaign {' '.join(verb)} sent no request"
        for method, path, status, response in exchanges:
            operation = operation_of(document, method, path)
            assert operation is not None, f"campaign {' '.join(verb)}: {method} {path} is no operation of the API"
            assert not (status == 404 and "http_error" in response.text), f"{method} {path} was not found"
            reached.add(operation)
    every = {(method.upper(), path) for path, operations in document["paths"].items()
             for method, operation in operations.items()
             if not _page_for_people(operation) and operation["tags"] != ["identity"]}
    assert every - reached == set(), "operations of the API that no campaign verb reaches"


def _page_for_people(operation):
    """A page a person opens in a browser (the mail's acknowledgement page) is no verb's business.
    (identity's operations are ``campaign login`` and ``campaign accounts``: tests/integration/test_identity.py.)"""
    answers = operation["responses"].get("200", {}).get("content", {})
    return list(answers) == ["text/html"]


def committee_mail_text(data_dir):
    """The text of the committee's first mail in the Maildir the services write to."""
    def first():
        messages = list(mailbox.Maildir(data_dir / "maildir", create=False)) if (data_dir / "maildir").exists() else []
        return messages[0] if messages else None
    message = email.message_from_bytes(wait_until(first, "the committee's mail").as_bytes())
    return "\n".join(part.get_payload(decode=True).decode("utf-8") for part in message.walk()
                     if part.get_content_type() == "text/plain")


def test_the_installed_command_reaches_each_service_with_the_base_url(api_url):
    _, _, signed_in = api_url
    env = {**os.environ, **signed_in}
    for args in (["rollout", "list"], ["participants", "list", "999999"], ["assessment", "instruments"],
                 ["notifications", "list"], ["reporting", "summaries"]):
        result = subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, timeout=120)
        assert "no such path" not in result.stderr and "was not found" not in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        if args[1] == "list" and args[0] == "participants":
            assert result.returncode == 1 and "rollout 999999 does not exist" in result.stderr
        else:
            assert result.returncode == 0, result.stderr


def test_an_api_url_ending_in_api_v1_is_taken_as_well(api_url):
    base, _, signed_in = api_url
    for given in (base + "/api/v1", base + "/api/v1/", base + "/"):
        result = CliRunner().invoke(API_COMMANDS[3], ["list", "--api-url", given], env=signed_in)
        assert result.exit_code == 0, result.output


def test_refused_input_names_the_field_in_one_line_and_exits_non_zero(api_url):
    _, _, signed_in = api_url
    runner = CliRunner()
    rollouts = runner.invoke(API_COMMANDS[0], ["plan", "--city", "Medan", "--starts-on", "2020-03-10",
                                               "--committee-email", "not-an-address"], env=signed_in)
    assert rollouts.exit_code == 1
    assert rollouts.stderr.splitlines() == ["error: committee_email: Not a valid email address."]
    missing = runner.invoke(API_COMMANDS[0], ["show", "999999"], env=signed_in)
    assert missing.exit_code == 1 and missing.stderr.startswith("error: ") and "999999" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1
