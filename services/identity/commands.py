"""What can be asked of identity, each as one command (checked input, plain data)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class AddAccount:
    username: str
    password: str
    role: str
    cities: tuple[str, ...] = ()
    display_name: str | None = None


@dataclass(frozen=True)
class DisableAccount:
    username: str


@dataclass(frozen=True)
class EnableAccount:
    username: str


@dataclass(frozen=True)
class GrantRole:
    username: str
    role: str
    cities: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateFirstAccount:
    """The first national coordinator, with the one-time bootstrap token."""

    bootstrap_token: str
    username: str
    password: str
    display_name: str | None = None


@dataclass(frozen=True)
class SignIn:
    username: str
    password: str


@dataclass(frozen=True)
class RefreshTokens:
    refresh_token: str


@dataclass(frozen=True)
class SignOut:
    refresh_token: str
