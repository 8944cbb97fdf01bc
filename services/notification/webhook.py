"""Committee webhooks: a JSON POST the receiver can verify, date and deduplicate.

Each request carries

    X-Campaign-Timestamp: <unix seconds>
    X-Campaign-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the committee's secret>
    Idempotency-Key: <the same across retries of one message>

so a receiver checks the signature in constant time, refuses a timestamp more
than ``TOLERANCE`` seconds away from its clock (a captured request cannot be
replayed later), and drops a retry of a message it took
(examples/webhook_receiver.py does all three).

A try goes only to a destination checked just before it (services/notification/destinations.py),
connecting to an address that check approved, and never follows a redirect.
"""
import hashlib
import hmac
import json
import time
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from services.notification import destinations
from services.notification.rules import GONE, RETRY, SENT
from shared.errors import InvalidInput

SIGNATURE_HEADER = "X-Campaign-Signature"
TIMESTAMP_HEADER = "X-Campaign-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its own clock


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    signed = f"{timestamp}.".encode("ascii") + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, timestamp: str | None, header: str | None, tolerance: int = TOLERANCE,
           now: float | None = None) -> bool:
    """What a receiver does: the signature matches (constant time) and the timestamp is recent."""
    if not header or not timestamp or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def body(delivery, listing, rows, key, ack_url=None) -> bytes:
    """The raw bytes to sign and send: only the committee's columns, never contacts or ages."""
    document = {
        "kind": delivery.kind,
        "delivery_id": delivery.id,
        "idempotency_key": key,
        "rollout_id": delivery.rollout_id,
        "city": delivery.city,
        "city_name": listing["city_name"],
    }
    if delivery.kind in ("digest", "participant_list", "final_list"):
        document["participants"] = [{k: v for k, v in r.items() if k != "participant_id"} for r in rows]
    if delivery.kind == "final_list":
        document["day"] = delivery.content["day"]
    if delivery.kind in ("agenda", "target_gap", "rollout_cancelled"):
        document[delivery.kind] = delivery.content
    if delivery.kind == "committee_changed":
        document["committee_changed"] = {k: v for k, v in delivery.content.items() if k != "notify"}
    if ack_url:
        document["acknowledge_url"] = ack_url
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")


class _PinnedAddress(HTTPAdapter):
    """Connects to the address the destination check approved, while TLS still checks the host's name."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, server_hostname=self.hostname,
                                 assert_hostname=self.hostname, **pool_kwargs)


def _pinned_url(destination: destinations.Destination) -> str:
    parts = urlsplit(destination.url)
    address = destination.addresses[0]
    host = f"[{address}]" if ":" in address else address
    return urlunsplit((parts.scheme, f"{host}:{destination.port}", parts.path or "/", parts.query, ""))


NOTHING_ALLOWED = destinations.NOTHING_ALLOWED


def post(url: str, secret: str, raw: bytes, key: str, timeout: float = 10.0,
         allowed: destinations.AllowList = NOTHING_ALLOWED, resolver: destinations.Resolver = destinations.resolve,
         verify_tls: bool | str = True, now: float | None = None) -> tuple[str, str]:
    """(outcome, detail): SENT on a 2xx, GONE on a 410, RETRY on anything else (a redirect included)."""
    try:
        destination = destinations.check(url, allowed, resolver)
    except InvalidInput:
        return RETRY, "refused: " + destinations.REFUSED.removeprefix("webhook_url: ")
    timestamp = str(int(time.time() if now is None else now))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, raw),
        IDEMPOTENCY_HEADER: key,
        "User-Agent": "internet-aman-campaign/notification",
    }
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between the check and the receiver
        target = url
        if destination.addresses:
            target = _pinned_url(destination)
            headers["Host"] = urlsplit(url).netloc.rsplit("@", 1)[-1]
            session.mount(target.split("/", 3)[0] + "//", _PinnedAddress(destination.host))
        try:
            response = session.post(target, data=raw, headers=headers, timeout=timeout, allow_redirects=False,
                                    verify=verify_tls)
        except requests.RequestException as exc:
            return RETRY, f"{exc.__class__.__name__}: no answer from the receiver"
    detail = f"HTTP {response.status_code}"
    if 200 <= response.status_code < 300:
        return SENT, detail
    if response.status_code == 410:
        return GONE, detail
    if 300 <= response.status_code < 400:
        return RETRY, detail + " (redirects are not followed)"
    return RETRY, detail
