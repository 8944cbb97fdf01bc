"""Signing in to the console: identity's tokens kept in a sealed, HttpOnly cookie.

The cookie holds the person's access token and refresh token, sealed with a key derived
from ``SECRET_KEY`` (Fernet: encrypted and authenticated, so it can be neither read nor
altered in the browser), and the CSRF token every form of the session carries.  The access
token lives under a minute: before each request that needs it, one with less than
``EARLY`` seconds left is replaced through identity's ``/auth/refresh``.  A refresh token
works once, and a page with polling sends requests side by side; so the pair a refresh
token was exchanged for is kept a short while and handed to a request that comes with the
same old one, instead of that request being signed out.
"""
import hashlib
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from services.console.client import ApiClient, Refused
from shared import auth
from shared.secrets import InvalidToken, Secrets

COOKIE = "campaign_console"
CSRF_COOKIE = "campaign_console_csrf"  # the sign-in form's, before there is a session
EARLY = 10.0  # seconds before its expiry an access token is replaced
SHARED_FOR = 30.0  # seconds the pair a refresh token became is handed to requests that bring it again


class SignedOut(Exception):
    """No session, or one that can no longer be renewed: the person signs in again."""


@dataclass(frozen=True)
class Session:
    access_token: str
    refresh_token: str
    expires_at: float  # epoch seconds
    csrf: str


class Sessions:
    """Seal and open session cookies; sign in, refresh and sign out through identity's API."""

    def __init__(self, config: dict[str, Any], api_url: str) -> None:
        self.seal_key = Secrets(config, "console-sessions")
        self.max_age = int(config.get("REFRESH_TOKEN_TTL") or 12 * 3600)
        self.api_url = api_url
        self.authenticator = auth.authenticator(config)
        self._exchanged: dict[str, tuple[float, Session]] = {}
        self._lock = threading.Lock()

    # --- the cookie ---

    def seal(self, session: Session) -> str:
        return self.seal_key.seal(json.dumps(asdict(session))) or ""

    def open(self, cookie: str | None) -> Session:
        if not cookie:
            raise SignedOut("no session")
        try:
            return Session(**json.loads(self.seal_key.open(cookie, ttl=self.max_age) or ""))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            raise SignedOut("the session cookie is not one of this console's, or too old")

    # --- identity ---

    def sign_in(self, username: str, password: str) -> Session:
        """A new session, or ``Refused`` (401 for a wrong name or password) as identity answered."""
        with ApiClient(self.api_url) as identity:
            tokens = identity.post("/auth/token", {"username": username, "password": password})
        return self._session(tokens, secrets.token_urlsafe(24))

    def current(self, session: Session, now: float | None = None) -> Session:
        """``session``, or the session it became, with an access token that has time left."""
        now = time.time() if now is None else now
        if session.expires_at - now > EARLY:
            return session
        key = hashlib.sha256(session.refresh_token.encode()).hexdigest()
        with self._lock:
            self._forget_old(now)
            if key in self._exchanged:
                return self._exchanged[key][1]
            try:
                with ApiClient(self.api_url) as identity:
                    tokens = identity.post("/auth/refresh", {"refresh_token": session.refresh_token})
            except Refused as exc:
                if exc.status in (400, 401, 403, 422):
                    raise SignedOut(exc.message)
                raise
            renewed = self._session(tokens, session.csrf, now)
            self._exchanged[key] = (now, renewed)
            return renewed

    def sign_out(self, session: Session) -> None:
        try:
            with ApiClient(self.api_url) as identity:
                identity.post("/auth/logout", {"refresh_token": session.refresh_token})
        except Refused:
            pass  # already lapsed or revoked: signed out all the same

    def principal(self, session: Session) -> auth.Principal:
        """Who the session is, as its token says (verified here too, with identity's keys)."""
        try:
            return self.authenticator.authenticate(f"Bearer {session.access_token}")
        except auth.Unauthenticated as exc:
            raise SignedOut(exc.message)

    def _session(self, tokens: dict[str, Any], csrf: str, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        return Session(tokens["access_token"], tokens["refresh_token"], now + float(tokens["expires_in"]), csrf)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, (at, _) in self._exchanged.items() if now - at > SHARED_FOR]:
            del self._exchanged[key]


def same_token(given: str | None, expected: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return bool(given and expected) and secrets.compare_digest(str(given), str(expected))
