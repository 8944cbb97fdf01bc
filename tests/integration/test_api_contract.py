"""The whole API against its own OpenAPI document, property-based (hypothesis).

The four services run in one process behind one server, on the real broker
and SQLite.  For every operation the document lists, generated requests (valid
ones from the document's schemas, and junk) must never get a 5xx, and every
answer must match the schema documented for its status.
"""
import json

import jsonschema
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.integration.conftest import rollout_for
from tests.support.cluster import Cluster, Databases, ServiceProcess, Vhost

EXAMPLES = 12  # per operation: enough to find a crash, few enough to stay quick
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=3), max_leaves=8)


@pytest.fixture(scope="module")
def api(tmp_path_factory, smtp):
    """All four services in one process: one server, one base URL."""
    workdir = tmp_path_factory.mktemp("contract")
    vhost = Vhost()
    databases = Databases("sqlite", workdir)
    env = Cluster(workdir, vhost.amqp_uri, databases.urls, smtp.url, OUTBOX_INTERVAL=0.2).services["registration"].env
    process = ServiceProcess("all", {k: v for k, v in env.items() if k != "WEB_SERVER_ADDRESS"}, workdir / "all.log")
    process.start()
    try:
        process.wait_ready()
        yield process.url
    finally:
        process.stop()
        vhost.delete()


@pytest.fixture(scope="module")
def document(api):
    answer = requests.get(api + "/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()


def launched_with_a_participant(api, city):
    rollout = requests.post(api + "/rollouts", json=rollout_for(city, "p@committee.example"), timeout=30).json()
    requests.post(f"{api}/rollouts/{rollout['id']}/launch", timeout=30)
    person = requests.post(f"{api}/rollouts/{rollout['id']}/participants",
                           json={"full_name": "Umi Farida", "category": "educator"}, timeout=30).json()
    return rollout["id"], person["id"]


@pytest.fixture(scope="module")
def seeded(api):
    """A launched rollout with a participant, so generated ids sometimes find something."""
    rollout_id, participant_id = launched_with_a_participant(api, "Pontianak")
    return {"ids": [rollout_id, participant_id, 1, 2], "cities": ["pontianak"]}


def resolved(schema, components):
    """An OpenAPI 3.0 schema as plain JSON Schema: references inlined, ``nullable`` as a type."""
    if isinstance(schema, list):
        return [resolved(s, components) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return resolved(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    out = {k: resolved(v, components) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def operations(document):
    for path, methods in sorted(document["paths"].items()):
        for method, operation in sorted(methods.items()):
            yield path, method, operation


def operation_ids():
    from shared import openapi
    return [op["operationId"] for _, _, op in operations(openapi.document())]


def request_strategy(path, operation, components, seeded):
    """(url path, query, body kwargs) for requests, from the operation's documented inputs."""
    parts = {}
    query = {}
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        if parameter["in"] == "path":
            if schema["type"] == "integer":
                parts[parameter["name"]] = st.sampled_from(seeded["ids"]) | st.integers(0, 2**40)
            else:
                parts[parameter["name"]] = st.sampled_from(seeded["cities"]) | st.from_regex(r"\A[a-z0-9-]{1,12}\Z")
        else:
            query[parameter["name"]] = st.none() | from_schema(resolved(schema, components)) | st.text(max_size=10)
    body = st.just({})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = resolved(content["application/json"]["schema"], components)
        body = st.one_of(from_schema(schema), JSON_VALUES).map(lambda value: {"json": value})
        if not operation["requestBody"].get("required"):
            body = body | st.just({})
    elif "text/csv" in content:
        body = st.text(max_size=200).map(lambda text: {"data": text.encode("utf-8")})
    return st.fixed_dictionaries({
        "parts": st.fixed_dictionaries(parts), "query": st.fixed_dictionaries(query), "body": body})


def documented(operation, status):
    responses = operation["responses"]
    return responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")


@pytest.mark.parametrize("operation_id", operation_ids())
def test_no_input_makes_an_operation_fail_or_break_its_schema(api, document, seeded, operation_id):
    components = document["components"]["schemas"]
    path, method, operation = next(o for o in operations(document) if o[2]["operationId"] == operation_id)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request=request_strategy(path, operation, components, seeded))
    def check(request):
        url = api + path.format(**request["parts"])
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in request["query"].items() if v is not None}
        answer = requests.request(method.upper(), url, params=params, timeout=60, **request["body"])
        assert answer.status_code < 500, f"{method.upper()} {url} {request}: {answer.status_code} {answer.text}"
        spec = documented(operation, answer.status_code)
        if spec is None and answer.status_code == 404:
            spec = {}
        assert spec is not None, f"{method.upper()} {url}: undocumented status {answer.status_code}"
        schema = spec.get("content", {}).get("application/json", {}).get("schema")
        if schema is not None:
            jsonschema.validate(answer.json(), resolved(schema, components))
        if answer.status_code >= 400:
            assert answer.json()["error"]["message"] and "Traceback" not in answer.text

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


def test_bad_input_on_every_endpoint_is_a_4xx_naming_the_field(api, document):
    """Each operation refused with the field named: a stray field, a wrong query value, a missing id."""
    # Its own rollout: the generated requests may have closed or cancelled the shared one.
    rollout_id, participant_id = launched_with_a_participant(api, "Sambas")
    checked = 0
    for path, method, operation in operations(document):
        if operation.get("security"):
            continue  # needs a token, so an anonymous request is refused (401) before its input is read
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
            answer = requests.request(method.upper(), target, timeout=30, **kwargs)
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
def test_hostile_requests_are_refused_naming_where_and_change_nothing(api, method, path, kwargs, status, field):
    before = requests.get(api + "/rollouts", timeout=30).json()
    answer = requests.request(method.upper(), api + path, timeout=30, **kwargs)
    assert answer.status_code == status, answer.text
    assert field in json.dumps(answer.json()["error"])
    assert requests.get(api + "/rollouts", timeout=30).json() == before


def test_a_body_past_the_size_limit_is_refused_before_it_is_read(api):
    answer = requests.post(api + "/rollouts", data=b"x" * (20 * 1024 * 1024 + 1),
                           headers={"Content-Type": "application/json"}, timeout=60)
    assert answer.status_code == 413
    assert "error" in answer.json()
