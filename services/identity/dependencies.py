"""nameko's side of identity's signing key: loaded (or made) once when the service starts."""
from nameko.extensions import DependencyProvider

from services.identity import tokens
from shared import auth, secrets
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
