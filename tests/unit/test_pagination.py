"""The paging rule every list follows (shared/pagination.py): what a query asks, what a page answers."""
import base64
import json
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields
from nameko.containers import ServiceContainer

from services.registration.fakes import FakeAudit
from services.registration.models import PersonalDataAudit
from shared import pagination
from shared.auth import PUBLIC
from shared.commands import validated
from shared.config import load
from shared.errors import InvalidInput
from shared.pagination import MAX_LIMIT, Page, PageOf, PageQuery, decode_cursor, encode_cursor, in_memory, page_of
from shared.safe_input import Malformed
from shared.web import api
from tests.support.cluster import free_port


class Query(PageQuery):
    status = fields.String()


def test_a_query_without_paging_asks_the_first_hundred():
    assert validated(Query(), {"status": "registered"}) == {"status": "registered", "page": Page(100, None)}


def test_a_next_cursor_asks_for_the_entries_after_the_last_one_given():
    cursor = encode_cursor(4071)
    assert decode_cursor(cursor) == 4071
    assert validated(Query(), {"limit": "1000", "cursor": cursor})["page"] == Page(MAX_LIMIT, 4071)
    assert cursor.isascii() and "=" not in cursor and "4071" not in cursor  # opaque, and safe in a URL as it is


@pytest.mark.parametrize("limit", ["1001", "0", "-5", "ten", "1.5", ""])
def test_a_limit_outside_1_to_1000_is_a_400_naming_limit(limit):
    with pytest.raises(Malformed) as refused:
        validated(Query(), {"limit": limit, "status": "x"})
    assert refused.value.details["field"] == "limit" and "limit" in refused.value.details["fields"]


def _b64(value):
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "", "not-a-cursor", "%%%", "é", _b64([12]), _b64({"after": -1}), _b64({"after": 2**31}), _b64({"after": "12"}),
    _b64({"after": True}), _b64({"after": 1.5}), _b64({"before": 12}), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_cursor_this_api_did_not_give_is_a_400_naming_cursor(cursor):
    with pytest.raises(Malformed) as refused:
        validated(Query(), {"cursor": cursor})
    assert refused.value.details["field"] == "cursor"
    assert "next_cursor" in refused.value.message


def test_another_bad_field_stays_a_422():
    with pytest.raises(InvalidInput) as refused:
        validated(Query(), {"status": 3})
    assert type(refused.value) is InvalidInput and "status" in refused.value.details["fields"]


def test_pages_of_entries_in_memory_follow_their_ids_and_end_with_no_next():
    entries = [SimpleNamespace(id=i) for i in (5, 1, 9, 3, 7)]

    first = in_memory(entries, Page(2))
    second = in_memory(entries, Page(2, first.next_after))
    last = in_memory(entries, Page(2, second.next_after))

    assert [[e.id for e in p.items] for p in (first, second, last)] == [[1, 3], [5, 7], [9]]
    assert (first.next_after, second.next_after, last.next_after) == (3, 7, None)
    assert in_memory([], Page()) == PageOf([], None)


def test_the_audit_pages_newest_first():
    audit = FakeAudit()
    for rows in range(5):
        audit.add(PersonalDataAudit(action="listed", rollout_id=1, city="pontianak", rows=rows))

    first = audit.list(page=Page(3))
    rest = audit.list(page=Page(3, first.next_after))

    assert [e.id for e in first.items + rest.items] == [5, 4, 3, 2, 1] and rest.next_after is None


def test_a_page_answers_its_items_and_the_cursor_of_the_next():
    class ThingOut(Schema):
        id = fields.Integer()

    answered = page_of(ThingOut)().dump(PageOf([SimpleNamespace(id=1), SimpleNamespace(id=2)], 2))

    assert answered == {"items": [{"id": 1}, {"id": 2}], "next_cursor": encode_cursor(2)}
    assert page_of(ThingOut)().dump(PageOf([], None)) == {"items": [], "next_cursor": None}
    assert page_of(ThingOut) is page_of(ThingOut) and page_of(ThingOut).__name__ == "ThingPage"


class Thing(Schema):
    id = fields.Integer()


class WholeList:
    name = "whole"

    @api("GET", "/things", response=Thing, many=True, permission=PUBLIC)
    def things(self, request):
        return []


class PageWithoutQuery:
    name = "halfway"

    @api("GET", "/things", response=page_of(Thing), permission=PUBLIC)
    def things(self, request):
        return {"items": [], "next_cursor": None}


@pytest.mark.parametrize("service, problem", [(WholeList, "answers a whole list"),
                                              (PageWithoutQuery, "go together")])
def test_a_list_that_does_not_page_stops_its_service_s_start(tmp_path, service, problem):
    container = ServiceContainer(service, load({"CAMPAIGN_DATA_DIR": str(tmp_path),
                                                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"}))
    with pytest.raises(TypeError, match=problem):
        container.start()
    container.kill()


def test_every_reads_a_list_page_after_page_to_its_end():
    entries = [SimpleNamespace(id=i) for i in range(1, 2 * MAX_LIMIT + 2)]
    asked = []

    def read(page):
        asked.append(page)
        return in_memory(entries, page)

    assert pagination.every(read) == entries
    assert asked == [Page(MAX_LIMIT), Page(MAX_LIMIT, MAX_LIMIT), Page(MAX_LIMIT, 2 * MAX_LIMIT)]
