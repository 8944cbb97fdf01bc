"""Verifying tokens where the request lands: identity's, an OIDC issuer's, and refusing every other."""
import base64
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.identity import tokens
from services.identity.fakes import FakeIdentityUnitOfWork
from services.identity.models import Account
from shared import auth
from shared.auth import Authenticator, KeyRing, OidcIssuer, Principal, Unauthenticated, authorize
from shared.errors import Forbidden, Unavailable
from tests.support.oidc_issuer import OidcIssuer as IssuerServer
from tests.support.oidc_issuer import rsa_key

BUDI = Account(id=7, username="budi", role="city_coordinator", cities=["medan"])


@pytest.fixture
def identity():
    """identity's keys, as its service makes and publishes them."""
    uow = FakeIdentityUnitOfWork()
    signer = tokens.signer(uow, Fernet(Fernet.generate_key()), datetime.now(timezone.utc), 50, 3600)
    return signer, tokens.public_keys(uow)


@pytest.fixture
def verifier(identity):
    return Authenticator(KeyRing(jwks=identity[1]))


def now(seconds=0):
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def reason(verifier, header):
    with pytest.raises(Unauthenticated) as refused:
        verifier.authenticate(header)
    return refused.value.reason


def test_a_token_of_identity_is_the_account_it_was_issued_to(identity, verifier):
    signer, _ = identity
    principal = verifier.authenticate(f"Bearer {signer.access_token(BUDI, now())}")
    assert principal == Principal("7", "budi", "city_coordinator", ("medan",), auth.ISSUER)


def test_no_token_or_not_a_bearer_token_is_refused_saying_so(verifier):
    assert reason(verifier, None) == "missing"
    assert reason(verifier, "") == "missing"
    assert reason(verifier, "Basic YWRhOnNlY3JldA==") == "malformed"
    assert reason(verifier, "Bearer not-a-token") == "malformed"


def test_an_expired_token_is_refused(identity, verifier):
    signer, _ = identity
    assert reason(verifier, f"Bearer {signer.access_token(BUDI, now(-120))}") == "expired"


def test_a_token_whose_claims_were_changed_is_refused(identity, verifier):
    signer, _ = identity
    header, payload, signature = signer.access_token(BUDI, now()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(role="national_coordinator", cities=["*"])
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert reason(verifier, f"Bearer {header}.{forged}.{signature}") == "tampered"


def test_a_token_signed_with_another_key_is_refused_whatever_key_id_it_names(identity, verifier):
    signer, _ = identity
    stranger = tokens.Signer(signer.kid, Ed25519PrivateKey.generate(), 50, 3600)
    assert reason(verifier, f"Bearer {stranger.access_token(BUDI, now())}") == "tampered"
    unknown = tokens.Signer("someone-elses-key", Ed25519PrivateKey.generate(), 50, 3600)
    assert reason(verifier, f"Bearer {unknown.access_token(BUDI, now())}") == "unknown_key"


def test_a_token_signed_with_a_shared_secret_or_none_is_refused(identity, verifier):
    signer, jwks = identity
    claims = {"iss": auth.ISSUER, "aud": auth.AUDIENCE, "sub": "1", "role": "national_coordinator",
              "iat": int(now().timestamp()), "exp": int(now(60).timestamp())}
    public = jwks["keys"][0]["x"].encode()  # the public key, as an attacker would try it as a secret
    hmac = jwt.encode(claims, public, algorithm="HS256", headers={"kid": signer.kid})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": signer.kid})
    assert reason(verifier, f"Bearer {hmac}") in ("invalid", "tampered")
    assert reason(verifier, f"Bearer {unsigned}") in ("invalid", "tampered")


def test_a_token_of_an_issuer_nobody_configured_is_refused(verifier):
    token = jwt.encode({"iss": "https://evil.example", "sub": "1", "exp": int(now(60).timestamp())},
                       Ed25519PrivateKey.generate(), algorithm="EdDSA")
    assert reason(verifier, f"Bearer {token}") == "untrusted_issuer"


# --- permissions and cities ----------------------------------------------------------

def test_a_role_without_the_permission_is_refused_naming_it():
    partner = Principal("3", "mitra", "partner")
    with pytest.raises(Forbidden) as refused:
        authorize(partner, "participants:read")
    assert refused.value.details["permission"] == "participants:read"
    assert "participants:read" in refused.value.message
    assert authorize(partner, "summaries:read") is partner


def test_a_city_coordinator_works_in_their_cities_only():
    budi = Principal("7", "budi", "city_coordinator", ("medan",))
    assert authorize(budi, "participants:read", city="medan") is budi
    with pytest.raises(Forbidden) as refused:
        authorize(budi, "participants:read", city="pontianak")
    assert refused.value.details["city"] == "pontianak"
    assert budi.city_filter() == ("medan",) and not budi.sees("pontianak")
    national = Principal("1", "ada", "national_coordinator")
    assert national.sees("pontianak") and national.city_filter() is None


def test_every_role_holds_only_known_permissions_and_no_personal_data_for_partners_and_operators():
    assert all(perms <= set(auth.PERMISSIONS) for perms in auth.ROLES.values())
    personal = {"participants:read", "committee:read", "deliveries:read", "audit:read"}
    assert not auth.ROLES["partner"] & personal and not auth.ROLES["operator"] & personal
    assert auth.ROLES["national_coordinator"] == set(auth.PERMISSIONS)


# --- keys fetched from a JWKS over HTTP ----------------------------------------------

@pytest.fixture
def jwks_server():
    server = IssuerServer()
    yield server
    server.stop()


def test_identitys_keys_are_fetched_once_and_again_only_for_a_key_id_not_seen(identity, jwks_server):
    signer, jwks = identity
    jwks_server.jwks = jwks
    keys = KeyRing(jwks_server.url + "/jwks.json")
    keys.REFETCH_AFTER = 0
    verifier = Authenticator(keys)

    for _ in range(3):
        verifier.authenticate(f"Bearer {signer.access_token(BUDI, now())}")
    assert jwks_server.fetches == 1

    uow = FakeIdentityUnitOfWork()
    rotated = tokens.signer(uow, Fernet(Fernet.generate_key()), now(), 50, 3600)
    jwks_server.jwks = {"keys": jwks["keys"] + tokens.public_keys(uow)["keys"]}
    assert verifier.authenticate(f"Bearer {rotated.access_token(BUDI, now())}").username == "budi"
    assert jwks_server.fetches == 2


def test_keys_that_cannot_be_fetched_are_a_503_not_a_401(identity):
    signer, _ = identity
    verifier = Authenticator(KeyRing("http://127.0.0.1:9/api/v1/auth/jwks.json"))
    with pytest.raises(Unavailable):
        verifier.authenticate(f"Bearer {signer.access_token(BUDI, now())}")


def test_identity_in_the_same_process_publishes_its_keys_without_a_fetch(identity):
    signer, jwks = identity
    auth.publish_local_keys(jwks)
    verifier = Authenticator(KeyRing("http://127.0.0.1:9/never-asked"))
    assert verifier.authenticate(f"Bearer {signer.access_token(BUDI, now())}").username == "budi"


# --- an external OpenID Connect issuer -------------------------------------------------

@pytest.fixture
def oidc(identity):
    server = IssuerServer()
    verifier = Authenticator(KeyRing(jwks=identity[1]), OidcIssuer(server.url, audience="campaign"))
    yield server, verifier
    server.stop()


def test_an_oidc_issuers_token_maps_its_claims_to_a_principal(oidc, identity):
    server, verifier = oidc
    token = server.token(campaign_role="city_coordinator", campaign_cities=["Medan", "pontianak"])

    principal = verifier.authenticate(f"Bearer {token}")

    assert principal == Principal("oidc:user-1", "siti", "city_coordinator", ("medan", "pontianak"), server.url)
    spaced = server.token(campaign_role="committee_member", campaign_cities="medan")
    assert verifier.authenticate(f"Bearer {spaced}").cities == ("medan",)
    # identity's own tokens are still accepted beside the issuer's.
    assert verifier.authenticate(f"Bearer {identity[0].access_token(BUDI, now())}").username == "budi"


def test_tokens_the_oidc_issuer_did_not_sign_or_not_for_this_campaign_are_refused(oidc):
    server, verifier = oidc
    forged = server.token(key=rsa_key(), campaign_role="national_coordinator")  # its key id, another key
    stranger = server.token(key=rsa_key(), kid="not-published", campaign_role="national_coordinator")
    elsewhere = server.token(aud="another-app", campaign_role="national_coordinator")
    expired = server.token(ttl=-120, campaign_role="national_coordinator")

    assert reason(verifier, f"Bearer {forged}") == "tampered"
    assert reason(verifier, f"Bearer {stranger}") == "unknown_key"
    assert reason(verifier, f"Bearer {elsewhere}") == "invalid"
    assert reason(verifier, f"Bearer {expired}") == "expired"


def test_an_oidc_account_without_a_campaign_role_or_cities_is_forbidden(oidc):
    server, verifier = oidc
    with pytest.raises(Forbidden):
        verifier.authenticate(f"Bearer {server.token()}")
    with pytest.raises(Forbidden):
        verifier.authenticate(f"Bearer {server.token(campaign_role='city_coordinator')}")
    with pytest.raises(Forbidden):
        verifier.authenticate(f"Bearer {server.token(campaign_role='superuser')}")
