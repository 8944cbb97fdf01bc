"""What the registration service is asked to do, each as one command its handler carries out.

The edge (HTTP, RPC, timer) has already checked the input against the API's
schemas; a command holds the loaded values.
"""
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shared.events import NARRATIVE_FIELDS
from shared.pagination import FIRST_PAGE, Page

# The cities the caller works in, from its token: a rollout of another city is, to it, not
# there (NotFound).  None: every city (the national roles, timers, other services).
Cities = tuple[str, ...] | None

# --- rollouts ------------------------------------------------------------------

@dataclass(frozen=True)
class SessionPlan:
    """One session of a rollout's agenda."""

    key: str
    day: int
    date: date | None  # None: a draft not given its first day yet
    title: str
    audience: str
    opened_by: Any = None  # a text: a string, or {"id": ..., "en": ...}
    # [{"title": ..., "facilitators": [{"name", "organisation", "local"?}]}]
    topics: list[dict[str, Any]] = field(default_factory=list)
    capacity: int | None = None  # places; None: no limit
    quotas: list[dict[str, Any]] = field(default_factory=list)  # [{"category", "minimum", "maximum"}]
    summary: list[Any] | None = None  # that day's narrative, as texts


@dataclass(frozen=True)
class PlanRollout:
    program: str
    city_name: str
    starts_on: date | None
    ends_on: date | None
    committee_email: str | None
    sessions: tuple[SessionPlan, ...]
    province: str | None = None
    venue: str | None = None
    committee_name: str | None = None
    author: str | None = None
    editor: str | None = None
    # The report's narrative, by the names of shared.events.NarrativeSchema (none given: empty).
    narrative: Mapping[str, Any] = field(default_factory=dict)
    cities: Cities = None

    @classmethod
    def from_input(cls, loaded: Mapping[str, Any], cities: Cities = None) -> "PlanRollout":
        given = dict(loaded)
        narrative = {name: given.pop(name) for name in NARRATIVE_FIELDS if name in given}
        sessions = tuple(SessionPlan(**s) for s in given.pop("sessions"))
        return cls(**given, sessions=sessions, narrative=narrative, cities=cities)


@dataclass(frozen=True)
class CloneRollout:
    """A draft from another rollout: what it shares with the program, and its city's fields too when
    the draft is in the same city (``rules.cloned_fields``); the fields given here win.

    Its days move to ``starts_on``; without it, and without a committee, the draft has none yet.
    """

    template_id: int
    city_name: str
    starts_on: date | None = None
    committee_email: str | None = None
    province: str | None = None
    venue: str | None = None
    committee_name: str | None = None
    program: str | None = None  # the template's unless given
    cities: Cities = None


@dataclass(frozen=True)
class EditRollout:
    """Only the fields given change; ``sessions`` holds changes to sessions found by their key."""

    rollout_id: int
    changes: Mapping[str, Any]
    sessions: tuple[Mapping[str, Any], ...] = ()
    cities: Cities = None

    @classmethod
    def from_input(cls, rollout_id: int, loaded: Mapping[str, Any], cities: Cities = None) -> "EditRollout":
        changes = dict(loaded)
        return cls(rollout_id, changes, tuple(changes.pop("sessions", ())), cities)


@dataclass(frozen=True)
class LaunchRollout:
    rollout_id: int
    cities: Cities = None


@dataclass(frozen=True)
class StartRollout:
    rollout_id: int
    cities: Cities = None


@dataclass(frozen=True)
class CompleteRollout:
    rollout_id: int
    cities: Cities = None


@dataclass(frozen=True)
class CancelRollout:
    rollout_id: int
    reason: str | None = None
    cities: Cities = None


@dataclass(frozen=True)
class CloseRegistration:
    rollout_id: int
    cities: Cities = None


@dataclass(frozen=True)
class CheckTargets:
    """Announce the categories short of their minimum in sessions starting within ``within_days``."""

    rollout_id: int
    today: date | None = None  # the service's today unless given
    within_days: int = 14
    cities: Cities = None


@dataclass(frozen=True)
class ListRollouts:
    program: str | None = None
    status: str | None = None
    city: str | None = None
    cities: Cities = None
    page: Page = FIRST_PAGE


@dataclass(frozen=True)
class ShowRollout:
    rollout_id: int
    cities: Cities = None


# --- participants --------------------------------------------------------------

@dataclass(frozen=True)
class Applicant:
    """A person as they register (the fields of ``ParticipantIn``)."""

    full_name: str
    category: str
    organisation: str | None = None
    sex: str | None = None
    age_band: str | None = None
    email: str | None = None
    phone: str | None = None
    consent_by: str | None = None
    consent_at: datetime | None = None  # now, for a minor, if not given


@dataclass(frozen=True)
class RegisterParticipant:
    rollout_id: int
    applicant: Applicant
    cities: Cities = None

    @classmethod
    def from_input(cls, rollout_id: int, loaded: Mapping[str, Any],
                   cities: Cities = None) -> "RegisterParticipant":
        return cls(rollout_id, Applicant(**loaded), cities)


@dataclass(frozen=True)
class EditParticipant:
    """A correction: only the fields in ``changes`` change; the rules of a registration apply to the result."""

    rollout_id: int
    participant_id: int
    changes: Mapping[str, Any]
    cities: Cities = None


@dataclass(frozen=True)
class CancelParticipant:
    rollout_id: int
    participant_id: int
    cities: Cities = None


@dataclass(frozen=True)
class CheckInParticipant:
    """The participant came: their session and its day unless given; given, they must match."""

    rollout_id: int
    participant_id: int
    session_key: str | None = None
    day: int | None = None
    cities: Cities = None


@dataclass(frozen=True)
class ListParticipants:
    rollout_id: int
    status: str | None = None
    cities: Cities = None
    actor: str | None = None  # who asks, for the audit of personal data
    page: Page = FIRST_PAGE


@dataclass(frozen=True)
class ShowParticipant:
    rollout_id: int
    participant_id: int
    cities: Cities = None
    actor: str | None = None  # who asks, for the audit of personal data


@dataclass(frozen=True)
class GetCommitteeList:
    """A rollout's list for its committee, asked by a caller working in ``cities`` (None: every city)."""

    rollout_id: int
    cities: tuple[str, ...] | None = None
    page: Page = FIRST_PAGE
    actor: str | None = None  # who reads it, for the audit


@dataclass(frozen=True)
class FindParticipantByCode:
    code: str


# --- files ---------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One problem of a participant file: its line (the header is line 1), field and what is wrong."""

    line: int
    field: str
    problem: str
    existing_participant_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"line": self.line, "field": self.field, "problem": self.problem}
        if self.existing_participant_id is not None:
            found["existing_participant_id"] = self.existing_participant_id
        return found


@dataclass(frozen=True)
class SheetLine:
    """One participant line of a file.

    ``applicant`` is None when the line broke the schema (its problems are the
    sheet's); ``full_name`` and ``organisation`` are kept as typed whenever
    they are readable, so a bad line is still found twice.
    """

    line: int
    applicant: Applicant | None
    full_name: str | None
    organisation: str | None


@dataclass(frozen=True)
class Sheet:
    """A participant file as read: its lines, and the problems found reading them."""

    lines: tuple[SheetLine, ...]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class ImportParticipants:
    """Register every line of a file, or none and every problem of the file at once."""

    rollout_id: int
    sheet: Sheet
    cities: Cities = None


@dataclass(frozen=True)
class SubmitImport:
    """Keep a participant file for the rollout's city's import worker; it is read there, not here."""

    rollout_id: int
    file: bytes
    cities: Cities = None


@dataclass(frozen=True)
class ShowImport:
    rollout_id: int
    job_id: int
    cities: Cities = None


# --- retention and audit -------------------------------------------------------

@dataclass(frozen=True)
class PurgePersonalData:
    """Purge the personal data of rollouts completed ``retention_days`` before ``now``."""

    now: datetime
    retention_days: int = 365
    dry_run: bool = False
    actor: str | None = None


@dataclass(frozen=True)
class ListAudit:
    rollout_id: int | None = None
    city: str | None = None
    cities: tuple[str, ...] | None = None  # the caller's cities; None: every city
    page: Page = FIRST_PAGE
