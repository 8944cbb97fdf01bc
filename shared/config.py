"""Configuration from the environment, with defaults that run on one laptop.

Without ``AMQP_URI`` the services talk over kombu's in-process ``memory://``
transport and keep their data in SQLite files under ``CAMPAIGN_DATA_DIR``.
"""
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SERVICES = ("registration", "assessment", "notification", "reporting", "identity")
# Workers that run as their service's user: their queues, inboxes and dead letters are its own too,
# and they read the service's own events (registration's import worker takes import_requested).
WORKERS = {"registration": ("registration_imports",)}
# Everything that consumes from its own queues, and so has a dead-letter queue dlq.<name>.
CONSUMERS = SERVICES + tuple(worker for workers in WORKERS.values() for worker in workers)
# The services that answer for their own dlq.<service> over HTTP to the operator (shared/operations.py):
# those whose event handlers dead-letter what keeps failing (the import worker's: campaign dlq, on the host).
DEAD_LETTERING = ("assessment", "notification", "reporting")
# Services that call another's API, each as a service account of identity (docs/identity.md).
CLIENTS = ("notification",)
MEMORY_TRANSPORT = "memory://localhost/"
ALL_CITIES = "*"
DEFAULT_CITIES = "pontianak,medan,surabaya,palembang"


def is_embedded(config: Mapping[str, Any]) -> bool:
    amqp_uri: str = config["AMQP_URI"]
    return amqp_uri.startswith("memory")


def _local_address(env: Mapping[str, str]) -> str:
    """This process's own API address, as a client on the same host reaches it."""
    return env.get("WEB_SERVER_ADDRESS", "127.0.0.1:8000").replace("0.0.0.0", "127.0.0.1")


def identity_settings(env: Mapping[str, str], data_dir: Path) -> dict[str, Any]:
    """Accounts and tokens (docs/identity.md)."""
    web_address = _local_address(env)
    return {
        # Encrypts the tokens' signing key (and other secrets) at rest; without it, one is
        # generated into DATA_DIR/secret-key, which suits a laptop, not a deployment.
        "SECRET_KEY": env.get("SECRET_KEY") or None,
        "SECRET_KEY_FILE": str(data_dir / "secret-key"),
        # Where identity answers: the other services fetch its public keys from there once.
        "IDENTITY_URL": (env.get("IDENTITY_URL") or f"http://{web_address}").rstrip("/"),
        # identity's public keys as a JWKS document, instead of fetching them.
        "IDENTITY_JWKS": env.get("IDENTITY_JWKS") or None,
        # An access token lives at most 55 s (services allow 5 s of clock difference), so a
        # disabled account stops within a minute.
        "ACCESS_TOKEN_TTL": min(int(env.get("ACCESS_TOKEN_TTL", "50")), 55),
        "REFRESH_TOKEN_TTL": int(env.get("REFRESH_TOKEN_TTL", str(12 * 3600))),
        # The secret each client service signs in with (client-credentials grant); identity makes
        # the service account from it.  Without it, derived from the secret key.
        **{f"{c.upper()}_CLIENT_SECRET": env.get(f"{c.upper()}_CLIENT_SECRET") or None for c in CLIENTS},
        # An external OpenID Connect issuer whose tokens are accepted too, and the claims it maps.
        "OIDC_ISSUER": (env.get("OIDC_ISSUER") or "").rstrip("/") or None,
        "OIDC_AUDIENCE": env.get("OIDC_AUDIENCE") or None,
        "OIDC_ROLE_CLAIM": env.get("OIDC_ROLE_CLAIM", "campaign_role"),
        "OIDC_CITIES_CLAIM": env.get("OIDC_CITIES_CLAIM", "campaign_cities"),
    }


def load(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the nameko config dict every service and the command line use."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("CAMPAIGN_DATA_DIR", "campaign-data")).absolute()
    amqp_uri = env.get("AMQP_URI") or MEMORY_TRANSPORT
    config: dict[str, Any] = {
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": env.get("WEB_SERVER_ADDRESS", "127.0.0.1:8000"),
        "max_workers": int(env.get("MAX_WORKERS", "10")),
        "DATA_DIR": str(data_dir),
        "DATABASE_URLS": {
            service: env.get(f"{service.upper()}_DATABASE_URL")
            or f"sqlite:///{data_dir / (service + '.db')}"
            for service in SERVICES
        },
        # smtp://host:port sends real mail; maildir:///path keeps it in a local Maildir.
        "SMTP_URL": env.get("SMTP_URL") or f"maildir://{data_dir / 'maildir'}",
        "MAIL_FROM": env.get("MAIL_FROM", "Internet Aman untuk Anak <noreply@internet-aman.example>"),
        "REPORTS_DIR": env.get("REPORTS_DIR") or str(data_dir / "reports"),
        # The program's cities: each gets its own queues (see shared/consumer.py).
        "CITIES": [c.strip() for c in env.get("CITIES", DEFAULT_CITIES).lower().split(",") if c.strip()],
        # Cities whose events this process consumes: "*" for all, or a list: "pontianak,medan".
        "CITY": env.get("CITY", ALL_CITIES).strip().lower() or ALL_CITIES,
        # Tries before a failing message goes to the service's dead-letter queue.
        "DELIVERY_LIMIT": int(env.get("DELIVERY_LIMIT", "5")),
        # Days after a rollout completes before its personal data is purged (services/*/retention.py).
        "RETENTION_DAYS": int(env.get("RETENTION_DAYS", "365")),
        "SUMMARY_INTERVAL": float(env.get("SUMMARY_INTERVAL", "1.0")),
        "OUTBOX_INTERVAL": float(env.get("OUTBOX_INTERVAL", "0.5")),
        # A request body larger than this is refused (413) before it is read.
        "MAX_REQUEST_BYTES": int(env.get("MAX_REQUEST_BYTES", str(20 * 1024 * 1024))),
        # Where registration's API answers, for notification's calls (a committee's list).
        "REGISTRATION_URL": (env.get("REGISTRATION_URL") or f"http://{_local_address(env)}").rstrip("/"),
        # Where the web console calls the API as the signed-in person (a gateway, or this process).
        "CONSOLE_API_URL": (env.get("CONSOLE_API_URL") or f"http://{_local_address(env)}").rstrip("/"),
        # Behind HTTPS: the console's cookies are sent over HTTPS only.
        "CONSOLE_SECURE_COOKIES": env.get("CONSOLE_SECURE_COOKIES", "").lower() in ("1", "true", "yes"),
        # Seconds an RPC or a call to another service's API may take before it is answered 503.
        "CALL_TIMEOUT": float(env.get("CALL_TIMEOUT", "10")),
        # Webhook receivers on private networks the operator vouches for (tests: their local receiver).
        "WEBHOOK_ALLOWED_HOSTS": [h.strip().lower() for h in env.get("WEBHOOK_ALLOWED_HOSTS", "").split(",")
                                  if h.strip()],
        "WEBHOOK_ALLOWED_NETWORKS": [n.strip() for n in env.get("WEBHOOK_ALLOWED_NETWORKS", "").split(",")
                                     if n.strip()],
        # Seconds a start waits for the broker and the databases before giving up.
        "CONNECT_TIMEOUT": float(env.get("CONNECT_TIMEOUT", "25")),
        **identity_settings(env, data_dir),
    }
    if amqp_uri.startswith("memory"):
        # The in-process transport polls; poll often so a hop takes milliseconds.
        config["TRANSPORT_OPTIONS"] = {
            "polling_interval": 0.005,
            "max_retries": 3,
            "interval_start": 0.1,
            "interval_step": 0.1,
            "interval_max": 1,
        }
    return config
