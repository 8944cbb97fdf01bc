"""Learning gain and item analysis on worked examples; every expected number is worked out here."""
import math

import pytest

from services.assessment import statistics

# Six students of a test out of 10 (scores as fractions of the maximum):
#   A 4 -> 7, B 6 -> 8, C 2 -> 8 paired with room to gain;
#   D 10 -> 9 paired with a perfect pre-test (gain undefined);
#   E took only the pre-test (5), F only the post-test (6).
PRE = {"A": 0.4, "B": 0.6, "C": 0.2, "D": 1.0, "E": 0.5}
POST = {"A": 0.7, "B": 0.8, "C": 0.8, "D": 0.9, "F": 0.6}


def test_individual_gain():
    assert statistics.individual_gain(0.4, 0.7) == pytest.approx((0.7 - 0.4) / (1 - 0.4))  # 0.5
    assert statistics.individual_gain(4, 7, maximum=10) == pytest.approx(3 / 6)
    assert statistics.individual_gain(0.5, 0.3) == pytest.approx(-0.4)  # a fall is a negative gain
    assert statistics.individual_gain(1.0, 0.9) is None  # perfect pre-test: nothing left to gain


def test_every_test_is_counted_even_where_no_gain_can_be_computed():
    summary = statistics.gain_summary(PRE, POST)

    assert summary["paired"] == 4         # A, B, C, D
    assert summary["perfect_pre"] == 1    # D
    assert summary["pre_only"] == 1       # E
    assert summary["post_only"] == 1      # F
    assert summary["mean_pre"] == pytest.approx((0.4 + 0.6 + 0.2 + 1.0) / 4)   # 0.55
    assert summary["mean_post"] == pytest.approx((0.7 + 0.8 + 0.8 + 0.9) / 4)  # 0.80


def test_mean_of_individual_gains_with_its_t_interval():
    # g: A 3/6 = 0.5, B 2/4 = 0.5, C 6/8 = 0.75; D has none.  n = 3.
    # mean = 1.75 / 3 = 7/12 = 0.583333
    # deviations -1/12, -1/12, +2/12; s^2 = (1 + 1 + 4) / 144 / 2 = 1/48; s = 0.144338
    # SE = s / sqrt(3) = sqrt(1/144) = 1/12; t(0.975, 2) = 4.303; half-width 4.303 / 12 = 0.358583
    mean_of_gains = statistics.gain_summary(PRE, POST)["mean_of_gains"]

    assert mean_of_gains["n"] == 3
    assert mean_of_gains["value"] == pytest.approx(7 / 12)
    assert mean_of_gains["ci"] == pytest.approx([7 / 12 - 4.303 / 12, 7 / 12 + 4.303 / 12])
    assert mean_of_gains["ci"] == pytest.approx([0.224750, 0.941917], abs=1e-6)


def test_gain_of_averages_with_its_ratio_interval():
    # Over all 4 paired (D included): <g> = (0.80 - 0.55) / (1 - 0.55) = 0.25 / 0.45 = 5/9 = 0.555556
    # d_i = post - pre: 0.3, 0.2, 0.6, -0.1;  r_i = 1 - pre: 0.6, 0.4, 0.8, 0.0
    # e_i = d_i - <g> r_i: 0.3 - 1/3 = -1/30;  0.2 - 2/9 = -1/45;  0.6 - 4/9 = 7/45;  -0.1 - 0 = -1/10
    # sum e^2 = 1/900 + 1/2025 + 49/2025 + 1/100 = 0.035802469
    # SE = sqrt(0.035802469 / 3 / 4) / 0.45 = sqrt(0.0029835391) / 0.45 = 0.0546218 / 0.45 = 0.1213818
    # t(0.975, 3) = 3.182: half-width 0.3862368
    sum_e2 = 1 / 900 + 1 / 2025 + 49 / 2025 + 1 / 100
    se = math.sqrt(sum_e2 / 3 / 4) / 0.45
    gain = statistics.gain_summary(PRE, POST)["gain_of_averages"]

    assert gain["n"] == 4
    assert gain["value"] == pytest.approx(5 / 9)
    assert se == pytest.approx(0.1213818, abs=1e-6)
    assert gain["ci"] == pytest.approx([5 / 9 - 3.182 * se, 5 / 9 + 3.182 * se])
    assert gain["ci"] == pytest.approx([0.169319, 0.941792], abs=1e-5)


def test_everyone_perfect_before_gives_no_gain_but_is_counted():
    summary = statistics.gain_summary({"A": 1.0, "B": 1.0}, {"A": 1.0, "B": 0.5})

    assert summary["paired"] == 2 and summary["perfect_pre"] == 2
    assert summary["gain_of_averages"] == {"value": None, "n": 2, "ci": None}
    assert summary["mean_of_gains"] == {"value": None, "n": 0, "ci": None}


def test_one_pair_has_a_gain_but_no_interval():
    summary = statistics.gain_summary({"A": 0.5}, {"A": 1.0})

    assert summary["gain_of_averages"] == {"value": 1.0, "n": 1, "ci": None}
    assert summary["mean_of_gains"] == {"value": 1.0, "n": 1, "ci": None}


def test_only_unpaired_tests():
    summary = statistics.gain_summary({"A": 0.5, "B": 0.6}, {"C": 0.9})

    assert (summary["paired"], summary["pre_only"], summary["post_only"]) == (0, 2, 1)
    assert summary["mean_pre"] is None
    assert summary["gain_of_averages"]["value"] is None


def test_gain_report_per_topic_pairs_the_same_people():
    results = [
        # A: topic "Lapor" 0/2 -> 2/2, topic "Jejak" 1/2 -> 1/2
        {"participant": "A", "phase": "pre", "score": 1, "max_score": 4,
         "topics": [{"topic": "Lapor", "score": 0, "max_score": 2}, {"topic": "Jejak", "score": 1, "max_score": 2}]},
        {"participant": "A", "phase": "post", "score": 3, "max_score": 4,
         "topics": [{"topic": "Lapor", "score": 2, "max_score": 2}, {"topic": "Jejak", "score": 1, "max_score": 2}]},
        # B: only a pre-test, perfect on "Jejak"
        {"participant": "B", "phase": "pre", "score": 3, "max_score": 4,
         "topics": [{"topic": "Lapor", "score": 1, "max_score": 2}, {"topic": "Jejak", "score": 2, "max_score": 2}]},
    ]
    report = statistics.gain_report(results)

    # overall: A 1/4 -> 3/4, g = 0.5 / 0.75 = 2/3
    assert report["paired"] == 1 and report["pre_only"] == 1
    assert report["gain_of_averages"]["value"] == pytest.approx(2 / 3)
    jejak, lapor = report["by_topic"]
    assert jejak["topic"] == "Jejak" and jejak["gain_of_averages"]["value"] == pytest.approx(0.0)
    assert lapor["topic"] == "Lapor" and lapor["gain_of_averages"]["value"] == pytest.approx(1.0)
    assert (lapor["paired"], lapor["pre_only"]) == (1, 1)


@pytest.mark.parametrize("df, table", [(1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042),
                                       (40, 2.021), (60, 2.000), (120, 1.980)])
def test_t_quantiles_match_the_printed_tables(df, table):
    assert statistics.t975(df) == pytest.approx(table, abs=0.001)


def test_facility_and_discrimination_as_moodle_defines_them():
    # Four attempts at three questions (1 right, 0 wrong):
    #        q1 q2 q3 total
    #   P1    1  1  1   3
    #   P2    1  1  0   2
    #   P3    1  0  0   1
    #   P4    0  0  1   1
    # Facility = mean mark as a percentage: q1 3/4 = 75, q2 2/4 = 50, q3 2/4 = 50.
    # Discrimination = 100 r(mark, rest of the test), rest = total - mark:
    #   q1 marks 1,1,1,0 rest 2,1,0,1: deviations .25,.25,.25,-.75 and 1,0,-1,0; sxy = 0 -> r = 0
    #   q2 marks 1,1,0,0 rest 2,1,1,1: sxy = .5, sxx = 1, syy = .75 -> r = .5/sqrt(.75) = 0.577350
    #   q3 marks 1,0,0,1 rest 2,2,1,0: sxy = -.5, sxx = 1, syy = 2.75 -> r = -.5/sqrt(2.75) = -0.301511
    attempts = [{"q1": 1, "q2": 1, "q3": 1}, {"q1": 1, "q2": 1, "q3": 0},
                {"q1": 1, "q2": 0, "q3": 0}, {"q1": 0, "q2": 0, "q3": 1}]

    q1, q2, q3 = statistics.item_analysis(["q1", "q2", "q3"], attempts)

    assert [q["facility_index"] for q in (q1, q2, q3)] == pytest.approx([75.0, 50.0, 50.0])
    assert q1["discrimination_index"] == pytest.approx(0.0)
    assert q2["discrimination_index"] == pytest.approx(57.7350, abs=1e-4)
    assert q3["discrimination_index"] == pytest.approx(-30.1511, abs=1e-4)
    assert q1["n"] == 4


def test_a_question_everyone_gets_right_does_not_discriminate():
    attempts = [{"q1": 1, "q2": 1}, {"q1": 1, "q2": 0}, {"q1": 1, "q2": 0}]

    q1, q2 = statistics.item_analysis(["q1", "q2"], attempts)

    assert q1["facility_index"] == pytest.approx(100.0)
    assert q1["discrimination_index"] is None  # no spread in the mark
    assert q2["discrimination_index"] is None  # no spread in the rest of the test (q1 alone)


def test_item_analysis_without_attempts():
    [item] = statistics.item_analysis(["q1"], [])
    assert item == {"question": "q1", "n": 0, "facility_index": None, "discrimination_index": None}
