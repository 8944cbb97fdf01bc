"""City rollouts: planned, cloned, launched, started, completed or cancelled, edited, and their targets.

Each handler takes its command and a unit of work whose repositories it reads
and writes; what it announces goes through ``uow.emit`` (the outbox).
"""
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from services.registration import participants
from services.registration.commands import (
    CancelRollout,
    CheckTargets,
    Cities,
    CloneRollout,
    CloseRegistration,
    CompleteRollout,
    EditRollout,
    LaunchRollout,
    ListRollouts,
    PlanRollout,
    SessionPlan,
    ShowRollout,
    StartRollout,
)
from services.registration.models import Rollout, Session, TargetGapAlert
from services.registration.repository import RegistrationUnitOfWork
from services.registration.rules import (
    CITY_FIELDS,
    Places,
    agenda_problems,
    audience_of,
    cloned_fields,
    missing_for_launch,
    quota_problem,
    slugify,
)
from shared import events
from shared.commands import describe_fields
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.pagination import PageOf
from shared.validation import date_problem, today

SESSION_EDITABLE = ("date", "title", "opened_by", "topics", "capacity", "quotas", "summary")
# A rollout's and a session's fields as the API names them, and what the launch event carries of a session.
ROLLOUT_FIELDS = ("program", "city_name", "province", "venue", "starts_on", "ends_on", "committee_name",
                  "committee_email", "author", "editor") + events.NARRATIVE_FIELDS
SESSION_FIELDS = ("key", "day", "date", "title", "audience", "opened_by", "topics", "capacity", "quotas", "summary")
ANNOUNCED_SESSION_FIELDS = ("key", "day", "date", "title", "audience", "opened_by", "topics", "summary")


def get_rollout(uow: RegistrationUnitOfWork, rollout_id: int, cities: Cities = None) -> Rollout:
    """The rollout, if it exists in one of ``cities`` (None: any city); another city's reads as absent."""
    rollout = uow.rollouts.get(rollout_id)
    if rollout is None or (cities is not None and rollout.city not in cities):
        raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
    return rollout


def open_rollout(uow: RegistrationUnitOfWork, rollout_id: int, cities: Cities = None) -> Rollout:
    """The rollout, if it takes registrations: launched or running, registration open."""
    rollout = get_rollout(uow, rollout_id, cities)
    if rollout.status not in ("launched", "running") or not rollout.registration_open:
        state = rollout.status if rollout.registration_open else "closed for registration"
        raise Conflict(f"rollout {rollout_id} is {state}; registration needs a launched rollout "
                       "with registration open", field="rollout_id")
    return rollout


def session_for(rollout: Rollout, category: str) -> Session:
    """The session a category attends in this rollout."""
    audience = audience_of(category)
    for session in rollout.sessions:
        if session.audience == audience:
            return session
    raise InvalidInput(f"category: rollout {rollout.id} has no session for {audience}",
                       fields={"category": [f"the rollout has no session for {audience}"]})


def refuse_dates(problems: dict[str, Any]) -> None:
    """InvalidInput naming each field whose date cannot stand, if there is one."""
    if problems:
        raise InvalidInput(describe_fields(problems), fields=problems)


def plan_rollout(command: PlanRollout, uow: RegistrationUnitOfWork) -> Rollout:
    """A rollout in draft, with its agenda; nothing is announced yet.

    Its dates are checked here too, not only by the API's schema: a clone's are
    computed from its template's.
    """
    on = today()
    implausible = {name: [problem] for name, day in (("starts_on", command.starts_on), ("ends_on", command.ends_on))
                   if day is not None and (problem := date_problem(day, on))}
    refuse_dates(implausible or agenda_problems(command.starts_on, command.ends_on,
                                                [s.date for s in command.sessions]))
    city = slugify(command.city_name)
    if not city:
        # The slug routes the city's events; a name with no Latin letters or digits has none.
        raise InvalidInput("city_name: needs letters or digits to name the city in routing keys",
                           fields={"city_name": ["needs letters or digits"]})
    if command.cities is not None and city not in command.cities:
        raise Forbidden(f"city_name: you plan rollouts in {', '.join(command.cities)}, not in {city}",
                        field="city_name", city=city)
    rollout = Rollout(
        city=city, status="draft", registration_open=True, program=command.program,
        city_name=command.city_name, province=command.province, venue=command.venue,
        starts_on=command.starts_on, ends_on=command.ends_on, committee_name=command.committee_name,
        committee_email=command.committee_email, author=command.author, editor=command.editor,
        **{name: command.narrative.get(name) for name in events.NARRATIVE_FIELDS},
    )
    rollout.sessions = [Session(key=s.key, day=s.day, date=s.date, title=s.title, audience=s.audience,
                                opened_by=s.opened_by, topics=list(s.topics), capacity=s.capacity,
                                quotas=list(s.quotas), summary=s.summary)
                        for s in command.sessions]
    uow.rollouts.add(rollout)
    return rollout


def fields_of(rollout: Rollout) -> dict[str, Any]:
    """The rollout's fields and its sessions', as the API names them."""
    return {**{name: getattr(rollout, name) for name in ROLLOUT_FIELDS},
            "sessions": [{name: getattr(s, name) for name in SESSION_FIELDS} for s in rollout.sessions]}


def clone_rollout(command: CloneRollout, uow: RegistrationUnitOfWork) -> Rollout:
    """A draft with what the template shares with the program (``rules.cloned_fields``), and with its
    city's fields when it is in the same city; the fields given (venue, committee...) win."""
    template = get_rollout(uow, command.template_id, command.cities)
    same_city = slugify(command.city_name) == template.city
    kept = cloned_fields(fields_of(template), command.starts_on, same_city)
    sessions = tuple(SessionPlan(**s) for s in kept.pop("sessions"))
    given = {name: getattr(command, name) for name in ("program",) + CITY_FIELDS if getattr(command, name)}
    plan = {name: kept.pop(name, None) for name in ("program", "starts_on", "ends_on", "author", "editor")
            + CITY_FIELDS}
    return plan_rollout(PlanRollout(**{**plan, **given}, city_name=command.city_name, sessions=sessions,
                                    narrative=kept, cities=command.cities), uow)


def show_rollout(query: ShowRollout, uow: RegistrationUnitOfWork) -> Rollout:
    return get_rollout(uow, query.rollout_id, query.cities)


def list_rollouts(query: ListRollouts, uow: RegistrationUnitOfWork) -> PageOf[Rollout]:
    return uow.rollouts.list(program=query.program, status=query.status,
                             city=slugify(query.city) if query.city else None, cities=query.cities, page=query.page)


def _step(rollout: Rollout, allowed_from: tuple[str, ...], to: str) -> None:
    if rollout.status not in allowed_from:
        raise Conflict(f"rollout {rollout.id} is {rollout.status}; only a rollout that is "
                       f"{' or '.join(allowed_from)} can become {to}", field="status")


def _announced_sessions(rollout: Rollout) -> list[dict[str, Any]]:
    return [{name: getattr(s, name) for name in ANNOUNCED_SESSION_FIELDS} for s in rollout.sessions]


def _announce_update(uow: RegistrationUnitOfWork, rollout: Rollout, changed: list[str]) -> None:
    """``rollout_updated`` naming what changed, with the narrative fields edited (and every session,
    when a session's announced fields changed), so the report follows."""
    carried: dict[str, Any] = {name: getattr(rollout, name) for name in changed
                               if name in events.NARRATIVE_FIELDS or name in events.COVER_FIELDS}
    if any(name.split(".")[-1] in ANNOUNCED_SESSION_FIELDS for name in changed if name.startswith("sessions.")):
        carried["sessions"] = _announced_sessions(rollout)
    uow.emit(events.ROLLOUT_UPDATED, rollout.city, rollout_id=rollout.id, status=rollout.status, changed=changed,
             **carried)


def launch_rollout(command: LaunchRollout, uow: RegistrationUnitOfWork) -> Rollout:
    """Announce the rollout, whole: agenda, committee's city, the report's narrative.

    Refused (Conflict) while it lacks what its committee and report need, every such field named.
    """
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    if rollout.status != "draft":
        raise Conflict(f"rollout {rollout.id} is {rollout.status}, only a draft can be launched", field="status")
    missing = missing_for_launch(fields_of(rollout))
    if missing:
        raise Conflict(f"rollout {rollout.id} cannot be launched before it has {', '.join(missing)} "
                       "(the committee and the report need them)",
                       fields={name: ["needed to launch"] for name in missing})
    rollout.status = "launched"
    uow.emit(
        events.ROLLOUT_LAUNCHED, rollout.city,
        rollout_id=rollout.id, program=rollout.program, city_name=rollout.city_name,
        province=rollout.province, venue=rollout.venue,
        starts_on=rollout.starts_on, ends_on=rollout.ends_on,
        author=rollout.author, editor=rollout.editor,
        sessions=_announced_sessions(rollout),
        **{name: getattr(rollout, name) for name in events.NARRATIVE_FIELDS},
    )
    return rollout


def start_rollout(command: StartRollout, uow: RegistrationUnitOfWork) -> Rollout:
    """The first day has come: the rollout is running."""
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    _step(rollout, ("launched",), "running")
    rollout.status = "running"
    _announce_update(uow, rollout, ["status"])
    return rollout


def complete_rollout(command: CompleteRollout, uow: RegistrationUnitOfWork) -> Rollout:
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    _step(rollout, ("running",), "completed")
    rollout.status = "completed"
    rollout.registration_open = False
    rollout.completed_at = datetime.now(timezone.utc)  # its personal data is kept RETENTION_DAYS from now
    _announce_update(uow, rollout, ["status"])
    return rollout


def cancel_rollout(command: CancelRollout, uow: RegistrationUnitOfWork) -> Rollout:
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    _step(rollout, ("draft", "launched", "running"), "cancelled")
    rollout.status = "cancelled"
    rollout.registration_open = False
    rollout.cancel_reason = command.reason
    uow.emit(events.ROLLOUT_CANCELLED, rollout.city, rollout_id=rollout.id, reason=command.reason)
    return rollout


def close_registration(command: CloseRegistration, uow: RegistrationUnitOfWork) -> Rollout:
    rollout = open_rollout(uow, command.rollout_id, command.cities)
    rollout.registration_open = False
    uow.emit(events.REGISTRATION_CLOSED, rollout.city, rollout_id=rollout.id,
             participant_count=uow.participants.count_registered(rollout.id))
    return rollout


def _checked_session_edits(rollout: Rollout,
                           edits: Iterable[Mapping[str, Any]]) -> list[tuple[Session, Mapping[str, Any]]]:
    """Each session edit with its session; refused whole if one names no session or breaks a quota rule."""
    sessions = {s.key: s for s in rollout.sessions}
    checked = []
    for index, edit in enumerate(edits):
        session = sessions.get(edit["key"])
        if session is None:
            raise InvalidInput(f"sessions.{index}.key: rollout {rollout.id} has no session {edit['key']}",
                               fields={"sessions": {index: {"key": ["no such session"]}}})
        problem = quota_problem(session.audience, edit["quotas"]) if "quotas" in edit else None
        if problem:
            raise InvalidInput(f"sessions.{index}.quotas: {problem}",
                               fields={"sessions": {index: {"quotas": [problem]}}})
        checked.append((session, edit))
    return checked


def _check_edited_dates(rollout: Rollout, changes: Mapping[str, Any],
                        session_edits: list[tuple[Session, Mapping[str, Any]]]) -> None:
    """Refuse an edit whose dates would not hold together: the end before the start, a session outside.

    A session the edit moves is named where the edit gave its date (``sessions.<i>.date``);
    one it leaves where it was, under the rollout date that moved past it.
    """
    dated = {session.key: (index, edit["date"]) for index, (session, edit) in enumerate(session_edits)
             if "date" in edit}
    if not dated and "starts_on" not in changes and "ends_on" not in changes:
        return  # dates untouched: an older rollout's agenda is not judged again
    starts_on = changes.get("starts_on", rollout.starts_on)
    ends_on = changes.get("ends_on", rollout.ends_on)
    days = [dated.get(session.key, (None, session.date))[1] for session in rollout.sessions]
    found = agenda_problems(starts_on, ends_on, days)
    problems: dict[str, Any] = {k: v for k, v in found.items() if k != "sessions"}
    for position, problem in found.get("sessions", {}).items():
        session = rollout.sessions[position]
        if session.key in dated:
            problems.setdefault("sessions", {})[dated[session.key][0]] = problem
        else:
            moved = "starts_on" if session.date < starts_on else "ends_on"  # a dated rollout, a dated session
            problems.setdefault(moved, []).append(f"session {session.key} on {session.date.isoformat()} "
                                                  "would fall outside the rollout's dates")
    refuse_dates(problems)


def edit_rollout(command: EditRollout, uow: RegistrationUnitOfWork) -> Rollout:
    """Change what the committee re-planned; announces the names of the fields that changed.

    A larger capacity or quota gives waitlisted people their places.
    """
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    if rollout.status in ("completed", "cancelled"):
        raise Conflict(f"rollout {rollout.id} is {rollout.status} and can no longer be edited", field="status")
    session_edits = _checked_session_edits(rollout, command.sessions)
    _check_edited_dates(rollout, command.changes, session_edits)
    if rollout.status != "draft":
        _keeps_what_the_launch_needed(rollout, command.changes, session_edits)

    changed = []
    for name, value in command.changes.items():
        if getattr(rollout, name) != value:
            setattr(rollout, name, value)
            changed.append(name)
    grown = []
    for session, edit in session_edits:
        for name in SESSION_EDITABLE:
            if name in edit and getattr(session, name) != edit[name]:
                setattr(session, name, edit[name])
                changed.append(f"sessions.{session.key}.{name}")
                if name in ("capacity", "quotas"):
                    grown.append(session)
    if changed and rollout.status != "draft":  # a draft is planned silently: its launch carries it whole
        _announce_update(uow, rollout, changed)
    for session in dict.fromkeys(grown):
        participants.fill_places(uow, rollout, session)
    return rollout


def _keeps_what_the_launch_needed(rollout: Rollout, changes: Mapping[str, Any],
                                  session_edits: list[tuple[Session, Mapping[str, Any]]]) -> None:
    """Refuse an edit that would empty, in a launched rollout, a field its launch needed."""
    edited = {**fields_of(rollout), **changes}
    by_key = {session.key: edit for session, edit in session_edits}
    edited["sessions"] = [{**s, **by_key.get(s["key"], {})} for s in edited["sessions"]]
    emptied = [name for name in missing_for_launch(edited) if name not in missing_for_launch(fields_of(rollout))]
    if emptied:
        raise InvalidInput(f"{', '.join(emptied)}: a launched rollout keeps what its committee and report need",
                           fields={name: ["must not be emptied once launched"] for name in emptied})


def check_targets(command: CheckTargets, uow: RegistrationUnitOfWork) -> list[dict[str, Any]]:
    """Categories short of the committee's minimum in sessions starting within ``within_days``.

    Each gap is announced (``target_gap.<city>``) at most once a day, so the
    check can run as often as wanted.
    """
    rollout = get_rollout(uow, command.rollout_id, command.cities)
    if rollout.status not in ("launched", "running"):
        return []
    today = command.today or date.today()
    places = Places(uow.participants.places_taken(rollout.id))
    gaps = []
    for session in rollout.sessions:
        if session.date is None or not 0 <= (session.date - today).days <= command.within_days:  # dated once launched
            continue
        for quota in session.quotas or []:
            category, minimum = quota["category"], quota.get("minimum", 0)
            registered = places.of(session.id, category)
            if registered >= minimum:
                continue
            announced_before = uow.gap_alerts.announced(session.id, category, today)
            if not announced_before:
                uow.gap_alerts.add(TargetGapAlert(session_id=session.id, category=category, on_date=today,
                                                  registered=registered))
                uow.emit(events.TARGET_GAP, rollout.city, rollout_id=rollout.id, session_key=session.key,
                         category=category, minimum=minimum, registered=registered, session_date=session.date)
            gaps.append({"session_key": session.key, "session_date": session.date, "category": category,
                         "minimum": minimum, "registered": registered, "announced": not announced_before})
    return gaps


def rollouts_to_check(uow: RegistrationUnitOfWork) -> list[int]:
    """The rollouts whose targets the hourly check looks at."""
    return uow.rollouts.open_ids()
