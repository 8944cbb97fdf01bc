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

__all__ = ["InvalidToken", "cipher", "secret_key"]


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
