"""Registration rules, in plain Python over a unit of work (no nameko here)."""
import csv
import io
import re
import secrets
import unicodedata
from datetime import datetime, timezone

from marshmallow import ValidationError
from sqlalchemy import func, select

from services.registration.models import Participant, Rollout, Session
from services.registration.schemas import (
    CATEGORY_LABELS, ParticipantIn, RolloutIn, audience_of, is_minor,
)
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound, describe_fields

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud


def slugify(name):
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def validated(schema, data):
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(describe_fields(exc.messages), fields=exc.messages)


def plan_rollout(uow, data):
    """A rollout in draft, with its agenda; nothing is announced yet."""
    data = validated(RolloutIn(), data)
    city = slugify(data["city_name"])
    if not city:
        # The slug routes the city's events; a name with no Latin letters or digits has none.
        raise InvalidInput("city_name: needs letters or digits to name the city in routing keys",
                           fields={"city_name": ["needs letters or digits"]})
    sessions = data.pop("sessions")
    rollout = Rollout(city=city, status="draft", **data)
    rollout.sessions = [Session(**s) for s in sessions]
    uow.session.add(rollout)
    uow.session.flush()
    return rollout


def get_rollout(session, rollout_id):
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
        raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
    return rollout


def launch_rollout(uow, rollout_id):
    rollout = get_rollout(uow.session, rollout_id)
    if rollout.status != "draft":
        raise Conflict(f"rollout {rollout_id} is {rollout.status}, only a draft can be launched",
                       field="status")
    rollout.status = "launched"
    uow.emit(
        events.ROLLOUT_LAUNCHED, rollout.city,
        rollout_id=rollout.id, program=rollout.program, city_name=rollout.city_name,
        province=rollout.province, venue=rollout.venue,
        starts_on=rollout.starts_on, ends_on=rollout.ends_on,
        author=rollout.author, editor=rollout.editor,
        sessions=[{
            "key": s.key, "day": s.day, "date": s.date, "title": s.title,
            "audience": s.audience, "opened_by": s.opened_by, "topics": s.topics,
        } for s in rollout.sessions],
    )
    return rollout


def _open_rollout(session, rollout_id):
    rollout = get_rollout(session, rollout_id)
    if rollout.status != "launched":
        raise Conflict(f"rollout {rollout_id} is {rollout.status}; registration needs a launched rollout",
                       field="rollout_id")
    return rollout


def _session_for(rollout, category):
    audience = audience_of(category)
    for session in rollout.sessions:
        if session.audience == audience:
            return session
    raise InvalidInput(f"category: rollout {rollout.id} has no session for {audience}",
                       fields={"category": [f"the rollout has no session for {audience}"]})


def _new_code(rollout):
    return f"{rollout.city[:3].upper()}-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def _add_participant(uow, rollout, data):
    session = _session_for(rollout, data["category"])
    minor = is_minor(data["category"], data.get("age_band"))
    participant = Participant(
        rollout_id=rollout.id, session_id=session.id, code=_new_code(rollout), minor=minor,
        consent_at=datetime.now(timezone.utc) if minor else None, **data,
    )
    participant.session = session
    uow.session.add(participant)
    uow.session.flush()
    uow.emit(
        events.PARTICIPANT_REGISTERED, rollout.city,
        rollout_id=rollout.id, participant_id=participant.id, participant_code=participant.code,
        session_key=session.key, category=participant.category, minor=minor,
        sex=participant.sex, age_band=participant.age_band,
    )
    return participant


def register_participant(uow, rollout_id, data):
    rollout = _open_rollout(uow.session, rollout_id)
    return _add_participant(uow, rollout, validated(ParticipantIn(), data))


CSV_COLUMNS = ("full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by")


def read_participant_csv(text):
    """Rows of a participant CSV, checked; any bad row refuses the whole file.

    Each problem names its line (the header is line 1) and field.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if "full_name" not in header or "category" not in header or unknown:
        raise InvalidInput(
            "The file's header must name the columns " + ", ".join(CSV_COLUMNS)
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            rows=[{"line": 1, "field": "header", "problem": "columns full_name and category are required"
                   + (f"; unknown columns {', '.join(unknown)}" if unknown else "")}],
        )
    schema = ParticipantIn()
    rows, problems = [], []
    for row in reader:
        line = reader.line_num
        try:
            rows.append(schema.load({k: v for k, v in row.items() if k is not None}))
        except ValidationError as exc:
            for field, messages in sorted(exc.messages.items()):
                problems.append({"line": line, "field": field, "problem": " ".join(map(str, messages))})
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{len(problems)} problem(s) in the file, nothing was imported; "
            f"first: line {first['line']}, {first['field']}: {first['problem']}",
            rows=problems,
        )
    if not rows:
        raise InvalidInput("The file has no participant rows.", rows=[{"line": 2, "field": "full_name",
                                                                       "problem": "no rows"}])
    return rows


def import_participants(uow, rollout_id, rows):
    rollout = _open_rollout(uow.session, rollout_id)
    return [_add_participant(uow, rollout, row) for row in rows]


def close_registration(uow, rollout_id):
    rollout = _open_rollout(uow.session, rollout_id)
    rollout.status = "registration_closed"
    count = uow.session.scalar(select(func.count()).where(Participant.rollout_id == rollout.id))
    uow.emit(events.REGISTRATION_CLOSED, rollout.city, rollout_id=rollout.id, participant_count=count)
    return rollout


def list_participants(session, rollout_id):
    get_rollout(session, rollout_id)
    return session.scalars(
        select(Participant).where(Participant.rollout_id == rollout_id).order_by(Participant.id)
    ).all()


def committee_list(session, rollout_id):
    """The rollout's committee and its participant list: only what the committee needs."""
    rollout = get_rollout(session, rollout_id)
    return {
        "rollout_id": rollout.id,
        "city": rollout.city,
        "city_name": rollout.city_name,
        "committee_name": rollout.committee_name,
        "committee_email": rollout.committee_email,
        "participants": [{
            "participant_id": p.id,
            "code": p.code,
            "full_name": p.full_name,
            "category": CATEGORY_LABELS[p.category],
            "organisation": p.organisation or "",
            "session": p.session.title,
            "day": p.session.day,
        } for p in list_participants(session, rollout_id)],
    }


def participant_by_code(session, code):
    participant = session.scalar(select(Participant).where(Participant.code == code))
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
