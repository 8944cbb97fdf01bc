"""Participants: registered, corrected, cancelled, promoted off the waitlist, checked in.

The same person twice in a rollout is refused; the same person in a later
rollout of the city is welcome, and linked to their earlier record.
"""
from datetime import datetime, timezone
from typing import Any

from services.registration import audit, rollouts
from services.registration.commands import (
    CancelParticipant,
    CheckInParticipant,
    Cities,
    EditParticipant,
    FindParticipantByCode,
    GetCommitteeList,
    ListParticipants,
    RegisterParticipant,
    ShowParticipant,
)
from services.registration.models import CheckIn, Participant, Rollout, Session
from services.registration.repository import RegistrationUnitOfWork
from services.registration.rules import (
    CATEGORY_LABELS,
    Places,
    audience_of,
    is_minor,
    minors_problems,
    new_code,
    person_key,
)
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound
from shared.pagination import PageOf

PARTICIPANT_FIELDS = ("full_name", "category", "organisation", "sex", "age_band", "email", "phone",
                      "consent_by", "consent_at")


def get_participant(uow: RegistrationUnitOfWork, rollout_id: int, participant_id: int,
                    cities: Cities = None) -> Participant:
    rollouts.get_rollout(uow, rollout_id, cities)
    participant = uow.participants.get(participant_id)
    if participant is None or participant.rollout_id != rollout_id:
        raise NotFound(f"participant {participant_id} is not registered for rollout {rollout_id}",
                       field="participant_id")
    return participant


def refuse_duplicates(uow: RegistrationUnitOfWork, rollout: Rollout, key: str) -> None:
    """The same person holds a live registration in this rollout already: a 409 naming it."""
    existing = uow.participants.live_holders(rollout.id, [key]).get(key)
    if existing is not None:
        raise Conflict(f"already registered as participant {existing}", field="full_name",
                       existing_participant_id=existing)


def fresh_codes(uow: RegistrationUnitOfWork, city: str, count: int) -> list[str]:
    """``count`` participant codes no one holds yet."""
    codes: set[str] = set()
    while len(codes) < count:
        candidates = {new_code(city) for _ in range(count - len(codes))} - codes
        codes |= candidates - uow.participants.codes_taken(candidates)
    return list(codes)


def registered_event(rollout: Rollout, participant: Participant, session_key: str) -> dict[str, Any]:
    """The fields of ``participant_registered``: ids and codes, never a name."""
    return dict(
        rollout_id=rollout.id, participant_id=participant.id, participant_code=participant.code,
        session_key=session_key, category=participant.category, minor=participant.minor,
        sex=participant.sex, age_band=participant.age_band, status=participant.status,
    )


def register_participant(command: RegisterParticipant, uow: RegistrationUnitOfWork) -> Participant:
    rollout = rollouts.open_rollout(uow, command.rollout_id, command.cities)
    applicant = command.applicant
    session = rollouts.session_for(rollout, applicant.category)
    key = person_key(rollout.city, applicant.full_name, applicant.organisation)
    refuse_duplicates(uow, rollout, key)
    places = Places(uow.participants.places_taken(rollout.id))
    minor = is_minor(applicant.category, applicant.age_band)
    now = datetime.now(timezone.utc)
    [code] = fresh_codes(uow, rollout.city, 1)
    participant = Participant(
        rollout_id=rollout.id, session_id=session.id, code=code, minor=minor, person_key=key,
        status="registered" if places.has_room(session, applicant.category) else "waitlisted",
        full_name=applicant.full_name, category=applicant.category, organisation=applicant.organisation,
        sex=applicant.sex, age_band=applicant.age_band, email=applicant.email, phone=applicant.phone,
        consent_by=applicant.consent_by, consent_at=applicant.consent_at or (now if minor else None),
        registered_at=now, returning_of=uow.participants.earlier_records(rollout, [key]).get(key),
    )
    participant.session = session
    uow.participants.add(participant)
    uow.emit(events.PARTICIPANT_REGISTERED, rollout.city, **registered_event(rollout, participant, session.key))
    return participant


def show_participant(query: ShowParticipant, uow: RegistrationUnitOfWork) -> Participant:
    participant = get_participant(uow, query.rollout_id, query.participant_id, query.cities)
    audit.record_read(uow, "shown", rollouts.get_rollout(uow, query.rollout_id, query.cities), 1, query.actor)
    return participant


def list_participants(query: ListParticipants, uow: RegistrationUnitOfWork) -> PageOf[Participant]:
    rollout = rollouts.get_rollout(uow, query.rollout_id, query.cities)
    found = uow.participants.list(query.rollout_id, status=query.status, page=query.page)
    audit.record_read(uow, "listed", rollout, len(found.items), query.actor)
    return found


def _change_event(rollout: Rollout, participant: Participant) -> dict[str, Any]:
    return dict(rollout_id=rollout.id, participant_id=participant.id,
                participant_code=participant.code, session_key=participant.session.key)


def edit_participant(command: EditParticipant, uow: RegistrationUnitOfWork) -> Participant:
    """Correct a registration; the rules of a new one apply to the result."""
    rollout = rollouts.get_rollout(uow, command.rollout_id, command.cities)
    participant = get_participant(uow, command.rollout_id, command.participant_id)
    if not command.changes:
        raise InvalidInput("The body must name at least one field to change.", fields={"body": ["nothing to change"]})
    if participant.status == "cancelled" or rollout.status in ("completed", "cancelled"):
        raise Conflict(f"participant {participant.id} can no longer be changed", field="participant_id")
    merged = {**{name: getattr(participant, name) for name in PARTICIPANT_FIELDS}, **command.changes}
    if audience_of(merged["category"]) != participant.session.audience:
        raise InvalidInput("category: a change of audience is a new registration for the other session",
                           fields={"category": [f"must stay a category of {participant.session.audience}"]})
    problems = minors_problems(merged["category"], merged["age_band"], merged["email"], merged["phone"],
                               merged["consent_by"], merged["consent_at"], datetime.now(timezone.utc))
    if problems:
        raise InvalidInput("; ".join(f"{f}: {' '.join(p)}" for f, p in sorted(problems.items())), fields=problems)
    key = person_key(rollout.city, merged["full_name"], merged["organisation"])
    if key != participant.person_key:
        refuse_duplicates(uow, rollout, key)
        participant.person_key = key
        participant.returning_of = uow.participants.earlier_records(rollout, [key]).get(key)

    changed = [name for name in PARTICIPANT_FIELDS if name in command.changes
               and getattr(participant, name) != merged[name]]
    for name in changed:
        setattr(participant, name, merged[name])
    participant.minor = is_minor(participant.category, participant.age_band)
    if participant.minor and participant.consent_at is None:
        participant.consent_at = datetime.now(timezone.utc)
    if changed:
        # Field names only: what changed in a child's record is nobody else's business.
        uow.emit(events.PARTICIPANT_UPDATED, rollout.city, category=participant.category, changed=changed,
                 **_change_event(rollout, participant))
    return participant


def cancel_participant(command: CancelParticipant, uow: RegistrationUnitOfWork) -> Participant:
    """The participant gives up the place; the first on the waitlist who fits gets it."""
    rollout = rollouts.get_rollout(uow, command.rollout_id, command.cities)
    participant = get_participant(uow, command.rollout_id, command.participant_id)
    if participant.status == "cancelled":
        raise Conflict(f"participant {participant.id} is already cancelled", field="participant_id")
    if rollout.status in ("completed", "cancelled"):
        raise Conflict(f"rollout {rollout.id} is {rollout.status}", field="rollout_id")
    held_a_place = participant.status == "registered"
    participant.status = "cancelled"
    uow.emit(events.PARTICIPANT_CANCELLED, rollout.city, **_change_event(rollout, participant))
    if held_a_place:
        fill_places(uow, rollout, participant.session)
    return participant


def fill_places(uow: RegistrationUnitOfWork, rollout: Rollout, session: Session) -> list[Participant]:
    """Promote waitlisted participants, first come first served, while places are free."""
    places = Places(uow.participants.places_taken(rollout.id))
    promoted = []
    for candidate in uow.participants.waitlisted(session.id):
        if places.has_room(session, candidate.category):
            candidate.status = "registered"
            places.take(session.id, candidate.category)
            promoted.append(candidate)
            uow.emit(events.PARTICIPANT_PROMOTED, rollout.city, **_change_event(rollout, candidate))
    return promoted


def check_in(command: CheckInParticipant, uow: RegistrationUnitOfWork) -> dict[str, Any]:
    """The participant came, on their session's day."""
    rollout = rollouts.get_rollout(uow, command.rollout_id, command.cities)
    participant = get_participant(uow, command.rollout_id, command.participant_id)
    session = participant.session
    if rollout.status not in ("launched", "running"):
        raise Conflict(f"rollout {rollout.id} is {rollout.status}; check-in needs it launched or running",
                       field="rollout_id")
    if participant.status != "registered":
        raise Conflict(f"participant {participant.id} is {participant.status}, without a place to check in to",
                       field="participant_id")
    if (command.session_key or session.key) != session.key:
        raise InvalidInput(f"session_key: participant {participant.id} attends {session.key}",
                           fields={"session_key": [f"the participant attends {session.key}"]})
    day = session.day if command.day is None else command.day
    if day != session.day:
        raise InvalidInput(f"day: session {session.key} is on day {session.day}",
                           fields={"day": [f"session {session.key} is on day {session.day}"]})
    if uow.check_ins.find(participant.id, day) is not None:
        raise Conflict(f"participant {participant.id} already checked in on day {day}", field="day")
    record = CheckIn(participant_id=participant.id, session_id=session.id, day=day,
                     checked_in_at=datetime.now(timezone.utc))
    uow.check_ins.add(record)
    uow.emit(events.PARTICIPANT_CHECKED_IN, rollout.city, day=day, **_change_event(rollout, participant))
    return {"participant_id": participant.id, "code": participant.code, "session_key": session.key,
            "day": day, "checked_in_at": record.checked_in_at}


def committee_list(query: GetCommitteeList, uow: RegistrationUnitOfWork) -> dict[str, Any]:
    """The rollout's committee and a page of its participant list: only what the committee needs.

    A rollout of a city the caller does not work in is, to it, not there.
    """
    rollout = rollouts.get_rollout(uow, query.rollout_id)
    if query.cities is not None and rollout.city not in query.cities:
        raise NotFound(f"rollout {query.rollout_id} does not exist", field="rollout_id")
    found = uow.participants.list(rollout.id, status="registered", page=query.page)
    audit.record_read(uow, "exported", rollout, len(found.items), query.actor)
    return {
        "rollout_id": rollout.id,
        "city": rollout.city,
        "city_name": rollout.city_name,
        "committee_name": rollout.committee_name,
        "committee_email": rollout.committee_email,
        "items": [{
            "participant_id": p.id,
            "code": p.code,
            "full_name": p.full_name,
            "category": CATEGORY_LABELS[p.category],
            "organisation": p.organisation or "",
            "session": p.session.title,
            "day": p.session.day,
        } for p in found.items],
        "next_after": found.next_after,
    }


def participant_by_code(query: FindParticipantByCode, uow: RegistrationUnitOfWork) -> dict[str, Any] | None:
    """What assessment needs to file a test under a code: never the name."""
    participant = uow.participants.by_code(query.code)
    if participant is None:
        return None
    return {
        "participant_id": participant.id,
        "code": participant.code,
        "rollout_id": participant.rollout_id,
        "city": participant.session.rollout.city,
        "session_key": participant.session.key,
        "category": participant.category,
    }
