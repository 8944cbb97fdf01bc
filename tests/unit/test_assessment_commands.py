"""`campaign assessment` against a real local HTTP server standing in for the API."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from campaign.assessment_commands import assessment
from tests.support.cluster import free_port


class FakeApi(BaseHTTPRequestHandler):
    """Answers each path with a canned (status, body) and remembers what it was sent."""

    answers = {}
    received = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        FakeApi.received.append((self.command, self.path, self.rfile.read(length)))
        status, body = FakeApi.answers[self.path.split("?")[0]]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeApi.answers, FakeApi.received = {}, []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(api_url, *args):
    return CliRunner().invoke(assessment, ["--api-url", api_url, *args])


def test_a_refused_sheet_prints_each_bad_row_and_exits_1(api, tmp_path):
    FakeApi.answers["/api/v1/instruments/3/submissions/import"] = (422, {"error": {
        "code": "invalid_input", "message": "1 bad row(s), nothing imported",
        "rows": [{"line": 4, "field": "q2", "problem": "must be true or false"}]}})
    sheet = tmp_path / "post.csv"
    sheet.write_text("participant_code,phase,q1,q2\nPON-A,post,benar,mungkin\n")

    result = run(api, "import", "3", str(sheet))

    assert result.exit_code == 1
    assert "error: 1 bad row(s), nothing imported" in result.output
    assert "line 4, q2: must be true or false" in result.output
    assert FakeApi.received[0][2] == sheet.read_bytes()


def test_gains_prints_the_gain_with_its_interval_and_what_was_left_out(api):
    group = {"paired": 4, "perfect_pre": 1, "pre_only": 1, "post_only": 0, "mean_pre": 0.55, "mean_post": 0.8,
             "gain_of_averages": {"value": 5 / 9, "n": 4, "ci": [0.1693, 0.9418]},
             "mean_of_gains": {"value": 7 / 12, "n": 3, "ci": [0.2248, 0.9419]}, "by_topic": []}
    FakeApi.answers["/api/v1/gains/pontianak"] = (200, {"scope": "pontianak", **group, "by_session": []})

    result = run(api, "gains", "pontianak")

    assert result.exit_code == 0, result.output
    assert "paired 4 (perfect pre-test 1), pre only 1, post only 0; mean 55.0% -> 80.0%" in result.output
    assert "<g> 0.556 [0.169, 0.942]  (n 4); mean of g 0.583 [0.225, 0.942]  (n 3)" in result.output


def test_a_plan_needs_either_a_participant_or_a_group(api):
    result = run(api, "plan", "add", "--rollout", "1", "--session", "socialisation", "--commitment", "Poster")

    assert result.exit_code == 1
    assert "give either --participant or --group" in result.output
    assert FakeApi.received == []


def test_bad_answers_json_is_refused_before_calling(api):
    result = run(api, "submit", "--instrument", "1", "--code", "PON-A", "--phase", "pre", "--answers", "{q1: yes}")

    assert result.exit_code == 1 and "--answers: not valid JSON" in result.output
    assert FakeApi.received == []


def test_an_unreachable_api_is_a_clear_error():
    result = run(f"http://127.0.0.1:{free_port()}", "instruments")

    assert result.exit_code == 1
    assert "cannot reach the API" in result.output and "Traceback" not in result.output
