"""examples/webhook_receiver.py, run as a committee runs it, against what notification actually sends."""
import ipaddress
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from services.notification import destinations, webhook

ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-committee-secret-of-some-length"
LOOPBACK = destinations.AllowList(networks=(ipaddress.ip_network("127.0.0.0/8"),))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    directory = tmp_path_factory.mktemp("received")
    process = subprocess.Popen([sys.executable, str(ROOT / "examples" / "webhook_receiver.py"), "--port", "0",
                                "--dir", str(directory)], env={**os.environ, "WEBHOOK_SECRET": SECRET},
                               stdout=subprocess.PIPE, text=True)
    port = int(process.stdout.readline().rsplit(":", 1)[1])
    yield f"http://127.0.0.1:{port}/hook", directory
    process.terminate()
    process.wait(10)


def test_a_signed_list_is_taken_once_however_often_it_is_retried(receiver):
    url, directory = receiver
    raw = b'{"kind": "digest", "participants": []}'
    assert webhook.post(url, SECRET, raw, "digest.7.1.webhook", allowed=LOOPBACK) == (webhook.SENT, "HTTP 200")
    assert webhook.post(url, SECRET, raw, "digest.7.1.webhook", allowed=LOOPBACK) == (webhook.SENT, "HTTP 200")
    assert [p.name for p in directory.glob("*.json")] == ["digest.7.1.webhook.json"]
    assert (directory / "digest.7.1.webhook.json").read_bytes() == raw


def test_a_request_older_than_five_minutes_a_wrong_secret_or_an_altered_body_is_refused(receiver):
    url, directory = receiver
    raw = b'{"kind": "agenda"}'
    stale = webhook.post(url, SECRET, raw, "agenda.7.webhook", allowed=LOOPBACK, now=time.time() - 301)
    wrong = webhook.post(url, "another-secret-entirely", raw, "agenda.7.webhook", allowed=LOOPBACK)
    assert stale == wrong == (webhook.RETRY, "HTTP 401")

    timestamp = str(int(time.time()))
    altered = requests.post(url, data=raw + b" ", timeout=5, headers={
        webhook.TIMESTAMP_HEADER: timestamp, webhook.SIGNATURE_HEADER: webhook.signature(SECRET, timestamp, raw),
        webhook.IDEMPOTENCY_HEADER: "agenda.7.webhook"})
    assert altered.status_code == 401
    assert not (directory / "agenda.7.webhook.json").exists()
