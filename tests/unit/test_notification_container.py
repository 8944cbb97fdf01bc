"""The notification service class in a nameko container: in-process transport, SQLite in tmp_path,
mail into a Maildir.  Registration is replaced by a stand-in answering its RPC."""
import json
import mailbox
import re

import pytest
import requests
from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.containers import ServiceContainer
from nameko.exceptions import RemoteError
from nameko.testing.services import entrypoint_waiter, replace_dependencies

from services.notification.service import NotificationService
from shared import config, events
from shared.database import OutboxMessage
from shared.dependencies import Database
from tests.support.cluster import free_port, wait_until

LISTING = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "committee_name": "Panitia",
           "committee_email": "panitia@registration.example", "participants": [
               {"participant_id": 1, "code": "PON-1", "full_name": "Dédé Kurniawan", "category": "SKPD",
                "organisation": "Dinas", "session": "Workshop", "day": 1}]}


def committee_list(rollout_id):
    if rollout_id not in (7, 9):
        raise RemoteError("NotFound", f"rollout {rollout_id} does not exist")
    return {**LISTING, "rollout_id": rollout_id}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One container for the module (a container takes seconds to stop)."""
    tmp_path = tmp_path_factory.mktemp("notification")
    settings = config.load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                            "SMTP_URL": f"maildir://{tmp_path}/mail"})
    container = ServiceContainer(NotificationService, settings)
    replace_dependencies(container, "registration").committee_list.side_effect = committee_list
    container.start()
    yield container, f"http://{settings['WEB_SERVER_ADDRESS']}/api/v1", tmp_path / "mail"
    container.stop()


def publish(container, event, city, **fields):
    Publisher(container.config["AMQP_URI"]).publish(
        event.create(city, **fields), exchange=Exchange(event.exchange, type="topic", durable=True),
        routing_key=event.routing_key(city), serializer="json")


def test_a_committee_is_set_over_http_and_bad_input_named(service):
    _, api, _ = service
    saved = requests.put(f"{api}/rollouts/9/committee", json={"emails": ["a@x.example"], "name": "Panitia"},
                         timeout=10)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["city"], saved.json()["emails"]) == ("pontianak", ["a@x.example"])

    unknown = requests.put(f"{api}/rollouts/8/committee", json={"emails": ["a@x.example"]}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "rollout_id"
    bare = requests.put(f"{api}/rollouts/9/committee", timeout=10)
    assert bare.status_code == 422 and "body" in json.dumps(bare.json()["error"])
    status = requests.get(f"{api}/deliveries?status=lost", timeout=10)
    assert status.status_code == 422 and "status" in json.dumps(status.json()["error"])


def test_a_closed_registration_is_mailed_and_acknowledged_with_the_links_token(service):
    container, api, maildir = service
    with entrypoint_waiter(container, "handle_events", timeout=10):
        publish(container, events.REGISTRATION_CLOSED, "pontianak", rollout_id=7, participant_count=1)

    def mailed():
        return list(mailbox.Maildir(maildir, create=True))
    [message] = wait_until(mailed, "the participant list in the Maildir", timeout=10)
    assert message["To"] == "panitia@registration.example"
    [delivery] = wait_until(lambda: [d for d in requests.get(f"{api}/deliveries", timeout=10).json()
                                     if d["status"] == "sent"], "the delivery recorded as sent", timeout=10)
    assert delivery["participant_count"] == 1

    body = message.get_payload()[0].get_payload(decode=True).decode("utf-8")
    page, token = re.search(r"(http://\S+/acknowledge)#token=(\S+)", body).groups()
    assert requests.get(page, timeout=10).headers["Content-Type"].startswith("text/html")
    forged = requests.post(page, json={"token": "guess"}, timeout=10)
    assert forged.status_code == 403 and forged.json()["error"]["field"] == "token"
    assert requests.post(page, timeout=10).status_code == 422  # the token belongs in the body
    acknowledged = requests.post(page, json={"token": token}, timeout=10)
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "acknowledged"

    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    with store.read() as uow:
        published = [(row.routing_key, row.payload) for row in uow.session.query(OutboxMessage)]
    assert "committee_notified.pontianak" in [key for key, _ in published]
    assert not any("Kurniawan" in payload for _, payload in published)  # no name on the broker

    with entrypoint_waiter(container, "handle_events", timeout=10):  # closed again: the list is owed once
        publish(container, events.REGISTRATION_CLOSED, "pontianak", rollout_id=7, participant_count=1)
    assert len(requests.get(f"{api}/deliveries", timeout=10).json()) == 1
