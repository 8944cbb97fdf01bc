"""Each service on the broker as its own user, allowed its own queues and exchanges only;
a partner's user allowed summaries only; and no participant's name on the broker at all."""
import json
import os
import secrets
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pika
import pytest

from shared.config import SERVICES
from shared.events import SUMMARY_EXCHANGE
from tests.integration.conftest import running_cluster
from tests.support.cluster import wait_until

PASSWORDS = {user: secrets.token_hex(12) for user in (*SERVICES, "partner")}


def as_user(amqp_uri, user):
    """``amqp_uri`` (an administrator's, with its vhost) for ``user`` instead."""
    parts = urlsplit(amqp_uri)
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORDS[user]}@{parts.hostname}:{parts.port}"))


def broker_setup(vhost):
    node = ["--node", vhost.broker.node] if vhost.broker.node else []
    env = {**os.environ, **{f"{user.upper()}_BROKER_PASSWORD": pw for user, pw in PASSWORDS.items()}}
    done = subprocess.run([sys.executable, "-m", "campaign.cli", "broker", "setup", "--amqp-uri", vhost.amqp_uri,
                           *node], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not any(pw in done.stdout + done.stderr for pw in PASSWORDS.values()), "a password was printed"
    return done


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smtp):
    """The services on SQLite, each connected as its own broker user made by `campaign broker setup`."""
    def own_users(cluster, databases):
        broker_setup(cluster.vhost)
        for name, process in cluster.services.items():
            # A service's worker (registration-imports) connects as its service.
            process.env["AMQP_URI"] = as_user(cluster.vhost.amqp_uri, name.split("-", 1)[0])

    with running_cluster("sqlite", tmp_path_factory.mktemp("broker-users"), smtp, prepare=own_users) as cluster:
        yield cluster


def student(name):
    return {"full_name": name, "category": "student", "organisation": "SMP Negeri 7",
            "age_band": "13-15", "consent_by": "school"}


def refused(action):
    """The broker's refusal of ``action``: its reply code and text."""
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as closed:
        action()
    return closed.value.reply_code, closed.value.reply_text


def test_each_service_connects_as_its_own_user_and_a_registration_goes_end_to_end(cluster, launch):
    connections = cluster.vhost.broker.rabbitmqctl("list_connections", "--quiet", "--no-table-headers",
                                                   "vhost", "user")
    users = {line.split("\t")[1].strip() for line in connections.splitlines()
             if line.split("\t")[0].strip() == cluster.vhost.name}
    assert {"registration", "assessment", "notification", "reporting"} <= users
    assert "guest" not in users

    rollout = launch("Palembang", "palembang@committee.example")
    answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants", json=student("Dian Sastro"))
    assert answer.status_code == 201, answer.text

    def counted():
        figures = cluster.get("reporting", f"/reports/palembang/figures?rollout_id={rollout['id']}").json()
        return figures.get("participants") == 1
    wait_until(counted, "reporting to count the registration")


def test_a_service_user_cannot_read_what_another_service_is_sent(cluster):
    connection = pika.BlockingConnection(pika.URLParameters(as_user(cluster.vhost.amqp_uri, "reporting")))
    try:
        code, text = refused(lambda: connection.channel().basic_get("notification.pontianak"))
        assert code == 403 and "ACCESS_REFUSED" in text
        # reporting reads registration.events, but only the kinds it handles.
        own = connection.channel()
        own.queue_declare("reporting.snoop", durable=True)
        code, text = refused(lambda: own.queue_bind("reporting.snoop", "registration.events",
                                                    routing_key="registration_closed.*"))
        assert code == 403 and "registration_closed" in text
    finally:
        connection.close()


def test_a_partner_consumes_summaries_and_is_refused_registration_events(cluster, launch):
    connection = pika.BlockingConnection(pika.URLParameters(as_user(cluster.vhost.amqp_uri, "partner")))
    channel = connection.channel()
    channel.exchange_declare(SUMMARY_EXCHANGE, exchange_type="topic", passive=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, SUMMARY_EXCHANGE, routing_key="summary.*.medan")

    rollout = launch("Medan", "medan@committee.example")
    for name in ("Hendra Siregar", "Maria Simanjuntak"):
        answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants", json=student(name))
        assert answer.status_code == 201, answer.text

    def summary():
        method, _, body = channel.basic_get(queue, auto_ack=True)
        return (method.routing_key, json.loads(body)) if method else connection.sleep(0.05)
    key, body = wait_until(summary, "a Medan summary for the partner")
    assert key.startswith("summary.") and key.endswith(".medan")
    assert "Hendra" not in json.dumps(body)

    code, text = refused(lambda: channel.queue_bind(queue, "registration.events", routing_key="#"))
    assert code == 403 and "ACCESS_REFUSED" in text and "registration.events" in text
    connection.close()

    connection = pika.BlockingConnection(pika.URLParameters(as_user(cluster.vhost.amqp_uri, "partner")))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        code, text = refused(lambda: channel.queue_bind(queue, SUMMARY_EXCHANGE, routing_key="#"))
        assert code == 403  # even on summaries: "summary." keys only
        code, text = refused(lambda: connection.channel().queue_declare("reporting.partner", durable=True))
        assert code == 403
    finally:
        connection.close()


class Firehose:
    """Every message published or delivered on the vhost (RabbitMQ's tracer), in a queue of the test's."""

    def __init__(self, vhost):
        self.vhost = vhost
        self.connection = pika.BlockingConnection(pika.URLParameters(vhost.amqp_uri))
        self.channel = self.connection.channel()
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, "amq.rabbitmq.trace", routing_key="#")
        vhost.broker.rabbitmqctl("trace_on", "-p", vhost.name)
        self.captured = []  # (routing key of the trace, headers, body)

    def drain(self):
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.captured
            self.captured.append((method.routing_key, properties.headers or {}, body))

    def close(self):
        self.vhost.broker.rabbitmqctl("trace_off", "-p", self.vhost.name)
        self.connection.close()


def test_no_participant_name_crosses_the_broker_in_a_whole_rollout(cluster, launch, smtp):
    firehose = Firehose(cluster.vhost)
    try:
        rollout = launch("Surabaya", "surabaya@committee.example")
        names = ["Ayu Kartika Sari", "Bagus Prasetyo", "Citra Maharani", "Dimas Anggara", "Eka Wulandari",
                 "Fitri Handayani"]
        codes = []
        for name in names:
            answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants", json=student(name))
            assert answer.status_code == 201, answer.text
            codes.append(answer.json()["code"])
        instrument = cluster.post("assessment", "/instruments", json={
            "rollout_id": rollout["id"], "session_key": "socialisation", "title": "Tes", "pass_percent": 50,
            "questions": [{"id": "q1", "text": "Kata sandi boleh dibagikan.", "topic": "Kejahatan Siber",
                           "kind": "true_false", "answer": False}]})
        assert instrument.status_code == 201, instrument.text
        for code in codes:
            for phase, answer in (("pre", True), ("post", False)):
                scored = cluster.post("assessment", "/submissions", json={
                    "instrument_id": instrument.json()["id"], "participant_code": code, "phase": phase,
                    "answers": {"q1": answer}})
                assert scored.status_code == 201, scored.text
        closed = cluster.post("registration", f"/rollouts/{rollout['id']}/close-registration")
        assert closed.status_code == 200, closed.text
        wait_until(lambda: [m for m in smtp.messages() if m["To"] == rollout["committee_email"]],
                   "the committee's list by mail")

        def reported():
            figures = cluster.get("reporting", f"/reports/surabaya/figures?rollout_id={rollout['id']}").json()
            return figures["notifications"] and figures["tests"]["post"]["n"] == len(names)
        wait_until(reported, "reporting's figures of the tests and the committee's list")
        report = cluster.post("reporting", f"/reports/surabaya/activity-report?format=md&rollout_id={rollout['id']}")
        assert report.status_code in (200, 201), report.text

        captured = wait_until(lambda: [m for m in firehose.drain() if m[0] == "publish.campaign.summaries"]
                              and firehose.captured, "the summaries on the firehose")
    finally:
        firehose.close()

    published = {key for key, _, _ in captured}
    assert {"publish.registration.events", "publish.assessment.events", "publish.notification.events"} <= published
    # RPC replies go through the same exchange as requests: each request seen has its reply.
    rpc = [headers.get("properties", {}) for key, headers, _ in captured if key == "publish.nameko-rpc"]
    requests_ = {p.get("correlation_id") for p in rpc if p.get("reply_to")}
    replies = {p.get("correlation_id") for p in rpc if not p.get("reply_to")}
    assert requests_ <= replies

    forms = [f.encode() for name in names for f in (name, json.dumps(name)[1:-1])]
    carrying = [(key, body[:200]) for key, headers, body in captured
                if any(form in body or form in repr(headers).encode() for form in forms)]
    assert carrying == []
