"""A committee's webhook receiver that checks what it takes: signed, recent, and taken once.

    WEBHOOK_SECRET=... python examples/webhook_receiver.py --port 8443

Run it behind TLS (a reverse proxy): the campaign posts to https URLs only.
Each accepted list is written to ``--dir`` as ``<idempotency key>.json``.

What it checks, in order (the contract is in docs/notification.md):

1. ``X-Campaign-Timestamp`` is within 5 minutes of this machine's clock, so a
   captured request cannot be replayed later;
2. ``X-Campaign-Signature`` is ``sha256=`` + the hex HMAC-SHA256 of
   ``"<timestamp>.<raw body>"`` with the committee's secret, compared in constant time;
3. ``Idempotency-Key`` was not taken before: a retry of a message already
   taken is answered 200 and dropped.

Standard library only, so a committee can run it anywhere Python runs.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOLERANCE = 300  # seconds
MAX_BODY = 20 * 1024 * 1024
KEY = re.compile(r"[A-Za-z0-9._-]{1,200}")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                                hashlib.sha256).hexdigest()


def verified(secret: str, timestamp: str | None, header: str | None, body: bytes, now: float | None = None) -> bool:
    """Whether the request is signed with ``secret`` and dated within the tolerance."""
    if not timestamp or not timestamp.isdigit() or not header:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class Receiver(ThreadingHTTPServer):
    def __init__(self, address, secret: str, directory: Path):
        self.secret = secret
        self.directory = directory
        self.lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(address, Handler)

    def take(self, key: str, body: bytes) -> bool:
        """Keep the message under its key; False if that key was taken before."""
        with self.lock:
            path = self.directory / f"{key}.json"
            if path.exists():
                return False
            partial = path.with_suffix(".part")
            partial.write_bytes(body)
            partial.rename(path)
            return True


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "too large")
        body = self.rfile.read(length)
        if not verified(self.server.secret, self.headers.get("X-Campaign-Timestamp"),
                        self.headers.get("X-Campaign-Signature"), body):
            return self.answer(401, "bad signature or stale timestamp")
        key = self.headers.get("Idempotency-Key") or ""
        if not KEY.fullmatch(key):
            return self.answer(400, "no idempotency key")
        try:
            json.loads(body)
        except ValueError:
            return self.answer(400, "not JSON")
        taken = self.server.take(key, body)
        return self.answer(200, "taken" if taken else "already taken")

    def answer(self, status: int, text: str) -> None:
        raw = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format, *args):  # the bodies hold children's names: log nothing of them
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--dir", type=Path, default=Path("received"))
    arguments = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        parser.error("set WEBHOOK_SECRET to the secret the committee was set with")
    server = Receiver((arguments.host, arguments.port), secret, arguments.dir)
    print(f"listening on {arguments.host}:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
