"""The test accounts of a running identity service, one of each role, and their tokens.

The accounts are written into identity's database the way ``campaign demo`` writes its
own (``services.identity.accounts.ensure_demo_accounts``: access to the database is the
credential); their tokens come from identity over HTTP, as any client gets them, and are
refreshed before they lapse (an access token lives under a minute).
"""
import threading
import time

import requests

from services.identity import accounts
from services.identity.models import Base
from services.identity.repository import IdentityUnitOfWork
from shared.database import Store, utcnow
from tests.support.tokens import PEOPLE, Bearer

PASSWORD = "kata sandi uji 2019"
# Who the tests act as (see tests.support.tokens.PEOPLE for the roles) and the account's name.
USERNAMES = {
    "national": "nasional",
    "medan": "koordinator-medan",
    "pontianak": "koordinator-pontianak",
    "committee": "komite-pontianak",
    "partner": "mitra",
    "operator": "operator",
}


class Accounts:
    """Made on first use; ``token(who)`` is always one with some seconds left to live."""

    def __init__(self, api_url: str, identity_database_url: str) -> None:
        self.api_url = api_url.rstrip("/")  # .../api/v1 of a process that runs identity
        self.database_url = identity_database_url
        self._made = False
        self._tokens: dict[str, dict] = {}
        self._lock = threading.Lock()

    def create(self) -> None:
        """The accounts, if they are not there yet."""
        store = Store(self.database_url, Base.metadata, consumer="tests.accounts", unit_of_work=IdentityUnitOfWork)
        try:
            with store.unit_of_work() as uow:
                people = {USERNAMES[who]: PEOPLE[who] for who in USERNAMES}
                accounts.ensure_demo_accounts(uow, accounts.Passwords(cheap=True), people, PASSWORD, utcnow())
        finally:
            store.dispose()
        self._made = True

    def token(self, who: str = "national") -> str:
        with self._lock:
            if not self._made:
                self.create()
            held = self._tokens.get(who)
            if held is None or held["expires_at"] - time.monotonic() < held["margin"]:
                held = self._tokens[who] = self._fetch(who, held)
            return held["access_token"]

    def _fetch(self, who, held):
        answer = None
        if held is not None:
            answer = requests.post(f"{self.api_url}/auth/refresh", json={"refresh_token": held["refresh_token"]},
                                   timeout=30)
        if answer is None or answer.status_code != 200:
            answer = requests.post(f"{self.api_url}/auth/token", timeout=30,
                                   json={"username": USERNAMES[who], "password": PASSWORD})
        assert answer.status_code == 200, f"{who} could not sign in: {answer.status_code} {answer.text}"
        body = answer.json()
        return {**body, "expires_at": time.monotonic() + body["expires_in"],
                "margin": min(15.0, body["expires_in"] / 2)}

    def headers(self, who: str = "national") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who)}"}

    def session(self, who: str = "national") -> requests.Session:
        """A requests session acting as ``who``: each request carries a token with time left."""
        http = requests.Session()
        http.auth = Bearer(lambda: self.token(who))
        return http
