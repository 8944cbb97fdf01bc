"""What ``campaign serve`` and ``campaign demo`` say when something they need is missing.

A broker or database that does not answer is waited for within ``CONNECT_TIMEOUT``,
then named in one line on stderr, its password masked, with a non-zero exit;
a taken web address is named at once.
"""
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.cluster import Vhost, free_port, wait_until
from tests.support.tcp_proxy import TcpProxy

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
SETTINGS = ("AMQP_URI", "SMTP_URL", "CITY", "CAMPAIGN_DATA_DIR", "REPORTS_DIR", "WEB_SERVER_ADDRESS", "CONNECT_TIMEOUT")


def environment(tmp_path, **settings):
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS and not k.endswith("_DATABASE_URL")}
    return {**clean, "CAMPAIGN_DATA_DIR": str(tmp_path / "data"),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}", **settings}


def campaign(*args, env, timeout=60):
    """Run the command; its result and how long it took."""
    started = time.monotonic()
    result = subprocess.run([CAMPAIGN, *args], env=env, capture_output=True, text=True, timeout=timeout)
    return result, time.monotonic() - started


def assert_one_line(stderr):
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_serve_gives_up_on_a_broker_that_does_not_answer_with_one_line_naming_it(tmp_path):
    port = free_port()  # nothing listens there
    result, took = campaign("serve", env=environment(
        tmp_path, AMQP_URI=f"amqp://guest:s3cret@127.0.0.1:{port}/", CONNECT_TIMEOUT="3"))
    assert result.returncode != 0
    assert 2.5 < took < 3 + 5  # it kept trying for the bound, and no longer
    assert_one_line(result.stderr)
    assert result.stderr.startswith(f"campaign: the broker at amqp://guest:****@127.0.0.1:{port}/ did not answer")
    assert "(AMQP_URI)" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_the_demo_gives_up_on_a_broker_that_does_not_answer_within_30_seconds(tmp_path):
    port = free_port()
    result, took = campaign("demo", "--dir", str(tmp_path / "demo"), env=environment(
        tmp_path, AMQP_URI=f"amqp://guest:s3cret@127.0.0.1:{port}/"), timeout=120)
    assert result.returncode != 0
    assert took < 30
    assert_one_line(result.stderr)
    assert f"the broker at amqp://guest:****@127.0.0.1:{port}/ did not answer after 25 s" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_serve_gives_up_on_a_database_that_does_not_answer_naming_the_service(tmp_path):
    port = free_port()
    url = f"postgresql+psycopg2://postgres:s3cret@127.0.0.1:{port}/reporting"
    result, took = campaign("serve", env=environment(tmp_path, REPORTING_DATABASE_URL=url, CONNECT_TIMEOUT="3"))
    assert result.returncode != 0
    assert 2.5 < took < 3 + 5
    assert_one_line(result.stderr)
    assert result.stderr.startswith(
        f"campaign: reporting's database at postgresql+psycopg2://postgres:****@127.0.0.1:{port}/reporting "
        "did not answer after 3 s")
    assert "(REPORTING_DATABASE_URL)" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_serve_waits_for_a_broker_that_comes_up_late(tmp_path):
    vhost = Vhost()
    broker = urlsplit(vhost.amqp_uri)  # the suite's own node
    proxy = TcpProxy(broker.hostname, broker.port)
    proxy.cut()  # a broker still starting: connections are closed at once
    try:
        env = environment(tmp_path, AMQP_URI=f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost.name}",
                          CONNECT_TIMEOUT="20")
        process = subprocess.Popen([CAMPAIGN, "serve", "registration"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
        try:
            threading.Timer(2.0, proxy.restore).start()
            wait_until(lambda: any(line.startswith("ready: registration") for line in lines),
                       "serve to start once the broker answers", timeout=20)
            assert "Traceback" not in "".join(lines)
        finally:
            process.terminate()
            process.wait(15)
    finally:
        proxy.close()
        vhost.delete()


@pytest.mark.parametrize("command", [["serve"], ["serve", "registration"]])
def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path, command):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        result, took = campaign(*command, env=environment(tmp_path, WEB_SERVER_ADDRESS=address))
    assert result.returncode != 0
    assert took < 10
    assert_one_line(result.stderr)
    assert result.stderr.strip() == f"campaign: {address} is already in use; set WEB_SERVER_ADDRESS to another address"
