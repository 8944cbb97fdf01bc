"""The console's one client of the campaign API: every page reads and writes through it.

It calls the services' HTTP API as the signed-in person, with their access token, so each
service's own permission and city checks decide what the console shows: the console keeps
no data of its own and reads no other service's database.  A refusal becomes ``Refused``
(the API's ``error`` as it came: message, field, fields, rows), silence ``Unreachable``.

Lists go through ``items`` (or ``listing``): the one place that knows how a list answers, a
page ``{"items": [...], "next_cursor": ...}`` (docs/api.md, *Lists come in pages*; a ``next``
link, a ``Link: rel="next"`` header or a plain JSON list are taken too) followed to the end, so
a change of page shape is adapted here.
"""
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

API_PREFIX = "/api/v1"
TIMEOUT = 30.0  # seconds; a report's PDF takes longer
DOCUMENT_TIMEOUT = 300.0
MAX_PAGES = 10_000  # a list that never ends is a bug of the API, not a reason to hang
PAGE_SIZE = 1000  # the most entries a page of the API holds (shared.pagination.MAX_LIMIT)


class Refused(Exception):
    """The API answered 4xx or 5xx; ``error`` is its ``{"code", "message", ...}``."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        self.status = status
        self.error = error
        self.message = str(error.get("message") or f"the API answered {status}")
        super().__init__(self.message)

    @property
    def fields(self) -> dict[str, list[str]]:
        """Each refused field, by its dotted name (``sessions.0.capacity``), and its problems
        (a field named alone gets the message)."""
        found = _flattened(self.error.get("fields") or {})
        if self.error.get("field") and self.error["field"] not in found:
            found[str(self.error["field"])] = [self.message]
        return found

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Every bad line of a refused file: ``line``, ``field``, ``problem``."""
        return list(self.error.get("rows") or [])


class Unreachable(Refused):
    """The API did not answer (down, or too slow): the page says so and may be tried again."""

    def __init__(self, message: str) -> None:
        super().__init__(503, {"code": "unavailable", "message": message})


@dataclass
class Download:
    """A file the API answered: its name, media type and bytes."""

    name: str
    media_type: str
    content: bytes = field(repr=False)


class ApiClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = TIMEOUT,
                 http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/").removesuffix(API_PREFIX)
        self.token = token
        self.timeout = timeout
        self.http = http or requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}{API_PREFIX}{path}"

    def close(self) -> None:
        """Let go of the connections kept open: the API may be this very process, which cannot stop
        while its own idle connections to itself wait to be used again."""
        self.http.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(self, method: str, path: str, timeout: float | None = None, **kwargs: Any) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            answer = self.http.request(method, url, headers=headers, timeout=timeout or self.timeout, **kwargs)
        except requests.Timeout:
            raise Unreachable(f"the API did not answer {method} {path} in time; try again")
        except requests.RequestException as exc:
            raise Unreachable(f"the API could not be reached ({exc.__class__.__name__}); try again")
        if answer.status_code >= 400:
            raise Refused(answer.status_code, _error_of(answer))
        return answer

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of the answer (``json=`` a body, ``params=`` a query, ``data=`` a file)."""
        answer = self.send(method, path, **kwargs)
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise Unreachable(f"{method} {path} answered without JSON")

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=_present(params))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("POST", path, json=body) if body is not None else self.call("POST", path)

    def upload(self, path: str, content: bytes, media_type: str) -> Any:
        return self.call("POST", path, data=content, headers={"Content-Type": media_type},
                         timeout=DOCUMENT_TIMEOUT)

    def items(self, path: str, **params: Any) -> list[Any]:
        """Every item of a list, page after page."""
        return self.listing(path, **params)[0]

    def listing(self, path: str, **params: Any) -> tuple[list[Any], dict[str, Any]]:
        """(every item, what the list says of itself beside them: a committee list's rollout), page after
        page of the largest size the API gives."""
        found: list[Any] = []
        about: dict[str, Any] | None = None
        url: str | None = path
        query: dict[str, Any] | None = {"limit": PAGE_SIZE, **_present(params)}
        for _ in range(MAX_PAGES):
            if url is None:
                return found, about or {}
            answer = self.send("GET", url, params=query)
            try:
                body = answer.json()
            except ValueError:
                raise Unreachable(f"GET {path} answered without JSON")
            found.extend(body if isinstance(body, list) else (body.get("items") or []))
            if about is None and isinstance(body, dict):
                about = {k: v for k, v in body.items() if k not in ("items", "next_cursor", "next")}
            url, query = _next_page(path, query, answer, body)
        raise Unreachable(f"GET {path} kept answering further pages")

    def download(self, path: str, default_name: str, **params: Any) -> Download:
        answer = self.send("GET", path, params=_present(params), timeout=DOCUMENT_TIMEOUT)
        named = re.search(r'filename="?([^";]+)"?', answer.headers.get("Content-Disposition", ""))
        name = named.group(1).rsplit("/", 1)[-1] if named else default_name
        media_type = answer.headers.get("Content-Type", "application/octet-stream")
        return Download(name, media_type, answer.content)


def _flattened(problems: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested problems (``{"sessions": {"0": {"capacity": [...]}}}``) by dotted name."""
    if isinstance(problems, dict):
        found: dict[str, list[str]] = {}
        for name, inner in problems.items():
            found.update(_flattened(inner, f"{prefix}{name}."))
        return found
    texts = problems if isinstance(problems, list) else [problems]
    if texts and all(isinstance(t, dict) for t in texts):  # a list field's problems by position
        found = {}
        for index, inner in enumerate(texts):
            found.update(_flattened(inner, f"{prefix}{index}."))
        return found
    return {prefix.rstrip("."): [str(t) for t in texts]}


def _error_of(answer: requests.Response) -> dict[str, Any]:
    try:
        error = answer.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        return error
    return {"code": "http_error", "message": f"the API answered {answer.status_code} {answer.reason or ''}".strip()}


def _present(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if v is not None and v != ""}


def _next_page(path: str, query: dict[str, Any] | None, answer: requests.Response,
               body: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(url, query) of the next page, or (None, None) after the last."""
    if "next" in answer.links:
        return urljoin(answer.url, answer.links["next"]["url"]), None
    if isinstance(body, dict):
        if body.get("next_cursor"):
            return path, {**(query or {}), "cursor": body["next_cursor"]}
        if isinstance(body.get("next"), str) and body["next"]:
            return urljoin(answer.url, body["next"]), None
    return None, None
