"""Accounts and their roles: added, disabled, enabled and granted by a national coordinator.

The first national coordinator is made with a one-time bootstrap token, issued
only while there is no account at all.  Plain Python over the unit of work.
"""
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.identity.commands import AddAccount, CreateFirstAccount, DisableAccount, EnableAccount, GrantRole
from services.identity.models import Account, BootstrapToken
from shared.auth import CITY_ROLES, ISSUER, ROLES, Principal, Unauthenticated, scope_of
from shared.errors import Conflict, InvalidInput, NotFound
from shared.pagination import Page, PageOf

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,59}")
CITY = re.compile(r"[a-z][a-z0-9-]{1,59}")
MIN_PASSWORD = 12
BOOTSTRAP_VALID_FOR = timedelta(hours=24)
NATIONAL = "national_coordinator"
SERVICE = "service"


class Passwords:
    """Argon2id hashes (argon2-cffi's recommended parameters; ``cheap`` ones for tests)."""

    def __init__(self, cheap: bool = False) -> None:
        self.hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1) if cheap else PasswordHasher()
        self._decoy: str | None = None

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` is the one hashed; with no hash, as slow as a real check (no timing hint)."""
        if password_hash is None:
            self._decoy = self._decoy or self.hasher.hash(secrets.token_urlsafe(16))
            password_hash = self._decoy
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def digest(token: str) -> str:
    """What is kept of a bearer secret (refresh or bootstrap token): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_account(command: AddAccount, uow, passwords: Passwords, actor: Principal, now: datetime) -> Account:
    require_enabled(uow, actor)
    return _create(command, uow, passwords, actor.username, now)


def list_accounts(uow, page: Page) -> PageOf[Account]:
    return uow.accounts.list(page=page)


def show_account(uow, username: str) -> Account:
    account = uow.accounts.named(username)
    if account is None:
        raise NotFound(f"There is no account {username}.", field="username")
    return account


def disable_account(command: DisableAccount, uow, actor: Principal, now: datetime) -> Account:
    """The account can no longer sign in or refresh; its refresh tokens are revoked at once."""
    require_enabled(uow, actor)
    account = show_account(uow, command.username)
    if account.enabled and account.role == NATIONAL and uow.accounts.enabled_with_role(NATIONAL) == 1:
        raise Conflict(f"{account.username} is the last enabled national coordinator; "
                       "enable or add another one first.")
    account.enabled = False
    account.changed_at = now
    uow.refresh_tokens.revoke_all(account.id, now)
    return account


def enable_account(command: EnableAccount, uow, actor: Principal, now: datetime) -> Account:
    require_enabled(uow, actor)
    account = show_account(uow, command.username)
    account.enabled = True
    account.changed_at = now
    return account


def grant_role(command: GrantRole, uow, actor: Principal, now: datetime) -> Account:
    """A new role and cities; the account's next access token (within a minute) carries them."""
    require_enabled(uow, actor)
    account = show_account(uow, command.username)
    cities = _scope(command.role, command.cities)
    if (account.role == NATIONAL and command.role != NATIONAL and account.enabled
            and uow.accounts.enabled_with_role(NATIONAL) == 1):
        raise Conflict(f"{account.username} is the last enabled national coordinator; "
                       "make another one first.")
    account.role, account.cities, account.changed_at = command.role, cities, now
    return account


def require_enabled(uow, actor: Principal) -> None:
    """identity's own check, on its own database: a disabled account's token does nothing here."""
    if actor.issuer != ISSUER:
        return  # an external issuer's accounts are disabled there
    account = uow.accounts.get(int(actor.account_id))
    if account is None or not account.enabled:
        raise Unauthenticated("This account is disabled.", "disabled")


# --- the first account ---------------------------------------------------------------

def issue_bootstrap_token(uow, now: datetime) -> str | None:
    """A one-time token for the first national coordinator, or None once any account exists.

    Issuing a new one voids the previous ones; only its hash is stored.
    """
    if uow.accounts.count_people():
        return None
    for earlier in uow.bootstrap_tokens.unused():
        earlier.used_at = now
    token = secrets.token_urlsafe(32)
    uow.bootstrap_tokens.add(BootstrapToken(token_hash=digest(token), expires_at=now + BOOTSTRAP_VALID_FOR,
                                            used_at=None))
    return token


def create_first_account(command: CreateFirstAccount, uow, passwords: Passwords, now: datetime) -> Account:
    wanted = digest(command.bootstrap_token)
    token = next((t for t in uow.bootstrap_tokens.unused()
                  if secrets.compare_digest(t.token_hash, wanted) and t.expires_at > now), None)
    if token is None or uow.accounts.count_people():
        raise Unauthenticated("The bootstrap token is not valid: it was used, has expired, or accounts exist "
                              "already (campaign accounts bootstrap issues a new one on an empty database).",
                              "invalid")
    token.used_at = now
    return _create(AddAccount(command.username, command.password, NATIONAL, (), command.display_name),
                   uow, passwords, "bootstrap", now)


def ensure_demo_accounts(uow, passwords: Passwords, accounts: dict[str, tuple[str, tuple[str, ...]]],
                         password: str, now: datetime) -> list[Account]:
    """The demo's accounts, ``{username: (role, cities)}``, all with ``password``; kept if there."""
    made = []
    for username, (role, cities) in accounts.items():
        account = uow.accounts.named(username)
        if account is None:
            account = _create(AddAccount(username, password, role, tuple(cities)), uow, passwords, "demo", now)
        made.append(account)
    return made


def ensure_service_accounts(uow, passwords: Passwords, clients: dict[str, str], now: datetime,
                            follow: bool = True) -> list[Account]:
    """A service account (role ``service``) for each ``{client id: secret}``.

    Made if missing; with ``follow``, an existing one takes the given secret (a rotated
    secret takes effect at the next start).  An account of that name with another role
    is left alone: a conflict.
    """
    made = []
    for client_id, secret in clients.items():
        account = uow.accounts.named(client_id)
        if account is None:
            account = _create(AddAccount(client_id, secret, SERVICE, (), f"the {client_id} service"),
                              uow, passwords, "configuration", now)
        elif account.role != SERVICE:
            raise Conflict(f"The account {client_id} exists with the role {account.role}; the {client_id} "
                           "service needs it as a service account.", field="username")
        elif follow and not passwords.verify(account.password_hash, secret):
            account.password_hash, account.changed_at = passwords.hash(secret), now
        made.append(account)
    return made


def _create(command: AddAccount, uow, passwords: Passwords, created_by: str, now: datetime) -> Account:
    problems = {}
    if not USERNAME.fullmatch(command.username or ""):
        problems["username"] = ["3 to 60 characters: lowercase letters, digits, '.', '_' or '-'."]
    if len(command.password or "") < MIN_PASSWORD:
        problems["password"] = [f"At least {MIN_PASSWORD} characters."]
    if problems:
        raise InvalidInput("; ".join(f"{k}: {v[0]}" for k, v in problems.items()), fields=problems)
    cities = _scope(command.role, command.cities)
    if uow.accounts.named(command.username) is not None:
        raise Conflict(f"There is already an account {command.username}.", field="username")
    return uow.accounts.add(Account(
        username=command.username, display_name=command.display_name, password_hash=passwords.hash(command.password),
        role=command.role, cities=cities, enabled=True, created_by=created_by, created_at=now, changed_at=now))


def _scope(role: str, cities) -> list[str]:
    """The cities stored for a role, or InvalidInput naming what does not fit it."""
    if role not in ROLES:
        raise InvalidInput(f"role: one of {', '.join(ROLES)}.", fields={"role": [f"One of {', '.join(ROLES)}."]})
    cities = [c.strip().lower() for c in cities or () if c.strip()]
    bad = [c for c in cities if not CITY.fullmatch(c)]
    if bad:
        raise InvalidInput(f"cities: not a city slug: {', '.join(bad)}.", fields={"cities": [f"Not a slug: {bad}"]})
    if role in CITY_ROLES and not cities:
        problem = f"A {role} works in named cities: give at least one."
    elif role == "committee_member" and len(cities) > 1:
        problem = "A committee member belongs to one city's committee: give exactly one."
    elif role not in CITY_ROLES and cities:
        problem = f"A {role} works in every city: give no cities."
    else:
        return list(scope_of(role, list(dict.fromkeys(cities))))
    raise InvalidInput(f"cities: {problem}", fields={"cities": [problem]})
