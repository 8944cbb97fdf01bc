"""Registration's pure rules, and what its API schemas refuse at the edge: no database, no fakes."""
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError

from services.registration.rules import (
    CODE_ALPHABET,
    Places,
    audience_of,
    is_minor,
    minors_problems,
    new_code,
    normalised,
    person_key,
    quota_problem,
    slugify,
)
from services.registration.schemas import CheckInIn, ParticipantEdit, ParticipantIn, RolloutEdit, RolloutIn
from tests.unit.test_registration import ROLLOUT

NOW = datetime(2019, 5, 1, 12, tzinfo=timezone.utc)


def test_a_city_name_becomes_its_routing_slug():
    assert slugify("Pontianak") == "pontianak"
    assert slugify("Kota Bandar Lampung") == "kota-bandar-lampung"
    assert slugify("Banda Aceh  (NAD)") == "banda-aceh-nad"
    assert slugify("Bénézet") == "benezet"
    assert slugify("  ") == ""


def test_names_are_compared_as_people_type_them_differently():
    assert normalised("  Dédé   KURNIAWAN ") == "dede kurniawan"
    assert normalised(None) == ""


def test_a_person_key_is_the_city_the_name_and_the_organisation_normalised():
    assert person_key("pontianak", " DEDE  kurniawan", "smp negeri 1") == person_key(
        "pontianak", "Dédé Kurniawan", "SMP Negeri 1") == "pontianak|dede kurniawan|smp negeri 1"
    assert person_key("medan", "Dede Kurniawan", "SMP Negeri 1") != person_key(
        "pontianak", "Dede Kurniawan", "SMP Negeri 1")
    assert person_key("pontianak", "Ani", None) == "pontianak|ani|"


def test_a_code_is_the_city_and_six_letters_never_read_aloud_wrongly():
    assert new_code("pontianak", bits=0) == "PON-AAAAAA"
    code = new_code("medan")
    assert code.startswith("MED-") and len(code) == 10 and set(code[4:]) <= set(CODE_ALPHABET)
    assert not set("01IO") & set(CODE_ALPHABET)


@pytest.mark.parametrize("category, age_band, minor", [
    ("student", None, True), ("forum_anak", None, True), ("student", "18-24", False),
    ("educator", None, False), ("lsm", "16-17", True),
])
def test_who_is_a_minor(category, age_band, minor):
    assert is_minor(category, age_band) is minor


def test_categories_attend_their_audiences_session():
    assert audience_of("student") == "students"
    assert {audience_of(c) for c in ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak")} == {"activists"}


def test_an_adult_has_no_minors_rules_to_break():
    assert minors_problems("educator", "25-39", "umi@example.org", "+62 561 1", None, None, NOW) == {}


def test_a_minor_gives_no_contact_needs_consent_and_no_consent_from_the_future():
    assert minors_problems("student", "13-15", "a@example.org", "0812 000", None, NOW + timedelta(days=1), NOW) == {
        "email": ["must not be given for a minor"], "phone": ["must not be given for a minor"],
        "consent_by": ["a minor needs consent from a guardian or the school"],
        "consent_at": ["must not be in the future"]}
    stored_without_zone = datetime(2019, 4, 20, 2)  # SQLite's way
    assert minors_problems("student", None, None, None, "school", stored_without_zone, NOW) == {}


def test_quotas_are_one_per_category_of_the_sessions_audience():
    assert quota_problem("activists", [{"category": "lsm"}, {"category": "educator"}]) is None
    assert quota_problem("activists", [{"category": "lsm"}, {"category": "lsm"}]) == "one quota per category"
    assert quota_problem("activists", [{"category": "student"}]) == "student do not attend a session for activists"


def session(capacity=None, quotas=()):
    return SimpleNamespace(id=1, capacity=capacity, quotas=list(quotas))


def test_places_run_out_at_the_sessions_capacity():
    places = Places({(1, "student"): 1, (2, "student"): 5})
    assert places.has_room(session(capacity=2), "student")
    places.take(1, "student")
    assert not places.has_room(session(capacity=2), "student")
    assert places.has_room(session(), "student")  # no capacity: no limit


def test_a_category_at_its_maximum_has_no_room_while_others_do():
    full = session(quotas=[{"category": "lsm", "minimum": 0, "maximum": 1}])
    places = Places({(1, "lsm"): 1})
    assert not places.has_room(full, "lsm")
    assert places.has_room(full, "educator")
    assert Places({}).has_room(session(quotas=[{"category": "lsm", "minimum": 3, "maximum": None}]), "lsm")


# --- what the edge refuses before a handler runs ------------------------------------

def refused(schema, data):
    with pytest.raises(ValidationError) as raised:
        schema.load(data)
    return raised.value.messages


CHILD = {"full_name": "Siti", "category": "student", "age_band": "13-15", "consent_by": "school"}


@pytest.mark.parametrize("data, field", [
    ({"category": "educator"}, "full_name"),
    ({"full_name": "Umi", "category": "teacher"}, "category"),
    ({**CHILD, "email": "siti@example.org"}, "email"),
    ({**CHILD, "phone": "+62 812 3456 789"}, "phone"),
    ({**CHILD, "consent_by": ""}, "consent_by"),
    ({"full_name": "Budi", "category": "forum_anak"}, "consent_by"),
    ({**CHILD, "birth_date": "2006-01-01"}, "birth_date"),
    ({**CHILD, "consent_at": "2999-01-01T00:00:00+00:00"}, "consent_at"),
    ({**CHILD, "age_band": "13"}, "age_band"),
])
def test_a_registration_breaking_a_rule_is_refused_naming_the_field(data, field):
    assert field in refused(ParticipantIn(), data)


def test_an_adult_student_may_give_an_email():
    loaded = ParticipantIn().load({"full_name": "Rina", "category": "student", "age_band": "18-24",
                                   "email": "rina@example.org"})
    assert loaded["email"] == "rina@example.org"


@pytest.mark.parametrize("data, field", [
    ({**ROLLOUT, "ends_on": "2019-05-01"}, "ends_on"),
    ({**ROLLOUT, "sessions": [{**ROLLOUT["sessions"][0], "quotas": [
        {"category": "lsm", "minimum": 5, "maximum": 2}]}]}, "sessions"),
    ({**ROLLOUT, "sessions": [{**ROLLOUT["sessions"][0], "quotas": [{"category": "student"}]}]}, "sessions"),
])
def test_a_plan_breaking_a_rule_is_refused_naming_the_field(data, field):
    assert field in refused(RolloutIn(), data)


@pytest.mark.parametrize("schema, data, field", [
    (RolloutEdit(), {"colour": "red"}, "colour"),
    (RolloutEdit(), {"committee_email": "not-an-address"}, "committee_email"),
    (ParticipantEdit(), {"nickname": "Siti"}, "nickname"),
    (ParticipantEdit(), {"full_name": ""}, "full_name"),
    (CheckInIn(), {"day": "x"}, "day"),
    (CheckInIn(), {"seat": 4}, "seat"),
])
def test_an_edit_or_check_in_with_a_bad_field_is_refused_naming_it(schema, data, field):
    assert field in refused(schema, data)

