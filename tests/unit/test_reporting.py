"""Reporting's projections, figures and publication against in-memory read models, and its pure rules."""
import json
from datetime import date

import pytest

from services.reporting import figures, projections, publication, report
from services.reporting.fakes import FakeReportingUnitOfWork
from shared import events
from shared.errors import InvalidInput, NotFound
from shared.handling import dispatch

HANDLERS = projections.HANDLERS


def deliver(uow, *delivered):
    """Hand events to reporting's handlers as the consumer does, each in its own delivery."""
    for kind, payload in delivered:
        dispatch(uow, HANDLERS, [(kind, payload)])
    return uow


def event(kind, city="pontianak", /, **fields):
    """An event as the producer publishes it: (kind, JSON-ready payload)."""
    return kind, json.loads(json.dumps(kind.create(city, **fields)))


def rollout_event(rollout_id=1, city="pontianak", city_name="Pontianak", starts_on=date(2019, 5, 2),
                  ends_on=date(2019, 5, 3)):
    return event(events.ROLLOUT_LAUNCHED, city, rollout_id=rollout_id, program="Internet Aman untuk Anak",
                 city_name=city_name, starts_on=starts_on, ends_on=ends_on,
                 sessions=[{"key": "workshop", "day": 1, "date": starts_on, "title": "Workshop",
                            "audience": "activists", "topics": []},
                           {"key": "socialisation", "day": 2, "date": ends_on,
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


def change_event(kind, participant_id, rollout_id=1, city="pontianak", session_key="socialisation", **fields):
    return event(kind, city, rollout_id=rollout_id, participant_id=participant_id,
                 participant_code=f"C{participant_id}", session_key=session_key, **fields)


def plan_event(kind, plan_id, status, owner="participant", rollout_id=1, city="pontianak", **fields):
    return event(kind, city, rollout_id=rollout_id, action_plan_id=plan_id, session_key="socialisation",
                 owner=owner, status=status, **fields)


def gain_event(paired, occurred_at=None):
    kind, payload = event(events.GAIN_SUMMARY, rollout_id=1, session_key="socialisation", paired=paired,
                          perfect_pre=0, pre_only=1, post_only=0, mean_pre=0.4, mean_post=0.8,
                          gain_of_averages={"value": 0.667, "n": paired, "ci": [0.5, 0.8]},
                          mean_of_gains={"value": 0.65, "n": paired, "ci": None})
    return kind, {**payload, "occurred_at": occurred_at or payload["occurred_at"]}


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
        plan_event(events.ACTION_PLAN_RECORDED, 2, "planned", owner="group", group_name="SMPN 3",
                   commitment="Poster di setiap kelas"),
        event(events.ROLLOUT_UPDATED, rollout_id=1, status="launched", changed=["tips"],
              tips=[{"id": "Jangan bagikan kata sandi.", "en": "Never share a password."}]),
        plan_event(events.ACTION_PLAN_UPDATED, 1, "done"),
        event(events.COMMITTEE_NOTIFIED, rollout_id=1, delivery_id=1, kind="participant_list", channel="mail",
              participant_count=14),
        gain_event(6),
    ]
    delivered += [score_event(i, f"C{i}", "pre", 4) for i in range(1, 8)]
    delivered += [score_event(10 + i, f"C{i}", "post", 8) for i in range(1, 7)]
    delivered += [score_event(40 + i, f"C{i}", "pre", 2, rollout_id=2, city="medan") for i in range(20, 26)]
    delivered += [score_event(60 + i, f"C{i}", "post", 4, rollout_id=2, city="medan") for i in range(20, 26)]
    return delivered


@pytest.fixture
def uow():
    return FakeReportingUnitOfWork()


# --- pure rules ---------------------------------------------------------------

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
    assert figures.normalised_gain(pre, post) == gain


def test_phase_figures_take_the_gain_from_complete_pairs_only():
    # 3 pre-tests (10/30), 3 post-tests (25/30), of which 2 people took both: 10/20 then 15/20.
    sums = figures.ScoreSums(pre_n=3, pre_score=10, pre_max=30, pre_passed=1, post_n=3, post_score=25,
                             post_max=30, post_passed=3, paired=2, paired_pre_score=10, paired_pre_max=20,
                             paired_post_score=15, paired_post_max=20)
    shown = figures.phase_figures(sums)
    assert shown["pre"] == {"n": 3, "mean_percent": 33.3, "passed": 1}
    assert (shown["paired_pre_percent"], shown["paired_post_percent"], shown["gain"]) == (50.0, 75.0, 0.5)
    assert figures.phase_figures(None)["gain"] is None


def test_topic_percentages_leave_out_the_unpaired_submissions():
    totals = {("Jejak", "pre"): (9, 15, 0), ("Jejak", "post"): (10, 10, 0), ("Siber", "pre"): (1, 15, 1)}
    unpaired = {("Jejak", "pre"): (0, 5, 0), ("Siber", "pre"): (0, 5, 1)}
    assert figures.topic_figures(totals, unpaired) == [
        {"topic": "Jejak", "pre_percent": 90.0, "post_percent": 100.0, "gain": 1.0},
        {"topic": "Siber", "pre_percent": 10.0, "post_percent": None, "gain": None},
    ]


def test_report_date_and_percent_formats():
    assert report.tanggal(date(2019, 5, 2)) == "2 Mei 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 3)) == "2-3 Mei 2019"
    assert report.rentang(date(2019, 5, 31), date(2019, 6, 1)) == "31 Mei 2019 - 1 Juni 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 2)) == "2 Mei 2019"
    assert report.persen(66.666) == "66,7%"
    assert report.persen(None) == "-"


# --- events into figures --------------------------------------------------------

def test_test_figures_gain_only_over_participants_with_both_tests(uow):
    deliver(uow,
            score_event(1, "A", "pre", 4),
            score_event(2, "A", "post", 7),
            score_event(3, "B", "pre", 6),
            score_event(4, "B", "post", 8),
            score_event(5, "C", "pre", 0),    # no post-test
            score_event(6, "D", "post", 10))  # no pre-test

    tests = figures.test_figures(uow, "pontianak")
    assert tests["pre"] == {"n": 3, "mean_percent": 33.3, "passed": 1}      # 10/30
    assert tests["post"] == {"n": 3, "mean_percent": 83.3, "passed": 3}     # 25/30
    assert tests["paired"] == 2
    assert tests["paired_pre_percent"] == 50.0    # A and B: (4+6)/20
    assert tests["paired_post_percent"] == 75.0   # (7+8)/20
    assert tests["gain"] == 0.5                   # (75-50)/(100-50); all takers would give 0.75
    # Per topic too, A and B only: Kejahatan Siber pre 1/10 = 10%, post 5/10 = 50%, gain 40/90.
    by_topic = {t["topic"]: t for t in tests["by_topic"]}
    assert list(by_topic) == ["Jejak Digital", "Kejahatan Siber"]
    assert by_topic["Kejahatan Siber"] == {"topic": "Kejahatan Siber", "pre_percent": 10.0, "post_percent": 50.0,
                                           "gain": 0.444}


def test_no_pairs_means_no_gain(uow):
    deliver(uow, score_event(1, "A", "pre", 4), score_event(2, "B", "post", 9))
    tests = figures.test_figures(uow, "pontianak")
    assert (tests["paired"], tests["gain"]) == (0, None)


def test_a_redelivered_event_is_counted_and_logged_once(uow):
    scored = score_event(1, "A", "pre", 4)
    deliver(uow, scored, scored)  # the broker delivered it twice

    assert figures.test_figures(uow, "pontianak")["pre"]["n"] == 1
    assert len(uow.event_log.entries) == 1


def test_a_submission_scored_again_replaces_its_scores_and_topics(uow):
    deliver(uow, score_event(1, "A", "pre", 4), score_event(2, "A", "post", 10),
            score_event(1, "A", "pre", 2))  # submission 1 again, corrected: 2 of 10

    tests = figures.test_figures(uow, "pontianak")
    assert (tests["pre"]["n"], tests["paired_pre_percent"]) == (1, 20.0)
    assert tests["by_topic"][0]["pre_percent"] == 40.0  # Jejak Digital 2/5, not (4 + 2)/10


def test_participant_figures_by_city_rollout_and_nation(uow):
    deliver(uow,
            rollout_event(1),
            rollout_event(2, "singkawang", "Singkawang"),
            *[participant_event(i) for i in range(1, 7)],
            participant_event(7, "educator"),
            participant_event(8, "lsm", rollout_id=2, city="singkawang"))

    pontianak = figures.participant_figures(uow, "pontianak")
    assert pontianak["participants"] == 7
    assert pontianak["by_category"] == {"educator": 1, "student": 6}
    assert pontianak["by_audience"] == {"activists": 1, "students": 6}
    assert pontianak["by_session"] == {"socialisation": {"student": 6}, "workshop": {"educator": 1}}
    assert figures.participant_figures(uow, events.NATIONAL)["participants"] == 8
    assert figures.participant_figures(uow, events.NATIONAL, rollout_id=2)["by_category"] == {"lsm": 1}
    # A rollout of another city is not one of Pontianak's.
    assert figures.participant_figures(uow, "pontianak", rollout_id=2)["participants"] == 0


def test_cancellations_waitlist_attendance_and_action_plans(uow):
    deliver(uow, *a_season_of_events())
    pontianak = figures.city_figures(uow, "pontianak")
    medan = figures.city_figures(uow, "medan")

    # 15 registered, 1 cancelled, the waitlisted one promoted, one educator now with an LSM.
    assert pontianak["by_category"] == {"educator": 5, "lsm": 1, "student": 8}
    assert pontianak["attendance"] == [{"day": 1, "session_key": "workshop", "checked_in": 5},
                                       {"day": 2, "session_key": "socialisation", "checked_in": 7}]
    assert pontianak["action_plans"] == {"total": 2, "by_owner": {"participant": 1, "group": 1},
                                         "by_status": {"planned": 1, "done": 1}}
    assert [n["participant_count"] for n in pontianak["notifications"]] == [14]
    # Medan's cancelled rollout (3) and its participant are left out of the city's figures.
    assert [r["rollout_id"] for r in medan["rollouts"]] == [2]
    assert medan["participants"] == 7


def test_each_rollouts_figures_side_by_side_for_a_dashboard(uow):
    deliver(uow, *a_season_of_events())
    national = figures.rollout_figures(uow, events.NATIONAL)
    pontianak = figures.rollout_figures(uow, "pontianak")

    # Medan's cancelled rollout (3) is left out; each rollout is one of its city's figures, split by rollout.
    assert [r["rollout_id"] for r in national["rollouts"]] == [1, 2]
    assert [r["rollout_id"] for r in pontianak["rollouts"]] == [1]
    [one] = pontianak["rollouts"]
    city = figures.city_figures(uow, "pontianak")
    assert one["by_session"] == city["by_session"]
    assert one["attendance"] == city["attendance"]
    assert (one["tests"]["pre_n"], one["tests"]["paired"], one["tests"]["gain"]) == (
        city["tests"]["pre"]["n"], city["tests"]["paired"], city["tests"]["gain"])
    assert [n["participant_count"] for n in one["notifications"]] == [14]
    assert sum(sum(r["by_session"][k].values()) for r in national["rollouts"] for k in r["by_session"]) == \
        figures.national_figures(uow)["participants"]


def test_national_gain_comes_from_pooled_scores_not_averaged_city_gains(uow):
    deliver(uow, *a_season_of_events())
    national = figures.national_figures(uow)

    cities = {row["city"]: row for row in national["cities"]}
    # Pontianak: 6 pairs 40% -> 80% (gain 0.667); Medan: 6 pairs 20% -> 40% (gain 0.25).
    assert (cities["pontianak"]["gain"], cities["medan"]["gain"]) == (0.667, 0.25)
    # Pooled: 36/120 = 30% -> 72/120 = 60%, gain 30/70; the mean of the two city gains would be 0.458.
    assert national["tests"]["paired_pre_percent"] == 30.0
    assert national["tests"]["paired_post_percent"] == 60.0
    assert national["tests"]["gain"] == 0.429
    # Counts are summed over the cities.
    assert national["participants"] == sum(row["participants"] for row in national["cities"]) == 21


def test_a_pre_test_and_a_post_test_on_a_revised_instrument_still_pair(uow):
    pre = score_event(1, "A", "pre", 4)
    post_kind, post = score_event(2, "A", "post", 8)
    deliver(uow, pre, (post_kind, {**post, "instrument_id": 2, "instrument_version": 2}))

    tests = figures.test_figures(uow, "pontianak")
    assert (tests["paired"], tests["gain"]) == (1, 0.667)


def test_an_older_gain_summary_arriving_late_changes_nothing(uow):
    deliver(uow, rollout_event(1), gain_event(12, "2019-05-03T12:00:00+00:00"),
            gain_event(3, "2019-05-03T09:00:00+00:00"))
    assert [g["paired"] for g in figures.city_figures(uow, "pontianak")["gain_by_session"]] == [12]


def test_figures_of_a_rollout_asked_for_by_id_must_be_the_citys(uow):
    deliver(uow, rollout_event(1), rollout_event(2, "medan", "Medan"), participant_event(1),
            participant_event(2, rollout_id=2, city="medan"))

    assert figures.figures_for(uow, "medan", 2)["participants"] == 1
    assert figures.figures_for(uow, events.NATIONAL, 1)["rollouts"][0]["city"] == "pontianak"
    with pytest.raises(NotFound) as refused:
        figures.figures_for(uow, "pontianak", 2)
    assert refused.value.details == {"field": "rollout_id"}


# --- what is published ------------------------------------------------------------

def test_public_summaries_hold_aggregates_only_with_small_cells_suppressed(uow):
    deliver(uow,
            rollout_event(1),
            *[participant_event(i) for i in range(1, 7)],
            *[participant_event(i, "educator") for i in (7, 8)],
            *[score_event(i, f"C{i}", "pre", 5) for i in range(1, 7)],
            *[score_event(10 + i, f"C{i}", "post", 8) for i in range(1, 4)])

    summaries = publication.public_summaries(uow, "pontianak")
    assert summaries == [
        (events.PARTICIPANTS_SUMMARY, {
            # 2 educators would be the total less the 6 students: the total is hidden with them.
            "participants": "x",
            "by_category": {"educator": "<5", "student": 6},
            "by_audience": {"activists": "<5", "students": 6},
            "rollouts": 1,
        }),
        (events.TESTS_SUMMARY, {
            "pre": {"n": 6, "mean_percent": 50.0},
            "post": {"n": "<5", "mean_percent": None},   # 3 people: no mean either
            "paired": "<5",
            "gain": None,
        }),
    ]
    publication.publish_changed_summaries(uow)
    envelope = {"schema_version", "event_id", "occurred_at", "city"}
    for key, payload in publication.current_summaries(uow, "pontianak").items():
        assert key.startswith("summary.") and key.endswith(".pontianak")
        kind = events.PARTICIPANTS_SUMMARY if "participants" in payload else events.TESTS_SUMMARY
        assert set(payload) == envelope | set(kind.schema().fields)
        assert "C1" not in json.dumps(payload)


def test_a_snapshot_is_the_released_message_itself_until_the_next_release(uow):
    deliver(uow, rollout_event(1), *[participant_event(i) for i in range(1, 9)])
    publication.publish_changed_summaries(uow)
    sent = {payload["event_id"] for payload in uow.emitted}

    first = publication.current_summaries(uow, "pontianak")
    assert publication.current_summaries(uow, "pontianak") == first  # no change: one identity
    assert {body["event_id"] for body in first.values()} <= sent
    deliver(uow, participant_event(9))
    assert publication.current_summaries(uow, "pontianak") == first  # not released yet
    publication.publish_changed_summaries(uow)
    assert publication.current_summaries(uow, "pontianak")["summary.participants.pontianak"]["event_id"] != \
        first["summary.participants.pontianak"]["event_id"]
    with pytest.raises(NotFound):
        publication.current_summaries(uow, "atlantis")


def test_a_change_that_leaves_every_figure_as_it_was_releases_nothing(uow):
    deliver(uow, rollout_event(1), *[participant_event(i) for i in range(1, 9)])
    publication.publish_changed_summaries(uow)
    deliver(uow, change_event(events.PARTICIPANT_UPDATED, 1, category="student", changed=["category"]))
    assert publication.publish_changed_summaries(uow) == []


def test_gain_is_published_from_five_pairs(uow):
    deliver(uow, rollout_event(1), *[score_event(i, f"C{i}", "pre", 4) for i in range(1, 6)],
            *[score_event(10 + i, f"C{i}", "post", 7) for i in range(1, 6)])

    _, tests = publication.public_summaries(uow, "pontianak")[1]
    assert tests == {"pre": {"n": 5, "mean_percent": 40.0}, "post": {"n": 5, "mean_percent": 70.0},
                     "paired": 5, "gain": 0.5}


def emitted(uow):
    """(routing key, fields) of what the unit of work emitted, and forget them."""
    sent = [(kind.routing_key(city), fields) for kind, city, fields in uow.events]
    uow.events.clear()
    return sent


def test_changed_cities_publish_once_then_the_nation(uow):
    deliver(uow, rollout_event(1), participant_event(1))

    assert publication.publish_changed_summaries(uow) == ["pontianak"]
    sent = emitted(uow)
    assert [key for key, _ in sent] == ["summary.participants.pontianak", "summary.tests.pontianak",
                                        "summary.participants.national", "summary.tests.national"]
    assert sent[0][1]["participants"] == "<5"

    assert publication.publish_changed_summaries(uow) == []  # nothing changed since
    assert emitted(uow) == []
    assert publication.summary_cities(uow) == ["pontianak", "national"]


def test_a_worker_summarises_only_the_cities_it_serves(uow):
    deliver(uow, rollout_event(1), participant_event(1),
            rollout_event(2, "medan", "Medan"), participant_event(2, rollout_id=2, city="medan"))

    assert publication.publish_changed_summaries(uow, ["pontianak"]) == ["pontianak"]
    assert {key.rsplit(".", 1)[1] for key, _ in emitted(uow)} == {"pontianak", "national"}
    assert publication.publish_changed_summaries(uow) == ["medan"]  # Pontianak's worker left it waiting


def test_a_city_waits_for_someone_to_count_before_its_first_summary(uow):
    deliver(uow, rollout_event(1))
    assert publication.publish_changed_summaries(uow) == []
    assert emitted(uow) == []

    deliver(uow, participant_event(1))
    assert publication.publish_changed_summaries(uow) == ["pontianak"]
    emitted(uow)
    deliver(uow, change_event(events.PARTICIPANT_CANCELLED, 1))
    assert publication.publish_changed_summaries(uow) == ["pontianak"]  # back to zero: still published
    assert emitted(uow)[0][1]["participants"] == 0


# --- the event log and the rebuild ---------------------------------------------------

def every_figure(uow):
    return {city: figures.city_figures(uow, city) for city in ("pontianak", "medan")} | {
        "national": figures.national_figures(uow),
        "rollouts": figures.rollout_figures(uow, events.NATIONAL),
        "summaries": [publication.public_summaries(uow, c) for c in ("pontianak", "medan", events.NATIONAL)],
        "report": report.activity_report(uow, "pontianak"),
    }


def test_the_event_log_keeps_each_event_as_it_was_read_in_json(uow):
    delivered = a_season_of_events()
    deliver(uow, *delivered)

    logged = uow.event_log.entries
    assert [entry["event_type"] for entry in logged] == [kind.name for kind, _ in delivered]
    for entry, (kind, payload) in zip(logged, delivered):
        assert json.loads(json.dumps(entry["payload"])) == entry["payload"]
        assert kind.load(entry["payload"]) == kind.load(payload)  # replayed, it is the same event


def test_the_event_log_holds_each_event_as_its_schema_writes_it(uow):
    kind, payload = change_event(events.PARTICIPANT_CHECKED_IN, 1, day=1)
    delivered = [*a_season_of_events(), (kind, {**payload, "occurred_at": "2019-05-02T08:00:00.250000+07:00"})]
    deliver(uow, *delivered)

    for entry, (kind, payload) in zip(uow.event_log.entries, delivered, strict=True):
        assert entry["payload"] == kind.schema().dump(kind.load(payload))


def test_rebuilt_read_models_equal_the_live_ones(uow):
    deliver(uow, *a_season_of_events())
    live = every_figure(uow)

    assert projections.rebuild(uow) == len(a_season_of_events())
    assert every_figure(uow) == live
    assert live["pontianak"]["participants"] == 14


def test_figures_do_not_depend_on_the_order_events_arrive_in():
    delivered = a_season_of_events()
    forwards = deliver(FakeReportingUnitOfWork(), *delivered)
    backwards = deliver(FakeReportingUnitOfWork(), *reversed(delivered))
    assert every_figure(backwards) == every_figure(forwards)


def test_batches_of_one_kind_give_the_figures_single_events_give():
    delivered = a_season_of_events()
    one_by_one = deliver(FakeReportingUnitOfWork(), *delivered)
    in_batches = FakeReportingUnitOfWork()
    kinds = list(dict.fromkeys(kind for kind, _ in delivered))
    for kind in reversed(kinds):  # updates and cancellations reach rows the registrations then complete
        dispatch(in_batches, HANDLERS, [(k, payload) for k, payload in delivered if k is kind])
    assert every_figure(in_batches) == every_figure(one_by_one)


# --- the report from the read models --------------------------------------------------

def test_activity_report_in_bahasa_indonesia(uow):
    deliver(uow, rollout_event(1), *[participant_event(i) for i in range(1, 4)])

    markdown = report.activity_report(uow, "pontianak")
    assert "2-3 Mei 2019" in markdown
    assert "Pontianak" in markdown
    assert report.activity_report(uow, "singkawang") is None


def test_a_report_to_download_is_made_in_memory_in_the_format_asked_for(uow):
    deliver(uow, rollout_event(1), *[participant_event(i) for i in range(1, 4)])
    written = report.required(uow, "pontianak")

    name, media_type, content = report.document_file(written, "md")
    assert (name, media_type) == ("laporan-pontianak-2019.md", "text/markdown; charset=utf-8")
    assert content.decode("utf-8") == written.markdown
    name, media_type, content = report.document_file(written, "html")
    assert name == "laporan-pontianak-2019.html" and content.startswith(b"<!DOCTYPE html>")


def test_a_report_of_an_earlier_rollout_is_chosen_by_its_id(uow):
    deliver(uow, rollout_event(1), rollout_event(4, starts_on=date(2020, 8, 10), ends_on=date(2020, 8, 11)),
            participant_event(1), participant_event(2, rollout_id=4))

    assert report.build(uow, "pontianak").stem == "laporan-pontianak-2020"      # the latest by default
    assert report.build(uow, "pontianak", rollout_id=1).stem == "laporan-pontianak-2019"
    with pytest.raises(NotFound) as refused:
        report.required(uow, "medan", rollout_id=1)
    assert refused.value.details == {"field": "rollout_id"}
    with pytest.raises(InvalidInput) as refused:
        report.required(uow, events.NATIONAL, rollout_id=1)  # the national report has them all
    assert list(refused.value.details["fields"]) == ["rollout_id"]


def test_an_edit_of_the_venue_and_dates_after_launch_reaches_the_report(uow):
    deliver(uow, rollout_event(),
            event(events.ROLLOUT_UPDATED, rollout_id=1, status="launched", changed=["venue", "ends_on"],
                  venue="Aula Kantor Wali Kota", ends_on=date(2019, 5, 4)),
            event(events.ROLLOUT_UPDATED, rollout_id=1, status="running", changed=["status"]))
    rollout = uow.read_models.rollouts_by_id[1]
    assert (rollout.venue, rollout.ends_on, rollout.starts_on) == ("Aula Kantor Wali Kota", date(2019, 5, 4),
                                                                    date(2019, 5, 2))
