"""The notification service class in a nameko container: in-process transport, SQLite in tmp_path,
mail into a Maildir.  Registration's API is replaced by a stand-in; tokens are signed with a key of
the test's own, which the container is configured to trust (IDENTITY_JWKS)."""
import json
import mailbox
import re

import pytest
import requests
from kombu import Exchange
from nameko.amqp.publish import Publisher
from nameko.containers import ServiceContainer
from nameko.testing.services import entrypoint_waiter, replace_dependencies
from sqlalchemy import text

from services.notification.service import NotificationService
from shared import config, events
from shared.database import OutboxMessage
from shared.dependencies import Database
from shared.errors import NotFound
from tests.support.cluster import free_port, wait_until
from tests.support.tokens import TestIssuer

LISTING = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "committee_name": "Panitia",
           "committee_email": "panitia@registration.example", "participants": [
               {"participant_id": 1, "code": "PON-1", "full_name": "Dédé Kurniawan", "category": "SKPD",
                "organisation": "Dinas", "session": "Workshop", "day": 1}]}


def listing(rollout_id, with_participants):
    if rollout_id not in (7, 9):
        raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
    return {**LISTING, "rollout_id": rollout_id, "participants": LISTING["participants"] if with_participants else []}


def rollout(rollout_id):
    return {"id": rollout_id, **{k: v for k, v in listing(rollout_id, False).items() if k != "rollout_id"}}


ISSUER = TestIssuer()
bearer = ISSUER.headers


COORDINATOR = bearer("budi", "city_coordinator", "pontianak")


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """One container for the module (a container takes seconds to stop)."""
    tmp_path = tmp_path_factory.mktemp("notification")
    settings = config.load({"CAMPAIGN_DATA_DIR": str(tmp_path), "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                            "SMTP_URL": f"maildir://{tmp_path}/mail", "IDENTITY_JWKS": ISSUER.jwks})
    container = ServiceContainer(NotificationService, settings)
    registration = replace_dependencies(container, "registration")
    registration.listing.side_effect = listing
    registration.rollout.side_effect = rollout
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
                         headers=COORDINATOR, timeout=10)
    assert saved.status_code == 200, saved.text
    assert (saved.json()["city"], saved.json()["emails"]) == ("pontianak", ["a@x.example"])

    unknown = requests.put(f"{api}/rollouts/8/committee", json={"emails": ["a@x.example"]}, headers=COORDINATOR,
                           timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "rollout_id"
    bare = requests.put(f"{api}/rollouts/9/committee", headers=COORDINATOR, timeout=10)
    assert bare.status_code == 422 and "body" in json.dumps(bare.json()["error"])
    status = requests.get(f"{api}/deliveries?status=lost", timeout=10, headers=COORDINATOR)
    assert status.status_code == 422 and "status" in json.dumps(status.json()["error"])


def test_a_closed_registration_is_mailed_and_acknowledged_with_the_links_token(service):
    container, api, maildir = service
    with entrypoint_waiter(container, "handle_events", timeout=10):
        publish(container, events.REGISTRATION_CLOSED, "pontianak", rollout_id=7, participant_count=1)

    def mailed():
        return list(mailbox.Maildir(maildir, create=True))
    [message] = wait_until(mailed, "the participant list in the Maildir", timeout=10)
    assert message["To"] == "panitia@registration.example"
    [delivery] = wait_until(lambda: [d for d in requests.get(f"{api}/deliveries", timeout=10,
                                                             headers=COORDINATOR).json()["items"]
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
    assert len(requests.get(f"{api}/deliveries", timeout=10, headers=COORDINATOR).json()["items"]) == 1


# --- who may redirect a committee's lists, and where to --------------------------------

def test_a_committee_member_or_a_coordinator_of_another_city_cannot_redirect_the_lists(service):
    _, api, _ = service
    hook = {"webhook_url": "https://hooks.example.org/x", "webhook_secret": "s" * 20}
    anonymous = requests.put(f"{api}/rollouts/9/committee", json=hook, timeout=10)
    member = requests.put(f"{api}/rollouts/9/committee", json=hook, timeout=10,
                          headers=bearer("sari", "committee_member", "pontianak"))
    medan = requests.put(f"{api}/rollouts/9/committee", json=hook, timeout=10,
                         headers=bearer("ucok", "city_coordinator", "medan"))

    assert anonymous.status_code == 401
    assert member.status_code == 403 and member.json()["error"]["permission"] == "committee:write"
    assert medan.status_code == 404 and medan.json()["error"]["field"] == "rollout_id"  # another city: not there


@pytest.mark.parametrize("url", ["http://127.0.0.1:5432/", "https://127.0.0.1/hook", "https://10.1.2.3/hook",
                                 "https://169.254.169.254/latest/meta-data/", "https://[::1]/hook",
                                 "https://localhost/hook", "https://no-such-host.invalid/hook",
                                 "http://hooks.example.org/plain-http"])
def test_a_webhook_to_an_inside_address_is_refused_with_one_clear_error(service, url):
    _, api, _ = service
    refused = requests.put(f"{api}/rollouts/9/committee", headers=COORDINATOR, timeout=10,
                           json={"webhook_url": url, "webhook_secret": "s" * 20})

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert list(error["fields"]) == ["webhook_url"]
    assert error["message"].startswith("webhook_url: must be an https URL")  # the same words for every one


def test_a_committee_change_is_audited_and_its_secret_never_shown_or_stored_in_the_clear(service):
    container, api, _ = service
    secret = "a-committee-secret-of-some-length"
    first = requests.put(f"{api}/rollouts/7/committee", headers=COORDINATOR, timeout=10,
                         json={"emails": ["lama@panitia.example"]})
    assert first.status_code == 200, first.text
    moved = requests.put(f"{api}/rollouts/7/committee", headers=COORDINATOR, timeout=10,
                         json={"emails": ["baru@panitia.example"], "webhook_url": "https://93.184.215.14/hook",
                               "webhook_secret": secret})
    assert moved.status_code == 200, moved.text
    assert moved.json()["webhook_secret_set"] is True and secret not in moved.text
    shown = requests.get(f"{api}/rollouts/7/committee", headers=COORDINATOR, timeout=10)
    assert secret not in shown.text and shown.json()["webhook_secret_set"] is True

    changes = requests.get(f"{api}/rollouts/7/committee/changes", headers=COORDINATOR, timeout=10).json()["items"]
    *_, last = changes
    assert (last["changed_by"], last["redirects"]) == ("budi", True)
    assert last["before"]["emails"] == ["lama@panitia.example"]
    assert (last["after"]["emails"], last["after"]["webhook_url"]) == (["baru@panitia.example"],
                                                                       "https://93.184.215.14/hook")
    assert secret not in json.dumps(changes)
    other_city = requests.get(f"{api}/rollouts/7/committee/changes", timeout=10,
                              headers=bearer("ucok", "city_coordinator", "medan"))
    assert other_city.status_code == 404  # another city's rollout: not there

    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    with store.read() as uow:
        stored = uow.session.execute(text("SELECT webhook_secret FROM committees WHERE rollout_id = 7")).scalar()
    assert stored and secret not in stored
    [notice] = requests.get(f"{api}/deliveries?rollout_id=7&kind=committee_changed", timeout=10,
                            headers=COORDINATOR).json()["items"]
    assert notice["channel"] == "mail"
