"""identity's repositories in memory, for unit tests of its handlers."""
from datetime import datetime

from services.identity.models import Account, BootstrapToken, RefreshToken, SigningKey
from shared.auth import SERVICE_ROLES
from shared.fakes import FakeUnitOfWork
from shared.pagination import Page, PageOf, in_memory


class FakeAccounts:
    def __init__(self) -> None:
        self.rows: list[Account] = []

    def add(self, account: Account) -> Account:
        account.id = len(self.rows) + 1
        self.rows.append(account)
        return account

    def named(self, username: str) -> Account | None:
        return next((a for a in self.rows if a.username == username), None)

    def get(self, account_id: int) -> Account | None:
        return next((a for a in self.rows if a.id == account_id), None)

    def list(self, *, page: Page) -> PageOf[Account]:
        return in_memory(self.rows, page)

    def count(self) -> int:
        return len(self.rows)

    def count_people(self) -> int:
        return sum(1 for a in self.rows if a.role not in SERVICE_ROLES)

    def enabled_with_role(self, role: str) -> int:
        return sum(1 for a in self.rows if a.role == role and a.enabled)


class FakeRefreshTokens:
    def __init__(self) -> None:
        self.rows: list[RefreshToken] = []

    def add(self, token: RefreshToken) -> None:
        self.rows.append(token)

    def with_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self.rows if t.token_hash == token_hash), None)

    def revoke_all(self, account_id: int, now: datetime) -> None:
        for token in self.rows:
            if token.account_id == account_id and token.revoked_at is None:
                token.revoked_at = now


class FakeSigningKeys:
    def __init__(self) -> None:
        self.rows: list[SigningKey] = []

    def add(self, key: SigningKey) -> None:
        self.rows.append(key)

    def published(self) -> list[SigningKey]:
        return sorted((k for k in self.rows if k.retired_at is None), key=lambda k: k.created_at, reverse=True)


class FakeBootstrapTokens:
    def __init__(self) -> None:
        self.rows: list[BootstrapToken] = []

    def add(self, token: BootstrapToken) -> None:
        self.rows.append(token)

    def unused(self) -> list[BootstrapToken]:
        return [t for t in self.rows if t.used_at is None]


class FakeIdentityUnitOfWork(FakeUnitOfWork):
    def __init__(self, consumer: str = "tests") -> None:
        super().__init__(consumer)
        self.accounts = FakeAccounts()
        self.refresh_tokens = FakeRefreshTokens()
        self.signing_keys = FakeSigningKeys()
        self.bootstrap_tokens = FakeBootstrapTokens()
