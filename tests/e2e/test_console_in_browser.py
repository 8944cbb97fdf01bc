"""The web console in a real browser: Debian's Chromium driven by Playwright (tests/e2e/console_browser.py).

The services and the console run in one ``campaign serve`` process (in-process broker, SQLite), as on a
coordinator's laptop.  The scenario of issue 16, as people click through it: a national coordinator
signs in, plans and launches a rollout, imports a participant file with two bad rows and sees both
errors, fixes it and imports it, checks two participants in, and watches the dashboard's counts and
gaps change by themselves; Medan's committee member finds no Pontianak data; the PDF report is
downloaded.  Each page's screenshot is written to tests/output/console/ (kept by CI, ignored by git).
"""
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.identity import accounts
from services.identity.models import Base
from services.identity.repository import IdentityUnitOfWork
from shared.database import Store, utcnow
from tests.support.embedded import campaign_serve

pytestmark = pytest.mark.e2e

BROWSER = Path(__file__).with_name("console_browser.py")
PASSWORD = "kata sandi konsol 2019"
PEOPLE = {"nasional": ("national_coordinator", ()), "komite-medan": ("committee_member", ("medan",))}


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """``campaign serve`` with the console, its accounts, and a launched Medan rollout: the console's URL."""
    workdir = tmp_path_factory.mktemp("console")
    with campaign_serve(workdir, ready_path="/console/sign-in") as base:
        store = Store(f"sqlite:///{workdir / 'data' / 'identity.db'}", Base.metadata, consumer="tests.console",
                      unit_of_work=IdentityUnitOfWork)
        with store.unit_of_work() as uow:
            accounts.ensure_demo_accounts(uow, accounts.Passwords(cheap=True), PEOPLE, PASSWORD, utcnow())
        store.dispose()
        token = requests.post(base + "/api/v1/auth/token", json={"username": "nasional", "password": PASSWORD},
                              timeout=30).json()["access_token"]
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {token}"
        medan = api.post(base + "/api/v1/rollouts", timeout=30, json={
            "program": "Internet Aman untuk Anak", "city_name": "Medan", "province": "Sumatera Utara",
            "venue": "Hotel Santika", "starts_on": "2026-08-04", "ends_on": "2026-08-05",
            "committee_email": "panitia@medan.example", "organisation": "ECPAT Indonesia", "author": "Andy Ardian",
            "editor": "Rio Hendra",
            "sessions": [{"key": "workshop", "day": 1, "date": "2026-08-04", "title": "Workshop",
                          "audience": "activists", "capacity": 40}]}).json()
        launched = api.post(f"{base}/api/v1/rollouts/{medan['id']}/launch", timeout=30)
        assert launched.status_code == 200, launched.text
        yield base + "/console"


def test_a_coordinator_runs_a_rollout_and_a_medan_committee_member_sees_none_of_it(console, tmp_path):
    """Plan, launch, a bad import then a good one, two check-ins, the dashboard catching up by itself;
    Medan's committee member on a phone, refused every Pontianak page; the PDF report downloaded."""
    ran = subprocess.run([sys.executable, str(BROWSER), console, PASSWORD, str(tmp_path)], capture_output=True,
                         text=True, timeout=240, cwd=Path(__file__).resolve().parents[2])
    assert ran.returncode == 0, ran.stdout + ran.stderr
