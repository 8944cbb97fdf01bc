"""The checks several services' schemas share: their edges exactly where they are said to be."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.registration.rules import agenda_problems, normalised
from shared.safe_input import row_problems
from shared.validation import EARLIEST, date_problem, latest_plausible, past_moment_problem

TODAY = date(2024, 2, 29)


@pytest.mark.parametrize("day, plausible", [
    (EARLIEST, True), (EARLIEST - timedelta(days=1), False), (date(1, 1, 1), False),
    (date(2029, 2, 28), True), (date(2029, 3, 1), False), (date(9999, 12, 31), False),
])
def test_a_date_is_plausible_from_2000_to_five_years_ahead(day, plausible):
    assert latest_plausible(TODAY) == date(2029, 2, 28)  # a 29 February five years on is the 28th
    assert (date_problem(day, TODAY) is None) is plausible


def test_a_consent_is_not_before_2000_nor_in_the_future():
    now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert past_moment_problem(now, now) is None
    assert past_moment_problem(now + timedelta(seconds=1), now) == "must not be in the future"
    assert past_moment_problem(datetime(1800, 1, 1, tzinfo=timezone.utc), now) == "must not be before 2000-01-01"
    assert past_moment_problem(datetime(2019, 4, 20, 9), now) is None  # stored without a zone: UTC


def test_sessions_outside_their_rollout_are_named_by_their_index():
    may = [date(2019, 5, d) for d in (1, 2, 3, 4)]
    assert agenda_problems(may[1], may[2], may[1:3]) == {}
    outside = agenda_problems(may[1], may[2], [may[0], may[2], may[3]])
    assert sorted(outside["sessions"]) == [0, 2] and "date" in outside["sessions"][0]
    assert agenda_problems(may[2], may[1], []) == {"ends_on": ["must not be before starts_on"]}


@pytest.mark.parametrize("first, second, same", [
    ("  Dédé   KURNIAWAN ", "dede kurniawan", True),
    ("ＳＩＴＩ　ＡＭＩＮＡＨ", "Siti Aminah", True),
    ("Yu\u200bsuf", "Yusuf", True),
    ("محمد علي", "أحمد حسن", False),
    ("सुनील", "सनील", False),
    ("王芳", "王方", False),
])
def test_names_are_compared_in_every_script(first, second, same):
    assert normalised(first) and (normalised(first) == normalised(second)) is same


def test_a_rows_cells_past_its_header_and_its_control_characters_are_named():
    assert row_problems(["full_name", "category"], ["Ani", "educator", "", " "]) == []
    assert [field for field, _ in row_problems(["full_name", "category"], ["A\x00ni", "educator", "x"])] == [
        "full_name", "row"]
