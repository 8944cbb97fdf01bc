"""identity in its own process beside the other services: the first account, signing in from the
command line, a token that opens identity's operations and that another process verifies alone."""
import os
import stat
import subprocess
import sys

import pytest
import requests

from campaign import credentials
from shared.auth import Authenticator, KeyRing
from tests.integration.conftest import running_cluster

PASSWORD = "correct horse battery"


def campaign(cluster, *args, input=None, **env):
    return subprocess.run([sys.executable, "-m", "campaign.cli", *args], input=input, capture_output=True,
                          text=True, timeout=120, env={**cluster.env, **env})


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cluster(request, tmp_path_factory, smtp):
    """The services with no account yet (the first one is this module's to make), asked anonymously."""
    with running_cluster(request.param, tmp_path_factory.mktemp(f"identity-{request.param}"), smtp,
                         signed_in=False) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def signed_in(cluster, tmp_path_factory):
    """ada, the first national coordinator, made with the bootstrap token and signed in by the CLI."""
    config_home = tmp_path_factory.mktemp("config")
    api = cluster.url("identity").removesuffix("/api/v1")
    issued = campaign(cluster, "accounts", "bootstrap")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()

    made = campaign(cluster, "accounts", "add", "ada", "--role", "national_coordinator", "--bootstrap-token", token,
                    "--api-url", api, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    login = campaign(cluster, "login", "--username", "ada", "--api-url", api, input=f"{PASSWORD}\n",
                     XDG_CONFIG_HOME=str(config_home))
    assert login.returncode == 0, login.stderr
    return {"XDG_CONFIG_HOME": str(config_home), "CAMPAIGN_API_URL": api, "bootstrap": token}


@pytest.fixture
def bearer_token(signed_in, monkeypatch):
    """The CLI's current token for ada (refreshed through identity when it is about to lapse)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", signed_in["XDG_CONFIG_HOME"])
    monkeypatch.delenv(credentials.ENV_TOKEN, raising=False)
    return credentials.bearer_token


def test_the_bootstrap_token_works_once_and_only_on_an_empty_database(cluster, signed_in):
    again = campaign(cluster, "accounts", "bootstrap")
    assert again.returncode == 1 and "accounts exist already" in again.stderr
    reused = cluster.post("identity", "/auth/bootstrap", json={"bootstrap_token": signed_in["bootstrap"],
                                                               "username": "eve", "password": PASSWORD})
    assert reused.status_code == 401


def test_login_keeps_the_tokens_for_the_user_alone_and_they_open_identitys_operations(cluster, bearer_token):
    assert stat.S_IMODE(os.stat(credentials.path()).st_mode) == 0o600
    token = bearer_token()

    me = cluster.get("identity", "/auth/me", headers={"Authorization": f"Bearer {token}"})

    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["role"]) == ("ada", "national_coordinator")
    assert cluster.get("identity", "/auth/me").status_code == 401


def test_the_command_line_manages_accounts_with_the_stored_sign_in(cluster, signed_in):
    env = {k: v for k, v in signed_in.items() if k != "bootstrap"}
    added = campaign(cluster, "accounts", "add", "budi", "--role", "city_coordinator", "--city", "medan",
                     input=f"{PASSWORD}\n{PASSWORD}\n", **env)
    assert added.returncode == 0, added.stderr
    refused = campaign(cluster, "accounts", "add", "citra", "--role", "committee_member",
                       input=f"{PASSWORD}\n{PASSWORD}\n", **env)
    assert refused.returncode == 1 and "cities" in refused.stderr
    assert campaign(cluster, "accounts", "disable", "budi", **env).returncode == 0

    listed = campaign(cluster, "accounts", "list", **env)

    # In the order they were added: the service account when identity first started.
    assert listed.stdout.splitlines() == ["notification\tservice\tevery city",
                                          "ada\tnational_coordinator\tevery city",
                                          "budi\tcity_coordinator\tmedan (disabled)"]
    assert campaign(cluster, "accounts", "list", "--limit", "1", **env).stdout == "notification\tservice\tevery city\n"


def test_a_stored_sign_in_is_refreshed_when_its_access_token_lapses(cluster, bearer_token):
    stored = credentials.load()
    credentials.save(stored["api_url"], {
        "account": {"username": "ada", "role": "national_coordinator"}, "access_token": stored["access_token"],
        "expires_in": 0, "refresh_token": stored["refresh_token"], "refresh_expires_in": 3600})

    token = bearer_token()

    assert token != stored["access_token"]
    assert cluster.get("identity", "/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert credentials.load()["refresh_token"] != stored["refresh_token"]  # each refresh token is used once


def test_a_script_signs_in_with_campaign_token(cluster, signed_in, bearer_token, tmp_path):
    token = bearer_token()
    listed = campaign(cluster, "accounts", "list", XDG_CONFIG_HOME=str(tmp_path),
                      CAMPAIGN_API_URL=signed_in["CAMPAIGN_API_URL"], CAMPAIGN_TOKEN=token)
    assert listed.returncode == 0 and "ada\tnational_coordinator\tevery city" in listed.stdout.splitlines()
    anonymous = campaign(cluster, "accounts", "list", XDG_CONFIG_HOME=str(tmp_path),
                         CAMPAIGN_API_URL=signed_in["CAMPAIGN_API_URL"])
    assert anonymous.returncode == 1 and "campaign login" in anonymous.stderr


def test_another_process_verifies_identitys_tokens_with_the_keys_it_fetched_once(cluster, bearer_token):
    keys = requests.get(cluster.url("identity") + "/auth/jwks.json", timeout=10).json()
    assert [key["kty"] for key in keys["keys"]] == ["OKP"] and all("d" not in key for key in keys["keys"])
    token = bearer_token()

    principal = Authenticator(KeyRing(cluster.url("identity") + "/auth/jwks.json")).authenticate(f"Bearer {token}")

    assert (principal.username, principal.role, principal.cities) == ("ada", "national_coordinator", ("*",))
