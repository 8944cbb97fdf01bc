"""The two channels: the signed webhook and the digest mail with its attachment."""
import hashlib
import hmac
import io
import ipaddress
import json
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from openpyxl import load_workbook

from services.notification import destinations, mail, webhook

ROWS = [{"participant_id": 1, "code": "PON-AAAAAA", "full_name": "Dédé Kurniawan", "category": "SKPD",
         "organisation": "Dinas PPA", "session": "Workshop", "day": 1, "change": "registered"}]
LISTING = {"city": "pontianak", "city_name": "Pontianak", "committee_name": None, "participants": []}
DIGEST = SimpleNamespace(id=5, kind="digest", rollout_id=7, city="pontianak", content={})


def test_signature_is_hmac_sha256_of_the_timestamp_and_the_raw_body():
    raw = webhook.body(DIGEST, LISTING, ROWS, "digest.7.1.webhook")
    expected = "sha256=" + hmac.new(b"secret", b"1700000000." + raw, hashlib.sha256).hexdigest()
    assert webhook.signature("secret", 1700000000, raw) == expected
    assert webhook.verify("secret", raw, "1700000000", expected, now=1700000000 + 299)
    assert not webhook.verify("other", raw, "1700000000", expected, now=1700000000)
    assert not webhook.verify("secret", raw + b" ", "1700000000", expected, now=1700000000)
    assert not webhook.verify("secret", raw, "1700000001", expected, now=1700000000)  # another time, same signature


def test_a_captured_request_replayed_after_five_minutes_is_refused():
    raw = b'{"kind": "digest"}'
    signed = webhook.signature("secret", 1700000000, raw)
    assert webhook.verify("secret", raw, "1700000000", signed, now=1700000000 + webhook.TOLERANCE)
    assert not webhook.verify("secret", raw, "1700000000", signed, now=1700000000 + webhook.TOLERANCE + 1)
    assert not webhook.verify("secret", raw, "1700000000", signed, now=1700000000 - webhook.TOLERANCE - 1)
    assert not webhook.verify("secret", raw, None, signed) and not webhook.verify("secret", raw, "soon", signed)


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
        if self.path.startswith("/3"):
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
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


LOOPBACK = destinations.AllowList(networks=(ipaddress.ip_network("127.0.0.0/8"),))


@pytest.mark.parametrize("status, outcome", [(200, webhook.SENT), (204, webhook.SENT), (410, webhook.GONE),
                                             (500, webhook.RETRY), (404, webhook.RETRY)])
def test_post_answers_are_sorted_into_sent_gone_and_retry(server, status, outcome):
    raw = b'{"kind": "digest"}'
    assert webhook.post(f"{server}/{status}", "secret", raw, "key-1", allowed=LOOPBACK)[0] == outcome
    headers, received = Answering.seen[-1]
    assert received == raw
    timestamp = headers[webhook.TIMESTAMP_HEADER]
    assert abs(int(timestamp) - time.time()) < 5
    assert headers[webhook.SIGNATURE_HEADER] == webhook.signature("secret", timestamp, raw)
    assert webhook.verify("secret", raw, timestamp, headers[webhook.SIGNATURE_HEADER])
    assert headers[webhook.IDEMPOTENCY_HEADER] == "key-1"


def test_a_redirect_is_not_followed(server):
    before = len(Answering.seen)
    outcome, detail = webhook.post(f"{server}/302", "secret", b"{}", "k", allowed=LOOPBACK)
    assert (outcome, detail) == (webhook.RETRY, "HTTP 302 (redirects are not followed)")
    assert len(Answering.seen) == before + 1  # nothing went to the Location


def test_an_unreachable_receiver_is_retried():
    outcome, detail = webhook.post("http://127.0.0.1:9/", "secret", b"{}", "k", timeout=2, allowed=LOOPBACK)
    assert outcome == webhook.RETRY and "Connection" in detail


def test_a_receiver_that_now_resolves_inside_is_not_posted_to(server):
    """Checked when set, checked again at each try: DNS may have changed since."""
    port = int(server.rsplit(":", 1)[1])
    before = len(Answering.seen)
    outcome, detail = webhook.post(f"http://hooks.example.org:{port}/200", "secret", b"{}", "k",
                                   resolver=lambda host, port: ["127.0.0.1"])
    assert outcome == webhook.RETRY and detail.startswith("refused: must be an https URL")
    assert len(Answering.seen) == before


def test_a_try_connects_to_the_address_checked_and_names_the_host(server):
    port = int(server.rsplit(":", 1)[1])
    outcome, _ = webhook.post(f"http://receiver.test:{port}/200", "secret", b"{}", "k", allowed=LOOPBACK,
                              resolver=lambda host, port: ["127.0.0.1"])
    assert outcome == webhook.SENT  # receiver.test resolves nowhere but through the checked address
    assert Answering.seen[-1][0]["Host"] == f"receiver.test:{port}"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """An https receiver whose certificate names receiver.test, on the loopback address."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    server = HTTPServer(("127.0.0.1", 0), Answering)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(directory / "cert.pem")
    server.shutdown()
    server.server_close()


def test_an_https_try_goes_to_the_checked_address_and_still_checks_the_hosts_certificate(tls_server):
    port, ca = tls_server
    to_checked_address = lambda host, port: ["127.0.0.1"]  # noqa: E731
    outcome, detail = webhook.post(f"https://receiver.test:{port}/200", "secret", b"{}", "k", allowed=LOOPBACK,
                                   resolver=to_checked_address, verify_tls=ca)
    assert (outcome, detail) == (webhook.SENT, "HTTP 200")
    assert Answering.seen[-1][0]["Host"] == f"receiver.test:{port}"
    # The same address under a name the certificate does not hold: refused by TLS, not sent.
    outcome, detail = webhook.post(f"https://impostor.test:{port}/200", "secret", b"{}", "k", allowed=LOOPBACK,
                                   resolver=to_checked_address, verify_tls=ca)
    assert outcome == webhook.RETRY and "SSLError" in detail


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
