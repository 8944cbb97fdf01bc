"""The broker as deployed: three RabbitMQ nodes, quorum queues on all three.  Stopping the
node that leads the queues in the middle of a 2,000-participant import loses nothing and
doubles nothing: every participant reaches every read model exactly once."""
import csv
import io
import signal

import psycopg2
import pytest

from tests.integration.conftest import launcher
from tests.support.cluster import Cluster, Databases, wait_until
from tests.support.rabbit_cluster import RabbitCluster

PARTICIPANTS = 2000


@pytest.fixture(scope="module")
def system(tmp_path_factory, smtp):
    workdir = tmp_path_factory.mktemp("broker-cluster")
    broker = RabbitCluster(3)
    databases = Databases("postgresql", workdir)
    services = Cluster(workdir, broker.amqp_uri, databases.urls, smtp.url, OUTBOX_INTERVAL=0.2, CITY="*")
    services.broker = broker
    services.databases = databases
    try:
        yield services.start()
    finally:
        for service in services.services.values():  # all at once: each may take a while to let go
            if service.process and service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        services.stop()
        databases.drop()
        broker.stop()


def people_csv(n):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation"])
    writer.writerows((f"Peserta Klaster {i}", "educator", "SMP Negeri 1") for i in range(n))
    return buffer.getvalue().encode()


def rows(system, service, sql, *args):
    url = system.databases.urls[service].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchall()


def in_report(system, rollout):
    answer = system.get("reporting", f"/reports/{rollout['city']}/figures?rollout_id={rollout['id']}")
    return answer.json()["participants"] if answer.status_code == 200 else 0


def test_stopping_the_node_that_leads_the_queues_mid_import_loses_and_doubles_nothing(system):
    broker = system.broker
    assert len(broker.running_nodes()) == 3
    rollout = launcher(system)("Pontianak", "klaster@committee.example")
    leader = broker.leader_of("reporting.pontianak")

    imported = system.post("registration", f"/rollouts/{rollout['id']}/participants/import",
                           data=people_csv(PARTICIPANTS), timeout=120)
    assert imported.status_code == 202, imported.text  # a job: the worker of the city reads it
    wait_until(lambda: in_report(system, rollout) > 0, "the stream to reach reporting", timeout=60)
    assert in_report(system, rollout) < PARTICIPANTS, "the import was over before the node could be stopped"
    leader.stop()  # mid-stream: the queues elect a leader on another node, the clients reconnect there

    assert leader.name not in broker.running_nodes() and len(broker.running_nodes()) == 2
    assert broker.leader_of("reporting.pontianak").name != leader.name
    wait_until(lambda: in_report(system, rollout) == PARTICIPANTS, "every participant in the report", timeout=120)

    reporting = rows(system, "reporting", "SELECT count(*), count(DISTINCT participant_id) FROM participants "
                     "WHERE rollout_id = %s AND counted", rollout["id"])
    assert reporting == [(PARTICIPANTS, PARTICIPANTS)]

    def notification_changes():
        return rows(system, "notification", "SELECT count(*), count(DISTINCT participant_id) "
                    "FROM participant_changes WHERE rollout_id = %s AND change = 'registered'", rollout["id"])
    wait_until(lambda: notification_changes()[0][1] == PARTICIPANTS, "every participant in notification", timeout=60)
    assert notification_changes() == [(PARTICIPANTS, PARTICIPANTS)]
    assert in_report(system, rollout) == PARTICIPANTS  # and no more arrive later
