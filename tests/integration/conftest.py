import copy
from contextlib import contextmanager

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


@contextmanager
def running_cluster(backend, workdir, smtp, prepare=None, signed_in=True, **settings):
    """The services in their own processes, on a fresh vhost and fresh databases.

    ``prepare(cluster, databases)`` may add workers or reroute a database before start.
    Requests go as a national coordinator unless ``signed_in`` is False (see Cluster).
    """
    vhost = Vhost()
    databases = Databases(backend, workdir)
    cluster = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url, signed_in=signed_in,
                      **{"OUTBOX_INTERVAL": 0.2, **settings})
    cluster.vhost = vhost
    cluster.backend = backend
    try:
        if prepare is not None:
            prepare(cluster, databases)
        yield cluster.start()
    finally:
        cluster.stop()
        if databases.created:
            databases.drop()
        vhost.delete()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request, tmp_path_factory, smtp):
    """The four services on the real broker and database; each module gets its own."""
    with running_cluster(request.param, tmp_path_factory.mktemp(f"cluster-{request.param}"), smtp) as cluster:
        yield cluster


def rollout_for(city_name, committee_email):
    rollout = copy.deepcopy(load_rollout())
    rollout.update(city_name=city_name, venue=city_name, committee_email=committee_email)
    return rollout


@pytest.fixture
def launch(cluster):
    return launcher(cluster)


def launcher(cluster):
    """launch(city_name, committee_email): a launched rollout of the seed's agenda in that city."""
    def launch(city_name, committee_email):
        planned = cluster.post("registration", "/rollouts", json=rollout_for(city_name, committee_email))
        assert planned.status_code == 201, planned.text
        launched = cluster.post("registration", f"/rollouts/{planned.json()['id']}/launch")
        assert launched.status_code == 200, launched.text
        return launched.json()
    return launch
