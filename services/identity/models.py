"""identity's tables: accounts, the refresh tokens they hold, the tokens' signing keys."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.database import UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A person (or a script) who signs in, with one role in some cities."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))  # Argon2id, salt and parameters included
    role: Mapped[str] = mapped_column(String(40))
    cities: Mapped[list] = mapped_column(JSON, default=list)  # ["*"] for roles of every city
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RefreshToken(Base):
    """A long-lived token that buys short-lived access tokens while its account is enabled.

    Only its SHA-256 is kept: the database never holds a usable token.
    """

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SigningKey(Base):
    """A key access tokens are signed with: private half encrypted with SECRET_KEY, public half published."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    private_key: Mapped[str] = mapped_column(Text)  # Fernet token of the PEM
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BootstrapToken(Base):
    """The one-time secret that creates the first national coordinator on an empty database."""

    __tablename__ = "bootstrap_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
