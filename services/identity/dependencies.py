"""nameko's side of identity's signing key: loaded (or made) once when the service starts."""
from nameko.extensions import DependencyProvider

from services.identity import accounts, tokens
from shared import auth, secrets
from shared.config import CLIENTS
from shared.database import utcnow
from shared.dependencies import Database


class SigningKeys(DependencyProvider):
    """Gives workers the Signer; publishes the public keys to the services in this process."""

    def __init__(self) -> None:
        self.signer: tokens.Signer | None = None

    def start(self) -> None:
        config = self.container.config
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        cipher = secrets.cipher(secrets.secret_key(config), "signing-keys")
        with database.store.unit_of_work() as uow:
            self.signer = tokens.signer(uow, cipher, utcnow(), config["ACCESS_TOKEN_TTL"], config["REFRESH_TOKEN_TTL"])
        with database.store.read() as uow:
            # Services beside identity verify without fetching; the others fetch the JWKS once.
            auth.publish_local_keys(tokens.public_keys(uow))

    def get_dependency(self, worker_ctx) -> tokens.Signer:
        return self.signer


class ServiceAccounts(DependencyProvider):
    """The service accounts (``CLIENTS``), made at start with their secrets.

    A configured secret (``<CLIENT>_CLIENT_SECRET``) is followed when it changes; without
    one, the account is made with the secret derived from the secret key and then left
    alone (one made by hand with ``campaign accounts add ... --role service`` stays as made).
    """

    def start(self) -> None:
        config = self.container.config
        configured = {c: s for c in CLIENTS if (s := secrets.configured_client_secret(config, c))}
        derived = {c: secrets.derived_client_secret(config, c) for c in CLIENTS if c not in configured}
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        passwords = accounts.Passwords()
        with database.store.unit_of_work() as uow:
            accounts.ensure_service_accounts(uow, passwords, configured, utcnow())
            accounts.ensure_service_accounts(uow, passwords, derived, utcnow(), follow=False)
