"""Each city on its own queues, and nothing lost or done twice when things break."""
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import psycopg2
import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher
from sqlalchemy import Integer
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared import dead_letters, events
from shared.config import load
from shared.consumer import consume_events
from shared.dependencies import Database
from tests.integration.conftest import launcher, running_cluster
from tests.support.cluster import POSTGRES_ADMIN_URL, rabbitmqctl, wait_until
from tests.support.tcp_proxy import TcpProxy

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def system(request, tmp_path_factory, smtp):
    """Reporting runs as two workers, one for Pontianak, one for Medan; registration's
    PostgreSQL connection goes through a proxy the tests can cut."""
    proxies = []

    def prepare(cluster, databases):
        cluster.services["reporting"].env["CITY"] = "pontianak"
        cluster.add_worker("reporting-medan", "reporting", CITY="medan")
        if databases.backend == "postgresql":
            proxy = TcpProxy("127.0.0.1", 5432)
            proxies.append(proxy)
            env = cluster.services["registration"].env
            env["REGISTRATION_DATABASE_URL"] = env["REGISTRATION_DATABASE_URL"].replace(
                "127.0.0.1:5432", f"127.0.0.1:{proxy.port}")

    workdir = tmp_path_factory.mktemp(f"reliability-{request.param}")
    with running_cluster(request.param, workdir, smtp, prepare, DELIVERY_LIMIT=2) as cluster:
        cluster.db_proxy = proxies[0] if proxies else None
        yield cluster
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def launch(system):
    return launcher(system)


def people_csv(prefix, n):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation"])
    writer.writerows((f"{prefix} {i}", "educator", "SMP Negeri 1") for i in range(n))
    return buffer.getvalue().encode()


def participants_in_report(system, rollout):
    """The rollout's participants in reporting's figures; 0 until its launch has reached reporting
    (a rollout reporting has not heard of is not there: 404)."""
    answer = system.get("reporting", f"/reports/{rollout['city']}/figures?rollout_id={rollout['id']}")
    if answer.status_code == 404 and answer.json()["error"].get("field") == "rollout_id":
        return 0
    assert answer.status_code == 200, answer.text
    return answer.json()["participants"]


def handled(system, worker):
    return system.metric(worker, "campaign_events_handled_total", event="participant_registered")


def test_each_city_worker_sees_only_its_city(system, launch):
    pontianak = launch("Pontianak", f"cities-pontianak-{system.backend}@committee.example")
    medan = launch("Medan", f"cities-medan-{system.backend}@committee.example")
    before = {w: handled(system, w) for w in ("reporting", "reporting-medan")}
    for rollout, n in ((pontianak, 3), (medan, 2)):
        imported = system.import_participants(rollout["id"], people_csv(rollout["city"], n))
        assert imported["status"] == "succeeded", imported
    wait_until(lambda: participants_in_report(system, pontianak) == 3 and participants_in_report(system, medan) == 2,
               "both cities' registrations in the report")
    assert handled(system, "reporting") - before["reporting"] == 3
    assert handled(system, "reporting-medan") - before["reporting-medan"] == 2
    queues = system.vhost.queues()
    for city in ("pontianak", "medan", "surabaya", "palembang", "other-cities"):
        assert f"reporting.{city}" in queues  # one queue per city, every kind of event in it


def test_a_poison_message_is_dead_lettered_while_the_rest_flow_then_replayed(system, launch):
    rollout = launch("Pontianak", f"poison-{system.backend}@committee.example")
    good = events.PARTICIPANT_REGISTERED.create(
        "pontianak", rollout_id=rollout["id"], participant_id=990001, participant_code="PON-POISON",
        session_key="workshop", category="lsm", minor=False)
    poison = {k: v for k, v in good.items() if k != "category"}  # breaks the contract: no category
    connection = pika.BlockingConnection(pika.URLParameters(system.vhost.amqp_uri))
    connection.channel().basic_publish(
        "registration.events", "participant_registered.pontianak", json.dumps(poison),
        pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=good["event_id"]))
    connection.close()
    imported = system.import_participants(rollout["id"], people_csv("Sesudah", 4))
    assert imported["status"] == "succeeded", imported

    wait_until(lambda: participants_in_report(system, rollout) == 4, "the messages behind the poison")
    wait_until(lambda: dead_letters.count(system.vhost.amqp_uri, "reporting") == 1, "the poison to be dead-lettered")
    assert system.metric("reporting", "campaign_dead_letters", service="reporting") == 1

    env = {**os.environ, "AMQP_URI": system.vhost.amqp_uri}
    listed = subprocess.run([CAMPAIGN, "dlq", "list", "reporting"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert good["event_id"] in listed.stdout and "participant_registered.pontianak" in listed.stdout

    fixed = Path(system.workdir) / "fixed-event.json"
    fixed.write_text(json.dumps(good))
    replayed = subprocess.run([CAMPAIGN, "dlq", "replay", "reporting", "--event-id", good["event_id"],
                               "--payload", str(fixed)], env=env, capture_output=True, text=True)
    assert replayed.returncode == 0, replayed.stderr
    wait_until(lambda: participants_in_report(system, rollout) == 5, "the replayed event in the report")
    assert dead_letters.count(system.vhost.amqp_uri, "reporting") == 0


def test_a_consumer_killed_mid_stream_loses_nothing(system, launch):
    rollout = launch("Pontianak", f"sigkill-{system.backend}@committee.example")
    imported = system.import_participants(rollout["id"], people_csv("Kill", 300))
    assert imported["status"] == "succeeded", imported
    wait_until(lambda: participants_in_report(system, rollout) > 0, "the stream to start")
    reporting = system.services["reporting"]
    reporting.kill()  # SIGKILL: no goodbye, unacknowledged messages go back to the queue
    reporting.start()
    reporting.wait_ready()
    wait_until(lambda: participants_in_report(system, rollout) == 300, "every participant after the restart",
               timeout=60)


def test_the_broker_dropping_every_connection_loses_nothing(system, launch, smtp):
    rollout = launch("Pontianak", f"dropped-{system.backend}@committee.example")
    imported = system.import_participants(rollout["id"], people_csv("Putus", 300))
    assert imported["status"] == "succeeded", imported
    rabbitmqctl("close_all_connections", "-p", system.vhost.name, "fault test: the broker drops everyone")
    wait_until(lambda: participants_in_report(system, rollout) == 300, "every participant after reconnecting",
               timeout=90)
    closed = wait_until(lambda: _close(system, rollout), "registration to close after reconnecting", timeout=60)
    assert closed.status_code == 200
    mails = wait_until(lambda: [m for m in smtp.messages() if m["To"] == rollout["committee_email"]],
                       "the committee's list")
    wait_until(lambda: system.get("reporting", f"/reports/pontianak/figures?rollout_id={rollout['id']}")
               .json()["notifications"], "the notification to be reported")
    assert len([m for m in smtp.messages() if m["To"] == rollout["committee_email"]]) == len(mails) == 1


def _close(system, rollout):
    answer = system.post("registration", f"/rollouts/{rollout['id']}/close-registration")
    return answer if answer.status_code == 200 else None


def test_the_database_away_for_a_while(system, launch):
    if system.db_proxy is None:
        pytest.skip("SQLite is a file in the service's own process: it cannot go away")
    rollout = launch("Pontianak", f"db-away-{system.backend}@committee.example")
    base = f"/rollouts/{rollout['id']}/participants"
    system.db_proxy.cut()
    try:
        answer = system.post("registration", base, json={"full_name": "Ani", "category": "educator"})
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["message"] == "The database is unavailable; try again shortly."
    finally:
        system.db_proxy.restore()
    answer = wait_until(lambda: (lambda r: r if r.status_code == 201 else None)(
        system.post("registration", base, json={"full_name": "Ani", "category": "educator"})),
        "registration to answer again")
    assert answer.status_code == 201
    wait_until(lambda: participants_in_report(system, rollout) == 1, "the outbox to deliver after the outage")


def registrations_in_read_models(system, rollout):
    """{service: the rollout's registrations in its read model}, read in its database (not its API, which
    answers 503 to a request that meets a dropped connection)."""
    counted = {"notification": "SELECT count(*) FROM participant_changes WHERE rollout_id = %s "
                               "AND change = 'registered'",
               "reporting": "SELECT count(*) FROM participants WHERE rollout_id = %s AND counted"}
    found = {}
    for service, sql in counted.items():
        url = system.env[f"{service.upper()}_DATABASE_URL"].replace("postgresql+psycopg2://", "postgresql://")
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute(sql, (rollout["id"],))
            found[service] = cursor.fetchone()[0]
    return found


def drop_connections(system, *services):
    """The database ends every connection of the services' consumers (as a restart or an operator would)."""
    return terminate_connections(*(system.env[f"{s.upper()}_DATABASE_URL"].rsplit("/", 1)[1] for s in services))


def terminate_connections(*names):
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", (list(names),))
            return cursor.fetchone()[0]
    finally:
        admin.close()


def test_pooled_connections_the_database_drops_mid_stream_are_replaced_losing_nothing(system, launch):
    """Pooled connections are not pinged before each batch: one dropped under a consumer fails that
    batch, which is waited out and tried again on a new connection, never dead-lettered."""
    if system.backend != "postgresql":
        pytest.skip("SQLite has no connections to drop")
    rollout = launch("Pontianak", f"dropped-db-{system.backend}@committee.example")
    services = ("notification", "reporting")
    before = {s: (dead_letters.count(system.vhost.amqp_uri, s),
                  system.metric(s, "campaign_dead_letters", service=s)) for s in services}
    assert drop_connections(system, *services) > 0  # what the pools hold is dead before the stream starts
    submitted = system.post("registration", f"/rollouts/{rollout['id']}/participants/import",
                            data=people_csv("Sambungan", 400))
    assert submitted.status_code == 202, submitted.text
    for _ in range(5):  # and again while the stream flows
        time.sleep(0.3)
        drop_connections(system, *services)
    wait_until(lambda: registrations_in_read_models(system, rollout) == {s: 400 for s in services},
               "every registration in notification and reporting", timeout=90)
    assert {s: (dead_letters.count(system.vhost.amqp_uri, s),
                system.metric(s, "campaign_dead_letters", service=s)) for s in services} == before


class ListenerBase(DeclarativeBase):
    pass


class Heard(ListenerBase):
    __tablename__ = "heard"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(Integer)


def hear(uow, event):
    uow.session.add(Heard(rollout_id=event["rollout_id"]))


class Listener:
    """A consumer alone on its pool: no relay, no timer to meet a dropped connection before its batch does."""

    name = "listener"
    db = Database(ListenerBase.metadata)
    handle_events = consume_events({events.REGISTRATION_CLOSED: hear})


@pytest.fixture
def listener_on_postgresql(tmp_path):
    database = f"campaign_t_{uuid.uuid4().hex[:8]}_listener"
    admin = psycopg2.connect(POSTGRES_ADMIN_URL)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path)})
    config["DATABASE_URLS"]["listener"] = url.replace("postgresql://", "postgresql+psycopg2://")
    container = ServiceContainer(Listener, config)
    container.start()
    try:
        yield container, config, url
    finally:
        container.stop()
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def test_a_batch_meeting_a_dropped_pooled_connection_is_tried_again_on_a_new_one(
        listener_on_postgresql, monkeypatch, caplog):
    container, config, url = listener_on_postgresql
    monkeypatch.setattr("shared.consumer.backoff", lambda attempt: 0.01)
    consumer = next(e for e in container.entrypoints if e.method_name == "handle_events")
    dispatch_event = event_dispatcher(config)

    def heard():  # read past the listener's pool, which must meet the dropped connection itself
        with psycopg2.connect(url) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT rollout_id FROM heard ORDER BY id")
            return [rollout_id for rollout_id, in cursor.fetchall()]

    dispatch_event("registration", events.REGISTRATION_CLOSED.routing_key("medan"),
                   events.REGISTRATION_CLOSED.create("medan", rollout_id=1, participant_count=3))
    wait_until(lambda: heard() == [1], "the first event handled", timeout=10)
    assert terminate_connections(url.rsplit("/", 1)[1]) == 1  # the pooled connection the batch used

    dispatch_event("registration", events.REGISTRATION_CLOSED.routing_key("medan"),
                   events.REGISTRATION_CLOSED.create("medan", rollout_id=2, participant_count=3))
    wait_until(lambda: heard() == [1, 2], "the next event handled on a new connection", timeout=10)
    assert "listener cannot handle events for now (OperationalError)" in caplog.text  # it met the dropped one
    assert "listener handles events again after 1 tries" in caplog.text
    assert consumer.ready and "dead-lettered" not in caplog.text and "tried again" not in caplog.text
