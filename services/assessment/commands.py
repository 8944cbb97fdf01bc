"""What callers ask of assessment, as plain data: one command per thing to do.

The HTTP and event edges build these from validated input (``Command(**loaded)``);
handlers receive them and never see a request.
"""
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class CreateInstrument:
    """A session's questionnaire; without ``version``, the session's next one."""

    rollout_id: int
    session_key: str
    title: str
    questions: list[dict[str, Any]]
    version: int | None = None
    pass_percent: int = 60


@dataclass(frozen=True)
class SubmitTest:
    """One participant's answers to one phase (pre or post) of an instrument."""

    instrument_id: int
    participant_code: str
    phase: str
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportSubmissions:
    """A CSV sheet of tests for one instrument: every row is scored, or none."""

    instrument_id: int
    sheet: bytes


@dataclass(frozen=True)
class KnownParticipant:
    """What registration says of a participant code: all tests need to know of it."""

    code: str
    participant_id: int
    rollout_id: int
    city: str
    session_key: str

    @classmethod
    def from_registration(cls, answer: dict[str, Any]) -> "KnownParticipant":
        return cls(**{name: answer[name] for name in ("code", "participant_id", "rollout_id", "city",
                                                      "session_key")})


@dataclass(frozen=True)
class RememberParticipants:
    participants: tuple[KnownParticipant, ...]


@dataclass(frozen=True)
class PublishGainSummaries:
    """Each session whose scores changed since its last summary gets a new one."""


@dataclass(frozen=True)
class RecordActionPlan:
    rollout_id: int
    session_key: str
    owner: str  # participant | group
    commitment: str
    participant_code: str | None = None
    group_name: str | None = None
    due_on: date | None = None


@dataclass(frozen=True)
class FollowUpActionPlan:
    action_plan_id: int
    status: str
    note: str | None = None
    due_on: date | None = None
