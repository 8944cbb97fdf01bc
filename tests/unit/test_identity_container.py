"""identity in a nameko container beside a service that declares permissions, over real HTTP.

Sign in, call with the token, be refused without it, with the wrong role, in
another city, and once disabled (with access tokens living 2 s here).
"""
import time

import pytest
import requests
from marshmallow import Schema, fields
from nameko.containers import ServiceContainer
from nameko.runners import ServiceRunner

from services.identity import accounts, admin
from services.identity import service as identity_service
from services.identity.service import IdentityService
from shared import auth, openapi
from shared.auth import PUBLIC
from shared.config import load
from shared.errors import NotFound
from shared.web import REQUIRE_DECLARATIONS, UndeclaredPermission, api
from tests.support.cluster import free_port, wait_until

PASSWORD = "correct horse battery"
ROLLOUT_CITIES = {1: "medan", 2: "pontianak"}


class NoteIn(Schema):
    text = fields.String(required=True)


class Guarded:
    """A service whose every operation declares what it needs, as every service will."""

    name = "guarded"
    declares_permissions = True

    @api("GET", "/guarded/<city>/participants", permission="participants:read")
    def participants(self, request, city, principal):
        return {"city": city, "listed_by": principal.username}

    @api("GET", "/guarded/rollouts/<int:rollout_id>", permission="rollouts:read")
    def rollout(self, request, rollout_id, principal):
        # Another city's record is, to this caller, not there: ids reveal nothing.
        if not principal.sees(ROLLOUT_CITIES.get(rollout_id, "")):
            raise NotFound(f"There is no rollout {rollout_id}.")
        return {"id": rollout_id}

    @api("POST", "/guarded/notes", body=NoteIn, permission="rollouts:write")
    def note(self, request, body):
        return {"noted": body["text"]}

    @api("GET", "/guarded/hello", permission=PUBLIC)
    def hello(self, request):
        return {"hello": "world"}


class Undeclared:
    name = "undeclared"
    declares_permissions = True

    @api("GET", "/undeclared")
    def forgotten(self, request):
        return {}


class Legacy:
    """A service that does not say it declares its permissions, and does not for one operation."""

    name = "legacy"

    @api("GET", "/legacy")
    def anything(self, request):
        return {"open": True}


@pytest.fixture
def system(tmp_path, monkeypatch):
    # Quick to hash, and no allowance for clock difference: a 2-second token lapses in 2 seconds.
    monkeypatch.setattr(identity_service, "PASSWORDS", accounts.Passwords(cheap=True))
    monkeypatch.setattr(auth, "LEEWAY", 0)
    port = free_port()
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                   "ACCESS_TOKEN_TTL": "2"})
    runner = ServiceRunner(config)  # as campaign serve runs services together: one server, one port
    for cls in (IdentityService, Guarded):
        runner.add_service(cls)
    runner.start()
    base = f"http://127.0.0.1:{port}/api/v1"
    first = admin.bootstrap_token(config)
    made = requests.post(f"{base}/auth/bootstrap", json={"bootstrap_token": first, "username": "ada",
                                                         "password": PASSWORD}, timeout=10)
    assert made.status_code == 201, made.text
    yield Api(base), config
    runner.stop()


class Api:
    def __init__(self, base):
        self.base = base

    def sign_in(self, username):
        answer = requests.post(f"{self.base}/auth/token", json={"username": username, "password": PASSWORD},
                               timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def call(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def add(self, token, username, role, cities=()):
        answer = self.call("POST", "/accounts", token, json={"username": username, "password": PASSWORD,
                                                             "role": role, "cities": list(cities)})
        assert answer.status_code == 201, answer.text
        return self.sign_in(username)["access_token"]


def error(answer):
    return answer.json()["error"]


def test_sign_in_then_the_token_opens_identitys_own_operations(system):
    api, _ = system
    ada = api.sign_in("ada")

    me = api.call("GET", "/auth/me", ada["access_token"])

    assert me.status_code == 200 and me.json()["role"] == "national_coordinator"
    assert ada["expires_in"] == 2 and ada["token_type"] == "Bearer"
    listed = api.call("GET", "/accounts", ada["access_token"]).json()["items"]
    # Besides ada, the embedded default's service account notification calls registration with.
    assert sorted((a["username"], a["role"]) for a in listed) == [("ada", "national_coordinator"),
                                                                  ("notification", "service")]
    assert not any("password_hash" in account for account in listed)


def test_anonymous_callers_get_401_before_their_input_is_looked_at(system):
    api, _ = system
    for method, path in (("GET", "/accounts"), ("GET", "/guarded/medan/participants"), ("POST", "/guarded/notes")):
        answer = api.call(method, path, json={})
        assert answer.status_code == 401, (path, answer.text)
        assert error(answer)["reason"] == "missing" and "bearer token" in error(answer)["message"]
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.call("GET", "/guarded/hello").json() == {"hello": "world"}


def test_a_role_without_the_permission_gets_403_naming_it(system):
    api, _ = system
    mitra = api.add(api.sign_in("ada")["access_token"], "mitra", "partner")

    answer = api.call("GET", "/guarded/medan/participants", mitra)

    assert answer.status_code == 403
    assert error(answer)["permission"] == "participants:read" and "participants:read" in error(answer)["message"]
    assert api.call("GET", "/accounts", mitra).status_code == 403


def test_a_city_coordinator_sees_their_city_and_not_another_citys_records(system):
    api, _ = system
    medan = api.add(api.sign_in("ada")["access_token"], "budi", "city_coordinator", ["medan"])

    assert api.call("GET", "/guarded/medan/participants", medan).json() == {"city": "medan", "listed_by": "budi"}
    assert api.call("GET", "/guarded/pontianak/participants", medan).status_code == 403
    assert api.call("GET", "/guarded/rollouts/1", medan).status_code == 200
    assert api.call("GET", "/guarded/rollouts/2", medan).status_code == 404  # Pontianak's: not there
    assert api.call("POST", "/guarded/notes", medan, json={}).status_code == 422  # allowed in: now input counts


def test_a_disabled_account_is_refused_within_a_minute_and_cannot_refresh(system):
    api, _ = system
    ada = api.sign_in("ada")["access_token"]
    api.add(ada, "budi", "city_coordinator", ["medan"])
    budi = api.sign_in("budi")
    assert api.call("GET", "/guarded/medan/participants", budi["access_token"]).status_code == 200

    disabled_at = time.monotonic()
    assert api.call("POST", "/accounts/budi/disable", api.sign_in("ada")["access_token"]).status_code == 200

    refused = wait_until(lambda: api.call("GET", "/guarded/medan/participants", budi["access_token"]).status_code
                         == 401, "budi's last access token to lapse", timeout=60, interval=0.5)
    assert refused and time.monotonic() - disabled_at < 60
    again = api.call("POST", "/auth/refresh", json={"refresh_token": budi["refresh_token"]})
    assert again.status_code == 401
    signing_in = api.call("POST", "/auth/token", json={"username": "budi", "password": PASSWORD})
    assert signing_in.status_code == 401 and error(signing_in)["reason"] == "disabled"


def test_a_tampered_token_is_401(system):
    api, _ = system
    token = api.sign_in("ada")["access_token"]
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    answer = api.call("GET", "/auth/me", f"{header}.{payload}.{flipped}")
    assert answer.status_code == 401 and error(answer)["reason"] == "tampered"


def test_an_operation_of_a_declaring_service_without_a_permission_stops_its_start(tmp_path):
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"})
    container = ServiceContainer(Undeclared, config)
    with pytest.raises(UndeclaredPermission, match=r"undeclared\.forgotten .* declares no permission"):
        container.start()
    container.kill()


def test_every_service_must_declare_so_an_undeclared_operation_stops_any_services_start(tmp_path):
    assert REQUIRE_DECLARATIONS
    container = ServiceContainer(Legacy, load({"CAMPAIGN_DATA_DIR": str(tmp_path),
                                               "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}))
    with pytest.raises(UndeclaredPermission, match=r"legacy\.anything .* declares no permission"):
        container.start()
    container.kill()


def test_the_openapi_document_carries_the_bearer_scheme_and_each_operations_permission():
    document = openapi.build([IdentityService, Guarded])
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = [op for path in document["paths"].values() for op in path.values()]
    assert all("x-permission" in op for op in operations)
    participants = document["paths"]["/guarded/{city}/participants"]["get"]
    assert participants["x-permission"] == "participants:read" and participants["security"] == [{"bearer": []}]
    assert {"401", "403"} <= set(participants["responses"])
    assert document["paths"]["/auth/token"]["post"]["security"] == []
