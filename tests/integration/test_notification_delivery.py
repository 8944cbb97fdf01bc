"""Committee notifications on the real broker, with a real SMTP server and a real webhook receiver.

The module's cluster has a short digest window and short retry waits, so a
window closes and a webhook is retried within seconds.
"""
import copy
import csv
import io
import json
import re

import pika
import pytest
import requests
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from campaign.demo import load_rollout
from campaign.notification_commands import notifications
from services.notification.rules import LIST_COLUMNS
from tests.integration.conftest import running_cluster
from tests.support.cluster import wait_until
from tests.support.webhook_receiver import WebhookReceiver

SETTINGS = {"OUTBOX_INTERVAL": 0.2, "DIGEST_WINDOW": 5, "DELIVERY_BACKOFF": 0.2, "DELIVERY_MAX_ATTEMPTS": 5,
            # The tests' receiver listens on the loopback address: vouched for, as an operator would.
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"}
PASSWORD = "correct horse battery"
SECRET = "a-committee-secret-of-some-length"

# What each test disclosed to whom, for the audit at the end: participant id -> recipients.
DISCLOSED = {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request, tmp_path_factory, smtp):
    """The four services as in conftest's ``cluster``, with this module's notification settings."""
    DISCLOSED.clear()
    workdir = tmp_path_factory.mktemp(f"notify-{request.param}")
    with running_cluster(request.param, workdir, smtp, **SETTINGS) as cluster:
        cluster.people = People(cluster)
        yield cluster


class People:
    """Accounts on the cluster's identity: ada, a national coordinator, and whom she adds."""

    def __init__(self, cluster):
        self.cluster = cluster  # its requests go as the harness's national coordinator
        self.add("ada", "national_coordinator")

    def add(self, username, role, *cities):
        made = self.cluster.post("identity", "/accounts", json={
            "username": username, "password": PASSWORD, "role": role, "cities": list(cities)})
        assert made.status_code in (201, 409), made.text
        return username

    def headers(self, username):
        """A fresh access token (they live under a minute) for ``username``."""
        signed_in = self.cluster.post("identity", "/auth/token", json={"username": username, "password": PASSWORD})
        assert signed_in.status_code == 200, signed_in.text
        return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}


@pytest.fixture(scope="module")
def receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


# --- helpers ------------------------------------------------------------------

def plan(cluster, city_name):
    rollout = copy.deepcopy(load_rollout())
    rollout.update(city_name=city_name, venue=city_name, committee_email=f"{city_name.lower()}@registration.example")
    planned = cluster.post("registration", "/rollouts", json=rollout)
    assert planned.status_code == 201, planned.text
    return planned.json()


def launch(cluster, rollout):
    launched = cluster.post("registration", f"/rollouts/{rollout['id']}/launch")
    assert launched.status_code == 200, launched.text


def launch_unannounced(cluster, rollout):
    """Launch, and wait until notification has heard of it, so a committee set now gets no agenda."""
    launch(cluster, rollout)
    database = create_engine(cluster.services["notification"].env["NOTIFICATION_DATABASE_URL"])

    def heard():
        with database.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM rollout_sessions WHERE rollout_id = :r"),
                                      {"r": rollout["id"]}).scalar()
    try:
        wait_until(heard, f"notification to hear rollout {rollout['id']} launched")
    finally:
        database.dispose()


def put_committee(cluster, rollout, by="ada", **committee):
    return requests.put(f"{cluster.url('notification')}/rollouts/{rollout['id']}/committee", json=committee,
                        headers=cluster.people.headers(by), timeout=30)


def set_committee(cluster, rollout, by="ada", **committee):
    answer = put_committee(cluster, rollout, by, **committee)
    assert answer.status_code == 200, answer.text
    return answer.json()


def register(cluster, rollout, *names):
    people = []
    for name in names:
        answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants", json={
            "full_name": name, "category": "student", "organisation": "SMP Negeri 1",
            "age_band": "13-15", "consent_by": "school"})
        assert answer.status_code == 201, answer.text
        people.append(answer.json())
    return people


def deliveries(cluster, **filters):
    return cluster.items("notification", "/deliveries", **filters)


def mails(smtp, address, subject):
    return [m for m in smtp.messages() if m["To"] == address and subject in m["Subject"]]


def attachment_rows(message):
    [attachment] = list(message.iter_attachments())
    data = attachment.get_payload(decode=True)
    if attachment.get_filename().endswith(".xlsx"):
        sheet = load_workbook(io.BytesIO(data), read_only=True).active
        header, *rows = [[str(v) if v is not None else "" for v in row] for row in sheet.iter_rows(values_only=True)]
        return header, [dict(zip(header, row)) for row in rows]
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return reader.fieldnames, list(reader)


def drain(amqp_uri, queue):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    bodies = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        bodies.append(json.loads(body))
    connection.close()
    return bodies


# --- the tests ----------------------------------------------------------------

def test_registrations_in_one_window_arrive_as_one_digest(cluster, smtp):
    surabaya_committee = f"surabaya-{cluster.backend}@committee.example"
    medan_committee = f"medan-digest-{cluster.backend}@committee.example"
    surabaya, medan = plan(cluster, "Surabaya"), plan(cluster, "Medan")
    set_committee(cluster, surabaya, emails=[surabaya_committee], list_format="xlsx", name="Panitia Surabaya")
    set_committee(cluster, medan, emails=[medan_committee])
    launch(cluster, surabaya)
    launch(cluster, medan)
    [agenda] = wait_until(lambda: mails(smtp, surabaya_committee, "Agenda"), "Surabaya's agenda")
    assert "Hari 1" in agenda.get_body().get_content()

    surabaya_people = register(cluster, surabaya, "Ayu Lestari", "Bagus Wicaksono", "Citra Dewi", "Dimas Aji")
    medan_people = register(cluster, medan, "Eka Siregar", "Fitri Nasution")

    [digest] = wait_until(lambda: mails(smtp, surabaya_committee, "Rekap"), "Surabaya's digest")
    [medan_digest] = wait_until(lambda: mails(smtp, medan_committee, "Rekap"), "Medan's digest")
    header, rows = attachment_rows(digest)
    assert header == list(LIST_COLUMNS) + ["change"]  # no contacts, no ages, no consent
    assert sorted((r["code"], r["full_name"], r["change"]) for r in rows) == sorted(
        (p["code"], p["full_name"], "baru") for p in surabaya_people)
    assert {r["full_name"] for r in attachment_rows(medan_digest)[1]} == {p["full_name"] for p in medan_people}
    # The mail server has it; the service records it as sent a moment later.
    [delivery] = wait_until(lambda: [d for d in deliveries(cluster, rollout_id=surabaya["id"], kind="digest")
                                     if d["status"] == "sent"], "the digest recorded as sent")
    assert (delivery["participant_count"], delivery["channel"]) == (4, "mail")
    assert digest["Message-ID"] == delivery["message_id"]

    # The committee confirms receipt with the link in the mail: it opens a page whose button posts the
    # token from the link's fragment, so the token never travels in a URL the server (or its log) sees.
    link = re.search(r"http://\S+/acknowledge#token=\S+", digest.get_body().get_content()).group(0)
    page_url, token = link.split("#token=")
    page = requests.get(page_url, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "fetch(location.pathname" in page.text and token not in page.text
    assert cluster.get("notification", f"/deliveries/{delivery['id']}").json()["status"] == "sent"  # not yet
    acknowledged = requests.post(page_url, json={"token": token}, timeout=10)
    assert acknowledged.json()["status"] == "acknowledged"
    assert cluster.get("notification", f"/deliveries/{delivery['id']}").json()["status"] == "acknowledged"
    assert token not in cluster.services["notification"].log_path.read_text()
    forged = cluster.post("notification", f"/deliveries/{delivery['id']}/acknowledge", json={"token": "guess"})
    assert forged.status_code == 403 and "token" in forged.text

    DISCLOSED["surabaya"] = (delivery["id"], surabaya_committee, surabaya_people[0]["id"])
    for person in surabaya_people:
        DISCLOSED[person["id"]] = [surabaya_committee]
    for person in medan_people:
        DISCLOSED[person["id"]] = [medan_committee]


def test_webhook_is_signed_retried_and_taken_once(cluster, receiver):
    path = f"/palembang-{cluster.backend}"
    palembang = plan(cluster, "Palembang")
    launch_unannounced(cluster, palembang)
    receiver.script(path, SECRET, [500, 500, 500])
    set_committee(cluster, palembang, webhook_url=receiver.url(path), webhook_secret=SECRET)
    people = register(cluster, palembang, "Gilang Ramadhan")  # one person: one digest, whatever the timing

    [delivery] = wait_until(lambda: [d for d in deliveries(cluster, rollout_id=palembang["id"], kind="digest")
                                     if d["status"] != "queued"], "the digest webhook to be taken")
    detail = cluster.get("notification", f"/deliveries/{delivery['id']}").json()
    assert detail["status"] == "acknowledged"  # a 2xx is the receiver's receipt
    assert [a["outcome"] for a in detail["attempt_log"]] == ["retry", "retry", "retry", "sent"]
    assert detail["attempts"] == 4

    got = receiver.requests_to(path)
    assert [r.status for r in got] == [500, 500, 500, 200]
    assert all(r.signature_valid for r in got)
    assert len({r.idempotency_key for r in got}) == 1
    [taken] = receiver.accepted(path)
    assert sorted(p["code"] for p in taken.body["participants"]) == sorted(p["code"] for p in people)
    assert set(taken.body["participants"][0]) == set(LIST_COLUMNS) | {"change"}
    for person in people:
        DISCLOSED[person["id"]] = [receiver.url(path)]


def test_a_gone_webhook_is_disabled_and_a_failing_one_dead_lettered(cluster, receiver):
    gone, failing = f"/bandung-{cluster.backend}", f"/makassar-{cluster.backend}"
    bandung, makassar = plan(cluster, "Bandung"), plan(cluster, "Makassar")
    for rollout, path, status in ((bandung, gone, 410), (makassar, failing, 500)):
        launch_unannounced(cluster, rollout)
        receiver.script(path, SECRET, then=status)
        set_committee(cluster, rollout, webhook_url=receiver.url(path), webhook_secret=SECRET)
        register(cluster, rollout, "Indra Gunawan")

    def failed(rollout):
        return [d for d in deliveries(cluster, rollout_id=rollout["id"], kind="digest") if d["status"] == "failed"]

    [gone_delivery] = wait_until(lambda: failed(bandung), "Bandung's digest to fail")
    [failed_delivery] = wait_until(lambda: failed(makassar), "Makassar's digest to fail", timeout=60)
    assert gone_delivery["attempts"] == 1 and len(receiver.requests_to(gone)) == 1
    assert cluster.get("notification", f"/rollouts/{bandung['id']}/committee").json()["webhook_enabled"] is False
    assert failed_delivery["attempts"] == SETTINGS["DELIVERY_MAX_ATTEMPTS"]
    assert len(receiver.requests_to(failing)) == SETTINGS["DELIVERY_MAX_ATTEMPTS"]
    assert all(r.signature_valid for r in receiver.received)

    # The coordinator is told of both, and the failed delivery waits in the dead-letter queue.
    alerts = {(a["rollout_id"], a["reason"]) for a in cluster.items("notification", "/alerts")}
    assert {(bandung["id"], "webhook_disabled"), (makassar["id"], "delivery_failed")} <= alerts
    expected = {(bandung["id"], "webhook_disabled"), (makassar["id"], "delivery_failed")}
    queued_alerts = []  # the outbox publishes each alert in its own time: gather until both came

    def both_alerts_queued():
        queued_alerts.extend(drain(cluster.vhost.amqp_uri, "coordinator.alerts"))
        return {(a["rollout_id"], a["reason"]) for a in queued_alerts} >= expected
    wait_until(both_alerts_queued, "both alerts on the coordinator's queue")
    assert len(queued_alerts) == 2
    [dead] = wait_until(lambda: drain(cluster.vhost.amqp_uri, "notification.dead-letters"), "the dead letter")
    assert (dead["delivery_id"], dead["attempts"]) == (failed_delivery["id"], SETTINGS["DELIVERY_MAX_ATTEMPTS"])
    # A disabled webhook is not resent until the committee is set again.
    refused = cluster.post("notification", f"/deliveries/{gone_delivery['id']}/resend")
    assert refused.status_code == 409 and "webhook_url" in refused.text


def test_killed_in_the_middle_of_a_digest_every_participant_is_in_exactly_one(cluster, smtp):
    committee = f"semarang-{cluster.backend}@committee.example"
    semarang = plan(cluster, "Semarang")
    launch_unannounced(cluster, semarang)
    set_committee(cluster, semarang, emails=[committee])
    notification = cluster.services["notification"]
    database = create_engine(notification.env["NOTIFICATION_DATABASE_URL"])

    def waiting_for_a_digest():
        with database.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM participant_changes WHERE rollout_id = :r AND digest IS NULL"),
                {"r": semarang["id"]}).scalar()

    people = register(cluster, semarang, "Joko Susilo", "Kartika Sari", "Lukman Hakim")
    wait_until(lambda: mails(smtp, committee, "Rekap"), "the first digest")
    people += register(cluster, semarang, "Maya Anggraini", "Nanda Putra", "Oki Setiawan")
    wait_until(lambda: waiting_for_a_digest() == 3, "the next window to hold three registrations")
    notification.kill()  # SIGKILL, with a window open
    people += register(cluster, semarang, "Putu Ardana", "Qori Amalia", "Rudi Hartono")
    notification.start()
    notification.wait_ready()

    def listed():
        return [(m["Message-ID"], row["code"]) for m in mails(smtp, committee, "Rekap")
                for row in attachment_rows(m)[1]]

    codes = sorted(p["code"] for p in people)
    wait_until(lambda: sorted({code for _, code in listed()}) == codes, "every participant in a digest", timeout=60)
    wait_until(lambda: all(d["status"] == "sent" for d in deliveries(cluster, rollout_id=semarang["id"])),
               "every digest recorded as sent")
    messages = [m["Message-ID"] for m in mails(smtp, committee, "Rekap")]
    assert len(messages) == len(set(messages))  # no digest came twice
    assert sorted(code for _, code in listed()) == codes  # and nobody is in two
    database.dispose()
    for person in people:
        DISCLOSED[person["id"]] = [committee]


def test_the_audit_answers_who_received_each_participants_data(cluster):
    if not DISCLOSED:
        pytest.skip("needs the tests above in the same run")
    for participant_id, recipients in DISCLOSED.items():
        if participant_id == "surabaya":
            continue
        answer = cluster.items("notification", f"/participants/{participant_id}/disclosures")
        assert [d["recipient"] for d in answer] == recipients, participant_id
        assert all(d["kind"] == "digest" and d["disclosed_at"] for d in answer)
    unknown = cluster.get("notification", "/participants/999999/disclosures")
    assert unknown.status_code == 200 and unknown.json() == {"items": [], "next_cursor": None}


def test_deliveries_are_seen_and_resent_from_the_command_line(cluster, smtp):
    if not DISCLOSED.get("surabaya"):
        pytest.skip("needs the digest test in the same run")
    delivery_id, committee, person = DISCLOSED["surabaya"]
    api = ["--api-url", cluster.url("notification")]
    cli = CliRunner(env={"CAMPAIGN_TOKEN": cluster.token()})  # as a script signs in

    listed = cli.invoke(notifications, ["list", "--kind", "digest", "--status", "acknowledged", *api])
    assert listed.exit_code == 0, listed.output
    assert f"{delivery_id:>5}  acknowledged" in listed.output
    shown = cli.invoke(notifications, ["show", str(delivery_id), *api])
    assert shown.exit_code == 0 and "sent" in shown.output and committee in shown.output

    resent = cli.invoke(notifications, ["resend", str(delivery_id), *api])
    assert resent.exit_code == 0, resent.output
    again = wait_until(lambda: [m for m in mails(smtp, committee, "Rekap") if ".r1@" in m["Message-ID"]],
                       "the resent digest")
    assert len(again) == 1
    wait_until(lambda: len(cluster.items("notification", f"/participants/{person}/disclosures")) == 2,
               "the resend recorded")
    audit = cli.invoke(notifications, ["disclosures", str(person), *api])
    assert audit.exit_code == 0 and audit.output.count(committee) == 2

    missing = cli.invoke(notifications, ["resend", "999999", *api])
    assert missing.exit_code == 1 and "delivery 999999 does not exist" in missing.output


# --- who may redirect a committee's lists, and what is told when someone does ----------------

def test_a_committee_member_or_another_citys_coordinator_cannot_redirect_the_lists(cluster, receiver):
    jambi = plan(cluster, "Jambi")
    people = cluster.people
    member = people.add(f"komite-jambi-{cluster.backend}", "committee_member", "jambi")
    medan = people.add(f"budi-medan-{cluster.backend}", "city_coordinator", "medan")
    redirect = {"webhook_url": receiver.url("/stolen"), "webhook_secret": SECRET}

    assert requests.put(f"{cluster.url('notification')}/rollouts/{jambi['id']}/committee", json=redirect,
                        timeout=30).status_code == 401
    refused = put_committee(cluster, jambi, member, **redirect)
    assert refused.status_code == 403 and refused.json()["error"]["permission"] == "committee:write"
    hidden = put_committee(cluster, jambi, medan, **redirect)
    assert hidden.status_code == 404 and hidden.json()["error"]["field"] == "rollout_id"
    assert cluster.get("notification", f"/rollouts/{jambi['id']}/committee").status_code == 404  # nothing set


@pytest.mark.parametrize("url", ["https://127.0.0.1:8443/hook", "https://10.1.2.3/hook", "https://10.255.0.1/hook",
                                 "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/"])
def test_a_webhook_inside_the_network_is_refused_unless_allow_listed(cluster, url):
    kupang = plan(cluster, "Kupang")
    allowed = url.startswith("https://127.0.0.1")  # the module allow-lists 127.0.0.0/8 for its receiver
    answer = put_committee(cluster, kupang, webhook_url=url, webhook_secret=SECRET)
    if allowed:
        assert answer.status_code == 200, answer.text
        return
    assert answer.status_code == 422, answer.text
    assert list(answer.json()["error"]["fields"]) == ["webhook_url"]
    assert "must be an https URL whose host resolves to public internet addresses" in answer.json()["error"]["message"]


def test_a_committee_change_is_audited_and_announced_to_the_previous_addresses(cluster, smtp, receiver):
    old_mail, new_mail = f"lama-{cluster.backend}@ambon.example", f"baru-{cluster.backend}@ambon.example"
    old_hook, new_hook = f"/ambon-old-{cluster.backend}", f"/ambon-new-{cluster.backend}"
    ambon = plan(cluster, "Ambon")
    coordinator = cluster.people.add(f"ina-ambon-{cluster.backend}", "city_coordinator", "ambon")
    receiver.script(old_hook, SECRET)
    receiver.script(new_hook, SECRET + "-new")
    set_committee(cluster, ambon, coordinator, emails=[old_mail], webhook_url=receiver.url(old_hook),
                  webhook_secret=SECRET)

    moved = set_committee(cluster, ambon, coordinator, emails=[new_mail], webhook_url=receiver.url(new_hook),
                          webhook_secret=SECRET + "-new")
    assert moved["webhook_secret_set"] is True and SECRET not in json.dumps(moved)

    changes = cluster.get("notification", f"/rollouts/{ambon['id']}/committee/changes",
                          headers=cluster.people.headers(coordinator)).json()["items"]
    first, second = changes
    assert (first["changed_by"], first["before"], first["redirects"]) == (coordinator, None, False)
    assert (second["changed_by"], second["redirects"]) == (coordinator, True)
    assert (second["before"]["emails"], second["before"]["webhook_url"]) == ([old_mail], receiver.url(old_hook))
    assert (second["after"]["emails"], second["after"]["webhook_url"]) == ([new_mail], receiver.url(new_hook))
    assert SECRET not in json.dumps(changes)

    # The previous addresses hear of it (by mail and, signed with the secret they know, by webhook); the new don't.
    [notice] = wait_until(lambda: mails(smtp, old_mail, "diubah"), "the notice to the previous address")
    text_of_notice = notice.get_body(("plain",)).get_content()
    assert coordinator in text_of_notice and new_mail in text_of_notice and receiver.url(new_hook) in text_of_notice
    [hooked] = wait_until(lambda: receiver.accepted(old_hook), "the notice to the previous webhook")
    assert hooked.signature_valid and hooked.body["kind"] == "committee_changed"
    assert hooked.body["committee_changed"]["changed_by"] == coordinator
    assert "webhook_secret" not in json.dumps(hooked.body)
    assert mails(smtp, new_mail, "diubah") == [] and receiver.requests_to(new_hook) == []
    for service in ("notification", "identity", "registration"):  # never logged either
        assert SECRET not in cluster.services[service].log_path.read_text()


def test_the_committee_list_no_longer_travels_on_the_broker(cluster, smtp):
    """Every message published or delivered on the vhost, RPC replies included, captured by the firehose."""
    broker, vhost = cluster.vhost.broker, cluster.vhost.name
    connection = pika.BlockingConnection(pika.URLParameters(cluster.vhost.amqp_uri))
    channel = connection.channel()
    capture = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(capture, "amq.rabbitmq.trace", routing_key="#")
    broker.rabbitmqctl("trace_on", "-p", vhost)
    try:
        committee = f"ternate-{cluster.backend}@committee.example"
        ternate = plan(cluster, "Ternate")
        set_committee(cluster, ternate, emails=[committee])
        launch(cluster, ternate)
        names = ["Zainab Tuasikal", "Yusuf Marasabessy", "Wulan Sangaji"]
        register(cluster, ternate, *names)
        closed = cluster.post("registration", f"/rollouts/{ternate['id']}/close-registration")
        assert closed.status_code == 200, closed.text
        [listed] = wait_until(lambda: mails(smtp, committee, "Daftar peserta"), "the list sent at closing")
        assert {r["full_name"] for r in attachment_rows(listed)[1]} == set(names)  # the names did go, by mail
    finally:
        broker.rabbitmqctl("trace_off", "-p", vhost)
    captured = []
    while True:
        method, properties, body = channel.basic_get(capture, auto_ack=True)
        if method is None:
            break
        # The firehose's key is publish.<exchange> or deliver.<queue>; the message's own keys are in a header.
        keys = " ".join([method.routing_key, *(properties.headers or {}).get("routing_keys", [])])
        captured.append((keys, body.decode("utf-8", "replace")))
    connection.close()

    assert any("participant_registered" in key for key, _ in captured), captured[:5]  # it saw the scenario
    assert not [key for key, _ in captured if "committee_list" in key]  # no such RPC any more
    assert not [key for key, body in captured if any(name in body for name in names)]
