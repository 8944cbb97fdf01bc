"""The two channels: the signed webhook and the digest mail with its attachment."""
import hashlib
import hmac
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook

from services.notification import mail, webhook

ROWS = [{"participant_id": 1, "code": "PON-AAAAAA", "full_name": "Dédé Kurniawan", "category": "SKPD",
         "organisation": "Dinas PPA", "session": "Workshop", "day": 1, "change": "registered"}]
LISTING = {"city": "pontianak", "city_name": "Pontianak", "committee_name": None, "participants": []}
DIGEST = SimpleNamespace(id=5, kind="digest", rollout_id=7, city="pontianak", content={})


def test_signature_is_hmac_sha256_of_the_raw_body():
    raw = webhook.body(DIGEST, LISTING, ROWS, "digest.7.1.webhook")
    expected = "sha256=" + hmac.new(b"secret", raw, hashlib.sha256).hexdigest()
    assert webhook.signature("secret", raw) == expected
    assert webhook.verify("secret", raw, expected)
    assert not webhook.verify("other", raw, expected)
    assert not webhook.verify("secret", raw + b" ", expected)


def test_webhook_body_carries_the_list_without_internal_ids():
    document = json.loads(webhook.body(DIGEST, LISTING, ROWS, "digest.7.1.webhook", ack_url="http://x/ack"))
    assert document["idempotency_key"] == "digest.7.1.webhook"
    assert document["participants"] == [{k: v for k, v in ROWS[0].items() if k != "participant_id"}]
    assert document["city"] == "pontianak" and document["acknowledge_url"] == "http://x/ack"


class Answering(BaseHTTPRequestHandler):
    status = 200
    seen = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        Answering.seen.append((dict(self.headers), raw))
        self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    server = HTTPServer(("127.0.0.1", 0), Answering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status, outcome", [(200, webhook.SENT), (204, webhook.SENT), (410, webhook.GONE),
                                             (500, webhook.RETRY), (404, webhook.RETRY)])
def test_post_answers_are_sorted_into_sent_gone_and_retry(server, status, outcome):
    raw = b'{"kind": "digest"}'
    assert webhook.post(f"{server}/{status}", "secret", raw, "key-1")[0] == outcome
    headers, received = Answering.seen[-1]
    assert received == raw
    assert headers[webhook.SIGNATURE_HEADER] == webhook.signature("secret", raw)
    assert headers[webhook.IDEMPOTENCY_HEADER] == "key-1"


def test_an_unreachable_receiver_is_retried():
    outcome, detail = webhook.post("http://127.0.0.1:9/", "secret", b"{}", "k", timeout=2)
    assert outcome == webhook.RETRY and "Connection" in detail


def test_digest_mail_attaches_an_xlsx_with_the_change_and_an_acknowledge_link():
    message = mail.committee_message("kampanye@example.org", ["a@x.example", "b@x.example"], DIGEST, LISTING,
                                     ROWS, list_format="xlsx", ack_url="http://api/ack?token=t",
                                     message_id="<digest.7.1.mail@internet-aman.campaign>")
    assert message["To"] == "a@x.example, b@x.example"
    assert "1 perubahan" in message["Subject"]
    assert "http://api/ack?token=t" in message.get_body().get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "rekap-pontianak-5.xlsx"
    sheet = load_workbook(io.BytesIO(attachment.get_content()), read_only=True).active
    header, row = list(sheet.iter_rows(values_only=True))
    assert header == mail.LIST_COLUMNS + ("change",)
    assert row[:2] == ("PON-AAAAAA", "Dédé Kurniawan") and row[-1] == "baru"


def test_agenda_mail_has_no_attachment():
    agenda = SimpleNamespace(id=1, kind="agenda", content={
        "city_name": "Pontianak", "starts_on": "2019-05-02", "ends_on": "2019-05-03", "venue": "Hotel",
        "sessions": [{"day": 1, "date": "2019-05-02", "title": "Workshop",
                      "topics": [{"title": "Kejahatan Siber", "facilitators": [{"name": "A", "organisation": "B"}]}]}]})
    message = mail.committee_message("k@example.org", ["a@x.example"], agenda, LISTING, [])
    assert list(message.iter_attachments()) == []
    assert "Kejahatan Siber: A (B)" in message.get_body().get_content()
