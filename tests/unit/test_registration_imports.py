"""Participant files: read into lines (CSV and XLSX), then imported all or nothing, every problem listed."""
import io

import openpyxl
import pytest

from services.registration import imports, participants, rollouts
from services.registration.commands import CancelParticipant, CloseRegistration, ImportParticipants
from services.registration.fakes import FakeRegistrationUnitOfWork
from shared import events
from shared.errors import Conflict, InvalidInput
from tests.unit.test_registration import ROLLOUT, emitted, launched, register
from tests.unit.test_registration_participants import later_in_the_same_city, student

GOOD_CSV = (
    "full_name,category,organisation,sex,age_band,email,phone,consent_by\r\n"
    "Umi Farida,educator,SMPN 1,F,25-39,umi@example.org,,\r\n"
    "Dédé Kurniawan,skpd,Dinas PPA,M,40-59,,+62 561 123456,\r\n"
    "Siti Aminah,student,SMPN 3,F,13-15,,,guardian\r\n"
)
@pytest.fixture
def uow():
    return FakeRegistrationUnitOfWork()


HEADER = ["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"]


def xlsx(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def imported(uow, rollout_id, text):
    return imports.import_participants(ImportParticipants(rollout_id, imports.read_participant_csv(text)), uow)


def refused_rows(uow, rollout_id, text):
    with pytest.raises(InvalidInput) as raised:
        imported(uow, rollout_id, text)
    return raised.value


# --- reading -------------------------------------------------------------------

def test_a_good_csv_reads_into_applicants_with_their_lines():
    sheet = imports.read_participant_csv(GOOD_CSV)

    assert sheet.problems == ()
    assert [(line.line, line.applicant.full_name) for line in sheet.lines] == [
        (2, "Umi Farida"), (3, "Dédé Kurniawan"), (4, "Siti Aminah")]
    assert sheet.lines[0].applicant.phone is None and sheet.lines[1].applicant.email is None  # blank is missing


def test_line_numbers_count_the_header_and_every_bad_field_is_a_problem_not_an_error():
    sheet = imports.read_participant_csv("full_name,category\nUmi,educator\n,educator\nBudi,teacher\n")

    assert [(p.line, p.field) for p in sheet.problems] == [(3, "full_name"), (4, "category")]
    assert [line.applicant is None for line in sheet.lines] == [False, True, True]
    assert sheet.lines[2].full_name == "Budi"  # a bad line is still who it says it is


def test_a_csv_with_an_unknown_column_is_refused_at_the_header():
    with pytest.raises(InvalidInput) as raised:
        imports.read_participant_csv("full_name,category,nik\nUmi,educator,123\n")

    [problem] = raised.value.details["rows"]
    assert (problem["line"], problem["field"]) == (1, "header")
    assert "nik" in raised.value.message


def test_a_file_without_rows_is_refused():
    with pytest.raises(InvalidInput):
        imports.read_participant_csv("full_name,category\n")


def test_a_file_neither_utf8_nor_a_workbook_is_refused_naming_the_body():
    for data in (b"PK\x03\x04 broken", "full_name,category\nZoë,lsm\n".encode("latin-1")):
        with pytest.raises(InvalidInput) as raised:
            imports.read_participant_file(data)
        assert "body" in raised.value.details["fields"]


def test_xlsx_reads_like_csv_with_each_bad_row_named_by_line_and_field():
    sheet = imports.read_participant_file(xlsx([
        ["Umi", "educator"], ["Siti", "student", "SMPN 3", "F", "13-15", "s@example.org", None, "school"],
        [None, "teacher"], ["Rudi", "lsm", "ECPAT", "M", "25-39", None, "0812 3456 789", None]]))

    assert [(p.line, p.field) for p in sheet.problems] == [(3, "email"), (4, "category"), (4, "full_name")]
    assert (sheet.lines[-1].line, sheet.lines[-1].applicant.phone) == (5, "0812 3456 789")


def big_csv(count, bad_line=None):
    lines = ["full_name,category,organisation,sex,age_band,email,phone,consent_by"]
    for i in range(count):
        if i % 2:
            lines.append(f"Peserta {i},educator,Sekolah {i % 50},F,25-39,p{i}@example.org,,")
        else:
            lines.append(f"Pelajar {i},student,SMP {i % 50},M,13-15,,,school")
    if bad_line is not None:
        lines[bad_line - 1] = "Pelajar X,student,SMP 1,M,13-15,anak@example.org,,school"  # a minor's e-mail
    return "\n".join(lines) + "\n"


def test_twenty_thousand_rows_with_one_bad_row_name_that_row_alone():
    sheet = imports.read_participant_csv(big_csv(20000, bad_line=10001))

    assert [p.as_dict() for p in sheet.problems] == [
        {"line": 10001, "field": "email", "problem": "must not be given for a minor"}]
    assert len(sheet.lines) == 20000


# --- importing -----------------------------------------------------------------

def test_a_good_file_registers_every_row_with_its_event(uow):
    rollout = launched(uow)
    summary = imported(uow, rollout.id, GOOD_CSV)

    assert (summary.imported, summary.registered, summary.waitlisted, summary.returning) == (3, 3, 0, 0)
    listed = uow.participants.of_rollout(rollout.id)
    assert [(p.full_name, p.session.key, p.minor) for p in listed] == [
        ("Umi Farida", "workshop", False), ("Dédé Kurniawan", "workshop", False),
        ("Siti Aminah", "socialisation", True)]
    assert [p.code for p in listed] == summary.codes
    assert listed[2].consent_at is not None
    announced = emitted(uow, events.PARTICIPANT_REGISTERED)
    assert [(city, f["participant_id"], f["participant_code"]) for city, f in announced] == [
        ("pontianak", p.id, p.code) for p in listed]


def test_a_file_fills_the_places_then_the_waitlist(uow):
    rollout = launched(uow, socialisation={"capacity": 2})
    summary = imported(uow, rollout.id, "full_name,category,age_band,consent_by\n" + "".join(
        f"Anak {i},student,13-15,school\n" for i in range(3)))

    assert (summary.registered, summary.waitlisted) == (2, 1)
    assert [p.status for p in uow.participants.of_rollout(rollout.id)] == ["registered", "registered", "waitlisted"]


def test_a_file_lists_every_problem_at_once_and_writes_nothing(uow):
    activists_only = launched(uow, {**ROLLOUT, "sessions": ROLLOUT["sessions"][1:]})  # students only
    ani = register(uow, activists_only.id, student("Ani"))
    text = ("full_name,category,organisation,age_band,email,consent_by\n"
            "Budi,student,SMP Negeri 1,13-15,,school\n"               # 2: good
            "Cici,student,SMP Negeri 1,13-15,cici@example.org,school\n"  # 3: a minor's e-mail
            "budi,student,SMP  negeri 1,13-15,,school\n"              # 4: line 2 again
            "ANI,student,SMP Negeri 1,13-15,,school\n"                # 5: registered already
            "Umi Farida,educator,ECPAT,25-39,umi@example.org,\n"      # 6: no session for activists here
            "cici,student,SMP Negeri 1,13-15,,\n")                    # 7: line 3 again, and no consent

    error = refused_rows(uow, activists_only.id, text)

    assert error.details["rows"] == [
        {"line": 3, "field": "email", "problem": "must not be given for a minor"},
        {"line": 4, "field": "full_name", "problem": "the same person as line 2"},
        {"line": 5, "field": "full_name", "problem": f"already registered as participant {ani.id}",
         "existing_participant_id": ani.id},
        {"line": 6, "field": "category", "problem": "the rollout has no session for activists"},
        {"line": 7, "field": "consent_by", "problem": "a minor needs consent from a guardian or the school"},
        {"line": 7, "field": "full_name", "problem": "the same person as line 3"},
    ]
    assert error.message.startswith("6 problem(s) in the file, nothing was imported; first: line 3, email")
    assert [p.id for p in uow.participants.of_rollout(activists_only.id)] == [ani.id]
    assert len(emitted(uow, events.PARTICIPANT_REGISTERED)) == 1


def test_a_cancelled_registration_is_no_duplicate_for_a_file(uow):
    rollout = launched(uow)
    ani = register(uow, rollout.id, student("Ani"))
    participants.cancel_participant(CancelParticipant(rollout.id, ani.id), uow)

    assert imported(uow, rollout.id, "full_name,category,organisation,age_band,consent_by\n"
                                     "Ani,student,SMP Negeri 1,13-15,school\n").imported == 1


def test_a_file_into_a_rollout_closed_for_registration_is_a_conflict(uow):
    rollout = launched(uow)
    rollouts.close_registration(CloseRegistration(rollout.id), uow)
    with pytest.raises(Conflict) as raised:
        imported(uow, rollout.id, GOOD_CSV)
    assert raised.value.details["field"] == "rollout_id"


def test_returning_participants_in_a_file_are_linked_to_their_earlier_records(uow):
    first = launched(uow)
    earlier = register(uow, first.id, student("Dede Kurniawan"))
    later = later_in_the_same_city(uow, first)

    summary = imported(uow, later.id, "full_name,category,organisation,age_band,consent_by\n"
                                      "DEDE KURNIAWAN,student,smp negeri 1,13-15,school\n"
                                      "Putri Ayu,student,SMP Negeri 1,13-15,school\n")

    assert summary.returning == 1
    assert [p.returning_of for p in uow.participants.of_rollout(later.id)] == [earlier.id, None]


def test_two_thousand_rows_land_each_with_its_own_code_and_event(uow):
    rollout = launched(uow)
    summary = imported(uow, rollout.id, big_csv(2000))

    assert summary.imported == 2000 and len(set(summary.codes)) == 2000
    assert len(emitted(uow, events.PARTICIPANT_REGISTERED)) == 2000
