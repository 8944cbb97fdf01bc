"""The whole API against its own OpenAPI document, property-based (schemathesis, on hypothesis).

The services run in one process behind one server, on the real broker and
SQLite, asked by a national coordinator (so every operation reads its input).
For every operation the document lists, generated requests (valid ones from the
document's schemas, and junk) must never get a 5xx, and every answer must match
the schema documented for its status.
"""
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.integration.conftest import rollout_for
from tests.support.accounts import Accounts
from tests.support.cluster import Cluster, Databases, ServiceProcess, Vhost

EXAMPLES = 15  # per operation, valid and invalid requests together: enough to find a crash, quick enough
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory, smtp):
    """All the services in one process: one server, one base URL; and their accounts."""
    workdir = tmp_path_factory.mktemp("contract")
    vhost = Vhost()
    databases = Databases("sqlite", workdir)
    env = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url, OUTBOX_INTERVAL=0.2).services["registration"].env
    process = ServiceProcess("all", {k: v for k, v in env.items() if k != "WEB_SERVER_ADDRESS"}, workdir / "all.log")
    # Identity and registration answer at this process's address too (notification asks both for a committee's list).
    process.env["IDENTITY_URL"] = process.env["REGISTRATION_URL"] = f"http://127.0.0.1:{process.port}"
    process.start()
    try:
        process.wait_ready()
        yield process.url, Accounts(process.url, databases.urls["identity"])
    finally:
        process.stop()
        vhost.delete()


@pytest.fixture(scope="module")
def api(served):
    return served[0]


@pytest.fixture(scope="module")
def http(served):
    """A national coordinator's session: every operation opens, so its input is what is tested."""
    return served[1].session("national")


@pytest.fixture(scope="module")
def document(api, http):
    answer = http.get(api + "/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()


def launched_with_a_participant(api, http, city):
    rollout = http.post(api + "/rollouts", json=rollout_for(city, "p@committee.example"), timeout=30).json()
    http.post(f"{api}/rollouts/{rollout['id']}/launch", timeout=30)
    person = http.post(f"{api}/rollouts/{rollout['id']}/participants",
                       json={"full_name": "Umi Farida", "category": "educator"}, timeout=30).json()
    return rollout["id"], person["id"]


@pytest.fixture(scope="module")
def seeded(api, http):
    """A launched rollout with a participant, so generated ids sometimes find something."""
    rollout_id, participant_id = launched_with_a_participant(api, http, "Pontianak")
    return {"ids": [rollout_id, participant_id, 1, 2], "cities": ["pontianak"]}


def operations(document):
    for path, methods in sorted(document["paths"].items()):
        for method, operation in sorted(methods.items()):
            yield path, method, operation


def operation_ids():
    from shared import openapi
    return [op["operationId"] for _, _, op in operations(openapi.document())]


@pytest.fixture(scope="module")
def fuzzed(document):
    """The document as schemathesis reads it: every operation's requests, valid and not."""
    return schemathesis.openapi.from_dict(document)


@pytest.mark.parametrize("operation_id", operation_ids())
def test_schemathesis_finds_no_5xx_and_no_answer_off_its_schema(api, http, fuzzed, seeded, operation_id):
    """Requests schemathesis makes from the document (fixed seed, bounded examples; ids of the seeded
    rollout and participant among them): no answer is a 5xx, each matches its documented status and schema."""
    operation = fuzzed.find_operation_by_id(operation_id)
    known = {name: st.sampled_from(seeded["ids"]) for name in ("rollout_id", "participant_id")}
    strategy = st.one_of(*(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE,
                                                                     GenerationMode.NEGATIVE)))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(case=strategy, data=st.data())
    def check(case, data):
        for name, ids in known.items():  # sometimes a resource that is there, so more than a 404 is seen
            if name in (case.path_parameters or {}) and data.draw(st.booleans()):
                case.path_parameters[name] = data.draw(ids)
        case.call_and_validate(base_url=api, session=http, timeout=60, checks=CHECKS)

    check()


def test_the_document_covers_every_api_operation_of_every_service(document):
    from campaign.runner import service_class
    from shared import openapi
    from shared.config import SERVICES

    declared = {(e.method.lower(), openapi._openapi_path(e.path)[0])
                for name in SERVICES for _, _, e in openapi.endpoints(service_class(name))}
    listed = {(method, path) for path, method, _ in operations(document)}
    assert declared == listed and len(listed) >= 20


GOOD_BODIES = {
    "/rollouts/{rollout_id}/clone": {"city_name": "Sambas", "starts_on": "2020-01-06",
                                     "committee_email": "panitia@sambas.example"},
    "/rollouts/{rollout_id}/participants": {"full_name": "Ani", "category": "educator"},
}


def test_bad_input_on_every_endpoint_is_a_4xx_naming_the_field(api, http, document):
    """Each operation refused with the field named: a stray field, a wrong query value, a missing id."""
    # Its own rollout: the generated requests may have closed or cancelled the shared one.
    rollout_id, participant_id = launched_with_a_participant(api, http, "Sambas")
    checked = 0
    for path, method, operation in operations(document):
        values = {"rollout_id": rollout_id, "participant_id": participant_id, "city": "pontianak"}
        url = api + path.format_map(_Fill(values))
        content = operation.get("requestBody", {}).get("content", {})
        tries = []
        if "application/json" in content:
            tries.append(({"json": {"surplus_field": 1}}, "surplus_field"))
            tries.append(({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "body"))
        if "text/csv" in content:
            tries.append(({"data": b"name,kind\nx,y\n"}, "header"))
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and "enum" in parameter["schema"]:
                tries.append(({"params": {parameter["name"]: "no-such-value"}}, parameter["name"]))
        for parameter in operation.get("parameters", []):
            # Elsewhere an unknown id may rightly read as nothing (e.g. no disclosures yet).
            if operation["tags"] == ["registration"] and parameter["in"] == "path" \
                    and parameter["schema"]["type"] == "integer":
                # The body is checked before the id is looked up: a good one, so the id is what is refused.
                body = {"json": GOOD_BODIES.get(path, {})} if "application/json" in content else (
                    {"data": b"full_name,category\nAni,educator\n"} if "text/csv" in content else {})
                missing = api + path.format_map(_Fill({**values, parameter["name"]: 2**31 - 2}))
                tries.append(({"url": missing, **body}, parameter["name"]))
        for kwargs, field in tries:
            target = kwargs.pop("url", url)
            answer = http.request(method.upper(), target, timeout=30, **kwargs)
            assert 400 <= answer.status_code < 500, f"{method.upper()} {target} {kwargs}: {answer.status_code}"
            assert field in json.dumps(answer.json()["error"]), (method, path, field, answer.text)
            checked += 1
    assert checked >= 30


class _Fill(dict):
    def __missing__(self, key):
        return 1


@pytest.mark.parametrize("method, path, kwargs, status, field", [
    ("post", "/rollouts", {"data": b"[" * 10_000, "headers": {"Content-Type": "application/json"}}, 400, "body"),
    ("post", "/rollouts", {"data": b'{"venue": "\xff"}', "headers": {"Content-Type": "application/json"}}, 400, "body"),
    ("post", "/rollouts", {"json": {"venue": "Hotel\u0000", "city_name": "Sambas"}}, 422, "venue"),
    ("post", "/rollouts", {"json": {"sessions": [{"capacity": 2**40}]}}, 422, "sessions.0.capacity"),
    ("get", "/rollouts/2147483648", {}, 404, "rollout_id"),
    ("get", "/rollouts", {"params": {"city": "pontianak\u0001"}}, 422, "city"),
])
def test_hostile_requests_are_refused_naming_where_and_change_nothing(api, http, method, path, kwargs, status,
                                                                      field):
    before = http.get(api + "/rollouts", timeout=30).json()
    answer = http.request(method.upper(), api + path, timeout=30, **kwargs)
    assert answer.status_code == status, answer.text
    assert field in json.dumps(answer.json()["error"])
    assert http.get(api + "/rollouts", timeout=30).json() == before


def test_a_body_past_the_size_limit_is_refused_before_it_is_read(api, http):
    answer = http.post(api + "/rollouts", data=b"x" * (20 * 1024 * 1024 + 1),
                       headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413
    assert "error" in answer.json()
