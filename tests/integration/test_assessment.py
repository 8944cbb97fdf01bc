"""Tests taken in a city reach reporting as events on the real broker, and its figures are right."""
import json

import pika
from click.testing import CliRunner

from campaign.assessment_commands import assessment
from tests.support.cluster import wait_until

STUDENTS = 6


def student(i):
    return {"full_name": f"Siswa Uji {i}", "category": "student", "organisation": "SMP Negeri 5",
            "age_band": "13-15", "consent_by": "school"}


class EventTap:
    """A queue bound to a service's event exchange, as a consumer of its events would be."""

    def __init__(self, amqp_uri, exchange, *keys):
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in keys:
            self.channel.queue_bind(self.queue, exchange, routing_key=key)
        self.received = []  # (routing key, raw body)

    def collect(self, count):
        def enough():
            method, _, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is not None:
                self.received.append((method.routing_key, body))
            return len(self.received) >= count
        wait_until(enough, f"{count} events", interval=0.01)
        return [(key, json.loads(body)) for key, body in self.received]

    def close(self):
        self.connection.close()


def test_tests_reach_reporting_and_the_city_figures_are_right(cluster, launch, tmp_path):
    tap = EventTap(cluster.vhost.amqp_uri, "assessment.events", "test_scored.surabaya",
                   "action_plan_recorded.surabaya", "action_plan_updated.surabaya")
    rollout = launch("Surabaya", f"surabaya-{cluster.backend}@committee.example")
    codes = []
    for i in range(STUDENTS):
        answer = cluster.post("registration", f"/rollouts/{rollout['id']}/participants", json=student(i))
        assert answer.status_code == 201, answer.text
        codes.append(answer.json()["code"])
    socialisation = next(s for s in rollout["sessions"] if s["key"] == "socialisation")
    first, second = (t["title"] for t in socialisation["topics"][:2])
    instrument = cluster.post("assessment", "/instruments", json={
        "rollout_id": rollout["id"], "session_key": "socialisation", "title": "Tes", "pass_percent": 75,
        "questions": [{"id": f"q{i}", "text": "…", "topic": first if i <= 2 else second,
                       "kind": "true_false", "answer": True} for i in range(1, 5)]})
    assert instrument.status_code == 201, instrument.text
    instrument_id = instrument.json()["id"]

    # Pre-tests one at a time through the API: right answers 1, 2, 2, 1, 4 (perfect) and 0.
    pre = [1, 2, 2, 1, 4, 0]
    for code, right in zip(codes, pre):
        answers = {f"q{i}": i <= right for i in range(1, 5)}
        scored = cluster.post("assessment", "/submissions", json={
            "instrument_id": instrument_id, "participant_code": code, "phase": "pre", "answers": answers})
        assert scored.status_code == 201, scored.text
        assert scored.json()["score"] == right

    def refused(status, field, **change):
        body = {"instrument_id": instrument_id, "participant_code": codes[0], "phase": "pre", "answers": {}, **change}
        answer = cluster.post("assessment", "/submissions", json=body)
        assert answer.status_code == status, answer.text
        assert field in json.dumps(answer.json()["error"]) and "Traceback" not in answer.text
    refused(409, "phase")  # a second pre-test
    refused(404, "instrument_id", instrument_id=999999)
    refused(404, "participant_code", participant_code="SUR-NOBODY")
    refused(422, "answers", phase="post", answers={"q9": True})

    # Post-tests from a sheet, through the command line: 3, 4, 3, 2, 4; the sixth student was absent.
    post = [3, 4, 3, 2, 4]
    api_url = cluster.url("assessment").removesuffix("/api/v1")
    rows = [f"{code},post," + ",".join("benar" if i <= right else "salah" for i in range(1, 5))
            for code, right in zip(codes, post)]
    bad_sheet = tmp_path / "bad.csv"
    bad_sheet.write_text("participant_code,phase,q1,q2,q3,q4\n" + "\n".join(rows + ["PON-NOBODY,post,,,,"]) + "\n")
    cli = CliRunner(env={"CAMPAIGN_TOKEN": cluster.token()})  # as a script signs in
    refused = cli.invoke(assessment, ["--api-url", api_url, "import", str(instrument_id), str(bad_sheet)])
    assert refused.exit_code == 1
    assert "line 7, participant_code" in refused.output and "Traceback" not in refused.output
    sheet = tmp_path / "post.csv"
    sheet.write_text("participant_code,phase,q1,q2,q3,q4\n" + "\n".join(rows) + "\n")
    imported = cli.invoke(assessment, ["--api-url", api_url, "import", str(instrument_id), str(sheet)])
    assert imported.exit_code == 0, imported.output
    assert "imported 5 tests" in imported.output

    # Every test is an event on the broker, with codes and no names.
    scored_events = tap.collect(STUDENTS + len(post))
    assert sorted(body["phase"] for _, body in scored_events) == ["post"] * 5 + ["pre"] * 6
    assert not any(f"Siswa Uji {i}".encode() in raw for _, raw in tap.received for i in range(STUDENTS))

    # Reporting builds the city's figures from those events alone.
    def figures():
        answer = cluster.get("reporting", f"/reports/surabaya/figures?rollout_id={rollout['id']}").json()
        tests = answer["tests"]
        return tests if tests["pre"]["n"] == STUDENTS and tests["post"]["n"] == len(post) else None
    tests = wait_until(figures, "Surabaya's test figures")
    # pre: 10 right of 24 = 41.7%; post: 16 of 20 = 80.0%
    # paired (the five with both): pre 10 of 20 = 50%, post 80%; gain (80 - 50) / (100 - 50) = 0.6
    assert tests["pre"]["mean_percent"] == 41.7
    assert tests["post"]["mean_percent"] == 80.0
    assert tests["paired"] == 5
    assert tests["gain"] == 0.6

    # Assessment's own gain agrees, and says what reporting's single figure leaves out.
    gains = cluster.get("assessment", f"/gains/surabaya?rollout_id={rollout['id']}").json()
    assert round(gains["gain_of_averages"]["value"], 3) == 0.6
    assert (gains["paired"], gains["perfect_pre"], gains["pre_only"], gains["post_only"]) == (5, 1, 1, 0)
    # individual g: 2/3, 1, 1/2, 1/3 (the perfect pre-test has none): mean 2.5 / 4 = 0.625
    assert gains["mean_of_gains"]["n"] == 4 and round(gains["mean_of_gains"]["value"], 3) == 0.625

    # The session's gain summary reaches reporting as an event, intervals and all.
    def session_gain():
        answer = cluster.get("reporting", f"/reports/surabaya/figures?rollout_id={rollout['id']}").json()
        rows = [g for g in answer["gain_by_session"] if g["paired"] == 5]
        return rows[0] if rows else None
    reported = wait_until(session_gain, "the session's gain summary in reporting")
    assert reported["session_key"] == "socialisation"
    assert round(reported["gain_of_averages"]["value"], 3) == 0.6
    assert reported["mean_of_gains"] == gains["mean_of_gains"]

    # An action plan and its follow-up are events too: its commitment goes to the report (issue 14), its
    # follow-up notes stay in assessment, and the participant is a code.
    plan = cluster.post("assessment", "/action-plans", json={
        "rollout_id": rollout["id"], "session_key": "socialisation", "owner": "participant",
        "participant_code": codes[0], "commitment": "Melapor ke guru bila ada perundungan daring"})
    assert plan.status_code == 201, plan.text
    followed = cluster.patch("assessment", f"/action-plans/{plan.json()['id']}",
                             json={"status": "done", "note": "sudah"})
    assert followed.status_code == 200, followed.text
    plan_events = [(k, b) for k, b in tap.collect(STUDENTS + len(post) + 2) if k.startswith("action_plan_")]
    assert [(k, b["status"]) for k, b in plan_events] == [
        ("action_plan_recorded.surabaya", "planned"), ("action_plan_updated.surabaya", "done")]
    assert all(b["commitment"] == "Melapor ke guru bila ada perundungan daring" and b["participant_code"] == codes[0]
               and "sudah" not in json.dumps(b) for _, b in plan_events)
    tap.close()
