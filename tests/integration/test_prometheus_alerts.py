"""A real Prometheus (Debian's package) scrapes the running services with the rules of
deploy/prometheus, and the dead-letter alert fires once a poison message is given up on."""
import json
import shutil
import subprocess
from pathlib import Path

import pika
import pytest
import requests
import yaml

from shared import events
from tests.integration.conftest import running_cluster
from tests.support.cluster import free_port, wait_until

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "rules.yml"


class Prometheus:
    """Prometheus in its own process, scraping ``targets`` every second and evaluating the
    campaign's rules as often."""

    def __init__(self, workdir, targets):
        assert shutil.which("prometheus"), "prometheus is not installed: .ci/run installs Debian's prometheus package"
        workdir = Path(workdir)
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "campaign", "static_configs": [{"targets": targets}]}],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = open(workdir / "prometheus.log", "w")
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address={self.url.removeprefix('http://')}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._answers, "Prometheus to answer", timeout=60, interval=0.2)

    def _answers(self):
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def query(self, expression):
        answer = requests.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=10).json()
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in answer["data"]["result"]}

    def firing(self, alertname):
        alerts = requests.get(f"{self.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        return [a["labels"] for a in alerts if a["labels"]["alertname"] == alertname and a["state"] == "firing"]

    def stop(self):
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@pytest.fixture(scope="module")
def system(tmp_path_factory, smtp):
    workdir = tmp_path_factory.mktemp("prometheus-alerts")
    with running_cluster("sqlite", workdir, smtp, DELIVERY_LIMIT=1) as cluster:
        # Every process, the import worker too: each answers /metrics on its own web port.
        targets = [f"127.0.0.1:{service.port}" for service in cluster.services.values()]
        prometheus = Prometheus(workdir, targets)
        cluster.prometheus = prometheus
        try:
            yield cluster
        finally:
            prometheus.stop()


def test_prometheus_scrapes_every_service_and_the_dead_letter_alert_fires_after_a_poison_message(system):
    prometheus = system.prometheus
    scraped = list(system.services)
    try:
        wait_until(lambda: len(prometheus.query("up == 1")) == len(scraped), "every service scraped", timeout=30)
    except AssertionError:
        raise AssertionError(f"scraped {prometheus.query('up')}, wanted {scraped}") from None
    wait_until(lambda: prometheus.query('campaign_dead_letters{service="reporting"}'), "the dead letters read")
    assert prometheus.firing("CampaignDeadLetters") == []

    valid = events.PARTICIPANT_REGISTERED.create(
        "pontianak", rollout_id=424242, participant_id=990002, participant_code="PON-ALERT",
        session_key="workshop", category="lsm", minor=False)
    poison = {k: v for k, v in valid.items() if k != "category"}  # breaks the contract: no category
    connection = pika.BlockingConnection(pika.URLParameters(system.vhost.amqp_uri))
    connection.channel().basic_publish(
        "registration.events", "participant_registered.pontianak", json.dumps(poison),
        pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=valid["event_id"]))
    connection.close()

    # Both services that consume participant_registered give up on it, each in its own dlq.
    def alerting_services():
        return {labels["service"] for labels in prometheus.firing("CampaignDeadLetters")}
    wait_until(lambda: alerting_services() == {"notification", "reporting"}, "the dead-letter alert", timeout=60)
    assert all(labels["severity"] == "page" for labels in prometheus.firing("CampaignDeadLetters"))
    assert prometheus.firing("CampaignServiceDown") == []
