"""Hostile input to registration through its real web layer (issue 13), each case named.

Every case ends in a 4xx naming the field (a file's: its line and field), and
what registration holds (its rollouts, the rollout's participants) is as it was:
nothing of a refused request is written, not even part of it.
"""
import copy
import io

import pytest
from openpyxl import Workbook

from services.registration.import_worker import RegistrationImportWorker
from services.registration.rules import PERSON_KEY_LENGTH, person_key
from services.registration.service import RegistrationService
from tests.support.cluster import wait_until
from tests.support.hostile import MAX_REQUEST_BYTES, assert_refused, at_the_door
from tests.support.in_process import serving
from tests.support.workbook_bombs import inflating_workbook, shared_strings_workbook
from tests.unit.test_registration import ADULT, CHILD, ROLLOUT

ARABIC_SCHOOL = "مدرسة النور"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with serving([RegistrationService, RegistrationImportWorker], tmp_path_factory.mktemp("hostile-registration"),
                 MAX_REQUEST_BYTES=MAX_REQUEST_BYTES, OUTBOX_INTERVAL=0.05) as served:
        yield served


@pytest.fixture(scope="module")
def rollout(served):
    """A launched rollout with one participant: ``{rollout}`` and ``{participant}`` in the cases' paths."""
    planned = served.call("POST", "/rollouts", json=ROLLOUT)
    assert planned.status_code == 201, planned.text
    rollout_id = planned.json()["id"]
    assert served.call("POST", f"/rollouts/{rollout_id}/launch").status_code == 200
    umi = served.call("POST", f"/rollouts/{rollout_id}/participants", json=ADULT)
    assert umi.status_code == 201, umi.text
    return {"rollout": rollout_id, "participant": umi.json()["id"]}


def held(served, rollout):
    """What registration holds that a refused request could have touched."""
    return (served.call("GET", "/rollouts").json(),
            served.call("GET", f"/rollouts/{rollout['rollout']}/participants").json())


def rollout_with(sessions=None, **changes):
    """The seed's rollout with ``changes``, and ``sessions`` {index: changes} to its sessions."""
    body = {**copy.deepcopy(ROLLOUT), **changes}
    for index, change in (sessions or {}).items():
        body["sessions"][index].update(change)
    return body


def topic_titled(title):
    return rollout_with({0: {"topics": [{"title": title}]}})


CLONE = {"city_name": "Sambas", "committee_email": "panitia@sambas.example"}
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
PARTICIPANTS = "/rollouts/{rollout}/participants"

CASES = [
    *[(case, "POST", "/rollouts", request, status, field)
      for case, request, status, field in at_the_door(ROLLOUT, "venue")],
    ("bell-in-a-topic-title", "POST", "/rollouts", {"json": topic_titled("Hukum\u0007")}, 422,
     "sessions.0.topics.0.title"),
    ("capacity-2^40", "POST", "/rollouts", {"json": rollout_with({0: {"capacity": 2**40}})}, 422,
     "sessions.0.capacity"),
    ("rollout-in-year-1", "POST", "/rollouts", {"json": rollout_with(starts_on="0001-05-02")}, 422, "starts_on"),
    ("rollout-in-1999", "POST", "/rollouts", {"json": rollout_with(starts_on="1999-12-31")}, 422, "starts_on"),
    ("rollout-ending-in-2999", "POST", "/rollouts", {"json": rollout_with(ends_on="2999-05-03")}, 422, "ends_on"),
    ("rollout-past-year-9999", "POST", "/rollouts", {"json": rollout_with(starts_on="10000-01-01")}, 422,
     "starts_on"),
    ("report-issued-in-year-1", "POST", "/rollouts", {"json": rollout_with(issued_on="0001-05-03")}, 422,
     "issued_on"),
    ("session-before-its-rollout", "POST", "/rollouts", {"json": rollout_with({0: {"date": "2019-05-01"}})}, 422,
     "sessions.0.date"),
    ("session-after-its-rollout", "POST", "/rollouts", {"json": rollout_with({1: {"date": "2019-06-01"}})}, 422,
     "sessions.1.date"),
    ("session-in-year-1", "POST", "/rollouts", {"json": rollout_with({1: {"date": "0001-05-03"}})}, 422,
     "sessions.1.date"),
    ("clone-to-year-1", "POST", "/rollouts/{rollout}/clone", {"json": {**CLONE, "starts_on": "0001-01-01"}}, 422,
     "starts_on"),
    ("clone-to-9999-12-31", "POST", "/rollouts/{rollout}/clone", {"json": {**CLONE, "starts_on": "9999-12-31"}},
     422, "starts_on"),
    ("clone-to-1999", "POST", "/rollouts/{rollout}/clone", {"json": {**CLONE, "starts_on": "1999-05-02"}}, 422,
     "starts_on"),
    ("edit-ending-before-a-session", "PATCH", "/rollouts/{rollout}", {"json": {"ends_on": "2019-05-02"}}, 422,
     "ends_on"),
    ("edit-starting-after-a-session", "PATCH", "/rollouts/{rollout}", {"json": {"starts_on": "2019-05-03"}}, 422,
     "starts_on"),
    ("edit-moving-a-session-out", "PATCH", "/rollouts/{rollout}",
     {"json": {"sessions": [{"key": "socialisation", "date": "2019-06-01"}]}}, 422, "sessions.0.date"),
    ("edit-to-year-1", "PATCH", "/rollouts/{rollout}", {"json": {"starts_on": "0001-05-02"}}, 422, "starts_on"),
    ("target-check-in-year-1", "POST", "/rollouts/{rollout}/target-check", {"json": {"today": "0001-01-01"}}, 422,
     "today"),
    ("rollout-id-2^31", "GET", "/rollouts/2147483648", {}, 404, "rollout_id"),
    ("rollout-id-2^40", "GET", "/rollouts/1099511627776", {}, 404, "rollout_id"),
    ("participant-id-2^40", "GET", PARTICIPANTS + "/1099511627776", {}, 404, "participant_id"),
    ("control-character-in-a-query", "GET", "/rollouts", {"params": {"city": "ponti\u0001anak"}}, 422, "city"),
    ("audit-of-rollout-minus-5", "GET", "/audit", {"params": {"rollout_id": "-5"}}, 422, "rollout_id"),
    ("audit-of-rollout-2^40", "GET", "/audit", {"params": {"rollout_id": str(2**40)}}, 422, "rollout_id"),
    ("consent-in-1800", "POST", PARTICIPANTS, {"json": {**CHILD, "consent_at": "1800-01-01T00:00:00+00:00"}}, 422,
     "consent_at"),
    ("consent-in-the-future", "POST", PARTICIPANTS,
     {"json": {**CHILD, "consent_at": "2999-01-01T00:00:00+00:00"}}, 422, "consent_at"),
    ("an-adults-consent-in-the-future", "POST", PARTICIPANTS,
     {"json": {**ADULT, "full_name": "Rudi", "consent_at": "2999-01-01T00:00:00+00:00"}}, 422, "consent_at"),
    ("name-of-zero-width-characters", "POST", PARTICIPANTS, {"json": {**ADULT, "full_name": ZERO_WIDTH}}, 422,
     "full_name"),
    ("name-of-punctuation", "POST", PARTICIPANTS, {"json": {**ADULT, "full_name": "-.,'!? ()"}}, 422, "full_name"),
    ("name-of-digits", "POST", PARTICIPANTS, {"json": {**ADULT, "full_name": "0812345678"}}, 422, "full_name"),
    ("name-of-spaces", "POST", PARTICIPANTS, {"json": {**ADULT, "full_name": " \u3000 "}}, 422, "full_name"),
    ("nul-in-a-name", "POST", PARTICIPANTS, {"json": {**ADULT, "full_name": "Rudi\u0000 Hartono"}}, 422,
     "full_name"),
    ("correction-to-a-zero-width-name", "PATCH", PARTICIPANTS + "/{participant}",
     {"json": {"full_name": ZERO_WIDTH}}, 422, "full_name"),
    ("correction-to-consent-in-1800", "PATCH", PARTICIPANTS + "/{participant}",
     {"json": {"consent_at": "1800-01-01T00:00:00+00:00"}}, 422, "consent_at"),
    ("participant-file-past-the-limit", "POST", PARTICIPANTS + "/import", {"data": b"x" * (MAX_REQUEST_BYTES + 1)},
     413, None),
    ("workbook-unpacking-to-200-mb", "POST", PARTICIPANTS + "/import", {"data": inflating_workbook(200)}, 422,
     "body"),
    ("workbook-of-3-million-shared-strings", "POST", PARTICIPANTS + "/import", {"data": shared_strings_workbook()},
     422, "body"),
    ("zip-that-is-no-workbook", "POST", PARTICIPANTS + "/import", {"data": b"PK\x03\x04" + b"\0" * 100}, 422, "body"),
]


@pytest.mark.parametrize("method, path, request_, status, field",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_request_is_refused_naming_the_field_and_writes_nothing(served, rollout, method, path, request_,
                                                                          status, field):
    before = held(served, rollout)
    answer = served.call(method, path.format(**rollout), **request_)
    assert_refused(answer, status, field)
    assert held(served, rollout) == before


def workbook(*rows):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    saved = io.BytesIO()
    book.save(saved)
    return saved.getvalue()


FILES = [
    ("workbook-cells-past-the-header", workbook(["full_name", "category"], ["Ani Rahma", "educator", "surplus"]), 2,
     "row"),
    ("cells-past-the-header", "full_name,category\nAni Rahma,educator,surplus\n", 2, "row"),
    ("nul-in-a-cell", "full_name,category\nAni\u0000 Rahma,educator\n", 2, "full_name"),
    ("escape-in-a-cell", "full_name,category,organisation\nAni Rahma,educator,\u001b[2J\n", 2, "organisation"),
    ("consent-in-1800", "full_name,category,age_band,consent_by,consent_at\n"
                        "Budi,student,13-15,school,1800-01-01T00:00:00+00:00\n", 2, "consent_at"),
    ("name-of-zero-width-characters", f"full_name,category\nAni Rahma,educator\n{ZERO_WIDTH},educator\n", 3,
     "full_name"),
    ("the-same-person-in-another-width",
     "full_name,category\nDewi Sartika,educator\nＤＥＷＩ　ＳＡＲＴＩＫＡ,skpd\n", 3, "full_name"),
    ("bytes-not-utf8", b"full_name,category\n\xff\xfe Rahma,educator\n", None, "body"),
]


@pytest.mark.parametrize("content, line, field", [case[1:] for case in FILES], ids=[case[0] for case in FILES])
def test_a_hostile_participant_file_fails_naming_the_line_and_imports_nothing(served, rollout, content, line, field):
    before = held(served, rollout)
    data = content if isinstance(content, bytes) else content.encode()
    submitted = served.call("POST", PARTICIPANTS.format(**rollout) + "/import", data=data)
    assert submitted.status_code == 202, submitted.text
    job = f"/rollouts/{rollout['rollout']}/imports/{submitted.json()['id']}"

    def finished():
        found = served.call("GET", job).json()
        return found if found["status"] in ("succeeded", "failed") else None
    failed = wait_until(finished, "the import job", timeout=30, interval=0.02)
    assert (failed["status"], failed["result"]) == ("failed", None)
    assert (line, field) in [(error["line"], error["field"]) for error in failed["errors"]], failed["errors"]
    assert held(served, rollout) == before


def register(served, rollout, full_name, organisation):
    return served.call("POST", PARTICIPANTS.format(**rollout),
                       json={"full_name": full_name, "category": "educator", "organisation": organisation})


# Two people whose names differ, in scripts whose letters an ASCII-only key once dropped (all one empty key).
TWO_PEOPLE = [
    ("arabic", "محمد علي", "أحمد حسن"),
    ("devanagari-vowel-sign", "सुनील", "सनील"),
    ("thai", "สมชาย", "สมศรี"),
    ("chinese", "王芳", "王方"),
    ("cyrillic", "Ёлкин", "Елкин"),
]


@pytest.mark.parametrize("first, second", [case[1:] for case in TWO_PEOPLE], ids=[case[0] for case in TWO_PEOPLE])
def test_two_different_names_in_any_script_at_one_school_are_two_people(served, rollout, first, second):
    school = f"{ARABIC_SCHOOL} {first}"
    assert register(served, rollout, first, school).status_code == 201
    assert register(served, rollout, second, school).status_code == 201


# One person, typed two ways: case, width, spacing, accents on Latin letters, an invisible character.
ONE_PERSON = [
    ("case", "Rina Wulandari", "RINA WULANDARI"),
    ("full-width", "Sri Mulyani", "ＳＲＩ　ＭＵＬＹＡＮＩ"),
    ("spacing", "Agus  Salim", " agus salim "),
    ("latin-accents", "Nguyễn Văn An", "Nguyen Van An"),
    ("zero-width-inside", "Yusuf Hamdan", "Yu\u200bsuf Ham\u200ddan"),
    ("arabic-presentation-forms", "لا", "\ufefb"),
]


@pytest.mark.parametrize("first, second", [case[1:] for case in ONE_PERSON], ids=[case[0] for case in ONE_PERSON])
def test_the_same_name_typed_another_way_is_the_same_person_and_refused(served, rollout, first, second):
    assert register(served, rollout, first, "SMA Negeri 2").status_code == 201
    before = held(served, rollout)
    assert_refused(register(served, rollout, second, "sma  negeri 2"), 409, "full_name")
    assert held(served, rollout) == before


def test_a_name_that_unicode_spells_out_at_length_fits_its_key(served, rollout):
    """NFKC writes U+FDFA as 18 letters: 200 of them would pass the key's column, so the key is a digest."""
    name = "\ufdfa" * 200
    assert len(person_key("pontianak", name, name)) <= PERSON_KEY_LENGTH
    assert register(served, rollout, name, None).status_code == 201
    assert_refused(register(served, rollout, name, None), 409, "full_name")
