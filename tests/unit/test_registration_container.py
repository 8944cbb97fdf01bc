"""The registration service class in a nameko container: HTTP, RPC, its timer and its outbox.

Embedded transport (``memory://``) and SQLite in the test's directory; the
requests go over a real socket to the service's web server.
"""
import copy
import math

import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.events import event_handler
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from services.notification.registration_api import RegistrationApi
from services.registration.import_worker import RegistrationImportWorker
from services.registration.service import RegistrationService
from shared.config import load
from tests.support.cluster import free_port, wait_until
from tests.support.pages import every_item
from tests.support.tokens import TestIssuer, session
from tests.unit.test_registration import CHILD, ROLLOUT

http = session()  # a national coordinator's tokens, fresh for each request
ISSUER = TestIssuer()  # tokens of accounts a test names itself


class Committee:
    """Stands in for a service that follows Pontianak's registrations."""

    name = "committee"

    @event_handler("registration", "participant_registered.pontianak")
    def heard(self, payload):
        return payload


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    config = load({"CAMPAIGN_DATA_DIR": str(tmp_path_factory.mktemp("registration")), "OUTBOX_INTERVAL": "0.05",
                   "IDENTITY_JWKS": ISSUER.jwks})
    config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
    return config


@pytest.fixture(scope="module")
def containers(config):
    """The service and a listener in containers (nameko's ``container_factory``, pared down).

    One pair for the module: stopping a container takes seconds, and each test
    keeps to rollouts of its own.
    """
    started = {cls.name: ServiceContainer(cls, config)
               for cls in (Committee, RegistrationService, RegistrationImportWorker)}
    for container in started.values():  # the listener's queue first, as a consumer's would be
        container.start()
    yield started
    for container in reversed(started.values()):
        container.stop()


@pytest.fixture
def registration(containers):
    return containers["registration"]


@pytest.fixture(scope="module")
def api(config):
    base = f"http://{config['WEB_SERVER_ADDRESS']}/api/v1"

    def call(method, path, **kwargs):
        # Asked as someone in particular when the test brings an Authorization; else as a national coordinator.
        client = requests if "Authorization" in kwargs.get("headers", {}) else http
        return client.request(method, base + path, timeout=10, **kwargs)
    return call


def test_a_registration_over_http_answers_201_and_its_event_leaves_through_the_outbox(containers, api):
    registration, committee = containers["registration"], containers["committee"]

    with entrypoint_waiter(registration, "plan_rollout"):
        planned = api("POST", "/rollouts", json=ROLLOUT)
    assert planned.status_code == 201, planned.text
    rollout_id = planned.json()["id"]
    assert api("POST", f"/rollouts/{rollout_id}/launch").status_code == 200

    with entrypoint_waiter(committee, "heard", timeout=10) as heard:
        registered = api("POST", f"/rollouts/{rollout_id}/participants", json=CHILD)
    assert registered.status_code == 201, registered.text
    siti = registered.json()
    assert (siti["status"], siti["minor"], siti["returning_of"]) == ("registered", True, None)
    assert (heard.get()["participant_id"], heard.get()["participant_code"]) == (siti["id"], siti["code"])
    assert "Siti" not in str(heard.get())


def test_bad_input_is_refused_at_the_edge_naming_the_field(registration, api):
    refused = api("POST", "/rollouts", json={**ROLLOUT, "ends_on": "2019-04-01"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_input")
    assert "ends_on" in refused.json()["error"]["fields"]
    assert api("GET", "/rollouts", params={"status": "finished"}).status_code == 422
    assert api("POST", "/rollouts/999/launch").status_code == 404


def test_a_returning_participant_and_a_file_with_problems_over_http(registration, api):
    first = api("POST", "/rollouts", json={**ROLLOUT, "city_name": "Kupang"}).json()
    api("POST", f"/rollouts/{first['id']}/launch")
    earlier = api("POST", f"/rollouts/{first['id']}/participants", json=CHILD).json()
    later = api("POST", f"/rollouts/{first['id']}/clone", json={
        "city_name": "Kupang", "starts_on": "2020-05-02", "committee_email": "panitia@kupang.example"}).json()
    api("POST", f"/rollouts/{later['id']}/launch")

    again = api("POST", f"/rollouts/{later['id']}/participants", json=CHILD)
    assert (again.status_code, again.json()["returning_of"]) == (201, earlier["id"])

    submitted = api("POST", f"/rollouts/{later['id']}/participants/import", data=(
        b"full_name,category,organisation,age_band,email,consent_by\n"
        b"Siti Aminah,student,,13-15,,school\n"
        b"Budi,student,,13-15,budi@example.org,school\n"))
    assert submitted.status_code == 202, submitted.text
    refused = finished(api, later["id"], submitted.json()["id"])
    assert (refused["status"], refused["result"]) == ("failed", None)
    assert [(r["line"], r["field"]) for r in refused["errors"]] == [(2, "full_name"), (3, "email")]
    assert len(api("GET", f"/rollouts/{later['id']}/participants").json()["items"]) == 1  # Siti's own


def finished(api, rollout_id, job_id):
    """The import job once the import worker is done with it."""
    def done():
        job = api("GET", f"/rollouts/{rollout_id}/imports/{job_id}").json()
        return job if job["status"] in ("succeeded", "failed") else None
    return wait_until(done, f"import {job_id}", timeout=30, interval=0.02)


def test_an_import_is_a_job_the_import_worker_reads_while_the_api_answers(registration, api, config):
    rollout = api("POST", "/rollouts", json={**ROLLOUT, "city_name": "Ambon"}).json()
    api("POST", f"/rollouts/{rollout['id']}/launch")
    rows = "".join(f"Peserta {i},educator,Sekolah {i % 9}\n" for i in range(2500))

    submitted = api("POST", f"/rollouts/{rollout['id']}/participants/import",
                    data=("full_name,category,organisation\n" + rows).encode())

    assert submitted.status_code == 202, submitted.text
    assert (submitted.json()["status"], submitted.json()["rows_done"]) == ("queued", 0)
    job = finished(api, rollout["id"], submitted.json()["id"])
    assert (job["status"], job["rows_done"], job["rows_total"], job["errors"]) == ("succeeded", 2500, 2500, [])
    assert (job["result"]["imported"], job["result"]["registered"]) == (2500, 2500)
    assert len(every_item(lambda path, **kwargs: api("GET", path, **kwargs), f"/rollouts/{rollout['id']}/participants")
               ) == 2500
    # Notification reads the committee's list to its end: three pages of at most 1000.
    notification = RegistrationApi(f"http://{config['WEB_SERVER_ADDRESS']}", "http://identity.invalid", None)
    notification._token = (ISSUER.headers("notification", "service")["Authorization"].split()[1], math.inf)
    listing = notification.committee_list(rollout["id"])
    assert (listing["city"], len({p["participant_id"] for p in listing["participants"]})) == ("ambon", 2500)
    assert api("GET", f"/rollouts/{rollout['id']}/imports/{job['id'] + 1}").status_code == 404


def test_the_rpc_and_the_hourly_target_check_go_through_the_same_handlers(registration, api):
    data = copy.deepcopy({**ROLLOUT, "city_name": "Medan"})
    data["sessions"][1]["quotas"] = [{"category": "student", "minimum": 50}]
    rollout = api("POST", "/rollouts", json=data).json()
    api("POST", f"/rollouts/{rollout['id']}/launch")
    siti = api("POST", f"/rollouts/{rollout['id']}/participants", json=CHILD).json()

    listing = api("GET", f"/rollouts/{rollout['id']}/committee-list", headers=ISSUER.headers("notification", "service"))
    assert listing.status_code == 200, listing.text
    assert [(p["code"], p["full_name"], p["category"]) for p in listing.json()["items"]] == [
        (siti["code"], "Siti Aminah", "Pelajar")]
    with entrypoint_hook(registration, "participant_by_code") as participant_by_code:
        assert participant_by_code(siti["code"])["session_key"] == "socialisation"
        assert participant_by_code("PON-NOBODY") is None
    with entrypoint_hook(registration, "check_all_targets") as check_all_targets:
        check_all_targets()  # the sessions of 2019 are long past: nothing is near, nothing is announced
    assert api("POST", f"/rollouts/{rollout['id']}/target-check",
               json={"today": "2019-05-01"}).json()[0]["registered"] == 1


def test_a_committee_list_with_names_goes_over_http_to_who_may_read_participants_of_its_city(api):
    rollout = api("POST", "/rollouts", json={**ROLLOUT, "city_name": "Palembang"}).json()
    path = f"/rollouts/{rollout['id']}/committee-list"

    assert api("GET", path, headers={"Authorization": ""}).status_code == 401  # nobody signed in
    partner = api("GET", path, headers=ISSUER.headers("mitra", "partner"))
    assert partner.status_code == 403 and partner.json()["error"]["permission"] == "participants:read"
    assert api("GET", path, headers=ISSUER.headers("ucok", "city_coordinator", "medan")).status_code == 404
    own = api("GET", path, headers=ISSUER.headers("rina", "city_coordinator", "palembang"))
    assert own.status_code == 200 and own.json()["city"] == "palembang"
    assert api("GET", "/rollouts/999999/committee-list",
               headers=ISSUER.headers("notification", "service")).status_code == 404


def test_participants_are_listed_a_page_at_a_time_with_no_one_twice_or_missed(registration, api):
    rollout = api("POST", "/rollouts", json={**ROLLOUT, "city_name": "Kendari"}).json()
    api("POST", f"/rollouts/{rollout['id']}/launch")
    rows = "".join(f"Peserta {i},educator,Sekolah {i % 7}\n" for i in range(250))
    job = api("POST", f"/rollouts/{rollout['id']}/participants/import",
              data=("full_name,category,organisation\n" + rows).encode()).json()
    assert finished(api, rollout["id"], job["id"])["status"] == "succeeded"
    path = f"/rollouts/{rollout['id']}/participants"

    pages, cursor = [], None
    while not pages or cursor:
        answer = api("GET", path, params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        pages.append(answer.json()["items"])
        cursor = answer.json()["next_cursor"]

    assert [len(page) for page in pages] == [100, 100, 50]
    ids = [p["id"] for page in pages for p in page]
    assert len(set(ids)) == 250 and ids == sorted(ids)
    assert {p["full_name"] for page in pages for p in page} == {f"Peserta {i}" for i in range(250)}
    assert len(api("GET", path).json()["items"]) == 100  # without a limit: the first hundred

    too_many = api("GET", path, params={"limit": 1001})
    assert (too_many.status_code, too_many.json()["error"]["field"]) == (400, "limit")
    for bad in ("not-a-cursor", "eyJhZnRlciI6IC0xfQ"):  # the last: {"after": -1}, encoded
        refused = api("GET", path, params={"cursor": bad})
        assert (refused.status_code, refused.json()["error"]["field"]) == (400, "cursor"), (bad, refused.text)
