"""The API's own description: complete, built without a warning, and its timestamps as it says."""
import warnings

from services.registration.models import Base
from services.registration.repository import RegistrationUnitOfWork
from services.registration.schemas import ParticipantOut
from shared import openapi
from shared.database import Store
from tests.unit.test_registration import ADULT, launched, register


def test_the_document_is_built_without_a_warning():
    openapi.document.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        document = openapi.document()
    assert {"RegistrationImportOut", "AssessmentImportOut"} <= set(document["components"]["schemas"])


def test_a_timestamp_read_back_from_sqlite_is_answered_with_its_time_zone(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'registration.db'}", Base.metadata, unit_of_work=RegistrationUnitOfWork)
    with store.unit_of_work() as uow:
        participant_id = register(uow, launched(uow).id, ADULT).id
    with store.read() as uow:
        answer = ParticipantOut().dump(uow.participants.get(participant_id))
    store.dispose()
    assert answer["registered_at"].endswith("+00:00"), answer["registered_at"]


# The lists that may grow long; any other GET answering an array or a page is checked as well.
LISTS = {"/accounts", "/rollouts", "/rollouts/{rollout_id}/participants", "/rollouts/{rollout_id}/committee-list",
         "/audit", "/rollouts/{rollout_id}/committee/changes", "/deliveries", "/alerts",
         "/participants/{participant_id}/disclosures", "/instruments", "/action-plans"}


def _schema(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_list_operation_declares_limit_and_cursor_and_answers_a_page():
    document = openapi.document()
    found = set()
    for path, methods in document["paths"].items():
        operation = methods.get("get")
        content = (operation or {}).get("responses", {}).get("200", {}).get("content", {})
        answer = _schema(document, content.get("application/json", {}).get("schema", {}))
        if answer.get("type") != "array" and "next_cursor" not in answer.get("properties", {}) and path not in LISTS:
            continue
        found.add(path)
        assert answer.get("type") == "object", f"GET {path} answers every entry at once"
        assert {"items", "next_cursor"} <= set(answer["required"]), path
        assert answer["properties"]["next_cursor"] == {**answer["properties"]["next_cursor"], "type": "string",
                                                       "nullable": True}, path
        parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
        assert {"limit", "cursor"} <= set(parameters), f"GET {path} does not declare limit and cursor"
        limit = parameters["limit"]["schema"]
        assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == ("integer", 1, 1000, 100), path
        assert parameters["cursor"]["schema"]["type"] == "string", path
        assert "400" in operation["responses"], path
    assert LISTS <= found, f"not answered as pages: {LISTS - found}"


def _describes_something(document, schema):
    """Whether an answer's schema says what it holds: fields, typed values, or typed items."""
    schema = _schema(document, schema)
    if schema.get("type") == "array":
        return _describes_something(document, schema.get("items", {}))
    values = schema.get("additionalProperties")
    return bool(schema.get("properties")) or (isinstance(values, dict) and bool(values)) or (
        "type" in schema and schema["type"] != "object")


def test_every_successful_json_answer_is_described():
    document = openapi.document()
    undescribed = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None and not _describes_something(
                        document, content["schema"]):
                    undescribed.append(f"{method.upper()} {path} {status}")
    assert undescribed == []
