"""Unit tests of the API's document, the gateway's routing and the command line's helpers."""
import json
from datetime import date

import pytest
from werkzeug.test import Client

from campaign.gateway import Gateway, route_map
from campaign.registration_commands import as_template, seed_agenda
from campaign.runner import service_class
from shared import openapi
from shared.config import SERVICES


@pytest.fixture(scope="module")
def document():
    return openapi.document()


def test_the_document_lists_every_declared_operation_of_the_four_services(document):
    declared = {(e.method.lower(), openapi._openapi_path(e.path)[0], service)
                for service in SERVICES for _, _, e in openapi.endpoints(service_class(service))}
    listed = {(m, p, op["tags"][0]) for p, ops in document["paths"].items() for m, op in ops.items()}
    assert listed == declared
    assert {service for _, _, service in listed} == set(SERVICES)


def test_an_operation_documents_its_schemas_statuses_and_path_values(document):
    register = document["paths"]["/rollouts/{rollout_id}/participants"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ParticipantIn"}
    assert register["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ParticipantOut"}
    assert {"404", "409", "422", "4XX"} <= set(register["responses"])
    assert register["parameters"][0] == {"in": "path", "name": "rollout_id", "required": True,
                                         "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}
    listing = document["paths"]["/rollouts"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RolloutPage"}
    assert {p["name"] for p in listing["parameters"]} == {"program", "status", "city", "limit", "cursor"}
    upload = document["paths"]["/rollouts/{rollout_id}/participants/import"]["post"]["requestBody"]
    assert set(upload["content"]) == {"text/csv",
                                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def test_request_schemas_refuse_unknown_fields_and_answers_may_be_null(document):
    schemas = document["components"]["schemas"]
    assert schemas["ParticipantIn"]["additionalProperties"] is False
    assert set(schemas["ParticipantIn"]["required"]) == {"full_name", "category"}
    assert schemas["RolloutOut"]["properties"]["venue"]["nullable"] is True
    assert "nullable" not in schemas["ParticipantIn"]["properties"]["category"]


def test_the_gateway_routes_each_declared_path_to_its_service():
    urls = route_map([service_class(s) for s in SERVICES]).bind("gateway")
    assert urls.match("/api/v1/rollouts/7/participants/import", method="POST")[0] == "registration"
    assert urls.match("/api/v1/submissions", method="POST")[0] == "assessment"
    assert urls.match("/api/v1/participants/3/disclosures", method="GET")[0] == "notification"
    assert urls.match("/api/v1/summaries/medan", method="GET")[0] == "reporting"


def test_the_gateway_answers_its_own_errors_and_the_document():
    client = Client(Gateway({"registration": "http://127.0.0.1:9"}, [service_class(s) for s in SERVICES]))
    assert client.get("/api/v1/openapi.json").json["openapi"] == "3.0.3"
    assert client.get("/api/v1/nowhere").status_code == 404
    assert client.delete("/api/v1/rollouts").status_code == 405
    no_address = client.post("/api/v1/submissions", json={})
    assert (no_address.status_code, no_address.json["error"]["code"]) == (503, "unavailable")
    down = client.get("/api/v1/rollouts")  # nothing listens on port 9
    assert (down.status_code, down.json["error"]["code"]) == (502, "bad_gateway")


def test_the_seed_agenda_moves_to_a_citys_own_dates_without_pontianaks_own_fields():
    agenda = as_template(seed_agenda(), "Medan", date(2020, 3, 10))
    assert (agenda["starts_on"], agenda["ends_on"]) == ("2020-03-10", "2020-03-11")
    assert [s["date"] for s in agenda["sessions"]] == ["2020-03-10", "2020-03-11"]
    assert seed_agenda()["starts_on"] == "2019-05-02"
    # A plan for Medan from the seed: the program's aims and tips, none of Pontianak's mayor, venue,
    # committee, local speakers or story.
    assert agenda["aims"] == seed_agenda()["aims"] and agenda["tips"] == seed_agenda()["tips"]
    assert not {"venue", "province", "committee_email", "committee_name", "background", "findings"} & set(agenda)
    assert "Pontianak" not in json.dumps(agenda)
