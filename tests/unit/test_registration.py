import copy
import json

import pytest
from sqlalchemy import func, select

from services.registration import domain
from services.registration.models import Base, Participant
from shared import events
from shared.database import OutboxMessage
from shared.errors import Conflict, InvalidInput, NotFound

ROLLOUT = {
    "program": "Internet Aman untuk Anak",
    "city_name": "Pontianak",
    "province": "Kalimantan Barat",
    "starts_on": "2019-05-02",
    "ends_on": "2019-05-03",
    "committee_name": "Panitia Lokal",
    "committee_email": "panitia@pontianak.example",
    "sessions": [
        {"key": "workshop", "day": 1, "date": "2019-05-02", "title": "Workshop", "audience": "activists",
         "topics": [{"title": "Hukum", "facilitators": [{"name": "Ahmad Sofian", "organisation": "ECPAT"}]}]},
        {"key": "socialisation", "day": 2, "date": "2019-05-03", "title": "Sosialisasi", "audience": "students",
         "topics": [{"title": "Jejak Digital"}]},
    ],
}
ADULT = {"full_name": "Umi Farida", "category": "educator", "email": "umi@example.org"}
CHILD = {"full_name": "Siti Aminah", "category": "student", "age_band": "13-15", "consent_by": "school"}


@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="registration")


def launched(store, data=ROLLOUT):
    with store.unit_of_work() as uow:
        rollout_id = domain.plan_rollout(uow, copy.deepcopy(data)).id
    with store.unit_of_work() as uow:
        domain.launch_rollout(uow, rollout_id)
    return rollout_id


def outbox(store, routing_key=None):
    with store.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if routing_key:
            query = query.where(OutboxMessage.routing_key == routing_key)
        return [json.loads(row.payload) for row in session.scalars(query)]


def participant_count(store):
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Participant))


def refused_fields(store, rollout_id, data):
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.register_participant(uow, rollout_id, data)
    return raised.value.details["fields"]


def test_slugify():
    assert domain.slugify("Pontianak") == "pontianak"
    assert domain.slugify("Kota Bandar Lampung") == "kota-bandar-lampung"
    assert domain.slugify("Banda Aceh  (NAD)") == "banda-aceh-nad"
    assert domain.slugify("Bénézet") == "benezet"


def test_city_name_without_a_slug_is_refused_when_planned(store):
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.plan_rollout(uow, {**copy.deepcopy(ROLLOUT), "city_name": "  "})
    assert "city_name" in raised.value.details["fields"]


def test_planned_rollout_is_a_draft_and_announces_nothing(store):
    with store.unit_of_work() as uow:
        rollout = domain.plan_rollout(uow, copy.deepcopy(ROLLOUT))

    assert rollout.status == "draft"
    assert rollout.city == "pontianak"
    assert [s.key for s in rollout.sessions] == ["workshop", "socialisation"]
    assert outbox(store) == []


def test_launch_emits_rollout_launched(store):
    rollout_id = launched(store)

    [payload] = outbox(store)
    event = events.ROLLOUT_LAUNCHED.load(payload)
    assert event["rollout_id"] == rollout_id
    assert event["city"] == "pontianak"
    assert event["city_name"] == "Pontianak"
    assert [s["key"] for s in event["sessions"]] == ["workshop", "socialisation"]
    assert event["sessions"][1]["topics"] == [{"title": "Jejak Digital", "facilitators": []}]
    assert outbox(store, "rollout_launched.pontianak") == [payload]


def test_launch_twice_is_a_conflict(store):
    rollout_id = launched(store)

    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.launch_rollout(uow, rollout_id)
    assert len(outbox(store)) == 1


def test_rollout_dates_out_of_order_are_refused(store):
    with pytest.raises(InvalidInput) as raised:
        with store.unit_of_work() as uow:
            domain.plan_rollout(uow, {**copy.deepcopy(ROLLOUT), "ends_on": "2019-05-01"})
    assert "ends_on" in raised.value.details["fields"]


def test_register_adult_and_child(store):
    rollout_id = launched(store)

    with store.unit_of_work() as uow:
        adult = domain.register_participant(uow, rollout_id, dict(ADULT))
        child = domain.register_participant(uow, rollout_id, dict(CHILD))

    assert (adult.minor, adult.session.key, adult.consent_at) == (False, "workshop", None)
    assert (child.minor, child.session.key) == (True, "socialisation")
    assert child.consent_at is not None
    assert adult.code.startswith("PON-") and len(adult.code) == 10
    registered = outbox(store, "participant_registered.pontianak")
    assert [(p["participant_id"], p["minor"]) for p in registered] == [(adult.id, False), (child.id, True)]
    assert all("full_name" not in p and "Umi" not in json.dumps(p) for p in registered)


@pytest.mark.parametrize("data, field", [
    ({"category": "educator"}, "full_name"),
    ({**ADULT, "category": "teacher"}, "category"),
    ({**CHILD, "email": "siti@example.org"}, "email"),
    ({**CHILD, "phone": "+62 812 3456 789"}, "phone"),
    ({**CHILD, "consent_by": None}, "consent_by"),
    ({**CHILD, "consent_by": ""}, "consent_by"),
    ({"full_name": "Budi", "category": "forum_anak"}, "consent_by"),
    ({**ADULT, "nickname": "Umi"}, "nickname"),
])
def test_register_refuses_naming_the_field(store, data, field):
    rollout_id = launched(store)

    assert field in refused_fields(store, rollout_id, data)
    assert participant_count(store) == 0
    assert outbox(store, "participant_registered.pontianak") == []


def test_adult_student_may_give_an_email(store):
    rollout_id = launched(store)

    with store.unit_of_work() as uow:
        student = domain.register_participant(
            uow, rollout_id, {"full_name": "Rina", "category": "student", "age_band": "18-24",
                              "email": "rina@example.org"})
    assert student.minor is False


def test_unknown_rollout_is_not_found(store):
    with pytest.raises(NotFound) as raised:
        with store.unit_of_work() as uow:
            domain.register_participant(uow, 999, dict(ADULT))
    assert raised.value.details["field"] == "rollout_id"


def test_draft_rollout_takes_no_registrations(store):
    with store.unit_of_work() as uow:
        rollout_id = domain.plan_rollout(uow, copy.deepcopy(ROLLOUT)).id

    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.register_participant(uow, rollout_id, dict(ADULT))


def test_category_without_a_session_is_refused(store):
    activists_only = {**copy.deepcopy(ROLLOUT), "sessions": ROLLOUT["sessions"][:1]}
    rollout_id = launched(store, activists_only)

    assert "category" in refused_fields(store, rollout_id, dict(CHILD))


GOOD_CSV = (
    "full_name,category,organisation,sex,age_band,email,phone,consent_by\r\n"
    "Umi Farida,educator,SMPN 1,F,25-39,umi@example.org,,\r\n"
    "Dédé Kurniawan,skpd,Dinas PPA,M,40-59,,+62 561 123456,\r\n"
    "Siti Aminah,student,SMPN 3,F,13-15,,,guardian\r\n"
)


def test_good_csv_imports_every_row(store):
    rollout_id = launched(store)

    rows = domain.read_participant_csv(GOOD_CSV)
    with store.unit_of_work() as uow:
        imported = domain.import_participants(uow, rollout_id, rows)

    assert [p.full_name for p in imported] == ["Umi Farida", "Dédé Kurniawan", "Siti Aminah"]
    assert imported[0].phone is None and imported[1].email is None  # blank cells are missing
    assert participant_count(store) == 3
    assert len(outbox(store, "participant_registered.pontianak")) == 3


def test_csv_with_one_bad_row_names_its_line_and_field_and_writes_nothing(store):
    rollout_id = launched(store)
    bad = GOOD_CSV + "Budi,student,SMPN 3,M,13-15,budi@example.org,,school\r\n"  # line 5

    with pytest.raises(InvalidInput) as raised:
        rows = domain.read_participant_csv(bad)
        with store.unit_of_work() as uow:
            domain.import_participants(uow, rollout_id, rows)

    assert raised.value.details["rows"] == [
        {"line": 5, "field": "email", "problem": "must not be given for a minor"}]
    assert "line 5" in raised.value.message
    assert participant_count(store) == 0
    assert outbox(store, "participant_registered.pontianak") == []


def test_csv_line_numbers_count_the_header_and_every_problem_is_listed():
    text = ("full_name,category\n"
            "Umi,educator\n"
            ",educator\n"
            "Budi,teacher\n")

    with pytest.raises(InvalidInput) as raised:
        domain.read_participant_csv(text)

    assert [(r["line"], r["field"]) for r in raised.value.details["rows"]] == [(3, "full_name"), (4, "category")]


def test_csv_with_an_unknown_column_is_refused_at_the_header():
    with pytest.raises(InvalidInput) as raised:
        domain.read_participant_csv("full_name,category,nik\nUmi,educator,123\n")

    [problem] = raised.value.details["rows"]
    assert (problem["line"], problem["field"]) == (1, "header")
    assert "nik" in raised.value.message


def test_csv_without_rows_is_refused():
    with pytest.raises(InvalidInput):
        domain.read_participant_csv("full_name,category\n")


def test_committee_list_has_only_that_rollouts_participants(store):
    pontianak = launched(store)
    singkawang = launched(store, {**copy.deepcopy(ROLLOUT), "city_name": "Singkawang",
                                  "committee_email": "panitia@singkawang.example"})
    with store.unit_of_work() as uow:
        umi = domain.register_participant(uow, pontianak, dict(ADULT))
        siti = domain.register_participant(uow, pontianak, dict(CHILD))
        domain.register_participant(uow, singkawang, {"full_name": "Andi", "category": "lsm"})

    with store.read() as session:
        listing = domain.committee_list(session, pontianak)

    assert listing["city"] == "pontianak"
    assert listing["committee_email"] == "panitia@pontianak.example"
    assert [p["participant_id"] for p in listing["participants"]] == [umi.id, siti.id]
    assert listing["participants"][0] == {
        "participant_id": umi.id, "code": umi.code, "full_name": "Umi Farida",
        "category": "Tenaga pendidikan", "organisation": "", "session": "Workshop", "day": 1,
    }
    assert listing["participants"][1]["category"] == "Pelajar"


def test_committee_list_of_unknown_rollout_is_not_found(store):
    with store.read() as session, pytest.raises(NotFound):
        domain.committee_list(session, 404)


def test_close_registration_counts_participants(store):
    rollout_id = launched(store)
    with store.unit_of_work() as uow:
        domain.register_participant(uow, rollout_id, dict(ADULT))
        domain.close_registration(uow, rollout_id)

    [closed] = outbox(store, "registration_closed.pontianak")
    assert closed["participant_count"] == 1
    with pytest.raises(Conflict):
        with store.unit_of_work() as uow:
            domain.register_participant(uow, rollout_id, dict(CHILD))
