from services.identity import accounts, tokens
from services.identity.commands import (
    AddAccount,
    CreateFirstAccount,
    DisableAccount,
    EnableAccount,
    GrantRole,
    IssueServiceToken,
    RefreshTokens,
    SignIn,
    SignOut,
)
from services.identity.dependencies import ServiceAccounts, SigningKeys
from services.identity.models import Base
from services.identity.repository import IdentityUnitOfWork
from services.identity.schemas import (
    AccountIn,
    AccountOut,
    AccountPage,
    Done,
    FirstAccountIn,
    GrantIn,
    KeysOut,
    RefreshIn,
    ServiceTokenIn,
    ServiceTokenOut,
    SignInIn,
    TokensOut,
)
from shared.auth import PUBLIC, SIGNED_IN
from shared.database import utcnow
from shared.dependencies import Database, Metrics
from shared.health import HealthEndpoints
from shared.pagination import PageQuery
from shared.web import PrometheusEndpoint, api

ACCOUNT = "/accounts/<username>"
PASSWORDS = accounts.Passwords()


class IdentityService(PrometheusEndpoint, HealthEndpoints):
    """Accounts and roles; the tokens every service verifies on its own."""

    name = "identity"
    declares_permissions = True  # every operation says who may call it (checked at start)

    db = Database(Base.metadata, unit_of_work=IdentityUnitOfWork)
    metrics = Metrics()
    signer = SigningKeys()
    service_accounts = ServiceAccounts()

    # --- tokens ------------------------------------------------------------------

    @api("POST", "/auth/token", body=SignInIn, response=TokensOut, permission=PUBLIC)
    def sign_in(self, request, body):
        """Sign in with username and password: an access token (a minute) and a refresh token."""
        with self.db.unit_of_work() as uow:
            return TokensOut().dump(tokens.sign_in(SignIn(**body), uow, PASSWORDS, self.signer, utcnow()))

    @api("POST", "/auth/service-token", body=ServiceTokenIn, response=ServiceTokenOut, permission=PUBLIC)
    def issue_service_token(self, request, body):
        """A service's access token for its client id and secret (the client-credentials grant)."""
        with self.db.read() as uow:
            return ServiceTokenOut().dump(tokens.service_token(IssueServiceToken(**body), uow, PASSWORDS,
                                                                self.signer, utcnow()))

    @api("POST", "/auth/refresh", body=RefreshIn, response=TokensOut, permission=PUBLIC)
    def refresh(self, request, body):
        """The next tokens for a refresh token, while its account is enabled."""
        with self.db.unit_of_work() as uow:
            return TokensOut().dump(tokens.refresh(RefreshTokens(**body), uow, self.signer, utcnow()))

    @api("POST", "/auth/logout", body=RefreshIn, response=Done, permission=PUBLIC)
    def sign_out(self, request, body):
        """Revoke a refresh token."""
        with self.db.unit_of_work() as uow:
            tokens.sign_out(SignOut(**body), uow, utcnow())
            return {"done": True}

    @api("GET", "/auth/jwks.json", response=KeysOut, permission=PUBLIC)
    def public_keys(self, request):
        """The public keys access tokens are signed with (JWKS)."""
        with self.db.read() as uow:
            return tokens.public_keys(uow)

    @api("POST", "/auth/bootstrap", body=FirstAccountIn, response=AccountOut, status=201, permission=PUBLIC)
    def create_first_account(self, request, body):
        """The first national coordinator, with the one-time token of `campaign accounts bootstrap`."""
        with self.db.unit_of_work() as uow:
            account = accounts.create_first_account(CreateFirstAccount(**body), uow, PASSWORDS, utcnow())
            return 201, AccountOut().dump(account)

    @api("GET", "/auth/me", response=AccountOut, permission=SIGNED_IN)
    def who_am_i(self, request, principal):
        """The signed-in account."""
        with self.db.read() as uow:
            accounts.require_enabled(uow, principal)
            return AccountOut().dump(accounts.show_account(uow, principal.username))

    # --- accounts ----------------------------------------------------------------

    @api("GET", "/accounts", query=PageQuery, response=AccountPage, permission="accounts:manage")
    def list_accounts(self, request, query, principal):
        with self.db.read() as uow:
            accounts.require_enabled(uow, principal)
            return AccountPage().dump(accounts.list_accounts(uow, query["page"]))

    @api("POST", "/accounts", body=AccountIn, response=AccountOut, status=201, permission="accounts:manage")
    def add_account(self, request, body, principal):
        command = AddAccount(**{**body, "cities": tuple(body["cities"])})
        with self.db.unit_of_work() as uow:
            return 201, AccountOut().dump(accounts.add_account(command, uow, PASSWORDS, principal, utcnow()))

    @api("GET", ACCOUNT, response=AccountOut, permission="accounts:manage")
    def show_account(self, request, username, principal):
        with self.db.read() as uow:
            accounts.require_enabled(uow, principal)
            return AccountOut().dump(accounts.show_account(uow, username))

    @api("POST", ACCOUNT + "/disable", response=AccountOut, permission="accounts:manage")
    def disable_account(self, request, username, principal):
        """Disable an account: no sign-in, no refresh; its last access token lapses within a minute."""
        with self.db.unit_of_work() as uow:
            return AccountOut().dump(accounts.disable_account(DisableAccount(username), uow, principal, utcnow()))

    @api("POST", ACCOUNT + "/enable", response=AccountOut, permission="accounts:manage")
    def enable_account(self, request, username, principal):
        with self.db.unit_of_work() as uow:
            return AccountOut().dump(accounts.enable_account(EnableAccount(username), uow, principal, utcnow()))

    @api("POST", ACCOUNT + "/grant", body=GrantIn, response=AccountOut, permission="accounts:manage")
    def grant_role(self, request, username, body, principal):
        """Give an account a role and its cities."""
        command = GrantRole(username, body["role"], tuple(body["cities"]))
        with self.db.unit_of_work() as uow:
            return AccountOut().dump(accounts.grant_role(command, uow, principal, utcnow()))
