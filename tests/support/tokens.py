"""Access tokens for services running inside the test process (nameko containers in unit tests).

A throwaway identity signing key whose public half is handed to ``shared.auth`` as
identity's own (``publish_local_keys``), so every service in this process verifies
the tokens made here exactly as it verifies identity's, with no identity running.
"""
import json
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import count

import requests
from cryptography.fernet import Fernet

from services.identity import tokens
from services.identity.fakes import FakeIdentityUnitOfWork
from services.identity.models import Account
from shared import auth

# Who the tests act as, by a short name: (role, cities).
PEOPLE = {
    "national": ("national_coordinator", ()),
    "medan": ("city_coordinator", ("medan",)),
    "pontianak": ("city_coordinator", ("pontianak",)),
    "committee": ("committee_member", ("pontianak",)),
    "partner": ("partner", ()),
    "operator": ("operator", ()),
}

_ids = count(1000)


class LocalIssuer:
    """Signs tokens for made-up accounts; the services of this process trust it."""

    def __init__(self, access_ttl: int = 50) -> None:
        uow = FakeIdentityUnitOfWork()
        self.signer = tokens.signer(uow, Fernet(Fernet.generate_key()), datetime.now(timezone.utc), access_ttl, 3600)
        self.jwks = tokens.public_keys(uow)  # for a service in another process: its IDENTITY_JWKS
        auth.publish_local_keys(self.jwks)

    def token(self, who: str = "national") -> str:
        role, cities = PEOPLE[who]
        account = Account(id=next(_ids), username=f"test-{who}", role=role,
                          cities=list(auth.scope_of(role, cities)))
        return self.signer.access_token(account, datetime.now(timezone.utc))

    def headers(self, who: str = "national") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who)}"}


_issuer: LocalIssuer | None = None


def local_issuer() -> LocalIssuer:
    """The process's issuer (made once: its key stays trusted for the whole run)."""
    global _issuer
    if _issuer is None:
        _issuer = LocalIssuer()
    return _issuer


def bearer(who: str = "national") -> dict[str, str]:
    """``{"Authorization": "Bearer ..."}`` of a fresh token for ``who`` (see PEOPLE)."""
    return local_issuer().headers(who)


class Bearer(requests.auth.AuthBase):
    """Sends ``Authorization: Bearer <token>`` with a token fresh from ``token()`` on every request."""

    def __init__(self, token: Callable[[], str]) -> None:
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token()}"
        return request


def session(who: str = "national") -> requests.Session:
    """A requests session acting as ``who`` (see PEOPLE) towards the services of this process."""
    http = requests.Session()
    http.auth = Bearer(lambda: local_issuer().token(who))
    return http


class TestIssuer:
    """A key of a test's own, which a container trusts through ``IDENTITY_JWKS`` (as a deployment may)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        keys = FakeIdentityUnitOfWork()
        # Tokens that live the whole run: a module makes its callers' headers once, when it is imported.
        self.signer = tokens.signer(keys, Fernet(Fernet.generate_key()), datetime.now(timezone.utc), 24 * 3600, 3600)
        self.jwks = json.dumps(tokens.public_keys(keys))

    def headers(self, username: str, role: str, *cities: str) -> dict[str, str]:
        """``Authorization`` for an account of ``role`` in ``cities`` (none: every city)."""
        account = Account(id=abs(hash(username)) % 100000, username=username, role=role,
                          cities=list(cities) or ["*"])
        return {"Authorization": f"Bearer {self.signer.access_token(account, datetime.now(timezone.utc))}"}
