"""``campaign demo`` run again, and with settings a user may have exported."""
import os
import re
import subprocess
import sys
from pathlib import Path

CAMPAIGN = str(Path(sys.executable).parent / "campaign")
SINK = str(Path(__file__).with_name("smtp_login_sink.py"))


def demo(workdir, **settings):
    clean = {k: v for k, v in os.environ.items()
             if k not in ("AMQP_URI", "SMTP_URL", "CITY", "CAMPAIGN_DATA_DIR", "REPORTS_DIR")
             and not k.endswith("_DATABASE_URL")}
    return subprocess.run([CAMPAIGN, "demo", "--dir", str(workdir)], env={**clean, **settings},
                          capture_output=True, text=True, timeout=300)


def report_of(result):
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return Path(re.search(r"^Report: (.+)$", result.stdout, re.M).group(1))


def test_a_second_demo_with_campaign_data_dir_exported_runs_like_the_first(tmp_path):
    workdir, data_dir = tmp_path / "demo", tmp_path / "my-data"
    first = report_of(demo(workdir, CAMPAIGN_DATA_DIR=str(data_dir))).read_text(encoding="utf-8")
    second = report_of(demo(workdir, CAMPAIGN_DATA_DIR=str(data_dir)))
    assert second.read_text(encoding="utf-8") == first
    assert second.parent == workdir / "reports"
    assert not data_dir.exists()  # the demo keeps to its own directory


def test_the_demo_never_prints_the_smtp_password(tmp_path):
    sink = subprocess.Popen([sys.executable, SINK, str(tmp_path / "mail"), "mailer", "s3cret"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        result = demo(tmp_path / "demo", SMTP_URL=f"smtp://mailer:s3cret@127.0.0.1:{port}")
        report_of(result)
    finally:
        sink.terminate()
        sink.wait(10)
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1  # the committee's list went through the login
    assert f"committee mail: smtp://mailer:****@127.0.0.1:{port}" in result.stdout
    assert "s3cret" not in result.stdout + result.stderr
