"""identity's tables behind repositories, on its unit of work."""
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.identity.models import Account, BootstrapToken, RefreshToken, SigningKey
from shared.auth import SERVICE_ROLES
from shared.database import UnitOfWork
from shared.pagination import Page, PageOf, cut, keyset


class SqlAccounts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, account: Account) -> Account:
        self.session.add(account)
        self.session.flush()
        return account

    def named(self, username: str) -> Account | None:
        return self.session.scalar(select(Account).where(Account.username == username))

    def get(self, account_id: int) -> Account | None:
        return self.session.get(Account, account_id)

    def list(self, *, page: Page) -> PageOf[Account]:
        return cut(self.session.scalars(keyset(select(Account), Account.id, page)).all(), page)

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(Account))

    def count_people(self) -> int:
        """Accounts of people: service accounts do not count (they do not make a database "used")."""
        return self.session.scalar(select(func.count()).select_from(Account).where(
            Account.role.not_in(SERVICE_ROLES)))

    def enabled_with_role(self, role: str) -> int:
        return self.session.scalar(select(func.count()).select_from(Account).where(
            Account.role == role, Account.enabled.is_(True)))


class SqlRefreshTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: RefreshToken) -> None:
        self.session.add(token)

    def with_hash(self, token_hash: str) -> RefreshToken | None:
        return self.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))

    def revoke_all(self, account_id: int, now: datetime) -> None:
        self.session.execute(update(RefreshToken).where(
            RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None)).values(revoked_at=now))


class SqlSigningKeys:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: SigningKey) -> None:
        self.session.add(key)

    def published(self) -> list[SigningKey]:
        """Keys in use, newest first: the first signs, all of them verify."""
        return list(self.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))
                                         .order_by(SigningKey.created_at.desc(), SigningKey.kid)))


class SqlBootstrapTokens:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: BootstrapToken) -> None:
        self.session.add(token)

    def unused(self) -> list[BootstrapToken]:
        return list(self.session.scalars(select(BootstrapToken).where(BootstrapToken.used_at.is_(None))))


class IdentityUnitOfWork(UnitOfWork):
    def __init__(self, session: Session, consumer: str) -> None:
        super().__init__(session, consumer)
        self.accounts = SqlAccounts(session)
        self.refresh_tokens = SqlRefreshTokens(session)
        self.signing_keys = SqlSigningKeys(session)
        self.bootstrap_tokens = SqlBootstrapTokens(session)
