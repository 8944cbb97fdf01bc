"""Retention on the real services: a completed rollout's names leave every database, and its
reports and summaries stay the same; reads of participants are audited and shown by city."""
import os
import subprocess
import sys

import requests
from sqlalchemy import MetaData, create_engine, select

from tests.support.cluster import wait_until
from tests.support.summaries import last_release

ADULTS = [("Hendrawan Saputra", "educator", "hendrawan@sekolah.example", "0812345678"),
          ("Lestari Widyaningsih", "lsm", "lestari@lsm.example", "0813987654")]
STUDENTS = ["Kurniawati Ramadhani", "Bayu Setiawan", "Anisa Fitriyani", "Galih Pramudya", "Wulan Safitri"]
NAMES = [n for n, _, _, _ in ADULTS] + STUDENTS
COMMITTEE = "Ratna Sari Dewi"  # the local committee's contact, as notification keeps it


def campaign(cluster, *args):
    done = subprocess.run([sys.executable, "-m", "campaign.cli", *args], env={**os.environ, **cluster.env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rows_mentioning(database_url, names, but=()):
    """(table, name) of every row of every table that holds one of ``names`` in any column but ``but``."""
    engine = create_engine(database_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        found = []
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                for row in connection.execute(select(*(c for c in table.columns if c.name not in but))):
                    text = " ".join(map(str, row))
                    found += [(table.name, name) for name in names if name in text]
        return found
    finally:
        engine.dispose()


def test_a_completed_rollouts_names_leave_every_database_and_its_figures_stay(cluster, launch, smtp):
    rollout = launch("Pontianak", f"retensi-{cluster.backend}@committee.example")
    rid = rollout["id"]
    # A committee set, then sent elsewhere: its audit and a notice to the first address hold both.
    ratna, secretariat = f"ratna-{cluster.backend}@panitia.example", f"sekretariat-{cluster.backend}@panitia.example"
    for emails in ([ratna], [secretariat]):
        answer = cluster.put("notification", f"/rollouts/{rid}/committee", json={"name": COMMITTEE, "emails": emails})
        assert answer.status_code == 200, answer.text
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
    wait_until(lambda: [m for m in smtp.messages() if m["To"] == secretariat], "the committee's list")
    assert cluster.post("registration", f"/rollouts/{rid}/start").status_code == 200
    assert cluster.post("registration", f"/rollouts/{rid}/complete").status_code == 200
    listed = cluster.get("registration", f"/rollouts/{rid}/participants")  # audited
    assert {p["full_name"] for p in listed.json()["items"]} == set(NAMES)

    def settled():
        """Reporting's figures once every event of the rollout is in them: assessment's gain summary
        (a second behind the last test at most), and every delivery notification made, all sent."""
        figures = cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={rid}").json()
        deliveries = cluster.items("notification", "/deliveries", rollout_id=rid)
        complete = (figures["participants"] == len(NAMES) and figures["tests"]["post"]["n"] == len(STUDENTS)
                    and [g["paired"] for g in figures["gain_by_session"]] == [len(STUDENTS)]
                    and all(d["status"] == "sent" for d in deliveries)
                    and {n["delivery_id"] for n in figures["notifications"]} == {d["id"] for d in deliveries})
        return figures if complete else None
    figures = wait_until(settled, "reporting to have the whole rollout")
    assert {"committee_changed", "participant_list"} <= {n["kind"] for n in figures["notifications"]}
    summaries = last_release(cluster, "pontianak")
    table = cluster.get("reporting", f"/reports/pontianak/tables/categories.csv?rollout_id={rid}").text
    urls = {s: p.env[f"{s.upper()}_DATABASE_URL"] for s, p in cluster.services.items()
                               if f"{s.upper()}_DATABASE_URL" in p.env}
    assert rows_mentioning(urls["registration"], NAMES)  # the checks find them while they are there
    assert rows_mentioning(urls["notification"], [COMMITTEE, ratna], but={"recipient"})

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
        assert rows_mentioning(url, NAMES + [COMMITTEE]) == [], service
        assert rows_mentioning(url, [e for _, _, e, _ in ADULTS] + [p for _, _, _, p in ADULTS]) == [], service
        # Where lists and notices went stays only as the record of who received whose data.
        assert rows_mentioning(url, [ratna, secretariat], but={"recipient"}) == [], service
    after = cluster.get("registration", f"/rollouts/{rid}/participants").json()["items"]
    assert sorted(p["code"] for p in after if p["category"] == "student") == sorted(codes)
    assert cluster.get("reporting", f"/reports/pontianak/figures?rollout_id={rid}").json() == figures
    assert cluster.get("reporting", "/summaries/pontianak").json() == summaries
    assert cluster.get("reporting", f"/reports/pontianak/tables/categories.csv?rollout_id={rid}").text == table
    assert "nothing to purge" in campaign(cluster, "retention", "purge", "--days", "0")

    # The audit: who listed the participants, and the purge, for those who may see that city.
    # (As the harness's accounts: cluster.session(who); anonymous through plain requests.)
    audit = cluster.url("registration") + "/audit"
    entries = cluster.session("national").get(audit, params={"rollout_id": rid}, timeout=30).json()["items"]
    actions = [(e["action"], e["rows"]) for e in entries]
    assert ("purged", len(NAMES)) in actions and ("listed", len(NAMES)) in actions
    assert requests.get(audit, timeout=30).status_code == 401
    assert cluster.session("partner").get(audit, timeout=30).status_code == 403
    committee_sees = cluster.session("committee").get(audit, timeout=30).json()["items"]
    assert committee_sees and {e["city"] for e in committee_sees} == {"pontianak"}
    received = cluster.items("notification", "/deliveries", rollout_id=rid)
    assert secretariat in {d["recipient"] for d in received if d.get("participant_count")}
