"""Faults that pass are waited out; only a message that can never succeed is dead-lettered.

The services each in their own process on PostgreSQL and a RabbitMQ node of this module's
own (so stopping it for a minute disturbs no other test).  Each consumer's database is
reached through a TCP proxy the tests cut.  Every scenario imports 2,000 participants and
ends with each of them in every read model exactly once, and no dead letter.

``CAMPAIGN_FAULT_SECONDS`` shortens the outages (60 s, as the issue asks) while working
on these tests.
"""
import csv
import io
import json
import os
import signal
import time
from functools import partial

import pika
import psycopg2
import pytest
import requests

from shared import dead_letters, events
from shared.consumer import BATCH
from tests.integration.conftest import launcher
from tests.integration.test_access_control import QUESTIONS
from tests.support import broker_node
from tests.support.cluster import Cluster, Databases, Vhost, wait_until
from tests.support.tcp_proxy import TcpProxy

PARTICIPANTS = 2000
OUTAGE = float(os.environ.get("CAMPAIGN_FAULT_SECONDS", "60"))
CONSUMERS = ("assessment", "notification", "reporting")
ON_THE_BROKER = ("registration", *CONSUMERS)  # identity needs none
PREFETCH = 2 * BATCH  # what the broker may have sent a consumer unacknowledged
STOP_DEADLINE = 10.0  # seconds a service may take to exit on SIGTERM


@pytest.fixture(scope="module")
def system(tmp_path_factory, smtp):
    workdir = tmp_path_factory.mktemp("faults")
    with broker_node.private_node() as node:
        databases = Databases("postgresql", workdir)
        proxies = {service: TcpProxy("127.0.0.1", 5432) for service in CONSUMERS}
        vhost = Vhost(node.broker)
        services = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url,
                           OUTBOX_INTERVAL=0.2, DELIVERY_LIMIT=2)
        for service, proxy in proxies.items():
            env = services.services[service].env
            key = f"{service.upper()}_DATABASE_URL"
            env[key] = env[key].replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        services.vhost = vhost
        services.node, services.databases, services.proxies = node, databases, proxies
        services.amqp_uri = services.env["AMQP_URI"]
        try:
            yield services.start()
        finally:
            for service in services.services.values():  # all at once: each may take a while to let go
                if service.process and service.process.poll() is None:
                    service.process.send_signal(signal.SIGTERM)
            services.stop()
            databases.drop()
            for proxy in proxies.values():
                proxy.close()


# --- what the tests read ---------------------------------------------------------------

def rows(system, service, sql, *args):
    """Straight from the service's database (never through its proxy, so also during an outage)."""
    url = system.databases.urls[service].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


def in_read_models(system, rollout):
    """{read model: (rows, distinct participants)} of the rollout's registrations."""
    return {
        "reporting": rows(system, "reporting", "SELECT count(*), count(DISTINCT participant_id) FROM participants "
                          "WHERE rollout_id = %s AND counted", rollout["id"])[0],
        "notification": rows(system, "notification", "SELECT count(*), count(DISTINCT participant_id) "
                             "FROM participant_changes WHERE rollout_id = %s AND change = 'registered'",
                             rollout["id"])[0],
    }


def assert_each_exactly_once(system, rollout, expected, dead_lettered=0):
    """Every participant reaches every read model, then no more arrive, and nothing was dead-lettered
    (or only the ``dead_lettered`` messages that could never succeed)."""
    wait_until(lambda: all(count == expected for count, _ in in_read_models(system, rollout).values()),
               f"{expected} participants in every read model", timeout=180, interval=0.5)
    assert system.get("reporting", f"/reports/{rollout['city']}/figures?rollout_id={rollout['id']}") \
        .json()["participants"] == expected
    wait_until(lambda: outbox_pending(system) == 0, "every outbox to be published", timeout=60)
    assert in_read_models(system, rollout) == {"reporting": (expected, expected),
                                               "notification": (expected, expected)}
    assert dead_letter_counts(system) == {service: dead_lettered for service in ("notification", "reporting")} \
        | {"assessment": 0}


def outbox_pending(system):
    return sum(rows(system, service, "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]
               for service in ("registration", "assessment", "notification", "reporting"))


def dead_letter_counts(system):
    return {service: dead_letters.count(system.amqp_uri, service) for service in CONSUMERS}


def readiness(system, key):
    try:
        return requests.get(f"http://127.0.0.1:{system.services[key].port}/health/ready", timeout=10)
    except (requests.ConnectionError, requests.Timeout):  # no answer yet: asked again
        return None


def ready(system, key):
    answer = readiness(system, key)
    return answer is not None and answer.status_code == 200


def not_ready(system, key):
    answer = readiness(system, key)
    return answer is not None and answer.status_code == 503


def wait_for_each(system, keys, condition, what, timeout=30):
    for key in keys:
        try:
            wait_until(partial(condition, system, key), f"{key} {what}", timeout=timeout)
        except AssertionError as timed_out:  # say what the service said of itself, and its last lines
            answer = readiness(system, key)
            said = answer.text if answer is not None else "no answer"
            log = system.services[key].log_path.read_text(errors="replace").splitlines()[-15:]
            raise AssertionError(f"{timed_out}; /health/ready: {said}; its log ends:\n" + "\n".join(log)) from None


def people_csv(prefix, n=PARTICIPANTS):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation"])
    writer.writerows((f"{prefix} {i}", "educator", "SMP Negeri 1") for i in range(n))
    return buffer.getvalue().encode()


def committee(system, rollout):
    """Setting a committee asks registration (over RPC) about the rollout: it needs the broker."""
    return system.put("notification", f"/rollouts/{rollout['id']}/committee",
                      json={"emails": [f"komite-{rollout['id']}@committee.example"]})


def start_import(system, rollout, prefix):
    """Import the participants and return once the stream reaches reporting, still under way."""
    imported = system.post("registration", f"/rollouts/{rollout['id']}/participants/import",
                           data=people_csv(prefix), timeout=120)
    assert imported.status_code == 202, imported.text  # a job: the worker of the city reads it
    wait_until(lambda: in_read_models(system, rollout)["reporting"][0] > 0, "the stream to reach reporting",
               timeout=60, interval=0.02)


def queue_state(system, queue):
    """(ready, unacknowledged) messages of a queue, from the broker."""
    out = system.node.broker.rabbitmqctl("list_queues", "-p", system.vhost.name, "--quiet", "--no-table-headers",
                                         "name", "messages_ready", "messages_unacknowledged")
    found = {line.split()[0]: tuple(map(int, line.split()[1:])) for line in out.strip().splitlines() if line.strip()}
    return found[queue]


def handled(system, service):
    return system.metric(service, "campaign_city_events_handled_total", service=service, city="pontianak")


def terminate(system, keys):
    """SIGTERM to each process at once; {key: seconds it took to exit}, each having exited cleanly."""
    processes = {key: system.services[key].process for key in keys}
    asked = time.monotonic()
    for process in processes.values():
        process.send_signal(signal.SIGTERM)
    exited = {}
    while len(exited) < len(processes) and time.monotonic() - asked < 30:
        for key, process in processes.items():
            if key not in exited and process.poll() is not None:
                exited[key] = time.monotonic() - asked
        time.sleep(0.05)
    assert set(exited) == set(processes), f"still running 30 s after SIGTERM: {set(processes) - set(exited)}"
    assert {key: process.returncode for key, process in processes.items()} == {key: 0 for key in processes}
    return exited


def during(seconds, check):
    """Run ``check`` over and over for ``seconds``: what must hold for as long as an outage lasts."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        check()
        time.sleep(1)


@pytest.fixture(scope="module")
def launch(system):
    return launcher(system)


# --- the scenarios ---------------------------------------------------------------------

def test_each_consumers_database_away_for_a_minute_mid_import_is_waited_out(system, launch):
    rollout = launch("Pontianak", "db-away@committee.example")
    start_import(system, rollout, "Basis Data")
    for proxy in system.proxies.values():
        proxy.cut()
    at_cut = in_read_models(system, rollout)
    assert min(count for count, _ in at_cut.values()) < PARTICIPANTS, "the stream was over before the cut"
    try:
        # Launched while the consumers' databases are away: each of them has an event to wait on.
        later = launch("Medan", "db-away-medan@committee.example")
        wait_for_each(system, CONSUMERS, not_ready, "to say it is not ready")
        assert "database" in json.dumps(readiness(system, "reporting").json())
        figures = system.get("reporting", f"/reports/pontianak/figures?rollout_id={rollout['id']}")
        assert figures.status_code == 503
        assert figures.json()["error"]["message"] == "The database is unavailable; try again shortly."
        assert system.get("registration", f"/rollouts/{rollout['id']}").status_code == 200  # its own database

        # Each consumer holds what it was sent (no more than its prefetch) and handles nothing.
        before = {service: handled(system, service) for service in ("notification", "reporting")}

        def nothing_taken_or_given_up():
            assert dead_letter_counts(system) == {service: 0 for service in CONSUMERS}
            for service in ("notification", "reporting"):
                assert handled(system, service) == before[service]
                _, in_hand = queue_state(system, f"{service}.pontianak")
                assert in_hand <= PREFETCH
        during(OUTAGE, nothing_taken_or_given_up)
    finally:
        for proxy in system.proxies.values():
            proxy.restore()

    wait_for_each(system, CONSUMERS, ready, "to be ready again by itself", timeout=60)
    assert_each_exactly_once(system, rollout, PARTICIPANTS)
    # The rollout launched during the outage reached each consumer too.
    wait_until(lambda: rows(system, "assessment", "SELECT count(*) FROM sessions WHERE rollout_id = %s",
                            later["id"])[0][0] > 0, "assessment to learn the rollout launched meanwhile")
    wait_until(lambda: rows(system, "notification", "SELECT count(*) FROM rollout_sessions WHERE rollout_id = %s",
                            later["id"])[0][0] > 0, "notification to learn the rollout launched meanwhile")


def test_the_broker_node_stopped_for_a_minute_mid_stream_is_waited_out(system, launch):
    rollout = launch("Pontianak", "broker-away@committee.example")
    instrument = wait_until(lambda: (lambda r: r.json()["id"] if r.status_code == 201 else None)(
        system.post("assessment", "/instruments", json={
            "rollout_id": rollout["id"], "session_key": "socialisation", "title": "Pra-tes",
            "questions": QUESTIONS})), "assessment to hear of the launch")
    start_import(system, rollout, "Pialang")
    system.node.stop_node()  # the node itself, not only its connections: queues and all
    stopped = time.monotonic()
    try:
        # What needs only a service's own database keeps answering; its events wait in the outbox.
        registered = system.post("registration", f"/rollouts/{rollout['id']}/participants",
                                 json={"full_name": "Ani Selama Pemadaman", "category": "educator"})
        assert registered.status_code == 201, registered.text
        assert rows(system, "registration", "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0] >= 1
        figures = system.get("reporting", f"/reports/pontianak/figures?rollout_id={rollout['id']}")
        assert figures.status_code == 200, figures.text
        # What needs the broker says so: a test entry asks registration (over RPC) whose code it is.
        refused = system.post("assessment", "/submissions", json={
            "instrument_id": instrument, "participant_code": "PON-ABCDE", "phase": "pre",
            "answers": {"q1": True, "q2": True}}, timeout=60)
        assert refused.status_code == 503, refused.text
        message = refused.json()["error"]["message"]
        assert "broker is unavailable" in message or "did not answer" in message, message
        wait_for_each(system, ON_THE_BROKER, not_ready, "to say it is not ready")
        signing_in = system.post("identity", "/auth/token", json={"username": "nobody", "password": "wrong"})
        assert signing_in.status_code == 401, signing_in.text  # identity needs no broker: it answers
        assert "broker" in json.dumps(readiness(system, "reporting").json())
        # A stop while the broker is away has nothing to give back and keeps its deadline all the same.
        assert terminate(system, ["reporting"])["reporting"] < STOP_DEADLINE
        during(OUTAGE - (time.monotonic() - stopped), lambda: None)
    finally:
        system.node.start_node()
    system.services["reporting"].start()
    system.services["reporting"].wait_ready()

    wait_for_each(system, ON_THE_BROKER, ready, "to reconnect by itself", timeout=90)
    answer = wait_until(lambda: (lambda r: r if r.status_code == 200 else None)(committee(system, rollout)),
                        "RPC to registration to work again", timeout=90)
    assert answer.json()["emails"] == [f"komite-{rollout['id']}@committee.example"]
    assert_each_exactly_once(system, rollout, PARTICIPANTS + 1)


def test_sigterm_to_each_service_mid_stream_stops_it_within_ten_seconds_losing_and_doubling_nothing(
        system, launch):
    rollout = launch("Pontianak", "sigterm@committee.example")
    start_import(system, rollout, "Berhenti")
    try:
        # Read as the signals go: a graceful stop finishes what each consumer holds, so the read
        # models may well be whole once every process has exited.
        at_the_signal = in_read_models(system, rollout)
        exited = terminate(system, list(system.services))
        assert {key: seconds for key, seconds in exited.items() if seconds > STOP_DEADLINE} == {}
        assert min(count for count, _ in at_the_signal.values()) < PARTICIPANTS, "the stream was over before the stop"
    finally:
        system.stop()  # whatever did not stop goes now, so the next test finds every process started afresh
        system.start()  # each process again, on its port; each picks up where it stopped
    assert_each_exactly_once(system, rollout, PARTICIPANTS)


def test_a_message_breaking_its_contract_is_still_dead_lettered_after_the_limit(system, launch):
    rollout = launch("Pontianak", "poison@committee.example")
    good = events.PARTICIPANT_REGISTERED.create(
        "pontianak", rollout_id=rollout["id"], participant_id=990001, participant_code="PON-RACUN",
        session_key="workshop", category="lsm", minor=False)
    poison = {k: v for k, v in good.items() if k != "category"}  # no category: it can never be handled
    connection = pika.BlockingConnection(pika.URLParameters(system.amqp_uri))
    connection.channel().basic_publish(
        "registration.events", "participant_registered.pontianak", json.dumps(poison),
        pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=good["event_id"]))
    connection.close()
    imported = system.post("registration", f"/rollouts/{rollout['id']}/participants/import",
                           data=people_csv("Sesudah Racun"), timeout=120)
    assert imported.status_code == 202, imported.text  # a job: the worker of the city reads it

    assert_each_exactly_once(system, rollout, PARTICIPANTS, dead_lettered=1)
    for service in ("notification", "reporting"):
        assert system.metric(service, "campaign_dead_letters", service=service) == 1
        assert system.metric(service, "campaign_dead_lettered_total", service=service) == 1
    assert system.metric("assessment", "campaign_dead_letters", service="assessment") == 0
