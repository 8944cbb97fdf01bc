"""Who is asking, and may they: access tokens verified locally, roles mapped to permissions.

Every service verifies a bearer token itself, with identity's public keys
(fetched once from its JWKS and kept; fetched again only for a key id it has
not seen) or, with ``OIDC_ISSUER`` set, an external OpenID Connect issuer's.
No call per request.  Plain Python (PyJWT, requests): no nameko here;
``shared.web`` calls ``authenticate`` and ``authorize`` before a worker runs.
See docs/identity.md for the roles, the permissions and the tokens.
"""
import json
import threading
import time
from dataclasses import dataclass

import jwt
import requests

from shared.errors import DomainError, Forbidden, Unavailable

# What an operation declares instead of a permission: anyone, or anyone signed in.
PUBLIC = "public"
SIGNED_IN = "signed-in"

PERMISSIONS = {
    "rollouts:read": "rollouts and their agendas (no personal data)",
    "rollouts:write": "plan, edit, launch, start, complete and cancel rollouts; close registration",
    "participants:read": "participant lists and records, with names: personal data",
    "participants:write": "register, import, edit, cancel and check in participants",
    "assessment:read": "instruments, scores by participant code, gains, action plans",
    "assessment:write": "instruments, test sheets, submissions, action plans",
    "committee:read": "a rollout's committee: adults' names and contact data",
    "committee:write": "set up and change a rollout's committee (addresses, webhook)",
    "deliveries:read": "what was sent to a committee, and who received whose data",
    "deliveries:acknowledge": "acknowledge a delivery on behalf of the committee",
    "reports:internal": "activity reports and figures of a rollout",
    "reports:public": "public reports and exports of aggregates",
    "summaries:read": "public summaries (aggregates, small cells suppressed)",
    "audit:read": "who listed, exported or received personal data",
    "accounts:manage": "add, list, disable, enable accounts and grant roles",
    "operations": "dead letters, rebuilding read models, metrics (no personal data)",
}

_COORDINATING = {"rollouts:read", "rollouts:write", "participants:read", "participants:write",
                 "assessment:read", "assessment:write", "committee:read", "committee:write",
                 "deliveries:read", "reports:internal", "reports:public", "summaries:read", "audit:read"}
ROLES = {
    "national_coordinator": frozenset(PERMISSIONS),
    "city_coordinator": frozenset(_COORDINATING),
    "committee_member": frozenset({"rollouts:read", "participants:read", "committee:read", "deliveries:read",
                                   "deliveries:acknowledge", "audit:read", "reports:public", "summaries:read"}),
    "partner": frozenset({"reports:public", "summaries:read"}),
    "operator": frozenset({"operations"}),
}
# Roles that work in named cities; the others work in every city ("*").
CITY_ROLES = {"city_coordinator", "committee_member"}
ALL_CITIES = "*"

ISSUER = "campaign-identity"
AUDIENCE = "campaign"
ALGORITHM = "EdDSA"  # identity's own tokens: Ed25519 signatures
# An external issuer's: asymmetric only; never "none" or a shared secret (HS*).
OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"]
LEEWAY = 5  # seconds of clock difference between the issuer and a service


class Unauthenticated(DomainError):
    """No usable token: answered 401; ``reason`` is missing, malformed, expired, tampered,
    unknown_key, untrusted_issuer, invalid or disabled."""

    code = "unauthenticated"

    def __init__(self, message: str, reason: str, **details: object) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """The account a request comes from, as its token says."""

    account_id: str
    username: str
    role: str
    cities: tuple[str, ...] = (ALL_CITIES,)
    issuer: str = ISSUER

    @property
    def permissions(self) -> frozenset[str]:
        return ROLES.get(self.role, frozenset())

    @property
    def every_city(self) -> bool:
        return ALL_CITIES in self.cities

    def may(self, permission: str) -> bool:
        return permission in (PUBLIC, SIGNED_IN) or permission in self.permissions

    def sees(self, city: str) -> bool:
        """Whether the account works in ``city`` (a record of another city is, to it, not there)."""
        return self.every_city or city in self.cities

    def city_filter(self) -> tuple[str, ...] | None:
        """The cities a list is restricted to; None: every city."""
        return None if self.every_city else self.cities


def authorize(principal: Principal, permission: str, city: str | None = None) -> Principal:
    """``principal`` if it holds ``permission`` (in ``city``, when given); else Forbidden naming it."""
    if not principal.may(permission):
        raise Forbidden(f"This needs the permission {permission}, which the role {principal.role} does not have.",
                        permission=permission)
    if city is not None and not principal.sees(city):
        raise Forbidden(f"{principal.username} works in {', '.join(principal.cities)}, not in {city}.",
                        permission=permission, city=city)
    return principal


def scope_of(role: str, cities: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The cities a role works in: the given ones for city roles, every city for the others."""
    return tuple(cities) if role in CITY_ROLES else (ALL_CITIES,)


# --- identity's public keys ---------------------------------------------------------

_local_keys: dict[str, jwt.PyJWK] = {}


def publish_local_keys(jwks: dict) -> None:
    """identity, running in this process, hands its public keys to the services beside it."""
    for key in jwt.PyJWKSet.from_dict(jwks).keys:
        _local_keys[key.key_id] = key


class KeyRing:
    """identity's public keys: configured, published in this process, or fetched from its JWKS."""

    REFETCH_AFTER = 5.0  # seconds; a flood of made-up key ids costs one fetch per interval

    def __init__(self, jwks_url: str | None = None, jwks: dict | None = None) -> None:
        self.jwks_url = jwks_url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        if jwks:
            self._add(jwks)

    def _add(self, jwks):
        for key in jwt.PyJWKSet.from_dict(jwks).keys:
            self._keys[key.key_id] = key

    def key(self, kid: str) -> jwt.PyJWK | None:
        found = _local_keys.get(kid) or self._keys.get(kid)
        if found is None and self.jwks_url and self._may_fetch():
            self._fetch()
            found = self._keys.get(kid)
        return found

    def _may_fetch(self):
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self.REFETCH_AFTER

    def _fetch(self):
        with self._lock:
            try:
                answer = requests.get(self.jwks_url, timeout=5)
                answer.raise_for_status()
                self._add(answer.json())
            except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
                raise Unavailable(f"identity's keys could not be fetched from {self.jwks_url} "
                                  f"({exc.__class__.__name__}); try again shortly") from None
            self._fetched_at = time.monotonic()


class OidcIssuer:
    """An external OpenID Connect issuer: keys from its discovery document, claims mapped to a Principal."""

    def __init__(self, issuer: str, audience: str | None = None, role_claim: str = "campaign_role",
                 cities_claim: str = "campaign_cities") -> None:
        self.issuer = issuer
        self.audience = audience
        self.role_claim = role_claim
        self.cities_claim = cities_claim
        self._client: jwt.PyJWKClient | None = None

    def client(self) -> jwt.PyJWKClient:
        if self._client is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            try:
                answer = requests.get(url, timeout=5)
                answer.raise_for_status()
                discovery = answer.json()
            except (requests.RequestException, ValueError) as exc:
                raise Unavailable(f"the OpenID Connect issuer's discovery document {url} could not be read "
                                  f"({exc.__class__.__name__})") from None
            if discovery.get("issuer", "").rstrip("/") != self.issuer or not discovery.get("jwks_uri"):
                raise Unavailable(f"{url} does not describe the issuer {self.issuer} with a jwks_uri")
            # PyJWKClient keeps the keys and fetches them again for a key id it does not know.
            self._client = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=True, lifespan=300, timeout=5)
        return self._client

    def principal(self, token: str) -> Principal:
        try:
            key = self.client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise Unavailable(f"the keys of {self.issuer} could not be fetched; try again shortly") from None
        except (jwt.PyJWKClientError, jwt.DecodeError):
            raise Unauthenticated(f"The token is signed by a key {self.issuer} does not publish.",
                                  "unknown_key") from None
        claims = _decode(token, key, OIDC_ALGORITHMS, self.issuer, self.audience)
        role = claims.get(self.role_claim)
        if role not in ROLES:
            raise Forbidden(f"{self.issuer} gives this account no campaign role (claim {self.role_claim}: "
                            f"one of {', '.join(ROLES)}).", permission=self.role_claim)
        cities = claims.get(self.cities_claim) or []
        if isinstance(cities, str):
            cities = cities.replace(",", " ").split()
        if role in CITY_ROLES and not cities:
            raise Forbidden(f"{self.issuer} names no cities (claim {self.cities_claim}) for this {role}.",
                            permission=self.cities_claim)
        username = claims.get("preferred_username") or claims.get("email") or claims["sub"]
        return Principal(f"oidc:{claims['sub']}", str(username), role,
                         scope_of(role, [str(c).lower() for c in cities]), self.issuer)


def _decode(token, key, algorithms, issuer, audience):
    """The token's verified claims, or Unauthenticated saying what is wrong with it."""
    try:
        return jwt.decode(token, key, algorithms=algorithms, issuer=issuer, audience=audience, leeway=LEEWAY,
                          options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": audience is not None})
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired: refresh it, or sign in again (campaign login).",
                              "expired") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("The token's signature does not match its content: it was altered, "
                              "or signed with another key.", "tampered") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated("The token was not issued by this campaign's identity service.",
                              "untrusted_issuer") from None
    except jwt.DecodeError:
        raise Unauthenticated("The token is not a well-formed signed token.", "malformed") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(f"The token is not valid here: {exc}.", "invalid") from None


# --- verifying a request's token ----------------------------------------------------

@dataclass
class Authenticator:
    """Turns an Authorization header into a Principal, with no call to identity per request."""

    keys: KeyRing
    oidc: OidcIssuer | None = None
    issuer: str = ISSUER
    audience: str = AUDIENCE

    def authenticate(self, authorization: str | None) -> Principal:
        token = bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
            claimed_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.DecodeError:
            raise Unauthenticated("The token is not a well-formed signed token.", "malformed") from None
        # The unverified issuer only chooses whose keys to check the signature with.
        if self.oidc is not None and claimed_issuer == self.oidc.issuer:
            return self.oidc.principal(token)
        if claimed_issuer != self.issuer:
            raise Unauthenticated(f"The token was issued by {claimed_issuer or 'no one named'}, "
                                  "which this campaign does not trust.", "untrusted_issuer")
        key = self.keys.key(header.get("kid") or "")
        if key is None:
            raise Unauthenticated("The token is signed with a key the identity service does not publish.",
                                  "unknown_key")
        claims = _decode(token, key, [ALGORITHM], self.issuer, self.audience)
        role = claims.get("role")
        if role not in ROLES:
            raise Unauthenticated("The token names no known role.", "invalid")
        return Principal(str(claims["sub"]), str(claims.get("name") or claims["sub"]), role,
                         tuple(claims.get("cities") or (ALL_CITIES,)), self.issuer)


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization or not authorization.strip():
        raise Unauthenticated("Sign in first: this needs a bearer token (Authorization: Bearer <token>; "
                              "campaign login, or CAMPAIGN_TOKEN).", "missing")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must read: Bearer <token>.", "malformed")
    return token.strip()


_authenticators: dict[tuple, Authenticator] = {}


def authenticator(config: dict) -> Authenticator:
    """The process's Authenticator for ``config`` (made once, so its keys are fetched once)."""
    settings = (config.get("IDENTITY_URL"), config.get("IDENTITY_JWKS"), config.get("OIDC_ISSUER"),
                config.get("OIDC_AUDIENCE"), config.get("OIDC_ROLE_CLAIM"), config.get("OIDC_CITIES_CLAIM"))
    if settings not in _authenticators:
        identity_url, jwks, issuer, audience, role_claim, cities_claim = settings
        keys = KeyRing(f"{identity_url}/api/v1/auth/jwks.json" if identity_url else None,
                       json.loads(jwks) if jwks else None)
        oidc = OidcIssuer(issuer, audience, role_claim or "campaign_role",
                          cities_claim or "campaign_cities") if issuer else None
        _authenticators[settings] = Authenticator(keys, oidc)
    return _authenticators[settings]
