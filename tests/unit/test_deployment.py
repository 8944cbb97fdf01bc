"""docker-compose.yml describes the system as it runs: a broker, a database, four services."""
from pathlib import Path

import yaml

from shared.config import SERVICES

COMPOSE = Path(__file__).parents[2] / "docker-compose.yml"


def test_compose_runs_each_service_on_its_own_database():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"rabbitmq", "postgres", *SERVICES} <= set(services)
    assert "management" in services["rabbitmq"]["image"]
    databases = set()
    for name in SERVICES:
        service = services[name]
        assert service["command"] == [name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["AMQP_URI"].startswith("amqp://")
        databases.add(service["environment"][f"{name.upper()}_DATABASE_URL"])
        assert set(service["depends_on"]) == {"rabbitmq", "postgres"}
    assert len(databases) == len(SERVICES)
