"""The command line's sign-in: tokens kept in the user's config directory, or CAMPAIGN_TOKEN.

``campaign login`` stores an access token (a minute) and a refresh token in
``$XDG_CONFIG_HOME/campaign/credentials.json`` (``~/.config/...`` by default),
readable by the user alone.  ``bearer_token()`` is what every API call sends:
``$CAMPAIGN_TOKEN`` if set (scripts), else the stored access token, refreshed
through identity when it is about to lapse.
"""
import json
import os
import time
from pathlib import Path

import click
import requests

ENV_TOKEN = "CAMPAIGN_TOKEN"
REFRESH_BEFORE = 10  # seconds: refresh a token this close to its end rather than send it to lapse


class NotSignedIn(click.ClickException):
    exit_code = 1

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)


def path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "campaign" / "credentials.json"


def load() -> dict | None:
    try:
        return json.loads(path().read_text())
    except (OSError, ValueError):
        return None


def save(api_url: str, answer: dict) -> dict:
    """Keep the tokens of a sign-in or refresh answer, for the user's eyes only (0600)."""
    now = time.time()
    stored = {
        "api_url": api_url, "username": answer["account"]["username"], "role": answer["account"]["role"],
        "access_token": answer["access_token"], "access_expires_at": now + answer["expires_in"],
        "refresh_token": answer["refresh_token"], "refresh_expires_at": now + answer["refresh_expires_in"],
    }
    file = path()
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = file.with_name(f".{file.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(stored, out)
    os.replace(draft, file)
    return stored


def forget() -> dict | None:
    stored = load()
    path().unlink(missing_ok=True)
    return stored


def bearer_token() -> str | None:
    """The token to send: $CAMPAIGN_TOKEN, else the stored one (refreshed if needed); None if signed out."""
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN].strip()
    stored = load()
    if not stored:
        return None
    if stored["access_expires_at"] - time.time() > REFRESH_BEFORE:
        return stored["access_token"]
    if stored["refresh_expires_at"] <= time.time():
        raise NotSignedIn(f"the sign-in of {stored['username']} has expired: campaign login")
    url = f"{stored['api_url']}/api/v1/auth/refresh"
    try:
        answer = requests.post(url, json={"refresh_token": stored["refresh_token"]}, timeout=30)
    except requests.RequestException:
        raise NotSignedIn(f"cannot reach {stored['api_url']} to refresh the sign-in; is the API running?")
    if answer.status_code != 200:
        try:
            reason = answer.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            reason = f"the API answered {answer.status_code}"
        raise NotSignedIn(f"{reason} (campaign login to sign in again)")
    return save(stored["api_url"], answer.json())["access_token"]


def authorization() -> dict:
    """The Authorization header to send, or none when signed out (public operations still work)."""
    token = bearer_token()
    return {"Authorization": f"Bearer {token}"} if token else {}
