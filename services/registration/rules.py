"""Registration's vocabulary and its pure rules: no database, no framework, no clock of their own."""
import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

# Activists attend the day-1 workshop; students the day-2 socialisation.
ACTIVIST_CATEGORIES = ("educator", "skpd", "patbm", "unit_ppa", "lsm", "forum_anak")
CATEGORIES = ACTIVIST_CATEGORIES + ("student",)
CATEGORY_LABELS = {
    "educator": "Tenaga pendidikan",
    "skpd": "SKPD",
    "patbm": "PATBM",
    "unit_ppa": "Unit PPA",
    "lsm": "LSM",
    "forum_anak": "Forum Anak",
    "student": "Pelajar",
}
AUDIENCES = ("activists", "students")
MINOR_AGE_BANDS = ("10-12", "13-15", "16-17")
AGE_BANDS = MINOR_AGE_BANDS + ("18-24", "25-39", "40-59", "60+")
# Children's forum members and students are children unless their age band says otherwise.
CHILD_CATEGORIES = ("student", "forum_anak")
CONSENT_GIVERS = ("guardian", "school")
ROLLOUT_STATES = ("draft", "launched", "running", "completed", "cancelled")
PARTICIPANT_STATES = ("registered", "waitlisted", "cancelled")

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud


def audience_of(category: str) -> str:
    return "students" if category == "student" else "activists"


def is_minor(category: str | None, age_band: str | None) -> bool:
    if age_band:
        return age_band in MINOR_AGE_BANDS
    return category in CHILD_CATEGORIES


def minors_problems(category: str | None, age_band: str | None, email: str | None, phone: str | None,
                    consent_by: str | None, consent_at: datetime | None, now: datetime) -> dict[str, list[str]]:
    """What a registration breaks of the rules protecting children, by field; empty for an adult."""
    if not is_minor(category, age_band):
        return {}
    problems = {}
    for field, value in (("email", email), ("phone", phone)):
        if value:
            problems[field] = ["must not be given for a minor"]
    if not consent_by:
        problems["consent_by"] = ["a minor needs consent from a guardian or the school"]
    if consent_at is not None and as_utc(consent_at) > now:
        problems["consent_at"] = ["must not be in the future"]
    return problems


def agenda_problems(starts_on: date | None, ends_on: date | None,
                    session_dates: Sequence[date | None]) -> dict[str, Any]:
    """Where a rollout's dates do not hold together, by field (marshmallow's shape of messages):
    its end before its start, or a session outside them (``sessions``: by the session's index).
    A draft not given its days yet (None) has nothing to hold together."""
    problems: dict[str, Any] = {}
    if starts_on is None or ends_on is None:
        return problems
    if ends_on < starts_on:
        problems["ends_on"] = ["must not be before starts_on"]
        return problems
    outside = {index: {"date": [f"must be within the rollout's dates, {starts_on.isoformat()} "
                                f"to {ends_on.isoformat()}"]}
               for index, day in enumerate(session_dates) if day is not None and not starts_on <= day <= ends_on}
    if outside:
        problems["sessions"] = outside
    return problems


def quota_problem(audience: str, quotas: list[dict[str, Any]]) -> str | None:
    """Why a session's quotas cannot stand, or None: one per category, each of the session's audience."""
    categories = [q["category"] for q in quotas]
    if len(set(categories)) != len(categories):
        return "one quota per category"
    wrong = [c for c in categories if audience_of(c) != audience]
    if wrong:
        return f"{', '.join(wrong)} do not attend a session for {audience}"
    return None


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def normalised(text: str | None) -> str:
    """How people type the same name differently, reduced to one form in every script.

    Compatibility forms folded (NFKC: full-width ``ＳＩＴＩ`` is ``siti``), case folded,
    accents on Latin letters dropped (``Dédé`` is typed ``Dede`` too), invisible
    formatting characters dropped and runs of spaces made one; the letters of every
    other script stay as they are, so two different Arabic names stay two names.
    """
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text or "").casefold())
    kept, after_latin = [], False
    for char in folded:
        kind = unicodedata.category(char)
        if kind == "Cf" or (kind == "Mn" and after_latin):
            continue
        if not kind.startswith("M"):
            after_latin = unicodedata.name(char, "").startswith("LATIN")
        kept.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).split())


PERSON_KEY_LENGTH = 600  # the column's


def person_key(city: str, full_name: str, organisation: str | None) -> str:
    """Who a registration is, as far as names tell: the same in every rollout of the city.

    Within a rollout two live registrations never share it; across the city's
    rollouts it finds a returning participant's earlier record.  A key longer than
    its column (NFKC spells some single characters as many) is kept as its digest.
    """
    key = f"{city}|{normalised(full_name)}|{normalised(organisation)}"
    if len(key) > PERSON_KEY_LENGTH:
        key = f"{city}|sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def new_code(city: str, bits: int | None = None) -> str:
    """A pseudonymous participant code such as ``PON-7KQ2MX``: six letters of 32 (5 bits each)."""
    bits = secrets.randbits(30) if bits is None else bits
    return f"{city[:3].upper()}-" + "".join(CODE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(6))


def as_utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone: a moment read back without one was stored as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


class SessionRoom(Protocol):
    """What a session's room is judged on: the model, or any record with these attributes."""

    id: int
    capacity: int | None  # None: no limit
    quotas: list[dict[str, Any]]


class Places:
    """Who holds a place in each session, by category: decides registered or waitlisted.

    ``taken`` maps ``(session_id, category)`` to the registrations holding a place.
    """

    def __init__(self, taken: dict[tuple[int, str], int]):
        self.taken = dict(taken)

    def in_session(self, session_id: int) -> int:
        return sum(n for (sid, _), n in self.taken.items() if sid == session_id)

    def of(self, session_id: int, category: str) -> int:
        return self.taken.get((session_id, category), 0)

    def has_room(self, session: SessionRoom, category: str) -> bool:
        """``session`` has ``id``, ``capacity`` (None: no limit) and ``quotas``."""
        if session.capacity is not None and self.in_session(session.id) >= session.capacity:
            return False
        quota = next((q for q in session.quotas or [] if q["category"] == category), None)
        if quota and quota.get("maximum") is not None and self.of(session.id, category) >= quota["maximum"]:
            return False
        return True

    def take(self, session_id: int, category: str) -> None:
        self.taken[(session_id, category)] = self.of(session_id, category) + 1


# --- what a clone keeps, and what a launch needs --------------------------------------------

# A clone keeps what the program shares: its agenda and targets, aims, expected learning, tips, the
# report's organisation, author and editor, and the speakers and reporting institutions not marked
# ``local``.  What belongs to the city (its province, venue and committee, and what is marked
# ``local``: its officials as speakers, its police unit) is kept only by a clone in the same city.
# What belongs to one occasion never is: the dates (moved to the clone's first day, if given), who
# opened each day, the background (it says where and when), each day's summary, findings, questions
# and answers, recommendations, follow-up and issue date.  docs/registration.md has the table.
PROGRAM_FIELDS = ("program", "organisation", "author", "editor", "aims", "expected_learning", "tips")
PROGRAM_SESSION_FIELDS = ("key", "day", "title", "audience", "capacity", "quotas")
CITY_FIELDS = ("province", "venue", "committee_name", "committee_email")

# What a rollout must have before it is launched: the committee's address, and what the report's
# cover and agenda print.  A topic needs someone to present it.
LAUNCH_NEEDS = ("province", "venue", "starts_on", "ends_on", "committee_email", "organisation", "author", "editor")


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def cloned_fields(rollout: Mapping[str, Any], starts_on: date | None, same_city: bool = False) -> dict[str, Any]:
    """What ``rollout`` (the API's fields, dates as dates or ISO text) gives a new rollout: the program's
    fields, and the city's too when the new one is in the same city.

    Its days move to start on ``starts_on``, kept apart as they were (day N on the Nth day when
    the rollout had no dates); without ``starts_on`` the new rollout has no dates yet.
    """
    first = _day(rollout.get("starts_on"))

    def moved(held: date | str | None, day: int) -> date | None:
        if starts_on is None:
            return None
        held = _day(held)
        return starts_on + (held - first) if held and first else starts_on + timedelta(days=day - 1)

    def kept(entries: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        return [dict(entry) for entry in entries or () if same_city or not entry.get("local")]

    names = PROGRAM_FIELDS + (CITY_FIELDS if same_city else ())
    cloned: dict[str, Any] = {name: rollout[name] for name in names if rollout.get(name) is not None}
    cloned["reporting_institutions"] = kept(rollout.get("reporting_institutions")) or None
    cloned["sessions"] = [{
        **{name: session[name] for name in PROGRAM_SESSION_FIELDS if name in session},
        "date": moved(session.get("date"), session["day"]),
        "topics": [{**topic, "facilitators": kept(topic.get("facilitators"))} for topic in session.get("topics") or ()],
    } for session in rollout["sessions"]]
    last = _day(rollout.get("ends_on"))
    cloned["starts_on"], cloned["ends_on"] = starts_on, None
    if starts_on is not None:
        cloned["ends_on"] = (starts_on + (last - first) if first and last
                             else max([starts_on] + [session["date"] for session in cloned["sessions"]]))
    return cloned


def missing_for_launch(rollout: Mapping[str, Any]) -> list[str]:
    """The fields ``rollout`` (the API's fields) lacks to be launched, named as the API names them."""
    missing = [name for name in LAUNCH_NEEDS if not rollout.get(name)]
    for session in rollout["sessions"]:
        if not session.get("date"):
            missing.append(f"sessions.{session['key']}.date")
        for index, topic in enumerate(session.get("topics") or ()):
            if not topic.get("facilitators"):
                missing.append(f"sessions.{session['key']}.topics.{index}.facilitators")
    return missing
