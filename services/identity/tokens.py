"""Tokens: signing in, refreshing, signing out; the signing key and its public half.

An access token lives at most a minute and is verified by every service on its
own (shared.auth).  A refresh token buys the next one, and identity checks the
account at every refresh: a disabled account's last access token is its last.
"""
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.identity.accounts import Passwords, digest
from services.identity.commands import RefreshTokens, SignIn, SignOut
from services.identity.models import Account, RefreshToken, SigningKey
from shared.auth import ALGORITHM, AUDIENCE, ISSUER, Unauthenticated
from shared.secrets import InvalidToken


@dataclass(frozen=True)
class Signer:
    """identity's current signing key, and how long what it signs lives."""

    kid: str
    private_key: Ed25519PrivateKey
    access_ttl: int
    refresh_ttl: int

    def access_token(self, account: Account, now: datetime) -> str:
        claims = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": str(account.id), "name": account.username,
            "role": account.role, "cities": list(account.cities),
            "iat": int(now.timestamp()), "exp": int(now.timestamp()) + self.access_ttl, "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid})


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    account: Account
    token_type: str = "Bearer"


class SigningKeyLocked(Exception):
    """The stored signing key does not open with this SECRET_KEY."""


def signer(uow, cipher, now: datetime, access_ttl: int, refresh_ttl: int) -> Signer:
    """The newest signing key, made (and stored encrypted with ``cipher``) if there is none."""
    keys = uow.signing_keys.published()
    if keys:
        key = keys[0]
        try:
            pem = cipher.decrypt(key.private_key.encode())
        except InvalidToken:
            raise SigningKeyLocked("SECRET_KEY does not open identity's stored signing key: start identity with "
                                   "the SECRET_KEY it first ran with") from None
        private = serialization.load_pem_private_key(pem, password=None)
        return Signer(key.kid, private, access_ttl, refresh_ttl)
    private = Ed25519PrivateKey.generate()
    kid = uuid.uuid4().hex
    public_jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.update(kid=kid, alg=ALGORITHM, use="sig")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    uow.signing_keys.add(SigningKey(kid=kid, algorithm=ALGORITHM, private_key=cipher.encrypt(pem).decode(),
                                    public_jwk=public_jwk, created_at=now, retired_at=None))
    return Signer(kid, private, access_ttl, refresh_ttl)


def public_keys(uow) -> dict:
    """The JWKS every service verifies access tokens with."""
    return {"keys": [key.public_jwk for key in uow.signing_keys.published()]}


def sign_in(command: SignIn, uow, passwords: Passwords, signer: Signer, now: datetime) -> Tokens:
    account = uow.accounts.named(command.username)
    # The same answer, after the same work, for an unknown name and a wrong password.
    if not passwords.verify(account.password_hash if account else None, command.password) or account is None:
        raise Unauthenticated("Wrong username or password.", "invalid")
    if not account.enabled:
        raise Unauthenticated("This account is disabled.", "disabled")
    if passwords.hasher.check_needs_rehash(account.password_hash):
        account.password_hash = passwords.hash(command.password)
    return _issue(account, uow, signer, now)


def refresh(command: RefreshTokens, uow, signer: Signer, now: datetime) -> Tokens:
    """A new access token (and refresh token: each is used once) while the account is enabled."""
    token = uow.refresh_tokens.with_hash(digest(command.refresh_token))
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise Unauthenticated("The refresh token is not valid (expired, used or revoked): sign in again.",
                              "expired")
    token.revoked_at = now
    account = uow.accounts.get(token.account_id)
    if account is None or not account.enabled:
        raise Unauthenticated("This account is disabled.", "disabled")
    return _issue(account, uow, signer, now)


def sign_out(command: SignOut, uow, now: datetime) -> None:
    token = uow.refresh_tokens.with_hash(digest(command.refresh_token))
    if token is not None and token.revoked_at is None:
        token.revoked_at = now


def _issue(account, uow, signer, now):
    refresh_token = secrets.token_urlsafe(32)
    uow.refresh_tokens.add(RefreshToken(token_hash=digest(refresh_token), account_id=account.id,
                                        expires_at=now + timedelta(seconds=signer.refresh_ttl),
                                        revoked_at=None, created_at=now))
    return Tokens(signer.access_token(account, now), signer.access_ttl, refresh_token, signer.refresh_ttl, account)
