"""One city rollout flows end to end through the four services on RabbitMQ."""
import csv
import io
import json

import pika
import requests

from shared import events
from tests.support.cluster import wait_until
from tests.support.summaries import SummarySubscriber, last_release

ACTIVISTS = [
    ("Siti Rahmawati", "educator", "SMP Negeri 3 Pontianak"),
    ("Budi Santoso", "skpd", "Dinas PPA Kota Pontianak"),
    ("Dewi Lestari", "patbm", "PATBM Sungai Bangkong"),
    ("Agus Salim", "unit_ppa", "Polresta Pontianak Kota"),
    ("Rina Wulandari", "lsm", "LPA Kalimantan Barat"),
    ("Yusuf Hidayat", "educator", "SD Negeri 14 Pontianak"),
]


def activists_csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def student(name, school="SMP Negeri 1"):
    return {"full_name": name, "category": "student", "organisation": school,
            "age_band": "13-15", "consent_by": "school"}


def test_a_rollout_flows_from_launch_to_report(cluster, smtp, launch):
    pontianak_subscriber = SummarySubscriber(cluster.vhost.amqp_uri, "summary.*.pontianak")
    everything_subscriber = SummarySubscriber(cluster.vhost.amqp_uri, "summary.#")
    pontianak = launch("Pontianak", f"pontianak-{cluster.backend}@committee.example")
    medan = launch("Medan", f"medan-{cluster.backend}@committee.example")

    # Participants arrive from a spreadsheet and one at a time.
    imported = cluster.import_participants(
        pontianak["id"], activists_csv([(n, c, o, "", "", "", "", "") for n, c, o in ACTIVISTS]))
    assert imported["status"] == "succeeded", imported
    assert imported["result"]["imported"] == len(ACTIVISTS)
    students = ["Putri Ayu", "Rizky Pratama", "Nur Aini", "Fajar Nugroho", "Intan Permata"]
    codes = []
    for name in students:
        answer = cluster.post("registration", f"/rollouts/{pontianak['id']}/participants", json=student(name))
        assert answer.status_code == 201, answer.text
        codes.append(answer.json()["code"])
    medan_people = ["Hendra Siregar", "Maria Simanjuntak"]
    for name in medan_people:
        answer = cluster.post("registration", f"/rollouts/{medan['id']}/participants",
                              json=student(name, "SMP 2 Medan"))
        assert answer.status_code == 201, answer.text

    # Pre- and post-tests are scored.
    instrument = cluster.post("assessment", "/instruments", json={
        "rollout_id": pontianak["id"], "session_key": "socialisation", "title": "Tes", "pass_percent": 50,
        "questions": [
            {"id": "q1", "text": "Kata sandi boleh dibagikan.", "topic": "Kejahatan Siber",
             "kind": "true_false", "answer": False},
            {"id": "q2", "text": "Ke mana melapor?", "topic": "What you(th) can do?", "kind": "multiple_choice",
             "choices": ["lembaga pelaporan", "tidak ke mana-mana"], "answer": "lembaga pelaporan"},
        ],
    })
    assert instrument.status_code == 201, instrument.text
    for code in codes:
        for phase, answers in (("pre", {"q1": True, "q2": "lembaga pelaporan"}),
                               ("post", {"q1": False, "q2": "lembaga pelaporan"})):
            scored = cluster.post("assessment", "/submissions", json={
                "instrument_id": instrument.json()["id"], "participant_code": code,
                "phase": phase, "answers": answers})
            assert scored.status_code == 201, scored.text
            assert scored.json()["score"] == (1 if phase == "pre" else 2)

    for rollout in (pontianak, medan):
        closed = cluster.post("registration", f"/rollouts/{rollout['id']}/close-registration")
        assert closed.status_code == 200, closed.text

    # The committee of each city gets its own list, once, as a CSV attachment.
    def mails_to(address):
        return [m for m in smtp.messages() if m["To"] == address]

    pontianak_mail = wait_until(lambda: mails_to(pontianak["committee_email"]), "Pontianak's committee mail")
    medan_mail = wait_until(lambda: mails_to(medan["committee_email"]), "Medan's committee mail")

    def listed(message):
        attachment = next(message.iter_attachments())
        assert attachment.get_content_type() == "text/csv"
        text = attachment.get_payload(decode=True).decode("utf-8")
        return {row["full_name"] for row in csv.DictReader(io.StringIO(text))}

    assert listed(pontianak_mail[0]) == {n for n, _, _ in ACTIVISTS} | set(students)
    assert listed(medan_mail[0]) == set(medan_people)

    # Reporting keeps the city's figures from the events alone.
    def pontianak_figures():
        figures = cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={pontianak['id']}").json()
        return figures if figures["notifications"] and figures["tests"]["post"]["n"] == 5 else None

    figures = wait_until(pontianak_figures, "Pontianak's figures")
    assert figures["participants"] == len(ACTIVISTS) + len(students)
    assert figures["by_category"] == {"educator": 2, "skpd": 1, "patbm": 1, "unit_ppa": 1, "lsm": 1, "student": 5}
    assert figures["tests"]["pre"]["mean_percent"] == 50.0
    assert figures["tests"]["post"]["mean_percent"] == 100.0
    assert figures["tests"]["gain"] == 1.0

    # Summaries: each city's last release reaches its subscribers, the very messages its snapshot
    # answers; a Pontianak subscriber gets Pontianak's and nothing else.
    wait_until(lambda: cluster.get("reporting", "/reports/national/figures").json()["participants"] == 13,
               "the nation's figures")
    released = {city: last_release(cluster, city) for city in ("pontianak", "medan", "national")}
    pontianak_subscriber.collect_release(released["pontianak"])
    everything_subscriber.collect_release({**released["pontianak"], **released["medan"], **released["national"]})
    assert {k for k, _, _ in pontianak_subscriber.received} <= {
        "summary.participants.pontianak", "summary.tests.pontianak"}
    assert released["pontianak"]["summary.tests.pontianak"]["post"] == {"n": 5, "mean_percent": 100.0}
    assert released["medan"]["summary.participants.medan"]["participants"] == "<5"  # two children: too few
    # ... nor to be worked out as the nation less Pontianak: one of the two is hidden.  Which one
    # depends on the rounds the registrations fell into (docs/reporting.md, "Public figures").
    shown = (released["pontianak"]["summary.participants.pontianak"]["participants"],
             released["national"]["summary.participants.national"]["participants"])
    assert shown in {(11, "x"), ("x", 13), ("x", "x")}, shown
    every_name = {n for n, _, _ in ACTIVISTS} | set(students) | set(medan_people)
    for key, raw, body in pontianak_subscriber.received + everything_subscriber.received:
        assert body["schema_version"] == events.PARTICIPANTS_SUMMARY.version and body["event_id"]
        assert not any(name.encode() in raw for name in every_name), key
    pontianak_subscriber.close()
    everything_subscriber.close()

    # A redelivered event changes nothing: the committee still has exactly one list.
    duplicate_of_close = _outbox_event(cluster, "registration_closed.pontianak")
    seen = _duplicates_seen(cluster, "notification.handle_events")  # the consumer: service.entrypoint
    _publish(cluster.vhost.amqp_uri, "registration.events", "registration_closed.pontianak", duplicate_of_close)
    wait_until(lambda: _duplicates_seen(cluster, "notification.handle_events") > seen,
               "notification to see the redelivered event")
    assert len(mails_to(pontianak["committee_email"])) == 1
    assert len(mails_to(medan["committee_email"])) == 1

    # The audit answers who received a participant's data.
    person = cluster.get("registration", f"/rollouts/{pontianak['id']}/participants").json()["items"][0]
    disclosures = cluster.items("notification", f"/participants/{person['id']}/disclosures")
    assert [d["recipient"] for d in disclosures] == [pontianak["committee_email"]]


def _outbox_event(cluster, routing_key):
    """The payload registration published for ``routing_key``, as a subscriber saw it."""
    from sqlalchemy import create_engine, text
    url = cluster.services["registration"].env["REGISTRATION_DATABASE_URL"]
    with create_engine(url).connect() as connection:
        payload = connection.execute(text("SELECT payload FROM outbox WHERE routing_key = :key"),
                                     {"key": routing_key}).scalar_one()
    return payload


def _publish(amqp_uri, exchange, routing_key, body):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    connection.channel().basic_publish(exchange, routing_key, body,
                                       pika.BasicProperties(content_type="application/json", delivery_mode=2))
    connection.close()


def _duplicates_seen(cluster, consumer):
    metrics = requests.get(cluster.url("notification").replace("/api/v1", "/metrics"), timeout=10).text  # no token
    for line in metrics.splitlines():
        if line.startswith("campaign_duplicate_events_total") and f'consumer="{consumer}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0


def test_bad_input_names_the_field_and_writes_nothing(cluster, launch):
    rollout = launch("Pontianak", "bad-input@committee.example")
    base = f"/rollouts/{rollout['id']}/participants"

    def refused(response, status, field):
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert field in json.dumps(error), error
        assert "Traceback" not in response.text
        return error

    refused(cluster.post("registration", base, json={"category": "educator"}), 422, "full_name")
    refused(cluster.post("registration", base, json={"full_name": "Ani", "category": "teacher"}), 422, "category")
    refused(cluster.post("registration", "/rollouts/999999/participants",
                         json={"full_name": "Ani", "category": "educator"}), 404, "rollout_id")
    refused(cluster.post("registration", base, json={**student("Ani"), "email": "ani@example.org"}), 422, "email")
    refused(cluster.post("registration", base, data="not json"), 400, "body")

    rows = [(f"Peserta {i}", "educator", "SMP 1", "", "", "", "", "") for i in range(1, 10)]
    rows[4] = ("Peserta 5", "guru", "SMP 1", "", "", "", "", "")  # line 6 of the file
    error = cluster.import_participants(rollout["id"], activists_csv(rows))
    assert error["status"] == "failed"
    assert error["errors"] == [{"line": 6, "field": "category", "problem": "Must be one of: educator, skpd, "
                              "patbm, unit_ppa, lsm, forum_anak, student."}]

    assert cluster.get("registration", base).json()["items"] == []  # the first (and only) page
    registered = cluster.post("registration", base, json={"full_name": "Ani", "category": "educator"})
    assert registered.status_code == 201
    # Reporting heard of the one good registration and nothing of the refused ones.
    wait_until(lambda: cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={rollout['id']}")
               .json()["participants"] == 1, "the good registration to reach reporting")
    assert len(cluster.get("registration", base).json()["items"]) == 1
