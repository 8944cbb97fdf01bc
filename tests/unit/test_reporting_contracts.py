"""The summary events' public contract: JSON Schemas in schemas/, the AsyncAPI document, matching."""
import json
from pathlib import Path

import pytest
import yaml

from campaign.reporting_commands import _matches
from services.reporting import contracts, publication
from services.reporting.fakes import FakeReportingUnitOfWork
from shared import events
from tests.unit.test_reporting import a_season_of_events, deliver

ROOT = Path(__file__).resolve().parents[2]
SUMMARIES = [kind for kind in events.CATALOGUE if kind.public]


@pytest.fixture
def season():
    return deliver(FakeReportingUnitOfWork(), *a_season_of_events())


@pytest.mark.parametrize("kind", SUMMARIES, ids=lambda kind: kind.name)
def test_each_summary_kind_has_a_schema_that_names_the_same_fields(kind):
    schema = json.loads(contracts.schema_path(kind.name, kind.version).read_text())
    assert set(schema["required"]) == set(schema["properties"]) == set(kind.schema().fields)
    assert schema["properties"]["schema_version"] == {"const": kind.version}


def test_every_published_summary_validates_against_its_schema(season):
    publication.publish_changed_summaries(season)
    published = [(payload["city"], payload) for payload in season.emitted]

    assert {city for city, _ in published} == {"pontianak", "medan", "national"}
    kinds = {summary.name: summary for summary in SUMMARIES}
    for city, payload in published:
        kind = "participants" if "participants" in payload else "tests"
        body = json.loads(json.dumps(payload))
        assert contracts.problems(kinds[kind].routing_key(city), body) == []


def test_the_schema_refuses_small_cells_names_and_a_wrong_city(season):
    kind, fields = publication.public_summaries(season, "medan")[0]
    body = json.loads(json.dumps(kind.create("medan", **fields)))
    key = kind.routing_key("medan")

    assert contracts.problems(key, {**body, "participants": 3})        # must have been "<5"
    assert contracts.problems(key, {**body, "full_name": "Putri Ayu"})  # nothing but the contract's fields
    assert contracts.problems(kind.routing_key("pontianak"), body)       # the body's city is the key's
    assert contracts.problems(key, {**body, "schema_version": 9}) == ["no schema for summary.participants version 9"]


def test_the_asyncapi_document_describes_every_summary_with_its_schema():
    document = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
    channels = document["channels"]
    for kind in SUMMARIES:
        channel = channels[f"summary.{kind.name}.{{city}}"]
        assert channel["bindings"]["amqp"]["exchange"]["name"] == events.SUMMARY_EXCHANGE
        message = document["components"]["messages"][channel["subscribe"]["message"]["$ref"].rsplit("/", 1)[1]]
        schema_file = (ROOT / "docs" / message["payload"]["$ref"]).resolve()
        assert schema_file == contracts.schema_path(kind.name, kind.version)
        for example in message["examples"]:
            assert contracts.problems(kind.routing_key(example["payload"]["city"]), example["payload"]) == []


@pytest.mark.parametrize("pattern, key, matched", [
    ("summary.*.pontianak", "summary.tests.pontianak", True),
    ("summary.*.pontianak", "summary.tests.medan", False),
    ("summary.#", "summary.tests.national", True),
    ("summary.tests.*", "summary.participants.medan", False),
    ("#", "summary.tests.medan", True),
])
def test_topic_patterns_match_as_the_broker_does(pattern, key, matched):
    assert _matches(pattern, key) is matched
