"""`campaign broker setup`: what each broker user may touch, and how it is applied."""
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from click.testing import CliRunner

from campaign.broker_commands import Management, broker, partner_user, service_user

PASSWORDS = {f"{s.upper()}_BROKER_PASSWORD": f"pw-{s}-0451"
             for s in ("registration", "assessment", "notification", "reporting", "identity", "partner")}


def allows(pattern, name):
    return re.fullmatch(pattern, name) is not None


def test_a_service_user_may_touch_its_own_queues_and_only_read_the_exchanges_it_consumes():
    reporting = service_user("reporting")
    for own in ("reporting.pontianak", "reporting.other-cities", "reporting.inbox", "dlq.reporting"):
        assert allows(reporting.configure, own) and allows(reporting.read, own), own
    assert allows(reporting.write, "campaign.summaries")
    assert allows(reporting.read, "registration.events") and not allows(reporting.configure, "registration.events")
    assert not allows(reporting.write, "registration.events")
    for foreign in ("notification.pontianak", "dlq.notification", "rpc-registration", "assessment.inbox"):
        assert not allows(reporting.read, foreign), foreign
    topics = {t.exchange: t for t in reporting.topics}
    assert re.match(topics["registration.events"].read, "participant_registered.*")
    assert not re.match(topics["registration.events"].read, "registration_closed.*")  # not one it handles


def test_only_registration_answers_rpc_and_its_callers_may_call_it_alone():
    registration, assessment = service_user("registration"), service_user("assessment")
    assert allows(registration.read, "rpc-registration") and not allows(assessment.read, "rpc-registration")
    assert allows(assessment.read, "rpc.reply-assessment-3f2c") and not allows(assessment.read, "rpc.reply-notif-1")
    rpc = next(t for t in assessment.topics if t.exchange == "nameko-rpc")
    assert re.match(rpc.write, "registration.participant_by_code") and not re.match(rpc.write, "reporting.rebuild")
    assert not re.match(rpc.read, "registration.*")  # cannot take registration's requests


def test_a_partner_may_only_bind_its_own_queues_to_the_summaries():
    partner = partner_user()
    assert allows(partner.configure, "amq.gen-JzTY20BRgKO-HjmUJj0wLg")
    assert allows(partner.read, "campaign.summaries")
    for refused in ("registration.events", "reporting.pontianak", "nameko-rpc", "campaign.dead-letters"):
        assert not allows(partner.read, refused) and not allows(partner.configure, refused)
    assert not allows(partner.write, "campaign.summaries")
    (summaries,) = partner.topics
    assert re.match(summaries.read, "summary.*.medan") and not re.match(summaries.read, "#")


def test_setup_without_the_passwords_names_them_and_does_nothing():
    result = CliRunner().invoke(broker, ["setup", "--node", "nowhere@nohost"],
                                env={"AMQP_URI": "amqp://admin:x@127.0.0.1:1/", "ASSESSMENT_BROKER_PASSWORD": ""},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "REGISTRATION_BROKER_PASSWORD" in result.output and "ASSESSMENT_BROKER_PASSWORD" in result.output
    assert "Traceback" not in result.output


def test_printed_commands_keep_the_passwords_as_variables():
    result = CliRunner().invoke(broker, ["setup", "--print", "--vhost", "campaign"], env=PASSWORDS)
    assert result.exit_code == 0, result.output
    assert '"$REPORTING_BROKER_PASSWORD" | rabbitmqctl add_user reporting' in result.output
    assert "set_topic_permissions -p campaign partner campaign.summaries" in result.output
    assert not any(password in result.output for password in PASSWORDS.values())


class Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_PUT(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.seen.append((self.path, self.headers["Authorization"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_management_api_is_given_the_same_users_and_permissions():
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = Management(f"http://127.0.0.1:{server.server_port}/", "admin", "s3cret")
        user = service_user("notification")
        api.vhost("/")
        api.user("notification", "pw")
        api.permissions("/", user)
    finally:
        server.shutdown()
    paths = [path for path, _, _ in Recorder.seen]
    assert paths[:3] == ["/api/vhosts/%2F", "/api/users/notification", "/api/permissions/%2F/notification"]
    assert Recorder.seen[1][2] == {"password": "pw", "tags": ""}
    assert Recorder.seen[2][2] == {"configure": user.configure, "write": user.write, "read": user.read}
    topics = [body for path, _, body in Recorder.seen if path == "/api/topic-permissions/%2F/notification"]
    assert {t["exchange"] for t in topics} == {t.exchange for t in user.topics}
    assert all(auth.startswith("Basic ") for _, auth, _ in Recorder.seen)
