"""Secrets at rest, encrypted with a key derived from ``SECRET_KEY`` (cryptography's Fernet).

Each purpose ("signing-keys", "webhook-secrets", ...) gets its own key, derived
with HKDF, so one leaked derived key opens nothing else.  Without ``SECRET_KEY``
one is generated into ``SECRET_KEY_FILE`` (readable by its owner only), so a
laptop runs with no setup; a deployment sets ``SECRET_KEY`` and keeps it.
"""
import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "Secrets", "cipher", "client_secret", "secret_key"]


def secret_key(config: dict) -> str:
    """``SECRET_KEY``, or the one kept in ``SECRET_KEY_FILE`` (made on first use)."""
    if config.get("SECRET_KEY"):
        return config["SECRET_KEY"]
    path = Path(config["SECRET_KEY_FILE"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            # A link appears whole or not at all: of two processes starting together, one key wins.
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def cipher(key: str, purpose: str) -> Fernet:
    """A Fernet for ``purpose``, derived from ``key`` (the deployment's SECRET_KEY)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"campaign:{purpose}".encode()).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


class Secrets:
    """One purpose's secrets at rest: ``seal`` before storing, ``open`` when about to use.

    A sealed value is a Fernet token (authenticated encryption), so a database dump
    or a backup holds no usable webhook secret or password.
    """

    def __init__(self, config: dict, purpose: str) -> None:
        self._fernet = cipher(secret_key(config), purpose)

    def seal(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, sealed: str | None, ttl: int | None = None) -> str | None:
        """The value sealed; ``InvalidToken`` if altered, sealed with another key, or older than ``ttl`` seconds."""
        return None if sealed is None else self._fernet.decrypt(sealed.encode("ascii"), ttl=ttl).decode("utf-8")

    def is_sealed(self, value: str) -> bool:
        """Whether ``value`` is a token this purpose's key opens (not a secret kept in the clear)."""
        try:
            self._fernet.decrypt(value.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return False
        return True


def client_secret(config: dict, client: str) -> str:
    """The secret a service (``client``, e.g. "notification") signs in to identity with.

    ``<CLIENT>_CLIENT_SECRET`` from the configuration; without it, one derived from the
    secret key, so services sharing it (one process, one data directory, or one
    ``SECRET_KEY``) need no setup.
    """
    return configured_client_secret(config, client) or derived_client_secret(config, client)


def configured_client_secret(config: dict, client: str) -> str | None:
    configured = config.get(f"{client.upper()}_CLIENT_SECRET")
    return str(configured) if configured else None


def derived_client_secret(config: dict, client: str) -> str:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"campaign:client:{client}".encode()).derive(secret_key(config).encode())
    return base64.urlsafe_b64encode(derived).decode("ascii").rstrip("=")
