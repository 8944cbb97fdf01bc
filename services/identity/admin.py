"""What runs on identity's database directly, from the command line on its host: no token needed,
access to the database is the credential (the bootstrap token, the demo's accounts)."""
from contextlib import contextmanager

from services.identity import accounts
from services.identity.models import Base
from services.identity.repository import IdentityUnitOfWork
from shared.database import Store, utcnow

# The demo's people: one of each role, in the demo's city.
DEMO_ACCOUNTS = {
    "nasional": ("national_coordinator", ()),
    "pontianak": ("city_coordinator", ("pontianak",)),
    "komite-pontianak": ("committee_member", ("pontianak",)),
    "komite-medan": ("committee_member", ("medan",)),  # sees none of Pontianak's data
    "mitra": ("partner", ()),
    "operator": ("operator", ()),
}


@contextmanager
def _unit_of_work(config):
    store = Store(config["DATABASE_URLS"]["identity"], Base.metadata, consumer="identity.admin",
                  unit_of_work=IdentityUnitOfWork)
    try:
        with store.unit_of_work() as uow:
            yield uow
    finally:
        store.dispose()


def bootstrap_token(config: dict) -> str | None:
    """A one-time token for the first national coordinator; None once any account exists."""
    with _unit_of_work(config) as uow:
        return accounts.issue_bootstrap_token(uow, utcnow())


def ensure_demo_accounts(config: dict, password: str) -> list[str]:
    """The demo's accounts (DEMO_ACCOUNTS), all with ``password``; their usernames."""
    with _unit_of_work(config) as uow:
        made = accounts.ensure_demo_accounts(uow, accounts.Passwords(), DEMO_ACCOUNTS, password, utcnow())
        return [account.username for account in made]
