import json
from datetime import date

import pytest
from sqlalchemy import select

from services.reporting import domain, report
from services.reporting.models import Base
from shared import events
from shared.database import OutboxMessage


def test_suppress_small_cells():
    assert domain.suppress(0) == 0
    assert domain.suppress(1) == "<5"
    assert domain.suppress(3) == "<5"
    assert domain.suppress(4) == "<5"
    assert domain.suppress(5) == 5
    assert domain.suppress(120) == 120


@pytest.mark.parametrize("pre, post, gain", [
    (40.0, 70.0, 0.5),      # (70-40)/(100-40) = 30/60
    (50.0, 100.0, 1.0),     # everything learnt
    (60.0, 60.0, 0.0),
    (80.0, 70.0, -0.5),     # (70-80)/(100-80)
    (0.0, 33.3, 0.333),
    (25.0, 50.0, 0.333),    # 25/75, rounded to 3 places
    (100.0, 100.0, None),   # nothing left to learn: undefined
    (None, 70.0, None),
    (40.0, None, None),
])
def test_normalised_gain(pre, post, gain):
    assert domain.normalised_gain(pre, post) == gain


# --- facts from events ------------------------------------------------------

@pytest.fixture
def store(make_store):
    return make_store(Base.metadata, consumer="reporting")


def event(kind, city="pontianak", /, **fields):
    """An event as the producer publishes it: (kind, JSON-ready payload)."""
    return kind, json.loads(json.dumps(kind.create(city, **fields)))


def rollout_event(rollout_id=1, city="pontianak", city_name="Pontianak"):
    return event(events.ROLLOUT_LAUNCHED, city, rollout_id=rollout_id, program="Internet Aman untuk Anak",
                 city_name=city_name, starts_on=date(2019, 5, 2), ends_on=date(2019, 5, 3),
                 sessions=[{"key": "workshop", "day": 1, "date": date(2019, 5, 2), "title": "Workshop",
                            "audience": "activists", "topics": []},
                           {"key": "socialisation", "day": 2, "date": date(2019, 5, 3),
                            "title": "Sosialisasi", "audience": "students", "topics": []}])


def participant_event(participant_id, category="student", rollout_id=1, city="pontianak"):
    return event(events.PARTICIPANT_REGISTERED, city, rollout_id=rollout_id, participant_id=participant_id,
                 participant_code=f"C{participant_id}", category=category, minor=category == "student",
                 session_key="socialisation" if category == "student" else "workshop")


def score_event(submission_id, code, phase, score, max_score=10, rollout_id=1, city="pontianak"):
    half = max_score // 2
    return event(events.TEST_SCORED, city, rollout_id=rollout_id, submission_id=submission_id, instrument_id=1,
                 session_key="socialisation", participant_code=code, phase=phase, score=score,
                 max_score=max_score, passed=score * 100 >= 60 * max_score,
                 topics=[{"topic": "Jejak Digital", "score": min(score, half), "max_score": half},
                         {"topic": "Kejahatan Siber", "score": max(score - half, 0), "max_score": half}])


def record(store, *delivered):
    """Handle events as the service does: each in its own unit of work."""
    for kind, payload in delivered:
        with store.unit_of_work() as uow:
            domain.handle(uow, kind, payload)


def test_test_figures_gain_only_over_participants_with_both_tests(store):
    record(store,
           score_event(1, "A", "pre", 4),
           score_event(2, "A", "post", 7),
           score_event(3, "B", "pre", 6),
           score_event(4, "B", "post", 8),
           score_event(5, "C", "pre", 0),    # no post-test
           score_event(6, "D", "post", 10))  # no pre-test

    with store.read() as session:
        figures = domain.test_figures(session, "pontianak")

    assert figures["pre"] == {"n": 3, "mean_percent": 33.3, "passed": 1}      # 10/30
    assert figures["post"] == {"n": 3, "mean_percent": 83.3, "passed": 3}     # 25/30
    assert figures["paired"] == 2
    assert figures["paired_pre_percent"] == 50.0    # A and B: (4+6)/20
    assert figures["paired_post_percent"] == 75.0   # (7+8)/20
    assert figures["gain"] == 0.5                   # (75-50)/(100-50); all takers would give 0.75
    assert {t["topic"] for t in figures["by_topic"]} == {"Jejak Digital", "Kejahatan Siber"}


def test_no_pairs_means_no_gain(store):
    record(store, score_event(1, "A", "pre", 4),
           score_event(2, "B", "post", 9))

    with store.read() as session:
        figures = domain.test_figures(session, "pontianak")
    assert (figures["paired"], figures["gain"]) == (0, None)


def test_redelivered_score_is_counted_once(store):
    scored = score_event(1, "A", "pre", 4)
    record(store, scored, scored)  # the broker delivered it twice

    with store.read() as session:
        assert domain.test_figures(session, "pontianak")["pre"]["n"] == 1


def test_participant_figures_by_city_rollout_and_nation(store):
    record(store,
           rollout_event(1),
           rollout_event(2, "singkawang", "Singkawang"),
           *[participant_event(i) for i in range(1, 7)],
           participant_event(7, "educator"),
           participant_event(8, "lsm", rollout_id=2, city="singkawang"))

    with store.read() as session:
        pontianak = domain.participant_figures(session, "pontianak")
        nation = domain.participant_figures(session, events.NATIONAL)
        rollout_2 = domain.participant_figures(session, "pontianak", rollout_id=2)

    assert pontianak["participants"] == 7
    assert pontianak["by_category"] == {"educator": 1, "student": 6}
    assert pontianak["by_audience"] == {"activists": 1, "students": 6}
    assert pontianak["by_session"] == {"socialisation": {"student": 6}, "workshop": {"educator": 1}}
    assert nation["participants"] == 8
    assert rollout_2["by_category"] == {"lsm": 1}


def test_public_summaries_hold_aggregates_only_with_small_cells_suppressed(store):
    record(store,
           rollout_event(1),
           *[participant_event(i) for i in range(1, 7)],
           *[participant_event(i, "educator") for i in (7, 8)],
           *[score_event(i, f"C{i}", "pre", 5) for i in range(1, 7)],
           *[score_event(10 + i, f"C{i}", "post", 8) for i in range(1, 4)])

    with store.read() as session:
        summaries = domain.public_summaries(session, "pontianak")

    assert summaries == [
        (events.PARTICIPANTS_SUMMARY, {
            "participants": 8,
            # 2 educators alone would be 8 - 6: the student cell is hidden with them.
            "by_category": {"educator": "<5", "student": "<5"},
            "by_audience": {"activists": "<5", "students": "<5"},
            "rollouts": 1,
        }),
        (events.TESTS_SUMMARY, {
            "pre": {"n": 6, "mean_percent": 50.0},
            "post": {"n": "<5", "mean_percent": None},   # 3 people: no mean either
            "paired": "<5",
            "gain": None,
        }),
    ]
    envelope = {"schema_version", "event_id", "occurred_at", "city"}
    for kind, fields in summaries:
        payload = kind.create("pontianak", **fields)  # the schema accepts it as it stands
        assert set(payload) == envelope | set(kind.schema().fields)
        assert "C1" not in json.dumps(payload)


def test_gain_is_published_from_five_pairs(store):
    record(store, *[score_event(i, f"C{i}", "pre", 4) for i in range(1, 6)],
           *[score_event(10 + i, f"C{i}", "post", 7) for i in range(1, 6)])

    with store.read() as session:
        _, tests = domain.public_summaries(session, "pontianak")[1]
    assert tests == {"pre": {"n": 5, "mean_percent": 40.0}, "post": {"n": 5, "mean_percent": 70.0},
                     "paired": 5, "gain": 0.5}


def test_changed_cities_publish_once_then_the_nation(store):
    record(store, rollout_event(1),
           participant_event(1))

    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == ["pontianak"]
    with store.read() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(r.exchange, r.routing_key) for r in rows] == [
        ("campaign.summaries", "summary.participants.pontianak"),
        ("campaign.summaries", "summary.tests.pontianak"),
        ("campaign.summaries", "summary.participants.national"),
        ("campaign.summaries", "summary.tests.national"),
    ]
    assert json.loads(rows[0].payload)["participants"] == "<5"

    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == []  # nothing changed since
        assert uow.emitted == []


def test_a_worker_summarises_only_the_cities_it_serves(store):
    record(store, rollout_event(1), participant_event(1),
           rollout_event(2, "medan", "Medan"), participant_event(2, rollout_id=2, city="medan"))

    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow, ["pontianak"]) == ["pontianak"]
        assert {e["city"] for e in uow.emitted} == {"pontianak", "national"}
    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == ["medan"]  # Pontianak's worker left it waiting


def test_activity_report_in_bahasa_indonesia(store):
    record(store, rollout_event(1),
           *[participant_event(i) for i in range(1, 4)])

    with store.read() as session:
        markdown = report.activity_report(session, "pontianak")
        assert report.activity_report(session, "singkawang") is None

    assert "2-3 Mei 2019" in markdown
    assert "Pontianak" in markdown


def test_report_date_and_percent_formats():
    assert report.tanggal(date(2019, 5, 2)) == "2 Mei 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 3)) == "2-3 Mei 2019"
    assert report.rentang(date(2019, 5, 31), date(2019, 6, 1)) == "31 Mei 2019 - 1 Juni 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 2)) == "2 Mei 2019"
    assert report.persen(66.666) == "66,7%"
    assert report.persen(None) == "-"


def test_topic_gain_is_also_measured_on_participants_with_both_tests(store):
    # score_event splits a score of 10 into Jejak Digital (first 5) and Kejahatan Siber (rest).
    record(store,
           score_event(1, "A", "pre", 4),    # J 4/5, S 0/5
           score_event(2, "A", "post", 7),   # J 5/5, S 2/5
           score_event(3, "B", "pre", 6),    # J 5/5, S 1/5
           score_event(4, "B", "post", 8),   # J 5/5, S 3/5
           score_event(5, "C", "pre", 0),    # no post-test
           score_event(6, "D", "post", 10))  # no pre-test

    with store.read() as session:
        by_topic = {t["topic"]: t for t in domain.test_figures(session, "pontianak")["by_topic"]}

    # A and B only: Kejahatan Siber pre 1/10 = 10%, post 5/10 = 50%, gain 40/90
    assert by_topic["Kejahatan Siber"]["pre_percent"] == 10.0
    assert by_topic["Kejahatan Siber"]["post_percent"] == 50.0
    assert by_topic["Kejahatan Siber"]["gain"] == 0.444


def test_a_lone_small_cell_takes_the_next_smallest_with_it():
    assert domain.suppress_breakdown({"a": 2, "b": 7, "c": 9}) == {"a": "<5", "b": "<5", "c": 9}
    assert domain.suppress_breakdown({"a": 2, "b": 3, "c": 9}) == {"a": "<5", "b": "<5", "c": 9}
    assert domain.suppress_breakdown({"a": 0, "b": 7, "c": 9}) == {"a": 0, "b": 7, "c": 9}
    assert domain.suppress_breakdown({"a": 2}) == {"a": "<5"}


# --- every event kind, and the rebuild from the event log -------------------

def change_event(kind, participant_id, rollout_id=1, city="pontianak", session_key="socialisation", **fields):
    return event(kind, city, rollout_id=rollout_id, participant_id=participant_id,
                 participant_code=f"C{participant_id}", session_key=session_key, **fields)


def plan_event(kind, plan_id, status, owner="participant", rollout_id=1, city="pontianak"):
    return event(kind, city, rollout_id=rollout_id, action_plan_id=plan_id, session_key="socialisation",
                 owner=owner, status=status)


def a_season_of_events():
    """Two cities' rollouts with every kind of event reporting consumes, one rollout cancelled."""
    delivered = [rollout_event(1), rollout_event(2, "medan", "Medan"), rollout_event(3, "medan", "Medan")]
    delivered += [participant_event(i) for i in range(1, 9)]
    delivered += [participant_event(i, "educator") for i in range(9, 15)]
    delivered += [participant_event(i, rollout_id=2, city="medan") for i in range(20, 27)]
    delivered.append(participant_event(30, rollout_id=3, city="medan"))
    delivered += [
        event(events.PARTICIPANT_REGISTERED, rollout_id=1, participant_id=15, participant_code="C15",
              session_key="socialisation", category="student", minor=True, status="waitlisted"),
        change_event(events.PARTICIPANT_CANCELLED, 8),
        change_event(events.PARTICIPANT_PROMOTED, 15),
        change_event(events.PARTICIPANT_UPDATED, 9, session_key="workshop", category="lsm", changed=["category"]),
        event(events.ROLLOUT_CANCELLED, "medan", rollout_id=3, reason="flood"),
        *[change_event(events.PARTICIPANT_CHECKED_IN, i, session_key="workshop", day=1) for i in range(9, 14)],
        *[change_event(events.PARTICIPANT_CHECKED_IN, i, day=2) for i in range(1, 8)],
        plan_event(events.ACTION_PLAN_RECORDED, 1, "planned"),
        plan_event(events.ACTION_PLAN_RECORDED, 2, "planned", owner="group"),
        plan_event(events.ACTION_PLAN_UPDATED, 1, "done"),
        event(events.COMMITTEE_NOTIFIED, rollout_id=1, delivery_id=1, kind="participant_list", channel="mail",
              participant_count=14),
    ]
    delivered += [score_event(i, f"C{i}", "pre", 4) for i in range(1, 8)]
    delivered += [score_event(10 + i, f"C{i}", "post", 8) for i in range(1, 7)]
    delivered += [score_event(40 + i, f"C{i}", "pre", 2, rollout_id=2, city="medan") for i in range(20, 26)]
    delivered += [score_event(60 + i, f"C{i}", "post", 4, rollout_id=2, city="medan") for i in range(20, 26)]
    return delivered


def every_figure(session):
    return {city: domain.city_figures(session, city) for city in ("pontianak", "medan")} | {
        "national": domain.national_figures(session),
        "summaries": [domain.public_summaries(session, c) for c in ("pontianak", "medan", events.NATIONAL)],
        "report": report.activity_report(session, "pontianak"),
    }


def test_rebuilt_read_models_equal_the_live_ones(store):
    record(store, *a_season_of_events())
    with store.read() as session:
        live = every_figure(session)

    with store.unit_of_work() as uow:
        assert domain.rebuild(uow.session) == len(a_season_of_events())
    with store.read() as session:
        rebuilt = every_figure(session)

    assert rebuilt == live
    assert live["pontianak"]["participants"] == 14   # 15 registered, 1 cancelled, the waitlisted one promoted


def test_figures_do_not_depend_on_the_order_events_arrive_in(store, make_store):
    delivered = a_season_of_events()
    record(store, *delivered)
    backwards = make_store(Base.metadata, consumer="reporting")
    record(backwards, *reversed(delivered))

    with store.read() as forwards_session, backwards.read() as backwards_session:
        assert every_figure(backwards_session) == every_figure(forwards_session)


def test_batches_of_one_kind_give_the_figures_single_events_give(store, make_store):
    delivered = a_season_of_events()
    record(store, *delivered)
    batched = make_store(Base.metadata, consumer="reporting")
    kinds = list(dict.fromkeys(kind for kind, _ in delivered))
    for kind in reversed(kinds):  # updates and cancellations reach rows the registrations then complete
        with batched.unit_of_work() as uow:
            domain.handle_batch(uow, kind, [payload for k, payload in delivered if k is kind])

    with store.read() as one_by_one, batched.read() as in_batches:
        assert every_figure(in_batches) == every_figure(one_by_one)


def test_cancellations_waitlist_attendance_and_action_plans(store):
    record(store, *a_season_of_events())
    with store.read() as session:
        pontianak = domain.city_figures(session, "pontianak")
        medan = domain.city_figures(session, "medan")

    assert pontianak["by_category"] == {"educator": 5, "lsm": 1, "student": 8}
    assert pontianak["attendance"] == [{"day": 1, "session_key": "workshop", "checked_in": 5},
                                       {"day": 2, "session_key": "socialisation", "checked_in": 7}]
    assert pontianak["action_plans"] == {"total": 2, "by_owner": {"participant": 1, "group": 1},
                                         "by_status": {"planned": 1, "done": 1}}
    assert [n["participant_count"] for n in pontianak["notifications"]] == [14]
    # Medan's cancelled rollout (3) and its participant are left out of the city's figures.
    assert [r["rollout_id"] for r in medan["rollouts"]] == [2]
    assert medan["participants"] == 7


def test_national_gain_comes_from_pooled_scores_not_averaged_city_gains(store):
    record(store, *a_season_of_events())
    with store.read() as session:
        national = domain.national_figures(session)

    cities = {row["city"]: row for row in national["cities"]}
    # Pontianak: 6 pairs 40% -> 80% (gain 0.667); Medan: 6 pairs 20% -> 40% (gain 0.25).
    assert (cities["pontianak"]["gain"], cities["medan"]["gain"]) == (0.667, 0.25)
    # Pooled: 36/120 = 30% -> 72/120 = 60%, gain 30/70; the mean of the two city gains would be 0.458.
    assert national["tests"]["paired_pre_percent"] == 30.0
    assert national["tests"]["paired_post_percent"] == 60.0
    assert national["tests"]["gain"] == 0.429
    # Counts are summed over the cities.
    assert national["participants"] == sum(row["participants"] for row in national["cities"]) == 21


def test_a_city_waits_for_someone_to_count_before_its_first_summary(store):
    record(store, rollout_event(1))
    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == []
        assert uow.emitted == []

    record(store, participant_event(1))
    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == ["pontianak"]
    record(store, change_event(events.PARTICIPANT_CANCELLED, 1))
    with store.unit_of_work() as uow:
        assert domain.publish_changed_summaries(uow) == ["pontianak"]  # back to zero: still published
        assert uow.emitted[0]["participants"] == 0


def test_a_pre_test_and_a_post_test_on_a_revised_instrument_still_pair(store):
    pre = score_event(1, "A", "pre", 4)
    post_kind, post = score_event(2, "A", "post", 8)
    record(store, pre, (post_kind, {**post, "instrument_id": 2, "instrument_version": 2}))

    with store.read() as session:
        figures = domain.test_figures(session, "pontianak")
    assert (figures["paired"], figures["gain"]) == (1, 0.667)
