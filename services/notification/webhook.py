"""Committee webhooks: a JSON POST the receiver can verify and deduplicate.

The body is signed with the committee's secret
(``X-Campaign-Signature: sha256=<hex HMAC-SHA256 of the raw body>``) and
carries an ``Idempotency-Key`` that stays the same across retries, so a
receiver that got a message and failed to answer can recognise the retry.
"""
import hashlib
import hmac
import json

import requests

from services.notification.rules import GONE, RETRY, SENT  # noqa: F401 (what a post comes to)

SIGNATURE_HEADER = "X-Campaign-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret, body):
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret, body, header):
    """What a receiver does; the tests' receiver uses it too."""
    return bool(header) and hmac.compare_digest(signature(secret, body), header)


def body(delivery, listing, rows, key, ack_url=None):
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
    if ack_url:
        document["acknowledge_url"] = ack_url
    return json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")


def post(url, secret, raw, key, timeout=10.0):
    """(outcome, detail): SENT on a 2xx, GONE on a 410, RETRY on anything else."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: signature(secret, raw),
        IDEMPOTENCY_HEADER: key,
        "User-Agent": "internet-aman-campaign/notification",
    }
    try:
        response = requests.post(url, data=raw, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return RETRY, f"{exc.__class__.__name__}: {exc}"[:500]
    detail = f"HTTP {response.status_code}"
    if 200 <= response.status_code < 300:
        return SENT, detail
    if response.status_code == 410:
        return GONE, detail
    return RETRY, detail
