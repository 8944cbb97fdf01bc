"""Signing in and out, and the language switch: the pages open to anyone."""
from services.console import render
from services.console.app import LANGUAGE_COOKIE, YEAR, Context, Cookie, Reply, route, url
from services.console.client import Refused
from services.console.session import COOKIE, CSRF_COOKIE
from shared.auth import PUBLIC


def _inside(target: str | None) -> str:
    """A page of the console to go back to; anything else (another site, ``//host``) is the dashboard."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@route("GET", "/sign-in", PUBLIC)
def sign_in_form(ctx: Context) -> Reply:
    reply = ctx.page("sign_in.html.j2", next=_inside(ctx.visit.query.get("next")), username="", error=None)
    reply.cookies.append(Cookie(CSRF_COOKIE, ctx.csrf, None))
    return reply


@route("POST", "/sign-in", PUBLIC)
def sign_in(ctx: Context) -> Reply:
    form = ctx.visit.form
    username, password = form.get("username", "").strip(), form.get("password", "")
    back = _inside(form.get("next"))
    if not username or not password:
        return ctx.page("sign_in.html.j2", status=422, next=back, username=username,
                        error=ctx._("Give your username and your password."))
    try:
        session = ctx.console.sessions.sign_in(username, password)
    except Refused as exc:
        if exc.status >= 500:
            raise
        return ctx.page("sign_in.html.j2", status=401, next=back, username=username,
                        error=ctx._("The username or the password is not right, or the account is disabled."))
    reply = Reply(303, headers={"Location": url(back)})
    reply.cookies += [ctx.console.session_cookie(session), Cookie(CSRF_COOKIE, "", 0)]
    return reply


@route("POST", "/sign-out")
def sign_out(ctx: Context) -> Reply:
    if ctx.session is not None:
        ctx.console.sessions.sign_out(ctx.session)
    return Reply(303, headers={"Location": url("/sign-in")}, cookies=[Cookie(COOKIE, "", 0)])


@route("GET", "/language/<lang:word>", PUBLIC)
def choose_language(ctx: Context, lang: str) -> Reply:
    """Remember the reader's language (a cookie) and go back to the page they were on."""
    chosen = render.language(lang)
    return Reply(303, headers={"Location": url(_inside(ctx.visit.query.get("next")))},
                 cookies=[Cookie(LANGUAGE_COOKIE, chosen, YEAR, http_only=False)])
