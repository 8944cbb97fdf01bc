"""The seed scenario: Pontianak, 2-3 May 2019, end to end through the four services.

Day 1, a workshop for 86 child-protection activists across six categories;
day 2, a socialisation session for students with a pre-test and a post-test.
Names are generated (Indonesian-looking, with a fixed seed, so runs repeat).
"""
import csv
import json
import random
import secrets
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import requests
from faker import Faker

from campaign.api import Api, ApiError

SEED = 2019
# How the report's 86 activists split across its categories (the report gives only the total).
WORKSHOP_PARTICIPANTS = {"educator": 24, "skpd": 16, "patbm": 14, "unit_ppa": 8, "lsm": 12, "forum_anak": 12}
STUDENTS = 120
POST_TEST_ABSENT = 6  # students who left before the post-test: counted as unpaired

SCHOOLS = ["SMP Negeri 1 Pontianak", "SMP Negeri 3 Pontianak", "SMP Negeri 10 Pontianak",
           "SMA Negeri 1 Pontianak", "SMA Negeri 4 Pontianak", "SMK Negeri 2 Pontianak"]
ORGANISATIONS = {
    "educator": ["SD Negeri 14 Pontianak", "SMP Negeri 3 Pontianak", "SMA Negeri 1 Pontianak"],
    "skpd": ["DP3KBP3A Kalimantan Barat", "Dinas PPA Kota Pontianak", "Dinas Pendidikan Kota Pontianak"],
    "patbm": ["PATBM Kelurahan Sungai Bangkong", "PATBM Kelurahan Tanjung Hulu"],
    "unit_ppa": ["Unit PPA Polresta Pontianak Kota"],
    "lsm": ["LPA Kalimantan Barat", "Yayasan Nanda Dian Nusantara", "PKBI Kalimantan Barat"],
    "forum_anak": ["Forum Anak Kota Pontianak"],
}

# The day-2 test: two questions per topic, the same instrument before and after.
QUESTIONS = [
    ("Literasi di Era Digitalisasi Dunia Pendidikan", "Informasi di internet selalu benar.", False),
    ("Literasi di Era Digitalisasi Dunia Pendidikan", "Sebelum membagikan berita, periksa dulu sumbernya.", True),
    ("Kejahatan Siber", "Kata sandi boleh dibagikan kepada teman dekat.", False),
    ("Kejahatan Siber", "Ajakan bertemu dari kenalan online harus diceritakan kepada orang tua atau guru.", True),
    ("Eksploitasi Seksual Anak di Ranah Online",
     "Grooming adalah upaya orang dewasa membangun kedekatan untuk mengeksploitasi anak.", True),
    ("Eksploitasi Seksual Anak di Ranah Online", "Anak yang menjadi korban ikut bersalah.", False),
    ("Jejak Digital dan Privasi", "Foto yang sudah dihapus pasti hilang dari internet.", False),
    ("Jejak Digital dan Privasi", "Alamat rumah sebaiknya tidak dibagikan di media sosial.", True),
    ("What you(th) can do?", "Kasus eksploitasi seksual anak online dapat dilaporkan ke lembaga pelaporan.", True),
    ("What you(th) can do?", "Melaporkan konten berbahaya tidak ada gunanya.", False),
]


@dataclass
class DemoResult:
    rollout_id: int
    city: str
    figures: dict
    report_file: str  # the report's name in the reporting service's REPORTS_DIR, in Bahasa Indonesia
    english_report_file: str  # the same report in English
    committee_list_path: str | None


class ScenarioApi(Api):
    """The one client, its refusals cut to one line: the demo reports what failed, it does not list rows."""

    def call(self, method, path, **kwargs):
        try:
            return super().call(method, path, **kwargs)
        except ApiError as exc:
            text = " ".join(exc.message.split())
            raise DemoError(f"{method} {path}: {text if len(text) <= 300 else text[:297] + '...'}") from None


class DemoError(Exception):
    pass


# --- the demo's people ---------------------------------------------------------------

DEMO_COORDINATOR = "nasional"  # the account the scenario runs as


def create_accounts(config: dict) -> tuple[list[str], str]:
    """The demo's accounts, one of each role (services.identity.admin.DEMO_ACCOUNTS), with a password
    made for this run: (their usernames, the password).  Made on identity's database directly, as
    ``campaign accounts bootstrap`` is: access to the database is the credential."""
    from services.identity import admin

    password = secrets.token_urlsafe(12)
    return admin.ensure_demo_accounts(config, password), password


class SignIn:
    """An account signed in through identity's API; each call gives an access token with time left,
    refreshed (or signed in again) before it lapses (they live under a minute)."""

    MARGIN = 10  # seconds

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.url = f"{base_url.rstrip('/')}/api/v1/auth"
        self.username, self.password = username, password
        self.tokens: dict | None = None
        self.expires_at = 0.0

    def __call__(self) -> str:
        if self.tokens is None or self.expires_at - time.monotonic() < self.MARGIN:
            self._renew()
        return self.tokens["access_token"]

    def _renew(self):
        answer = None
        if self.tokens is not None:
            answer = requests.post(f"{self.url}/refresh", json={"refresh_token": self.tokens["refresh_token"]},
                                   timeout=30)
        if answer is None or answer.status_code != 200:
            answer = requests.post(f"{self.url}/token", json={"username": self.username, "password": self.password},
                                   timeout=30)
        if answer.status_code != 200:
            raise DemoError(f"{self.username} could not sign in ({answer.status_code}); the demo needs its own "
                            "identity database (unset IDENTITY_DATABASE_URL)")
        self.tokens = answer.json()
        self.expires_at = time.monotonic() + self.tokens["expires_in"]


def load_seed():
    """The seed rollout with the original report's narrative, as ``POST /rollouts`` takes it (the narrative
    of ``shared.events.NarrativeSchema``, each session's summary and opener; texts per language).  Its
    local speakers and reporting institutions are marked ``local``: a clone for another city leaves them out."""
    return json.loads(resources.files("campaign").joinpath("seed/pontianak-2019.json").read_text("utf-8"))


def load_rollout():
    """The demo's rollout: the seed, whole."""
    return load_seed()


def workshop_rows(fake, rng):
    rows = []
    for category, count in WORKSHOP_PARTICIPANTS.items():
        for _ in range(count):
            child = category == "forum_anak"
            sex = rng.choice("FM")
            rows.append({
                "full_name": fake.name_female() if sex == "F" else fake.name_male(),
                "category": category,
                "organisation": rng.choice(ORGANISATIONS[category]),
                "sex": sex,
                "age_band": rng.choice(["13-15", "16-17"]) if child else rng.choice(["25-39", "40-59"]),
                "email": "" if child else fake.free_email(),
                "phone": "",
                "consent_by": "guardian" if child else "",
            })
    rng.shuffle(rows)
    return rows


def student(fake, rng):
    sex = rng.choice("FM")
    return {
        "full_name": fake.name_female() if sex == "F" else fake.name_male(),
        "category": "student",
        "organisation": rng.choice(SCHOOLS),
        "sex": sex,
        "age_band": rng.choice(["13-15", "16-17"]),
        "consent_by": "school",
    }


def answers(rng, knowledge):
    return {f"q{i + 1}": (truth if rng.random() < knowledge else not truth)
            for i, (_, _, truth) in enumerate(QUESTIONS)}


def wait_for(condition, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _summarised(api, figures):
    """Whether Pontianak's last released summaries show ``figures`` (so a subscriber ends with them)."""
    try:
        snapshot = api.call("GET", "/summaries/pontianak")
    except ApiError:  # 404 until its first release
        return False
    people = snapshot["summary.participants.pontianak"]
    tests = snapshot["summary.tests.pontianak"]
    shown = [(people["participants"], figures["participants"]), (tests["pre"]["n"], figures["tests"]["pre"]["n"]),
             (tests["paired"], figures["tests"]["paired"])]
    return tests["post"]["n"] == figures["tests"]["post"]["n"] and all(
        published == exact for published, exact in shown if isinstance(published, int))


def run(base_url, workdir, sign_in):
    """Drive the scenario through the HTTP API at ``base_url``, as the account ``sign_in`` gives tokens of."""
    api = ScenarioApi(base_url, token=sign_in)
    fake = Faker("id_ID")
    fake.seed_instance(SEED)
    rng = random.Random(SEED)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    if api.items("/rollouts", limit=1):
        # Only databases named in *_DATABASE_URL can hold one: the demo's own files start empty.
        raise DemoError("the registration database already holds rollouts; the demo needs empty databases "
                        "(unset the *_DATABASE_URL variables to use files under --dir)")
    rollout = api.call("POST", "/rollouts", json=load_rollout())
    rollout_id = rollout["id"]
    api.call("POST", f"/rollouts/{rollout_id}/launch")

    # Day 1: the committee's list of activists arrives as a spreadsheet export.
    sheet = workdir / "peserta-workshop-pontianak.csv"
    rows = workshop_rows(fake, rng)
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    job = api.call("POST", f"/rollouts/{rollout_id}/participants/import", data=sheet.read_bytes(),
                   headers={"Content-Type": "text/csv"})
    job = api.follow(f"/rollouts/{rollout_id}/imports/{job['id']}")  # the import worker reads it
    if job["status"] != "succeeded":
        raise DemoError(f"the workshop list was not imported: {job.get('message')}")

    # Day 2: students register one by one, with their school's consent.
    codes = [api.call("POST", f"/rollouts/{rollout_id}/participants", json=student(fake, rng))["code"]
             for _ in range(STUDENTS)]
    api.call("POST", f"/rollouts/{rollout_id}/close-registration")

    instrument = api.call("POST", "/instruments", json={
        "rollout_id": rollout_id, "session_key": "socialisation",
        "title": "Pre-test dan post-test sosialisasi Internet Aman untuk Anak", "pass_percent": 70,
        "questions": [{"id": f"q{i + 1}", "text": text, "topic": topic, "kind": "true_false", "answer": truth}
                      for i, (topic, text, truth) in enumerate(QUESTIONS)],
    })
    for code in codes:
        api.call("POST", "/submissions", json={"instrument_id": instrument["id"], "participant_code": code,
                                               "phase": "pre", "answers": answers(rng, 0.55)})
    for code in codes[POST_TEST_ABSENT:]:
        api.call("POST", "/submissions", json={"instrument_id": instrument["id"], "participant_code": code,
                                               "phase": "post", "answers": answers(rng, 0.85)})

    expected = sum(WORKSHOP_PARTICIPANTS.values()) + STUDENTS

    def complete():
        figures = api.call("GET", f"/reports/pontianak/figures?rollout_id={rollout_id}")
        done = (figures["participants"] == expected
                and figures["tests"]["post"]["n"] == STUDENTS - POST_TEST_ABSENT
                and figures["tests"]["pre"]["n"] == STUDENTS
                and figures["notifications"])
        return figures if done else None

    figures = wait_for(complete, "the reporting service to see every participant, test and notification")
    wait_for(lambda: _summarised(api, figures), "the reporting service to release the final summaries")
    written = {lang: api.call("POST", f"/reports/pontianak/activity-report?lang={lang}")["file"]
               for lang in ("id", "en")}
    api.http.close()
    return DemoResult(rollout_id, "pontianak", figures, written["id"], written["en"], None)
