"""The one HTTP client of the campaign API that every ``campaign`` command uses.

The address is the API's base URL, e.g. ``http://127.0.0.1:8000`` (``/api/v1``
is added here; a URL already ending in ``/api/v1`` is taken as well).  It comes
from the command's ``--api-url``, else its group's, else ``$CAMPAIGN_API_URL``,
else the default.  Each request carries the signed-in user's token (``campaign
login``, or ``$CAMPAIGN_TOKEN``: campaign.credentials).  Any refusal (4xx/5xx) or
silence of the API becomes an ``ApiError``: one clear line naming the field
(and, for a file, the bad lines) and exit status 1, never a traceback.
"""
import functools
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import click
import requests

from campaign import credentials

DEFAULT_API_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"
ENV = "CAMPAIGN_API_URL"
TIMEOUT = 60  # seconds; imports and reports pass more
PAGE = 1000  # entries asked for at a time when a list is read to its end: the most the API gives
SHOWN_ROWS = 50  # bad lines of a file printed before "... and N more"


class ApiError(click.ClickException):
    """A refusal or failure, printed as ``error: ...`` on stderr with exit status 1."""

    exit_code = 1

    def __init__(self, message: str, details: list[str] | None = None, status: int | None = None,
                 error: dict | None = None):
        super().__init__(message)
        self.details = details or []
        self.status = status
        self.error = error or {}

    def show(self, file=None):
        click.echo(f"error: {self.message}", err=True)
        for line in self.details:
            click.echo(f"  {line}", err=True)


def base_url(url: str) -> str:
    """``http://host:port`` from what a user gave: with or without ``/api/v1`` or a trailing slash."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(f"--api-url {url or '(empty)'}: not an http(s) URL; give the API's base URL, "
                       f"e.g. {DEFAULT_API_URL} (also ${ENV})")
    return url.removesuffix(API_PREFIX).rstrip("/")


def refusal(status: int, error: dict) -> ApiError:
    """The API's ``{"error": {...}}`` as one line naming the field, plus each bad line of a file."""
    message = error.get("message") or f"the API refused the request ({status})"
    named = ([error["field"]] if error.get("field") else []) + list(error.get("fields") or {})
    unnamed = [field for field in dict.fromkeys(named) if field not in message]
    if unnamed:
        message = f"{', '.join(unnamed)}: {message}"
    rows = error.get("rows") or []
    details = [f"line {row.get('line')}, {row.get('field')}: {row.get('problem')}" for row in rows[:SHOWN_ROWS]]
    if len(rows) > SHOWN_ROWS:
        details.append(f"... and {len(rows) - SHOWN_ROWS} more")
    return ApiError(message, details, status=status, error=error)


class Api:
    """JSON in and out, files up and down, lists followed page by page.

    ``token()`` gives the access token of each request (returning None: no token); by
    default the signed-in user's, refreshed when it is about to lapse (campaign.credentials).
    """

    def __init__(self, url: str | None = None, token: Callable[[], str | None] | None = None):
        self.base_url = base_url(url or os.environ.get(ENV) or DEFAULT_API_URL)
        self.http = requests.Session()
        self.token = token or credentials.bearer_token

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def send(self, method: str, path: str, **kwargs) -> requests.Response:
        """The API's answer to a request; ``ApiError`` for a refusal or when it does not answer."""
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        token = self.token()
        if token:
            kwargs["headers"] = {"Authorization": f"Bearer {token}", **(kwargs.get("headers") or {})}
        try:
            answer = self.http.request(method, url, timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)
        except requests.Timeout:
            raise ApiError(f"the API at {self.base_url} did not answer {method} {path} in time; try again")
        except requests.ConnectionError:
            raise ApiError(f"cannot reach the API at {self.base_url}; is it running? "
                           f"(--api-url or ${ENV}, the base URL, e.g. {DEFAULT_API_URL})")
        except requests.RequestException as exc:
            raise ApiError(f"cannot ask the API at {self.base_url}: {exc.__class__.__name__}")
        if answer.status_code >= 400:
            raise self._refusal(method, url, answer)
        return answer

    def _refusal(self, method, url, answer):
        try:
            error = answer.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if not isinstance(error, dict):
            return ApiError(f"{method} {url} answered {answer.status_code} {answer.reason or ''}, not the "
                            f"campaign API's JSON; is {self.base_url} the API's base URL? (--api-url, ${ENV})",
                            status=answer.status_code)
        if answer.status_code == 404 and error.get("code") == "http_error":
            # No endpoint declares the path: the base URL is wrong, not the id asked for.
            return ApiError(f"{method} {url}: the API has no such path; is {self.base_url} its base URL? "
                            f"(--api-url or ${ENV}, e.g. {DEFAULT_API_URL})", status=404, error=error)
        if answer.status_code == 401 and error.get("reason") == "missing":
            return ApiError(f"{error.get('message')} Sign in with: campaign login", status=401, error=error)
        return refusal(answer.status_code, error)

    def call(self, method: str, path: str, **kwargs):
        """The JSON of the answer to ``method path`` (``json=`` a body, ``params=`` a query, ``data=`` a file)."""
        return self._json(method, path, self.send(method, path, **kwargs))

    def _json(self, method, path, answer):
        try:
            return answer.json()
        except ValueError:
            raise ApiError(f"{method} {answer.url} answered {answer.status_code} without JSON; "
                           f"is {self.base_url} the API's base URL?")

    def get(self, path: str, **params):
        return self.call("GET", path, params=_present(params))

    def items(self, path: str, limit: int | None = None, **params) -> list:
        """Every item of a list (or its first ``limit``), page after page: each answer is
        ``{"items": [...], "next_cursor": ...}`` and the next page is asked with ``cursor=``."""
        return self.listing(path, limit, **params)[0]

    def listing(self, path: str, limit: int | None = None, **params) -> tuple[list, dict]:
        """(the items, what the list is of) of a list whose pages say it beside their items
        (a rollout's committee list: the rollout and its committee)."""
        found: list = []
        about: dict | None = None
        params = _present(params)
        while limit is None or len(found) < limit:
            size = PAGE if limit is None else min(PAGE, limit - len(found))
            page = self.call("GET", path, params={**params, "limit": size})
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise ApiError(f"GET {path} answered something other than a page of a list; "
                               f"is {self.base_url} the campaign API's base URL?")
            found.extend(page["items"])
            if about is None:
                about = {k: v for k, v in page.items() if k not in ("items", "next_cursor")}
            if not page.get("next_cursor"):
                break
            params["cursor"] = page["next_cursor"]
        return found, about or {}

    def download(self, path: str, directory: Path, default_name: str, **params) -> Path:
        """Save the file at ``path`` into ``directory`` under the name the API gives it."""
        answer = self.send("GET", path, params=_present(params), timeout=600)
        disposition = answer.headers.get("Content-Disposition", "")
        named = re.search(r'filename="?([^";]+)"?', disposition)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / Path(named.group(1) if named else default_name).name
        target.write_bytes(answer.content)
        return target

    def follow(self, path: str, on_progress=None, interval: float = 0.2, timeout: float = 3600):
        """A job resource at ``path`` (an import), polled until it has finished; ``on_progress(job)`` each time."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.call("GET", path)
            if on_progress is not None:
                on_progress(job)
            if job.get("status") in ("succeeded", "failed"):
                return job
            if time.monotonic() > deadline:
                raise ApiError(f"{path} is still {job.get('status')} after {timeout:.0f}s; "
                               f"follow it later with GET {path}")
            time.sleep(interval)

    def upload(self, method: str, path: str, data, content_type: str, **kwargs):
        return self.call(method, path, data=data, headers={"Content-Type": content_type}, timeout=600, **kwargs)


def _present(params):
    return {k: v for k, v in (params or {}).items() if v is not None}


# --- how commands get the client --------------------------------------------------

API_URL_HELP = f"The API's base URL (default ${ENV}, else {DEFAULT_API_URL})."


def _remember_url(ctx, param, value):
    if value:
        ctx.meta["campaign.api_url"] = value
    return value


def api_url_option(command):
    """``--api-url`` on a group: the URL for every command under it (a command's own overrides it)."""
    return click.option("--api-url", metavar="URL", expose_value=False, is_eager=True, callback=_remember_url,
                        help=API_URL_HELP)(command)


def pass_api(command):
    """Give ``command`` the client as its first argument; ``--api-url`` works before or after its name."""
    @click.option("--api-url", "own_url", metavar="URL", help=API_URL_HELP)
    @click.pass_context
    def with_api(ctx, own_url, **kwargs):
        return ctx.invoke(command, Api(own_url or ctx.meta.get("campaign.api_url")), **kwargs)
    return functools.update_wrapper(with_api, command)


json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
limit_option = click.option("--limit", type=click.IntRange(min=1), metavar="N",
                            help="Show the first N only (default: all, read page by page).")


def emit(value, as_json: bool, text: str | None = None) -> None:
    """The API's JSON with ``--json`` (or when there is no text form), else ``text``."""
    if as_json or text is None:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        click.echo(text)


def read_json(path) -> dict | list:
    """A JSON file given on the command line, or a clear error naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.BadParameter(f"{path}: not a readable JSON file ({exc})")


def fail(message: str):
    """Stop the command with ``error: message`` and exit status 1."""
    raise ApiError(message)
