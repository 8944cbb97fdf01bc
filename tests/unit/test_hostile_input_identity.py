"""Hostile input to identity through its real web layer (issue 13), each case named.

Every case ends in a 4xx naming the field, before any password is hashed or
token looked up, and the accounts are as they were.  Requests that need a role
go as a national coordinator signed in with identity itself.
"""
import pytest

from services.identity.service import IdentityService
from tests.support.accounts import Accounts
from tests.support.hostile import MAX_REQUEST_BYTES, assert_refused, at_the_door
from tests.support.in_process import serving

SIGN_IN = {"username": "nasional", "password": "kata sandi yang panjang"}
ACCOUNT = {"username": "koordinator-sambas", "password": "kata sandi yang panjang", "role": "city_coordinator",
           "cities": ["sambas"]}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serving([IdentityService], tmp_path_factory.mktemp("hostile-identity"),
                 MAX_REQUEST_BYTES=MAX_REQUEST_BYTES) as served:
        config = served.containers["identity"].config
        served.national = Accounts(served.url, config["DATABASE_URLS"]["identity"]).session("national")
        yield served


def held(served):
    """What a refused request could have written: the accounts, as a national coordinator lists them."""
    return served.national.get(served.url + "/accounts", timeout=30).json()


CASES = [
    *[(case, "POST", "/auth/token", request, status, field)
      for case, request, status, field in at_the_door(SIGN_IN, "username")],
    ("nul-in-a-password", "POST", "/auth/token", {"json": {**SIGN_IN, "password": "kata\u0000sandi"}}, 422,
     "password"),
    ("username-as-an-integer-2^40", "POST", "/auth/token", {"json": {**SIGN_IN, "username": 2**40}}, 422,
     "username"),
    ("username-as-an-object", "POST", "/auth/token", {"json": {**SIGN_IN, "username": {"$ne": ""}}}, 422,
     "username"),
    ("nul-in-a-refresh-token", "POST", "/auth/refresh", {"json": {"refresh_token": "abc\u0000"}}, 422,
     "refresh_token"),
    ("escape-in-a-client-id", "POST", "/auth/service-token",
     {"json": {"client_id": "notification\u001b", "client_secret": "x" * 32}}, 422, "client_id"),
    ("nul-in-a-bootstrap-token", "POST", "/auth/bootstrap",
     {"json": {"bootstrap_token": "t\u0000", "username": "pertama", "password": "kata sandi yang panjang"}}, 422,
     "bootstrap_token"),
    ("password-of-5000-characters", "POST", "/accounts", {"json": {**ACCOUNT, "password": "p" * 5000}}, 422,
     "password"),
    ("nul-in-a-new-username", "POST", "/accounts", {"json": {**ACCOUNT, "username": "ko\u0000ordinator"}}, 422,
     "username"),
    ("control-character-in-a-city", "POST", "/accounts", {"json": {**ACCOUNT, "cities": ["sam\u0007bas"]}}, 422,
     "cities.0"),
    ("role-that-does-not-exist", "POST", "/accounts", {"json": {**ACCOUNT, "role": "superuser"}}, 422, "role"),
    ("control-character-in-a-path", "GET", "/accounts/nas%01ional", {}, 422, "username"),
    ("grant-of-a-role-that-does-not-exist", "POST", "/accounts/nasional/grant", {"json": {"role": "root"}}, 422,
     "role"),
]


@pytest.mark.parametrize("method, path, request_, status, field",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_request_is_refused_naming_the_field_and_writes_nothing(served, method, path, request_, status,
                                                                          field):
    before = held(served)
    assert_refused(served.national.request(method, served.url + path, timeout=30, **request_), status, field)
    assert held(served) == before
