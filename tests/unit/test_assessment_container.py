"""The assessment service class in a nameko container: in-process transport, SQLite in tmp_path.

Registration is not running: its RPC proxy is replaced by a stand-in that
answers as registration would.
"""
import json
from datetime import date

import pytest
import requests
from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.containers import ServiceContainer
from nameko.testing.services import entrypoint_waiter, replace_dependencies

from services.assessment.service import AssessmentService
from shared import config, events
from tests.support.cluster import free_port

TOPICS = ["Jejak Digital", "Kejahatan Siber"]
QUESTIONS = [{"id": f"q{i}", "text": "…", "topic": TOPICS[i % 2], "kind": "true_false", "answer": True}
             for i in range(1, 5)]
PARTICIPANTS = {code: {"participant_id": 5, "code": code, "rollout_id": rollout_id, "city": "pontianak",
                       "session_key": "socialisation", "category": "student"}
                for code, rollout_id in (("PON-A", 1), ("PON-B", 2))}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One container for the module (a container takes seconds to stop); each test its own rollout or data."""
    tmp_path = tmp_path_factory.mktemp("assessment")
    settings = config.load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"})
    container = ServiceContainer(AssessmentService, settings)
    registration = replace_dependencies(container, "registration")
    registration.participant_by_code.side_effect = PARTICIPANTS.get
    container.start()
    yield container, f"http://{settings['WEB_SERVER_ADDRESS']}/api/v1"
    container.stop()


def publish(container, event, city, **fields):
    Publisher(container.config["AMQP_URI"]).publish(
        event.create(city, **fields), exchange=Exchange(event.exchange, type="topic", durable=True),
        routing_key=event.routing_key(city), serializer="json")


def create_instrument(api, rollout_id=1, **change):
    return requests.post(f"{api}/instruments", timeout=10, json={
        "rollout_id": rollout_id, "session_key": "socialisation", "title": "Tes", "questions": QUESTIONS, **change})


def test_an_instrument_is_created_and_a_test_scored_over_http(service):
    _, api = service
    created = create_instrument(api)
    assert created.status_code == 201, created.text

    scored = requests.post(f"{api}/submissions", timeout=10, json={
        "instrument_id": created.json()["id"], "participant_code": "PON-A", "phase": "pre",
        "answers": {"q1": True, "q2": True, "q3": False}})
    assert scored.status_code == 201, scored.text
    assert (scored.json()["score"], scored.json()["unanswered"]) == (2, ["q4"])

    unknown = requests.post(f"{api}/submissions", timeout=10, json={
        "instrument_id": created.json()["id"], "participant_code": "PON-Z", "phase": "pre", "answers": {}})
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "participant_code"


def test_a_sheet_is_imported_from_a_csv_body(service):
    _, api = service
    instrument_id = create_instrument(api, rollout_id=2).json()["id"]
    sheet = "participant_code,phase,q1,q2,q3,q4\nPON-B,post,benar,benar,benar,salah\n"
    imported = requests.post(f"{api}/instruments/{instrument_id}/submissions/import", data=sheet.encode(),
                             headers={"Content-Type": "text/csv"}, timeout=10)
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported"] == 1

    bad = requests.post(f"{api}/instruments/{instrument_id}/submissions/import", data=b"code,q1\nPON-A,ya\n",
                        headers={"Content-Type": "text/csv"}, timeout=10)
    assert bad.status_code == 422 and "header" in json.dumps(bad.json()["error"])


def test_a_bad_query_is_a_422_naming_the_parameter(service):
    _, api = service
    for path, field in (("/instruments?rollout_id=satu", "rollout_id"),
                        ("/instruments/1/item-analysis?phase=during", "phase"),
                        ("/action-plans?status=finished", "status"),
                        ("/gains/pontianak?rollout_id=x", "rollout_id")):
        answer = requests.get(api + path, timeout=10)
        assert answer.status_code == 422, (path, answer.text)
        assert field in json.dumps(answer.json()["error"]), path


def test_a_launched_rollouts_agenda_is_taken_from_its_event(service):
    container, api = service
    session = {"key": "socialisation", "day": 2, "date": date(2019, 5, 3), "title": "Sosialisasi",
               "audience": "students", "topics": [{"title": t, "facilitators": []} for t in TOPICS]}
    off_agenda = [{**QUESTIONS[0], "topic": "Memasak"}]
    assert create_instrument(api, rollout_id=3, questions=off_agenda).status_code == 201  # launch not heard yet
    with entrypoint_waiter(container, "handle_events", timeout=10):
        publish(container, events.ROLLOUT_LAUNCHED, "pontianak", rollout_id=3, program="IAUA",
                city_name="Pontianak", starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3), sessions=[session])

    refused = create_instrument(api, rollout_id=3, questions=off_agenda)
    assert refused.status_code == 422 and "questions" in refused.json()["error"]["fields"]
    assert create_instrument(api, rollout_id=3).status_code == 201
