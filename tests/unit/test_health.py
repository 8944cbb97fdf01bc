"""/health/live and /health/ready: what a Kubernetes probe asks a service, in a nameko container, the
import worker and the gateway."""
import pytest
import requests
from nameko.containers import ServiceContainer
from prometheus_client import REGISTRY
from sqlalchemy import Integer, create_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.test import Client

from campaign.gateway import Gateway
from services.registration.import_worker import RegistrationImportWorker
from shared import events
from shared.auth import PUBLIC
from shared.config import load
from shared.consumer import CityQueueConsumer, EventConsumer, consume_events
from shared.dependencies import Database
from shared.health import HealthEndpoints
from shared.web import api
from tests.support.cluster import free_port


class Base(DeclarativeBase):
    pass


class Seen(Base):
    __tablename__ = "seen"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Watcher(HealthEndpoints):
    name = "watcher"
    db = Database(Base.metadata)
    handle_events = consume_events({events.ROLLOUT_CANCELLED: lambda uow, event: None})

    @api("GET", "/explode", permission=PUBLIC)
    def explode(self, request):
        raise RuntimeError("a bug")


@pytest.fixture(scope="module")
def watcher(tmp_path_factory):
    # One container for the module (stopping one takes the memory transport two seconds);
    # each test puts back what it breaks.
    tmp_path = tmp_path_factory.mktemp("watcher")
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"})
    config["DATABASE_URLS"]["watcher"] = f"sqlite:///{tmp_path / 'watcher.db'}"
    config["HEALTH_TIMEOUT"] = 1
    container = ServiceContainer(Watcher, config)
    container.start()
    yield container
    container.stop()


def probe(container, path):
    # Connection: close, so the server stops at once at the end of the test.
    return requests.get(f"http://{container.config['WEB_SERVER_ADDRESS']}{path}", timeout=10,
                        headers={"Connection": "close"})


def test_a_service_whose_database_and_broker_answer_is_live_and_ready(watcher):
    assert probe(watcher, "/health/live").status_code == 200
    ready = probe(watcher, "/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "services": {"watcher": "ready"}}


def test_a_service_whose_database_does_not_answer_is_live_but_not_ready(watcher, tmp_path, monkeypatch):
    store = next(d for d in watcher.dependencies if isinstance(d, Database)).store
    monkeypatch.setattr(store, "engine", create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'watcher.db'}"))
    assert probe(watcher, "/health/live").status_code == 200
    ready = probe(watcher, "/health/ready")
    assert ready.status_code == 503
    assert ready.json()["services"]["watcher"] == ["database unavailable (OperationalError)"]


def test_a_service_whose_consumer_waits_out_an_outage_is_not_ready_until_it_recovers(watcher, monkeypatch):
    consumer = next(e for e in watcher.entrypoints if isinstance(e, EventConsumer))
    monkeypatch.setattr(consumer, "outage", 2)  # as after two transient failures in a row
    waiting = probe(watcher, "/health/ready")
    assert waiting.status_code == 503
    assert waiting.json()["services"]["watcher"] == ["event consumer waiting out an outage"]
    consumer.outage = 0
    assert probe(watcher, "/health/ready").status_code == 200


def test_a_service_whose_broker_connection_is_down_is_not_ready(watcher, monkeypatch):
    queue_consumer = next(e for e in watcher.extensions if isinstance(e, CityQueueConsumer))
    monkeypatch.setattr(queue_consumer, "connected", False)  # as between a lost connection and the next one
    down = probe(watcher, "/health/ready")
    assert down.status_code == 503
    assert down.json()["services"]["watcher"] == ["broker connection down"]


def test_an_answer_that_fails_on_the_server_side_is_counted_for_the_5xx_alert(watcher):
    def count():
        return REGISTRY.get_sample_value("campaign_http_responses_total", {"service": "watcher", "code": "5xx"}) or 0
    before = count()
    assert probe(watcher, "/api/v1/explode").status_code == 500
    assert probe(watcher, "/health/live").status_code == 200
    assert count() == before + 1


def test_the_import_worker_in_a_process_of_its_own_answers_probes_and_prometheus(tmp_path):
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"})
    worker = ServiceContainer(RegistrationImportWorker, config)
    worker.start()
    try:
        assert probe(worker, "/health/live").status_code == 200
        ready = probe(worker, "/health/ready")
        assert ready.json() == {"status": "ready", "services": {"registration_imports": "ready"}}, ready.text
        metrics = probe(worker, "/metrics")
        assert metrics.status_code == 200 and "campaign_http_responses_total" in metrics.text
    finally:
        worker.stop()


def test_the_gateway_answers_its_probes_and_prometheus_itself():
    gateway = Client(Gateway({}, []))  # no service behind it: the probes still answer

    def count(code):
        return REGISTRY.get_sample_value("campaign_http_responses_total", {"service": "gateway", "code": code}) or 0
    before = count("4xx")
    assert gateway.get("/health/live").json == {"status": "live"}
    assert gateway.get("/health/ready").json == {"status": "ready"}
    assert gateway.get("/api/v1/rollouts").status_code == 404
    assert count("4xx") == before + 1
    assert 'service="gateway"' in gateway.get("/metrics").text
