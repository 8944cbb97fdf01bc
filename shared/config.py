"""Configuration from the environment, with defaults that run on one laptop.

Without ``AMQP_URI`` the services talk over kombu's in-process ``memory://``
transport and keep their data in SQLite files under ``CAMPAIGN_DATA_DIR``.
"""
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SERVICES = ("registration", "assessment", "notification", "reporting")
MEMORY_TRANSPORT = "memory://localhost/"
ALL_CITIES = "*"
DEFAULT_CITIES = "pontianak,medan,surabaya,palembang"


def is_embedded(config: Mapping[str, Any]) -> bool:
    amqp_uri: str = config["AMQP_URI"]
    return amqp_uri.startswith("memory")


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
        "SUMMARY_INTERVAL": float(env.get("SUMMARY_INTERVAL", "1.0")),
        "OUTBOX_INTERVAL": float(env.get("OUTBOX_INTERVAL", "0.5")),
        # A request body larger than this is refused (413) before it is read.
        "MAX_REQUEST_BYTES": int(env.get("MAX_REQUEST_BYTES", str(20 * 1024 * 1024))),
        # Seconds a start waits for the broker and the databases before giving up.
        "CONNECT_TIMEOUT": float(env.get("CONNECT_TIMEOUT", "25")),
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
