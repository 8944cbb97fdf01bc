"""identity's handlers against its in-memory repositories: accounts, the first account, tokens."""
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.fernet import Fernet

from services.identity import accounts, tokens
from services.identity.commands import (
    AddAccount,
    CreateFirstAccount,
    DisableAccount,
    EnableAccount,
    GrantRole,
    RefreshTokens,
    SignIn,
    SignOut,
)
from services.identity.fakes import FakeIdentityUnitOfWork
from shared.auth import ALGORITHM, AUDIENCE, ISSUER, Authenticator, KeyRing, Principal, Unauthenticated
from shared.errors import Conflict, InvalidInput, NotFound
from shared.pagination import Page

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"
PASSWORDS = accounts.Passwords(cheap=True)
CIPHER = Fernet(Fernet.generate_key())


def coordinator_of(uow, username="ada"):
    account = uow.accounts.named(username)
    return Principal(str(account.id), account.username, account.role, tuple(account.cities))


@pytest.fixture
def uow():
    """A unit of work whose first national coordinator, ada, exists."""
    uow = FakeIdentityUnitOfWork()
    token = accounts.issue_bootstrap_token(uow, NOW)
    accounts.create_first_account(CreateFirstAccount(token, "ada", PASSWORD), uow, PASSWORDS, NOW)
    return uow


def add(uow, username, role, cities=(), password=PASSWORD):
    return accounts.add_account(AddAccount(username, password, role, tuple(cities)), uow, PASSWORDS,
                                coordinator_of(uow), NOW)


def signer(uow, ttl=50):
    return tokens.signer(uow, CIPHER, NOW, ttl, 3600)


# --- the first account ---------------------------------------------------------------

def test_the_bootstrap_token_makes_one_national_coordinator_once():
    uow = FakeIdentityUnitOfWork()
    token = accounts.issue_bootstrap_token(uow, NOW)

    first = accounts.create_first_account(CreateFirstAccount(token, "ada", PASSWORD), uow, PASSWORDS, NOW)

    assert (first.username, first.role, first.cities, first.enabled) == ("ada", "national_coordinator", ["*"], True)
    with pytest.raises(Unauthenticated):
        accounts.create_first_account(CreateFirstAccount(token, "eve", PASSWORD), uow, PASSWORDS, NOW)
    assert accounts.issue_bootstrap_token(uow, NOW) is None
    assert [a.username for a in accounts.list_accounts(uow, Page()).items] == ["ada"]


def test_a_bootstrap_token_expires_and_a_new_one_voids_the_old():
    uow = FakeIdentityUnitOfWork()
    old = accounts.issue_bootstrap_token(uow, NOW)
    new = accounts.issue_bootstrap_token(uow, NOW)
    with pytest.raises(Unauthenticated):
        accounts.create_first_account(CreateFirstAccount(old, "ada", PASSWORD), uow, PASSWORDS, NOW)
    with pytest.raises(Unauthenticated):
        accounts.create_first_account(CreateFirstAccount(new, "ada", PASSWORD), uow, PASSWORDS,
                                      NOW + timedelta(hours=25))
    assert uow.accounts.count() == 0


def test_only_the_hash_of_a_bootstrap_token_is_kept():
    uow = FakeIdentityUnitOfWork()
    token = accounts.issue_bootstrap_token(uow, NOW)
    assert token not in {row.token_hash for row in uow.bootstrap_tokens.rows}


# --- accounts ------------------------------------------------------------------------

def test_an_account_gets_its_role_and_cities_and_a_hashed_password(uow):
    budi = add(uow, "budi", "city_coordinator", ["Medan", "pontianak"])

    assert (budi.role, budi.cities, budi.created_by) == ("city_coordinator", ["medan", "pontianak"], "ada")
    assert PASSWORD not in budi.password_hash and budi.password_hash.startswith("$argon2id$")


@pytest.mark.parametrize("role, cities, field", [
    ("city_coordinator", [], "cities"),
    ("committee_member", ["medan", "pontianak"], "cities"),
    ("partner", ["medan"], "cities"),
    ("janitor", [], "role"),
    ("city_coordinator", ["Medan!"], "cities"),
])
def test_a_role_with_cities_that_do_not_fit_it_is_refused_naming_the_field(uow, role, cities, field):
    with pytest.raises(InvalidInput) as refused:
        add(uow, "budi", role, cities)
    assert field in refused.value.details["fields"]
    assert uow.accounts.named("budi") is None


def test_a_short_password_and_a_bad_username_are_refused_together(uow):
    with pytest.raises(InvalidInput) as refused:
        add(uow, "B", "partner", password="short")
    assert set(refused.value.details["fields"]) == {"username", "password"}


def test_a_username_is_taken_once(uow):
    add(uow, "budi", "partner")
    with pytest.raises(Conflict):
        add(uow, "budi", "operator")


def test_disabling_an_account_revokes_its_refresh_tokens_and_enabling_it_lets_it_sign_in_again(uow):
    add(uow, "budi", "operator")
    signed_in = tokens.sign_in(SignIn("budi", PASSWORD), uow, PASSWORDS, signer(uow), NOW)

    accounts.disable_account(DisableAccount("budi"), uow, coordinator_of(uow), NOW)

    with pytest.raises(Unauthenticated) as refresh_refused:
        tokens.refresh(RefreshTokens(signed_in.refresh_token), uow, signer(uow), NOW)
    assert refresh_refused.value.reason == "expired"  # revoked with the account
    with pytest.raises(Unauthenticated) as sign_in_refused:
        tokens.sign_in(SignIn("budi", PASSWORD), uow, PASSWORDS, signer(uow), NOW)
    assert sign_in_refused.value.reason == "disabled"

    accounts.enable_account(EnableAccount("budi"), uow, coordinator_of(uow), NOW)
    assert tokens.sign_in(SignIn("budi", PASSWORD), uow, PASSWORDS, signer(uow), NOW).account.username == "budi"


def test_the_last_enabled_national_coordinator_cannot_be_disabled_or_demoted(uow):
    with pytest.raises(Conflict):
        accounts.disable_account(DisableAccount("ada"), uow, coordinator_of(uow), NOW)
    with pytest.raises(Conflict):
        accounts.grant_role(GrantRole("ada", "partner"), uow, coordinator_of(uow), NOW)
    add(uow, "dewi", "national_coordinator")
    assert accounts.grant_role(GrantRole("ada", "partner"), uow, coordinator_of(uow, "dewi"), NOW).role == "partner"


def test_granting_replaces_the_role_and_cities(uow):
    add(uow, "budi", "city_coordinator", ["medan"])
    granted = accounts.grant_role(GrantRole("budi", "committee_member", ("pontianak",)), uow, coordinator_of(uow), NOW)
    assert (granted.role, granted.cities) == ("committee_member", ["pontianak"])
    with pytest.raises(NotFound):
        accounts.grant_role(GrantRole("nobody", "partner"), uow, coordinator_of(uow), NOW)


def test_a_disabled_coordinators_token_manages_nothing_at_identity(uow):
    add(uow, "dewi", "national_coordinator")
    dewi = coordinator_of(uow, "dewi")
    accounts.disable_account(DisableAccount("dewi"), uow, coordinator_of(uow), NOW)
    add(uow, "budi", "partner")  # ada still may
    with pytest.raises(Unauthenticated) as refused:
        accounts.add_account(AddAccount("eve", PASSWORD, "national_coordinator"), uow, PASSWORDS, dewi, NOW)
    assert refused.value.reason == "disabled"
    assert uow.accounts.named("eve") is None


def test_demo_accounts_are_made_once():
    uow = FakeIdentityUnitOfWork()
    wanted = {"nasional": ("national_coordinator", ()), "komite": ("committee_member", ("pontianak",))}
    accounts.ensure_demo_accounts(uow, PASSWORDS, wanted, PASSWORD, NOW)
    accounts.ensure_demo_accounts(uow, PASSWORDS, wanted, PASSWORD, NOW)
    assert sorted((a.username, a.role) for a in accounts.list_accounts(uow, Page()).items) == [
        ("komite", "committee_member"), ("nasional", "national_coordinator")]


# --- tokens --------------------------------------------------------------------------

def test_signing_in_gives_an_access_token_every_service_can_verify_with_the_published_keys(uow):
    add(uow, "budi", "city_coordinator", ["medan"])
    signed_in = tokens.sign_in(SignIn("budi", PASSWORD), uow, PASSWORDS, signer(uow), datetime.now(timezone.utc))

    verifier = Authenticator(KeyRing(jwks=tokens.public_keys(uow)))
    principal = verifier.authenticate(f"Bearer {signed_in.access_token}")

    assert (principal.username, principal.role, principal.cities) == ("budi", "city_coordinator", ("medan",))
    claims = jwt.decode(signed_in.access_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["exp"] - claims["iat"]) == (ISSUER, AUDIENCE, 50)
    assert jwt.get_unverified_header(signed_in.access_token)["alg"] == ALGORITHM


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(uow):
    answers = []
    for username, password in (("ada", "not the password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthenticated) as refused:
            tokens.sign_in(SignIn(username, password), uow, PASSWORDS, signer(uow), NOW)
        answers.append(refused.value.as_dict())
    assert answers[0] == answers[1]


def test_a_refresh_token_is_used_once_and_lapses(uow):
    first = tokens.sign_in(SignIn("ada", PASSWORD), uow, PASSWORDS, signer(uow), NOW)
    second = tokens.refresh(RefreshTokens(first.refresh_token), uow, signer(uow), NOW)

    assert second.refresh_token != first.refresh_token
    with pytest.raises(Unauthenticated):
        tokens.refresh(RefreshTokens(first.refresh_token), uow, signer(uow), NOW)
    with pytest.raises(Unauthenticated):
        tokens.refresh(RefreshTokens(second.refresh_token), uow, signer(uow), NOW + timedelta(hours=2))


def test_signing_out_revokes_the_refresh_token(uow):
    signed_in = tokens.sign_in(SignIn("ada", PASSWORD), uow, PASSWORDS, signer(uow), NOW)
    tokens.sign_out(SignOut(signed_in.refresh_token), uow, NOW)
    with pytest.raises(Unauthenticated):
        tokens.refresh(RefreshTokens(signed_in.refresh_token), uow, signer(uow), NOW)


def test_the_signing_key_is_made_once_stored_encrypted_and_reopened():
    uow = FakeIdentityUnitOfWork()
    first = signer(uow)
    again = signer(uow)

    assert first.kid == again.kid and len(uow.signing_keys.rows) == 1
    stored = uow.signing_keys.rows[0]
    assert "PRIVATE KEY" not in stored.private_key and "d" not in stored.public_jwk  # no private part published
    with pytest.raises(tokens.SigningKeyLocked):
        tokens.signer(uow, Fernet(Fernet.generate_key()), NOW, 50, 3600)
