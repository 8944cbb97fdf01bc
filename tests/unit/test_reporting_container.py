"""The reporting service class in a nameko container: in-process transport, SQLite in tmp_path."""
import json
import socket
from pathlib import Path

import jsonschema
import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter

from services.reporting.service import ReportingService
from shared import events
from shared.config import load
from tests.support.in_process import empty_memory_broker
from tests.support.tokens import session
from tests.unit.test_reporting import (
    change_event,
    event,
    participant_event,
    plan_event,
    rollout_event,
    score_event,
)

SCHEMAS = Path(__file__).parents[2] / "schemas"  # the summaries' contracts with their subscribers
http = session()  # a national coordinator's tokens, fresh for each request


def free_address():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(scope="module")
def container_factory(tmp_path_factory):
    """Containers of a service class on ``memory://``, each with SQLite files in a directory of its own."""
    made = []
    empty_memory_broker()

    def make(service_class):
        data_dir = tmp_path_factory.mktemp(service_class.name)
        config = load({"CAMPAIGN_DATA_DIR": str(data_dir), "WEB_SERVER_ADDRESS": free_address()})
        container = ServiceContainer(service_class, config)
        made.append(container)
        return container

    yield make
    for container in made:
        container.stop()


@pytest.fixture(scope="module")
def reporting(container_factory):
    """One container for this module's tests (stopping one takes seconds): each test has its own cities."""
    container = container_factory(ReportingService)
    container.start()
    return container


def publish(container, *delivered):
    """Publish events as their producers' relays do, and wait until reporting has handled them."""
    send = event_dispatcher(container.config)
    for kind, payload in delivered:
        with entrypoint_waiter(container, "handle_events", timeout=10):
            send(kind.source, kind.routing_key(payload["city"]), payload)


def api(container, path):
    return f"http://{container.config['WEB_SERVER_ADDRESS']}/api/v1{path}"


def test_events_handled_through_consume_events_land_in_the_read_models(reporting):
    publish(reporting, rollout_event(1), participant_event(1), participant_event(2, "educator"),
            score_event(1, "C1", "pre", 4))

    figures = http.get(api(reporting, "/reports/pontianak/figures"), timeout=10).json()
    assert [r["rollout_id"] for r in figures["rollouts"]] == [1]
    assert figures["by_category"] == {"educator": 1, "student": 1}
    assert figures["tests"]["pre"] == {"n": 1, "mean_percent": 40.0, "passed": 0}


def test_the_http_entrypoints_answer_and_name_a_bad_query_parameter(reporting):
    publish(reporting, rollout_event(11, "medan", "Medan"), participant_event(11, rollout_id=11, city="medan"),
            rollout_event(12, "surabaya", "Surabaya"))

    exact = http.get(api(reporting, "/reports/medan/tables/categories.csv"), timeout=10)
    assert exact.status_code == 200 and exact.text.splitlines()[1] == "Pelajar,1"
    with entrypoint_waiter(reporting, "publish_summaries", timeout=10):  # the next round releases Medan
        pass
    public = http.get(api(reporting, "/reports/medan/tables/categories.csv?public=yes"), timeout=10)
    assert public.text.splitlines()[1] == "Pelajar,<5"
    assert http.get(api(reporting, "/summaries/atlantis"), timeout=10).status_code == 404

    for path, field in (("/reports/medan/figures?rollout_id=zero", "rollout_id"),
                        ("/reports/medan/tables/categories.csv?lang=fr", "lang"),
                        ("/reports/medan/export.xlsx?publc=1", "publc")):
        refused = http.get(api(reporting, path), timeout=10)
        assert refused.status_code == 422, path
        assert list(refused.json()["error"]["fields"]) == [field]

    elsewhere = http.get(api(reporting, "/reports/medan/figures?rollout_id=12"), timeout=10)
    assert elsewhere.status_code == 404 and elsewhere.json()["error"]["field"] == "rollout_id"


def test_the_openapi_document_describes_the_query_parameters(reporting):
    document = http.get(api(reporting, "/openapi.json"), timeout=10).json()
    parameters = {p["name"]: p for p in document["paths"]["/reports/{city}/activity-report"]["post"]["parameters"]}
    assert set(parameters) == {"city", "lang", "format", "rollout_id", "public"}
    assert parameters["lang"]["schema"]["enum"] == ["id", "en"]
    assert {p["name"] for p in document["paths"]["/reports/{city}/export.xlsx"]["get"]["parameters"]} == {
        "city", "lang", "public", "rollout_id"}


def test_the_rollout_figures_a_report_to_download_and_the_dead_letters_answer_over_http(reporting):
    publish(reporting, rollout_event(21, "palembang", "Palembang"), participant_event(21, rollout_id=21,
                                                                                      city="palembang"))

    side_by_side = http.get(api(reporting, "/reports/palembang/rollout-figures"), timeout=10).json()
    assert [(r["rollout_id"], r["by_session"]) for r in side_by_side["rollouts"]] == [
        (21, {"socialisation": {"student": 1}})]
    markdown = http.get(api(reporting, "/reports/palembang/activity-report?format=md"), timeout=30)
    assert markdown.status_code == 200 and "Palembang" in markdown.text
    assert markdown.headers["Content-Disposition"] == 'attachment; filename="laporan-palembang-2019.md"'
    assert http.get(api(reporting, "/reports/palembang/activity-report?format=doc"), timeout=10).status_code == 422

    # The operator's: on the in-process transport no dead-letter queue exists, so none waits.
    assert session("operator").get(api(reporting, "/dead-letters/reporting"), timeout=10).json() == {
        "items": [], "next_cursor": None}
    refused = session("partner").get(api(reporting, "/dead-letters/reporting"), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"]["permission"] == "operations"
    unknown = session("operator").post(api(reporting, "/dead-letters/reporting/replay"), json={"event_id": "e-1"},
                                        timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "event_id"


def as_json_schema(node):
    """An OpenAPI 3.0 schema as JSON Schema: ``nullable`` becomes a null alternative."""
    if isinstance(node, list):
        return [as_json_schema(each) for each in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def documented(document, path, method, status):
    answer = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    schema = {**as_json_schema(answer), "components": as_json_schema(document["components"])}
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_the_figures_reports_and_summaries_answer_as_documented(reporting):
    """Real answers of a city, a rollout and the nation, with every kind of figure in them, match the
    schemas the document gives them."""
    city = dict(city="kupang")
    publish(reporting, rollout_event(31, "kupang", "Kupang"), rollout_event(32, "kupang", "Kupang"),
            *[participant_event(i, rollout_id=31, **city) for i in range(310, 317)],
            participant_event(317, "educator", rollout_id=31, **city),
            participant_event(320, rollout_id=32, **city),
            *[change_event(events.PARTICIPANT_CHECKED_IN, i, rollout_id=31, day=2, **city) for i in range(310, 315)],
            *[score_event(3100 + i, f"C{i}", "pre", 4, rollout_id=31, **city) for i in range(310, 316)],
            *[score_event(3200 + i, f"C{i}", "post", 8, rollout_id=31, **city) for i in range(310, 315)],
            plan_event(events.ACTION_PLAN_RECORDED, 31, "planned", rollout_id=31, **city),
            event(events.COMMITTEE_NOTIFIED, "kupang", rollout_id=31, delivery_id=31, kind="participant_list",
                  channel="mail", participant_count=8),
            event(events.GAIN_SUMMARY, "kupang", rollout_id=31, session_key="socialisation", paired=5,
                  perfect_pre=0, pre_only=1, post_only=0, mean_pre=0.4, mean_post=0.8,
                  gain_of_averages={"value": 0.667, "n": 5, "ci": [0.5, 0.8]},
                  mean_of_gains={"value": None, "n": 0, "ci": None}))
    with entrypoint_waiter(reporting, "publish_summaries", timeout=10):  # Kupang and the nation released
        pass
    document = http.get(api(reporting, "/openapi.json"), timeout=10).json()

    answers = []
    for where in ("/reports/kupang/figures", "/reports/kupang/figures?rollout_id=32", "/reports/national/figures",
                  "/reports/national/figures?rollout_id=31"):
        answers.append(("/reports/{city}/figures", "get", http.get(api(reporting, where), timeout=10)))
    for where in ("kupang", "national"):
        answers.append(("/reports/{city}/rollout-figures", "get",
                        http.get(api(reporting, f"/reports/{where}/rollout-figures"), timeout=10)))
        answers.append(("/summaries/{city}", "get", http.get(api(reporting, f"/summaries/{where}"), timeout=10)))
    answers.append(("/summaries", "get", http.get(api(reporting, "/summaries"), timeout=10)))
    for where in ("kupang?format=md,html", "kupang?rollout_id=31&format=html&public=true", "national?lang=en"):
        answers.append(("/reports/{city}/activity-report", "post",
                        http.post(api(reporting, f"/reports/{where.replace('?', '/activity-report?')}"),
                                  timeout=60)))

    for path, method, answer in answers:
        status = str(answer.status_code)
        assert status.startswith("2"), (answer.url, answer.text)
        documented(document, path, method, status).validate(answer.json())
    by_url = {answer.url.split("/api/v1")[1]: answer.json() for _, _, answer in answers}
    # What the schemas are checked on is there: every kind of figure, and both kinds of summary.
    kupang = by_url["/reports/kupang/figures"]
    assert kupang["gain_by_session"] and kupang["attendance"] and kupang["notifications"]
    assert kupang["tests"]["gain"] is not None and "cities" not in kupang
    assert "kupang" in [row["city"] for row in by_url["/reports/national/figures"]["cities"]]
    assert set(by_url["/summaries/kupang"]) == {"summary.participants.kupang", "summary.tests.kupang"}
    for key, summary in by_url["/summaries/kupang"].items():  # and each is its kind's published contract
        contract = SCHEMAS / f"{key.rsplit('.', 1)[0]}.v{summary['schema_version']}.json"
        jsonschema.Draft202012Validator(json.loads(contract.read_text())).validate(summary)
    assert "file" not in by_url["/reports/kupang/activity-report?rollout_id=31&format=html&public=true"]
