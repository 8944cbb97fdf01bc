"""``campaign serve`` as a coordinator runs it on a laptop: every service, the import worker and the
web console in one process of its own, on the in-process broker and SQLite files."""
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.cluster import free_port, wait_until

CAMPAIGN = str(Path(sys.executable).parent / "campaign")


@contextmanager
def campaign_serve(workdir, ready_path="/api/v1/openapi.json"):
    """The base URL of ``campaign serve`` once ``ready_path`` answers 200; its data in ``workdir/data``,
    what it prints in ``workdir/serve.log``.  Stopped (SIGTERM) at the end."""
    workdir = Path(workdir)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k != "AMQP_URI" and not k.endswith("_DATABASE_URL") and k not in ("SMTP_URL", "CITY", "REPORTS_DIR")}
    env.update(CAMPAIGN_DATA_DIR=str(workdir / "data"), WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")
    with open(workdir / "serve.log", "w") as log:
        process = subprocess.Popen([CAMPAIGN, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def answering():
        assert process.poll() is None, (workdir / "serve.log").read_text()
        try:
            return requests.get(url + ready_path, timeout=5).status_code == 200
        except requests.ConnectionError:
            return False
    try:
        wait_until(answering, "campaign serve to answer", timeout=90)
        yield url
    finally:
        process.terminate()
        process.wait(30)
