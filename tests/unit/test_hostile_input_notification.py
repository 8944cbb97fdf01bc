"""Hostile input to notification through its real web layer (issue 13), each case named.

Every refused request ends in a 4xx naming the field, with the committee, its
change log and the deliveries as they were; and names typed to run as formulas
reach the committee's CSV and XLSX lists as plain text.
"""
import csv
import io
import mailbox

import pytest
from kombu import Exchange
from nameko.amqp.publish import Publisher
from openpyxl import load_workbook

from services.notification.service import NotificationService
from shared import events
from shared.errors import NotFound
from shared.spreadsheets import FORMULA_PREFIXES
from tests.support.cluster import wait_until
from tests.support.hostile import MAX_REQUEST_BYTES, assert_refused, at_the_door
from tests.support.in_process import serving

COMMITTEE = {"name": "Panitia Lokal", "emails": ["panitia@pontianak.example"]}
# One participant per dangerous first character, in the name and in the organisation.
FORMULAS = [prefix + 'HYPERLINK("http://evil.example","klik")' for prefix in FORMULA_PREFIXES] + ["=1+1", "@SUM(A1)"]
PARTICIPANTS = [{"participant_id": n, "code": f"PON-{n}", "full_name": formula, "category": "SKPD",
                 "organisation": formula, "session": "Workshop", "day": 1} for n, formula in enumerate(FORMULAS, 1)]
LISTS = {21: "csv", 22: "xlsx"}  # rollout: the format its committee asked for


def listing(rollout_id, with_participants):
    if rollout_id not in (9, *LISTS):
        raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
    return {"rollout_id": rollout_id, "city": "pontianak", "city_name": "Pontianak", "committee_name": "Panitia",
            "committee_email": f"panitia-{rollout_id}@pontianak.example",
            "participants": PARTICIPANTS if with_participants else []}


def rollout(rollout_id):
    return {"id": rollout_id, **{k: v for k, v in listing(rollout_id, False).items() if k != "rollout_id"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile-notification")
    with serving([NotificationService], directory, replace=("registration",), MAX_REQUEST_BYTES=MAX_REQUEST_BYTES,
                 SMTP_URL=f"maildir://{directory}/mail") as served:
        served.stand_ins["registration"].listing.side_effect = listing
        served.stand_ins["registration"].rollout.side_effect = rollout
        served.maildir = directory / "mail"
        yield served


def held(served):
    """What a refused request could have written: rollout 9's committee and its log, the deliveries."""
    committee = served.call("GET", "/rollouts/9/committee")
    return (committee.status_code, committee.text, served.call("GET", "/rollouts/9/committee/changes").json(),
            served.call("GET", "/deliveries").json())


CASES = [
    *[(case, "PUT", "/rollouts/9/committee", request, status, field)
      for case, request, status, field in at_the_door(COMMITTEE, "name")],
    ("nul-in-an-address", "PUT", "/rollouts/9/committee", {"json": {"emails": ["panitia\u0000@x.example"]}}, 422,
     "emails.0"),
    ("header-injection-in-an-address", "PUT", "/rollouts/9/committee",
     {"json": {"emails": ["panitia@x.example\r\nBcc: all@evil.example"]}}, 422, "emails.0"),
    ("script-as-a-webhook", "PUT", "/rollouts/9/committee",
     {"json": {"webhook_url": "javascript:alert(1)", "webhook_secret": "s" * 20}}, 422, "webhook_url"),
    ("webhook-to-the-database-port", "PUT", "/rollouts/9/committee",
     {"json": {"webhook_url": "http://127.0.0.1:5432/", "webhook_secret": "s" * 20}}, 422, "webhook_url"),
    ("webhook-secret-too-short", "PUT", "/rollouts/9/committee",
     {"json": {"webhook_url": "https://hooks.example.org/x", "webhook_secret": "short"}}, 422, "webhook_secret"),
    ("list-as-an-executable", "PUT", "/rollouts/9/committee", {"json": {**COMMITTEE, "list_format": "exe"}}, 422,
     "list_format"),
    ("rollout-id-2^31", "PUT", "/rollouts/2147483648/committee", {"json": COMMITTEE}, 404, "rollout_id"),
    ("delivery-id-2^40", "GET", "/deliveries/1099511627776", {}, 404, "delivery_id"),
    ("participant-id-2^40", "GET", "/participants/1099511627776/disclosures", {}, 404, "participant_id"),
    ("deliveries-of-rollout-minus-5", "GET", "/deliveries", {"params": {"rollout_id": "-5"}}, 422, "rollout_id"),
    ("alerts-of-rollout-2^40", "GET", "/alerts", {"params": {"rollout_id": str(2**40)}}, 422, "rollout_id"),
    ("control-character-in-a-city", "GET", "/deliveries", {"params": {"city": "ponti\u0085anak"}}, 422, "city"),
    ("acknowledge-token-in-the-query-string", "POST", "/deliveries/1/acknowledge", {"params": {"token": "x" * 32}},
     422, "body"),
    ("nul-in-an-acknowledge-token", "POST", "/deliveries/1/acknowledge", {"json": {"token": "abc\u0000"}}, 422,
     "token"),
]


@pytest.mark.parametrize("method, path, request_, status, field",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_request_is_refused_naming_the_field_and_writes_nothing(served, method, path, request_, status,
                                                                          field):
    before = held(served)
    assert_refused(served.call(method, path, **request_), status, field)
    assert held(served) == before


def attachment(served, rollout_id):
    """The list attached to the mail of rollout ``rollout_id``'s committee, once it is sent."""
    def mailed():
        for message in mailbox.Maildir(served.maildir, create=True):
            if f"panitia-{rollout_id}@" in message["To"]:
                return next(part for part in message.walk() if part.get_filename())
        return None
    return wait_until(mailed, f"the list of rollout {rollout_id} in the Maildir", timeout=20).get_payload(decode=True)


def test_names_typed_as_formulas_reach_the_committees_csv_and_xlsx_as_text(served):
    for rollout_id, list_format in LISTS.items():
        saved = served.call("PUT", f"/rollouts/{rollout_id}/committee",
                            json={"emails": [f"panitia-{rollout_id}@pontianak.example"], "list_format": list_format})
        assert saved.status_code == 200, saved.text
        Publisher(served.containers["notification"].config["AMQP_URI"]).publish(
            events.REGISTRATION_CLOSED.create("pontianak", rollout_id=rollout_id, participant_count=len(FORMULAS)),
            exchange=Exchange(events.REGISTRATION_CLOSED.exchange, type="topic", durable=True),
            routing_key=events.REGISTRATION_CLOSED.routing_key("pontianak"), serializer="json")

    rows = list(csv.reader(io.StringIO(attachment(served, 21).decode("utf-8"))))
    names = {row[1]: row[3] for row in rows[1:]}

    def lines(text):  # mail and XML may carry a lone carriage return as a line end
        return text.replace("\r", "\n")
    assert sorted(map(lines, names)) == sorted(lines("'" + formula) for formula in FORMULAS)  # each, as text
    assert all(organisation == name for name, organisation in names.items())

    sheet = load_workbook(io.BytesIO(attachment(served, 22))).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    assert sorted(lines(cell.value) for cell in cells if cell.column == 2) == sorted(lines("'" + f) for f in FORMULAS)
