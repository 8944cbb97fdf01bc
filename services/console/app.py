"""The console as plain Python: a visit in, a reply out; no web framework here.

``service.py`` turns werkzeug's request into a ``Visit`` and the ``Reply`` back into a
response.  Here: which page answers a path (``ROUTES``), who is signed in (the sealed
session cookie, its token refreshed), the CSRF token of every form, the language, and
what a refusal of the API becomes on a page (401: sign in again; 403 and 404: a page
saying so; a refused form: the message shown on the page it came from).
"""
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

from services.console import render
from services.console.client import ApiClient, Download, Refused
from services.console.session import COOKIE, CSRF_COOKIE, Session, Sessions, SignedOut, same_token
from shared import auth

PREFIX = "/console"
LANGUAGE_COOKIE = "campaign_console_lang"
FLASH_COOKIE = "campaign_console_flash"
YEAR = 365 * 24 * 3600


@dataclass
class Visit:
    """One request of a browser, as the console reads it."""

    method: str
    path: str  # under PREFIX, e.g. "/rollouts/3"
    query: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    form_lists: dict[str, list[str]] = field(default_factory=dict)  # fields given more than once
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field -> (file name, content)
    cookies: dict[str, str] = field(default_factory=dict)
    htmx: bool = False  # asked by htmx for a part of the page (HX-Request)


@dataclass
class Cookie:
    name: str
    value: str
    max_age: int | None  # None: for the browser session; 0: delete it
    http_only: bool = True


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    media_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[Cookie] = field(default_factory=list)


class Context:
    """What a page works with: the visit, the API as the signed-in person, who they are, their language."""

    def __init__(self, console: "Console", visit: Visit, session: Session | None, principal: auth.Principal | None,
                 lang: str, csrf: str) -> None:
        self.console = console
        self.visit = visit
        self.session = session
        self.principal = principal
        self.lang = lang
        self.csrf = csrf
        self.api = ApiClient(console.api_url, session.access_token if session else None)
        self.cookies: list[Cookie] = []
        self.notices: list[str] = []  # what could not be shown, said on the page

    def may(self, permission: str) -> bool:
        return self.principal is not None and self.principal.may(permission)

    def _(self, message: str, **values: Any) -> str:
        return render.gettext(self.lang, message, **values)

    def page(self, template: str, status: int = 200, **data: Any) -> Reply:
        html = render.render(template, self.lang, ctx=self, principal=self.principal, csrf=self.csrf,
                             path=self.visit.path, query=self.visit.query, flash=self._flash(),
                             notices=self.notices, prefix=PREFIX, url=url, **data)
        return Reply(status, html.encode("utf-8"), cookies=self.cookies)

    def redirect(self, to: str, message: str | None = None, kind: str = "done") -> Reply:
        """Back to a page of the console (after a form), with a message for it to show once."""
        cookies = list(self.cookies)
        if message:
            cookies.append(Cookie(FLASH_COOKIE, quote(json.dumps({"kind": kind, "text": message})), None))
        return Reply(303, headers={"Location": url(to)}, cookies=cookies)

    def download(self, file: Download) -> Reply:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", file.name) or "download"
        return Reply(200, file.content, file.media_type,
                     headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
                     cookies=self.cookies)

    def attempt(self, read: Callable[[], Any], default: Any = None) -> Any:
        """``read()``, or ``default`` with a notice on the page when the API refuses or is away:
        one part of a page that cannot be read does not hide the rest."""
        try:
            return read()
        except Refused as exc:
            if exc.status == 401:
                raise
            self.notices.append(exc.message)
            return default

    def _flash(self) -> dict[str, str] | None:
        """The message a form left for the page after it (shown once); a polled part of a page leaves it be."""
        raw = self.visit.cookies.get(FLASH_COOKIE)
        if not raw or self.visit.htmx:
            return None
        self.cookies.append(Cookie(FLASH_COOKIE, "", 0))
        try:
            flash = json.loads(unquote(raw))
            return {"kind": str(flash["kind"]), "text": str(flash["text"])[:2000]}
        except (ValueError, KeyError, TypeError):
            return None


def url(path: str, **query: Any) -> str:
    """The console's address of ``path`` with a query (empty values left out)."""
    wanted = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + path + (f"?{urlencode(wanted)}" if wanted else "")


Page = Callable[..., Reply]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    numbers: tuple[str, ...]  # the parts that are numbers (ids), handed to the page as int
    page: Page
    permission: str | None  # None: anyone signed in; PUBLIC: no sign-in


ROUTES: list[Route] = []
# What a part of a path may be: ``<name>`` a number, ``<name:word>`` a slug, ``<name:file>`` a file's name.
PARTS = {"": "[0-9]{1,10}", "word": "[a-z0-9][a-z0-9-]{0,99}", "file": "[a-z0-9][a-z0-9.-]{0,99}"}


def route(method: str, path: str, permission: str | None = None) -> Callable[[Page], Page]:
    """Declare the page answering ``method path``; ``permission`` is checked first (None: anyone signed in,
    PUBLIC: no sign-in needed)."""
    pattern, numbers = [], []
    for token in re.split(r"(<[^>]+>)", path):
        if token.startswith("<"):
            name, _, kind = token[1:-1].partition(":")
            pattern.append(f"(?P<{name}>{PARTS[kind]})")
            if not kind:
                numbers.append(name)
        else:
            pattern.append(re.escape(token))

    def declare(page: Page) -> Page:
        ROUTES.append(Route(method, re.compile("^" + "".join(pattern) + "$"), tuple(numbers), page, permission))
        return page
    return declare


class Console:
    def __init__(self, sessions: Sessions, api_url: str, secure_cookies: bool = False) -> None:
        self.sessions = sessions
        self.api_url = api_url
        self.secure_cookies = secure_cookies

    def handle(self, visit: Visit) -> Reply:
        found = self._route(visit)
        if found is None:
            return self._plain(404, "Not found")
        page, permission, values = found
        lang = render.language(visit.query.get("lang") or visit.cookies.get(LANGUAGE_COOKIE))
        if permission == auth.PUBLIC:
            ctx = Context(self, visit, None, None, lang, self._anonymous_csrf(visit))
            if visit.method == "POST" and not same_token(visit.form.get("csrf"), visit.cookies.get(CSRF_COOKIE)):
                return self._forbidden_form(ctx)
            return self._answer(ctx, page, values)
        try:
            session = self.sessions.open(visit.cookies.get(COOKIE))
            renewed = self.sessions.current(session)
            principal = self.sessions.principal(renewed)
        except SignedOut:
            return self._to_sign_in(visit)
        ctx = Context(self, visit, renewed, principal, lang, renewed.csrf)
        if renewed is not session:
            ctx.cookies.append(self.session_cookie(renewed))
        if visit.method == "POST" and not same_token(visit.form.get("csrf"), renewed.csrf):
            return self._forbidden_form(ctx)
        if permission is not None and not principal.may(permission):
            return ctx.page("refused.html.j2", status=403, reason="permission", permission=permission)
        return self._answer(ctx, page, values)

    def session_cookie(self, session: Session) -> Cookie:
        return Cookie(COOKIE, self.sessions.seal(session), None)

    def _answer(self, ctx: Context, page: Page, values: dict[str, Any]) -> Reply:
        try:
            reply = page(ctx, **values)
        except Refused as exc:
            if exc.status == 401:
                return self._to_sign_in(ctx.visit)
            if ctx.visit.method == "POST" and exc.status < 500 and exc.status not in (403, 404):
                back = ctx.visit.form.get("back") or "/"
                return ctx.redirect(back if back.startswith("/") and not back.startswith("//") else "/",
                                    exc.message, kind="error")
            status = exc.status if exc.status in (403, 404) else 503 if exc.status >= 500 else exc.status
            return ctx.page("refused.html.j2", status=status, reason="api", message=exc.message)
        finally:
            ctx.api.close()
        for cookie in ctx.cookies:
            if cookie not in reply.cookies:
                reply.cookies.append(cookie)
        if self.secure_cookies:
            reply.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return reply

    def _route(self, visit: Visit) -> tuple[Page, str | None, dict[str, Any]] | None:
        for candidate in ROUTES:
            if candidate.method == visit.method:
                matched = candidate.pattern.match(visit.path)
                if matched:
                    values = {k: int(v) if k in candidate.numbers else v for k, v in matched.groupdict().items()}
                    return candidate.page, candidate.permission, values
        return None

    def _anonymous_csrf(self, visit: Visit) -> str:
        return visit.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)

    def _to_sign_in(self, visit: Visit) -> Reply:
        back = visit.path if visit.method == "GET" and not visit.htmx else "/"
        target = url("/sign-in", next=back if back != "/" else None)
        if visit.htmx:  # a polled part of a page: htmx follows HX-Redirect with the whole page
            return Reply(200, b"", headers={"HX-Redirect": target},
                         cookies=[Cookie(COOKIE, "", 0)])
        return Reply(303, headers={"Location": target}, cookies=[Cookie(COOKIE, "", 0)])

    def _forbidden_form(self, ctx: Context) -> Reply:
        return ctx.page("refused.html.j2", status=403, reason="csrf")

    @staticmethod
    def _plain(status: int, text: str) -> Reply:
        return Reply(status, text.encode(), "text/plain; charset=utf-8")
