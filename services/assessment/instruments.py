"""Instruments: a session's questionnaire, versioned, its topics those of the session's agenda."""
from collections.abc import Sequence
from typing import Any

from services.assessment.commands import Cities, CreateInstrument
from services.assessment.models import Instrument, KnownSession
from services.assessment.repository import AssessmentUnitOfWork
from shared.errors import Conflict, InvalidInput, NotFound
from shared.pagination import FIRST_PAGE, Page, PageOf


def remember_rollout(uow: AssessmentUnitOfWork, event: dict[str, Any]) -> None:
    """rollout_launched: keep each session's topics, so instruments can be checked against the agenda."""
    for agenda in event["sessions"]:
        uow.sessions.remember(rollout_id=event["rollout_id"], session_key=agenda["key"], city=event["city"],
                              topics=[t["title"] for t in agenda["topics"]])


def create_instrument(command: CreateInstrument, uow: AssessmentUnitOfWork) -> Instrument:
    """A new instrument, or a new version of a session's instrument.

    Once assessment has heard of the rollout's launch, the session must be on
    its agenda and every question tagged with one of that session's topics.
    Before that (the launch event may still be on its way) it is taken as given.
    """
    agenda = uow.sessions.of_rollout(command.rollout_id)
    if not _visible(command.cities, agenda):
        # A city's caller adds instruments to the rollouts of its cities that assessment knows of.
        raise NotFound(f"rollout_id: no launched rollout {command.rollout_id} in your cities", field="rollout_id")
    _check_topics(command, agenda)
    version = command.version
    if version is None:
        version = uow.instruments.latest_version(command.rollout_id, command.session_key) + 1
    elif uow.instruments.has_version(command.rollout_id, command.session_key, version):
        raise Conflict(f"version: session {command.session_key} of rollout {command.rollout_id} already has "
                       f"version {version}; leave version out to create the next one", field="version")
    instrument: Instrument = uow.instruments.add(
        rollout_id=command.rollout_id, session_key=command.session_key, title=command.title, version=version,
        pass_percent=command.pass_percent, questions=list(command.questions))
    return instrument


def _check_topics(command: CreateInstrument, agenda: Sequence[KnownSession]) -> None:
    if not agenda:
        return
    topics = {s.session_key: s.topics for s in agenda}
    if command.session_key not in topics:
        raise InvalidInput(f"session_key: rollout {command.rollout_id} has no session {command.session_key}",
                           fields={"session_key": [f"one of {', '.join(sorted(topics))}"]})
    allowed = topics[command.session_key]
    strangers = {i: q["topic"] for i, q in enumerate(command.questions) if q["topic"] not in allowed}
    if strangers:
        raise InvalidInput(
            "questions: topic not on the session's agenda: "
            + "; ".join(f"question {i + 1} ({t})" for i, t in strangers.items()),
            fields={"questions": {i: {"topic": [f"must be one of: {'; '.join(allowed)}"]} for i in strangers}})


def city_of_rollout(uow: AssessmentUnitOfWork, rollout_id: int) -> str | None:
    """The rollout's city, once assessment has heard of its launch; None before."""
    agenda = uow.sessions.of_rollout(rollout_id)
    return agenda[0].city if agenda else None


def _visible(cities: Cities, agenda: Sequence[KnownSession]) -> bool:
    """Whether a caller of ``cities`` sees a rollout of this agenda (an unknown rollout: only every city's)."""
    return cities is None or bool(agenda) and agenda[0].city in cities


def get_instrument(uow: AssessmentUnitOfWork, instrument_id: int, cities: Cities = None) -> Instrument:
    """The instrument, if it is of a rollout in ``cities`` (None: any); another city's reads as absent."""
    instrument: Instrument | None = uow.instruments.get(instrument_id)
    if instrument is None or not _visible(cities, uow.sessions.of_rollout(instrument.rollout_id)):
        raise NotFound(f"instrument {instrument_id} does not exist", field="instrument_id")
    return instrument


def list_instruments(uow: AssessmentUnitOfWork, rollout_id: int | None = None, session_key: str | None = None,
                     cities: Cities = None, page: Page = FIRST_PAGE) -> PageOf[Instrument]:
    """Instruments of rollouts in ``cities``, as ``_visible`` sees them (None: every one)."""
    found: PageOf[Instrument] = uow.instruments.list(rollout_id=rollout_id, session_key=session_key, cities=cities,
                                                     page=page)
    return found
