"""A real HTTP receiver of committee webhooks, run by a test in a thread.

Each path is one committee's endpoint.  ``script(path, [500, 500, 500])``
makes it answer those statuses first and 200 after; ``script(path, [410])``
with ``then=410`` makes it answer 410 for ever.  It verifies every signature
(and its timestamp) with the path's secret and keeps every request it got.
"""
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.notification import webhook


@dataclass
class Received:
    path: str
    status: int  # what the receiver answered
    signature_valid: bool
    idempotency_key: str
    body: dict


class WebhookReceiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.secrets = {}
        self.scripts = {}  # path -> (statuses still to answer, status after them)
        self.received = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver._receive(self, raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, path, secret, statuses=(), then=200):
        with self.lock:
            self.secrets[path] = secret
            self.scripts[path] = (list(statuses), then)

    def _receive(self, handler, raw):
        path = handler.path
        valid = webhook.verify(self.secrets.get(path, ""), raw, handler.headers.get(webhook.TIMESTAMP_HEADER),
                               handler.headers.get(webhook.SIGNATURE_HEADER))
        with self.lock:
            statuses, then = self.scripts.get(path, ([], 404))
            status = (statuses.pop(0) if statuses else then) if valid else 401
            self.received.append(Received(path, status, valid, handler.headers.get(webhook.IDEMPOTENCY_HEADER),
                                          json.loads(raw)))
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def requests_to(self, path):
        with self.lock:
            return [r for r in self.received if r.path == path]

    def accepted(self, path):
        """What the committee took in: one per idempotency key, as a careful receiver dedupes."""
        taken = {}
        for request in self.requests_to(path):
            if 200 <= request.status < 300:
                taken.setdefault(request.idempotency_key, request)
        return list(taken.values())

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
