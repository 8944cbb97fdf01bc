"""The SQL repositories (on SQLite) and their in-memory fakes answer the same questions the same way."""
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session as DbSession

from services.registration.fakes import FakeParticipants, FakeRollouts
from services.registration.models import Base, Participant, Rollout, Session
from services.registration.repository import SqlParticipants, SqlRollouts
from shared.errors import Conflict
from shared.pagination import Page


@pytest.fixture(params=["sql", "fake"])
def repositories(request, tmp_path):
    if request.param == "fake":
        rollouts = FakeRollouts()
        yield rollouts, FakeParticipants(rollouts)
        return
    engine = create_engine(f"sqlite:///{tmp_path / 'registration.db'}")
    event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA foreign_keys=ON"))
    Base.metadata.create_all(engine)
    with DbSession(engine) as session:
        yield SqlRollouts(session), SqlParticipants(session)
    engine.dispose()


def rollout(rollouts, city="pontianak", starts_on=date(2019, 5, 2), status="launched"):
    planned = Rollout(program="Internet Aman untuk Anak", city_name=city.title(), city=city, starts_on=starts_on,
                      ends_on=starts_on, committee_email="panitia@example.org", status=status, registration_open=True)
    planned.sessions = [Session(key="socialisation", day=1, date=starts_on, title="Sosialisasi", audience="students",
                                topics=[], quotas=[])]
    rollouts.add(planned)
    return planned


def row(of, name, code, status="registered"):
    return {"rollout_id": of.id, "session_id": of.sessions[0].id, "code": code, "full_name": name,
            "category": "student", "minor": True, "status": status, "person_key": f"{of.city}|{name.lower()}|",
            "registered_at": datetime.now(timezone.utc), "returning_of": None}


def test_participants_added_in_bulk_get_ids_in_the_files_order(repositories):
    rollouts, participants = repositories
    pontianak = rollout(rollouts)
    rows = [row(pontianak, f"Anak {i}", f"PON-{i:06d}") for i in range(600)]  # more than one slice and chunk

    ids = participants.add_many(rows)

    assert [participants.get(i).code for i in ids] == [r["code"] for r in rows]
    assert participants.codes_taken(["PON-000001", "PON-NOBODY", "PON-000599"]) == {"PON-000001", "PON-000599"}
    assert participants.by_code("PON-000007").full_name == "Anak 7"
    assert participants.count_registered(pontianak.id) == 600


def test_a_live_duplicate_is_refused_in_the_same_rollout_only(repositories):
    rollouts, participants = repositories
    first, other = rollout(rollouts), rollout(rollouts, starts_on=date(2020, 5, 2))
    [ani] = participants.add_many([row(first, "Ani", "PON-AAAAAA")])

    assert participants.live_holders(first.id, ["pontianak|ani|", "pontianak|budi|"]) == {"pontianak|ani|": ani}
    assert participants.live_holders(other.id, ["pontianak|ani|"]) == {}
    participants.add_many([row(other, "Ani", "PON-CCCCCC")])  # another rollout of the city: welcome
    # Should two requests pass the check at once, the database keeps the second out.
    with pytest.raises(Conflict):
        participants.add(Participant(**row(first, "Ani", "PON-BBBBBB")))


def test_a_cancelled_registration_holds_no_key(repositories):
    rollouts, participants = repositories
    first = rollout(rollouts)
    participants.add_many([row(first, "Ani", "PON-AAAAAA", status="cancelled")])

    assert participants.live_holders(first.id, ["pontianak|ani|"]) == {}
    participants.add(Participant(**row(first, "Ani", "PON-BBBBBB")))


def test_earlier_records_are_the_latest_of_each_person_in_earlier_rollouts_of_the_city(repositories):
    rollouts, participants = repositories
    in_2019, in_2020 = rollout(rollouts, starts_on=date(2019, 5, 2)), rollout(rollouts, starts_on=date(2020, 5, 2))
    cancelled = rollout(rollouts, starts_on=date(2020, 9, 1), status="cancelled")
    now, later = rollout(rollouts, starts_on=date(2021, 5, 2)), rollout(rollouts, starts_on=date(2022, 5, 2))
    medan = rollout(rollouts, city="medan", starts_on=date(2019, 1, 1))
    [_, ani_2020] = participants.add_many([row(in_2019, "Ani", "PON-A19"), row(in_2020, "Ani", "PON-A20")])
    [budi_2019, _] = participants.add_many([row(in_2019, "Budi", "PON-B19"),
                                            row(in_2020, "Budi", "PON-B20", status="cancelled")])
    participants.add_many([row(cancelled, "Cici", "PON-C20"), row(later, "Dodi", "PON-D22"),
                           row(medan, "Eka", "MED-E19")])

    keys = ["pontianak|ani|", "pontianak|budi|", "pontianak|cici|", "pontianak|dodi|", "medan|eka|"]
    assert participants.earlier_records(now, keys) == {"pontianak|ani|": ani_2020, "pontianak|budi|": budi_2019}


def test_places_taken_and_the_waitlist_in_order(repositories):
    rollouts, participants = repositories
    pontianak = rollout(rollouts)
    ids = participants.add_many([row(pontianak, "Ani", "PON-1"), row(pontianak, "Budi", "PON-2", "waitlisted"),
                                 row(pontianak, "Cici", "PON-3", "waitlisted"), row(pontianak, "Dodi", "PON-4")])

    assert participants.places_taken(pontianak.id) == {(pontianak.sessions[0].id, "student"): 2}
    assert [p.id for p in participants.waitlisted(pontianak.sessions[0].id)] == ids[1:3]
    assert [p.id for p in participants.list(pontianak.id, status="waitlisted", page=Page()).items] == ids[1:3]
    assert rollouts.open_ids() == [pontianak.id]
    assert [r.id for r in rollouts.list(city="pontianak", page=Page()).items] == [pontianak.id]


def test_a_draft_without_dates_is_no_earlier_rollout_and_is_listed_in_the_order_planned(repositories):
    rollouts, participants = repositories
    earlier = rollout(rollouts)
    undated = rollout(rollouts, starts_on=None, status="draft")  # a clone not given its first day yet
    later = rollout(rollouts, starts_on=date(2020, 5, 2))
    [ani] = participants.add_many([row(earlier, "Ani", "PON-AAAAAA")])

    assert [r.id for r in rollouts.list(page=Page()).items] == [earlier.id, undated.id, later.id]
    assert participants.earlier_records(later, ["pontianak|ani|"]) == {"pontianak|ani|": ani}


def pages(list_page, limit):
    """Every page of a list, following each page's next_after as a client follows next_cursor."""
    found = [list_page(Page(limit))]
    while found[-1].next_after is not None:
        found.append(list_page(Page(limit, found[-1].next_after)))
    return found


def test_a_list_is_read_page_by_page_without_a_repeat_or_a_gap(repositories):
    rollouts, participants = repositories
    pontianak, medan = rollout(rollouts), rollout(rollouts, city="medan")
    ids = participants.add_many([row(pontianak, f"Anak {i}", f"PON-{i:04d}", "waitlisted" if i % 5 == 0 else
                                     "registered") for i in range(250)])
    participants.add_many([row(medan, f"Anak {i}", f"MED-{i:04d}") for i in range(3)])

    listed = pages(lambda page: participants.list(pontianak.id, page=page), 100)
    assert [len(p.items) for p in listed] == [100, 100, 50]
    assert [p.id for page in listed for p in page.items] == ids
    waitlisted = pages(lambda page: participants.list(pontianak.id, status="waitlisted", page=page), 20)
    assert [len(p.items) for p in waitlisted] == [20, 20, 10]
    assert [p.id for page in waitlisted for p in page.items] == ids[::5]
    exact = pages(lambda page: participants.list(medan.id, page=page), 3)  # a full last page: no empty one after
    assert [len(p.items) for p in exact] == [3]


def test_a_page_read_while_people_register_repeats_and_skips_no_one(repositories):
    rollouts, participants = repositories
    pontianak = rollout(rollouts)
    ids = participants.add_many([row(pontianak, f"Anak {i}", f"PON-{i:04d}") for i in range(5)])
    first = participants.list(pontianak.id, page=Page(3))
    later = participants.add_many([row(pontianak, "Zaki", "PON-LATE")])

    rest = participants.list(pontianak.id, page=Page(3, first.next_after))

    assert [p.id for p in first.items + rest.items] == ids + later
    assert rest.next_after is None


def test_rollouts_are_paged_in_the_order_they_were_planned(repositories):
    rollouts, _ = repositories
    planned = [rollout(rollouts, starts_on=date(2021 - i, 5, 2)).id for i in range(5)]  # later ones start earlier

    listed = pages(lambda page: rollouts.list(page=page), 2)

    assert [[r.id for r in page.items] for page in listed] == [planned[:2], planned[2:4], planned[4:]]
