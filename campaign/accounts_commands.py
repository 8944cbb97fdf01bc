"""``campaign login|logout`` and ``campaign accounts add|list|disable|enable|grant|bootstrap``.

Plain HTTP to identity's API (``--api-url`` or ``$CAMPAIGN_API_URL``) with the
signed-in user's token (campaign.credentials); ``bootstrap`` alone works on
identity's database directly, on the host that runs it.
"""
import json
import sys

import click
import requests

from campaign import credentials
from campaign.api import Api, limit_option
from shared.auth import ROLES

DEFAULT_API_URL = "http://127.0.0.1:8000"

api_url_option = click.option("--api-url", envvar="CAMPAIGN_API_URL", default=DEFAULT_API_URL, show_default=True,
                              help="Where the API answers (also $CAMPAIGN_API_URL).")
role_option = click.option("--role", required=True, type=click.Choice(list(ROLES)), help="What the account may do.")
city_option = click.option("--city", "cities", multiple=True,
                           help="A city the account works in (city coordinators: one or more; committee members: one).")


def fail(message):
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def call(api_url, method, path, signed_in=True, **kwargs):
    """The JSON answer of identity, or the API's refusal printed and exit 1."""
    base = api_url.rstrip("/").removesuffix("/api/v1")
    headers = credentials.authorization() if signed_in else {}
    try:
        answer = requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kwargs)
    except requests.RequestException:
        fail(f"cannot reach the API at {base}; is it running? (--api-url or $CAMPAIGN_API_URL)")
    try:
        body = answer.json()
    except ValueError:
        fail(f"{method} {path} answered {answer.status_code} without JSON; is {base} the API's base URL?")
    if answer.status_code >= 400:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        message = error.get("message") or f"the API refused ({answer.status_code})"
        if answer.status_code == 401 and error.get("reason") == "missing":
            message += " Sign in with: campaign login"
        click.echo(f"error: {message}", err=True)
        for field, problems in (error.get("fields") or {}).items():
            click.echo(f"  {field}: {json.dumps(problems, ensure_ascii=False)}", err=True)
        sys.exit(1)
    return body


def describe(account):
    cities = ", ".join(account["cities"]) if account["cities"] != ["*"] else "every city"
    state = "" if account["enabled"] else " (disabled)"
    return f"{account['username']}\t{account['role']}\t{cities}{state}"


# --- signing in -------------------------------------------------------------------------

@click.command()
@api_url_option
@click.option("--username", prompt=True, help="Your account's name.")
def login(api_url, username):
    """Sign in; the tokens are kept in ~/.config/campaign/credentials.json (yours alone)."""
    password = click.prompt("Password", hide_input=True)
    answer = call(api_url, "POST", "/auth/token", signed_in=False, json={"username": username, "password": password})
    credentials.save(api_url.rstrip("/").removesuffix("/api/v1"), answer)
    account = answer["account"]
    click.echo(f"Signed in as {account['username']} ({account['role']}); kept in {credentials.path()}")


@click.command()
def logout():
    """Sign out: the stored refresh token is revoked and forgotten."""
    stored = credentials.forget()
    if not stored:
        click.echo("Not signed in.")
        return
    try:
        requests.post(f"{stored['api_url']}/api/v1/auth/logout", json={"refresh_token": stored["refresh_token"]},
                      timeout=10)
    except requests.RequestException:
        pass  # forgotten here; it lapses on its own
    click.echo(f"Signed out {stored['username']}.")


# --- accounts ---------------------------------------------------------------------------

@click.group()
def accounts():
    """Accounts and their roles (a national coordinator's work); see docs/identity.md."""


@accounts.command("add")
@api_url_option
@click.argument("username")
@role_option
@city_option
@click.option("--name", "display_name", help="The person's name, as colleagues know it.")
@click.option("--bootstrap-token", help="Make the first national coordinator with the token of "
                                        "`campaign accounts bootstrap` (no sign-in needed).")
def add(api_url, username, role, cities, display_name, bootstrap_token):
    """Add an account; its password is asked twice (or read from stdin)."""
    password = click.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)
    if bootstrap_token:
        if role != "national_coordinator" or cities:
            fail("the bootstrap token makes the first national coordinator: --role national_coordinator, no --city")
        account = call(api_url, "POST", "/auth/bootstrap", signed_in=False, json={
            "bootstrap_token": bootstrap_token, "username": username, "password": password,
            "display_name": display_name})
        click.echo(f"Added {describe(account)}; sign in with: campaign login --username {username}")
        return
    account = call(api_url, "POST", "/accounts", json={
        "username": username, "password": password, "role": role, "cities": list(cities),
        "display_name": display_name})
    click.echo(f"Added {describe(account)}")


@accounts.command("list")
@api_url_option
@limit_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def list_(api_url, limit, as_json):
    """List every account (in the order they were added): name, role, cities, and whether it is disabled."""
    listed = Api(api_url).items("/accounts", limit)
    if as_json:
        click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
        return
    for account in listed:
        click.echo(describe(account))


@accounts.command()
@api_url_option
@click.argument("username")
def disable(api_url, username):
    """Disable an account: it cannot sign in or refresh, and its access ends within a minute."""
    click.echo(f"Disabled {describe(call(api_url, 'POST', f'/accounts/{username}/disable'))}")


@accounts.command()
@api_url_option
@click.argument("username")
def enable(api_url, username):
    """Enable a disabled account again."""
    click.echo(f"Enabled {describe(call(api_url, 'POST', f'/accounts/{username}/enable'))}")


@accounts.command()
@api_url_option
@click.argument("username")
@role_option
@city_option
def grant(api_url, username, role, cities):
    """Give an account a role (and its cities), in place of the one it had."""
    account = call(api_url, "POST", f"/accounts/{username}/grant", json={"role": role, "cities": list(cities)})
    click.echo(f"Granted {describe(account)}")


@accounts.command()
def bootstrap():
    """Print a one-time token for the first national coordinator (an empty identity database only).

    Runs on identity's database (IDENTITY_DATABASE_URL or the data directory), so only
    someone on the host that runs it can make the first account.
    """
    token = _bootstrap_token()
    if token is None:
        fail("accounts exist already; a national coordinator adds more with: campaign accounts add")
    click.echo(token)
    click.echo(first_account_hint(token), err=True)


def _bootstrap_token():
    from services.identity import admin
    from shared import config as settings

    try:
        return admin.bootstrap_token(settings.load())
    except Exception as exc:  # the database does not answer, or is not identity's
        fail(f"identity's database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")


def first_account_hint(token):
    return ("No accounts yet. Within 24 hours, make the first national coordinator with:\n"
            f"  campaign accounts add USERNAME --role national_coordinator --bootstrap-token {token}\n"
            "(the token works once)")


def announce_bootstrap(config):
    """``campaign serve`` on an empty identity database: the first account's one-time token."""
    from services.identity import admin

    token = admin.bootstrap_token(config)
    if token is not None:
        click.echo(first_account_hint(token), err=True)


COMMANDS = (login, logout, accounts)
