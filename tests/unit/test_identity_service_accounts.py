"""Service accounts: made from the configuration, signing in with the client-credentials grant only."""
from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet

from services.identity import accounts, tokens
from services.identity.commands import IssueServiceToken, SignIn
from services.identity.fakes import FakeIdentityUnitOfWork
from shared import secrets
from shared.auth import Authenticator, KeyRing, Unauthenticated
from shared.errors import Conflict

PASSWORDS = accounts.Passwords(cheap=True)
SECRET = "notification-client-secret-1"
NOW = datetime.now(timezone.utc)
CIPHER = Fernet(Fernet.generate_key())


@pytest.fixture
def uow():
    uow = FakeIdentityUnitOfWork()
    accounts.ensure_service_accounts(uow, PASSWORDS, {"notification": SECRET}, NOW)
    return uow


def signer(uow):
    return tokens.signer(uow, CIPHER, NOW, 24 * 3600, 3600)  # NOW is when the module was imported


def test_a_service_gets_an_access_token_for_its_secret_that_every_service_verifies(uow):
    issued = tokens.service_token(IssueServiceToken("notification", SECRET), uow, PASSWORDS, signer(uow), NOW)

    principal = Authenticator(KeyRing(jwks=tokens.public_keys(uow))).authenticate(f"Bearer {issued.access_token}")
    assert (principal.username, principal.role, principal.every_city) == ("notification", "service", True)
    assert principal.may("participants:read") and not principal.may("participants:write")
    assert not principal.may("committee:write") and not principal.may("accounts:manage")
    assert uow.refresh_tokens.rows == []  # it holds its secret: nothing longer-lived is handed out


def test_a_wrong_secret_a_person_or_a_disabled_service_gets_no_service_token(uow):
    accounts._create(accounts.AddAccount("ada", "a-long-password-1", "national_coordinator"), uow, PASSWORDS,
                     "test", NOW)
    for client_id, secret in [("notification", "wrong-secret-123"), ("ada", "a-long-password-1")]:
        with pytest.raises(Unauthenticated):
            tokens.service_token(IssueServiceToken(client_id, secret), uow, PASSWORDS, signer(uow), NOW)
    uow.accounts.named("notification").enabled = False
    with pytest.raises(Unauthenticated) as refused:
        tokens.service_token(IssueServiceToken("notification", SECRET), uow, PASSWORDS, signer(uow), NOW)
    assert refused.value.reason == "disabled"


def test_a_service_account_does_not_sign_in_as_a_person(uow):
    with pytest.raises(Unauthenticated) as refused:
        tokens.sign_in(SignIn("notification", SECRET), uow, PASSWORDS, signer(uow), NOW)
    assert "service-token" in refused.value.message


def test_the_configured_secret_is_followed_and_a_persons_account_is_never_taken_over(uow):
    accounts.ensure_service_accounts(uow, PASSWORDS, {"notification": "rotated-secret-456"}, NOW)
    assert PASSWORDS.verify(uow.accounts.named("notification").password_hash, "rotated-secret-456")
    assert uow.accounts.count() == 1

    accounts._create(accounts.AddAccount("reporting", "a-long-password-1", "partner"), uow, PASSWORDS, "test", NOW)
    with pytest.raises(Conflict):
        accounts.ensure_service_accounts(uow, PASSWORDS, {"reporting": "x" * 20}, NOW)


def test_without_a_setting_the_secret_is_derived_from_the_secret_key_and_a_setting_wins(tmp_path):
    config = {"SECRET_KEY": "k" * 40, "SECRET_KEY_FILE": str(tmp_path / "key")}
    assert secrets.client_secret(config, "notification") == secrets.client_secret(dict(config), "notification")
    assert secrets.client_secret({**config, "SECRET_KEY": "other" * 8}, "notification") != \
        secrets.client_secret(config, "notification")
    assert secrets.client_secret({**config, "NOTIFICATION_CLIENT_SECRET": SECRET}, "notification") == SECRET


def test_a_derived_secret_does_not_replace_one_set_by_hand(uow):
    accounts.ensure_service_accounts(uow, PASSWORDS, {"notification": "derived-secret-789"}, NOW, follow=False)
    assert PASSWORDS.verify(uow.accounts.named("notification").password_hash, SECRET)


def test_sealed_secrets_open_only_with_their_key_and_purpose(tmp_path):
    config = {"SECRET_KEY": "k" * 40}
    vault = secrets.Secrets(config, "webhook-secrets")
    sealed = vault.seal("a-committee-secret")
    assert "a-committee-secret" not in sealed and vault.open(sealed) == "a-committee-secret"
    assert vault.is_sealed(sealed) and not vault.is_sealed("a-committee-secret")
    assert not secrets.Secrets(config, "smtp-passwords").is_sealed(sealed)
    assert not secrets.Secrets({"SECRET_KEY": "x" * 40}, "webhook-secrets").is_sealed(sealed)
