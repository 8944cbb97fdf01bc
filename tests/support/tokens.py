"""Access tokens for tests of a service in a container: signed with a key of the test's own,
which the container trusts through ``IDENTITY_JWKS`` (as a deployment may configure it)."""
import json
from datetime import datetime, timezone

from cryptography.fernet import Fernet

from services.identity import tokens
from services.identity.fakes import FakeIdentityUnitOfWork
from services.identity.models import Account


class TestIssuer:
    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        keys = FakeIdentityUnitOfWork()
        self.signer = tokens.signer(keys, Fernet(Fernet.generate_key()), datetime.now(timezone.utc), 50, 3600)
        self.jwks = json.dumps(tokens.public_keys(keys))

    def headers(self, username: str, role: str, *cities: str) -> dict[str, str]:
        """``Authorization`` for an account of ``role`` in ``cities`` (none: every city)."""
        account = Account(id=abs(hash(username)) % 100000, username=username, role=role,
                          cities=list(cities) or ["*"])
        return {"Authorization": f"Bearer {self.signer.access_token(account, datetime.now(timezone.utc))}"}
