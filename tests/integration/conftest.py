import copy

import pytest

from campaign.demo import load_rollout
from tests.support.cluster import Cluster, Databases, SmtpServer, Vhost


@pytest.fixture(scope="session")
def vhost():
    vhost = Vhost()
    yield vhost
    vhost.delete()


@pytest.fixture(scope="session")
def smtp(tmp_path_factory):
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request, tmp_path_factory, smtp):
    """The four services in their own processes, on the real broker and database.

    Each module gets its own vhost and databases, so what one test leaves behind
    another never sees.
    """
    workdir = tmp_path_factory.mktemp(f"cluster-{request.param}")
    vhost = Vhost()
    databases = Databases(request.param, workdir)
    cluster = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url, OUTBOX_INTERVAL=0.2)
    cluster.vhost = vhost
    cluster.backend = request.param
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        databases.drop() if databases.created else None
        vhost.delete()


def rollout_for(city_name, committee_email):
    rollout = copy.deepcopy(load_rollout())
    rollout.update(city_name=city_name, venue=city_name, committee_email=committee_email)
    return rollout


@pytest.fixture
def launch(cluster):
    def launch(city_name, committee_email):
        planned = cluster.post("registration", "/rollouts", json=rollout_for(city_name, committee_email))
        assert planned.status_code == 201, planned.text
        launched = cluster.post("registration", f"/rollouts/{planned.json()['id']}/launch")
        assert launched.status_code == 200, launched.text
        return launched.json()
    return launch
