"""What the services' log says when the API refuses a request: one line, no traceback."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.support.cluster import free_port

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


def test_a_refused_request_is_logged_in_one_line_with_its_status_and_error_code(tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k not in ("AMQP_URI", "CITY") and not k.endswith("_DATABASE_URL")},
           "CAMPAIGN_DATA_DIR": str(tmp_path / "data"), "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}
    # The services log to stderr, where ``ready:`` is printed too.
    process = subprocess.Popen([CAMPAIGN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        ready = process.stderr.readline()
        assert ready.startswith("ready:"), ready + process.stderr.read()
        base = f"http://127.0.0.1:{port}/api/v1"
        invalid = requests.post(f"{base}/rollouts", json={"program": "Internet Aman untuk Anak"}, timeout=30)
        missing = requests.get(f"{base}/rollouts/999", timeout=30)
        assert (invalid.status_code, missing.status_code) == (422, 404)
    finally:
        process.send_signal(signal.SIGTERM)
        stderr = ready + process.communicate(timeout=30)[1]

    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if "/api/v1/rollouts" in line]
    assert len(lines) == 2, stderr
    assert lines[0].endswith("registration: POST /api/v1/rollouts answered 422 invalid_input")
    assert lines[1].endswith("registration: GET /api/v1/rollouts/999 answered 404 not_found")
    assert "(expected) error" not in stderr
