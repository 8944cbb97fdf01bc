"""Checks more than one service's schemas make, defined once: ids, plausible dates, names.

Plain Python and marshmallow (no framework), so handlers and file readers use
the same rules as the API's schemas.  Each marshmallow validator raises with a
message saying what the value must be; the schema names the field.
"""
from datetime import date, datetime, timezone
from typing import Any

from marshmallow import ValidationError, fields, validate

from shared.safe_input import INT_MAX

# What a campaign can mean: nothing before the campaign's first years, nothing past what a
# committee plans ahead.  A year 1 or 2999 is a typing slip, stored it would skew every report.
EARLIEST = date(2000, 1, 1)
YEARS_AHEAD = 5


def id_field(**kwargs: Any) -> fields.Integer:
    """An id given in a body or a query: positive, and within what an INTEGER column holds."""
    return fields.Integer(validate=validate.Range(min=1, max=INT_MAX), **kwargs)


def today() -> date:
    return datetime.now(timezone.utc).date()


def latest_plausible(on: date) -> date:
    """``YEARS_AHEAD`` years after ``on`` (28 February for a 29th that year lacks)."""
    try:
        return on.replace(year=on.year + YEARS_AHEAD)
    except ValueError:
        return on.replace(year=on.year + YEARS_AHEAD, day=28)


def date_problem(day: date, on: date) -> str | None:
    """Why ``day`` cannot be a campaign's date as seen ``on`` a given day, or None."""
    if day < EARLIEST:
        return f"must not be before {EARLIEST.isoformat()}"
    if day > latest_plausible(on):
        return f"must not be more than {YEARS_AHEAD} years ahead (after {latest_plausible(on).isoformat()})"
    return None


def plausible_date(value: date) -> None:
    """marshmallow validator: a date from 2000 to ``YEARS_AHEAD`` years from today."""
    problem = date_problem(value.date() if isinstance(value, datetime) else value, today())
    if problem:
        raise ValidationError(problem)


def past_moment_problem(moment: datetime, now: datetime) -> str | None:
    """Why ``moment`` cannot be something that has happened (a consent given), or None."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    if aware.date() < EARLIEST:
        return f"must not be before {EARLIEST.isoformat()}"
    if aware > now:
        return "must not be in the future"
    return None


def plausible_past(value: datetime) -> None:
    """marshmallow validator: a moment since 2000 that has already come."""
    problem = past_moment_problem(value, datetime.now(timezone.utc))
    if problem:
        raise ValidationError(problem)


def has_a_letter(value: str) -> None:
    """marshmallow validator: a name holds a letter of some script.

    Punctuation, digits, spaces or invisible characters alone (a name typed as
    zero-width spaces) name nobody, and could not tell two people apart.
    """
    if not any(char.isalpha() for char in value):
        raise ValidationError("must contain a letter")
