"""Registration rules, in plain Python over a unit of work (no nameko here)."""
import csv
import io
import json
import re
import secrets
import unicodedata
import uuid
import zipfile
from datetime import date, datetime, timezone
from types import SimpleNamespace
from xml.etree import ElementTree

from marshmallow import ValidationError
from sqlalchemy import func, insert, select

from services.registration.models import CheckIn, Participant, Rollout, Session, TargetGapAlert
from services.registration.schemas import (
    CATEGORY_LABELS, CancelIn, CheckInIn, CloneIn, ParticipantIn, RolloutEdit, RolloutIn,
    TargetCheckIn, audience_of, check_quotas, is_minor,
)
from shared import events
from shared.database import OutboxMessage
from shared.commands import validated
from shared.errors import Conflict, InvalidInput, NotFound
from shared.turns import SLICE, taking_turns

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read aloud


def slugify(name):
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def normalised(text):
    """'  Dédé   KURNIAWAN ' -> 'dede kurniawan': how people type the same name differently."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return " ".join(ascii_text.casefold().split())


def person_key(city, full_name, organisation):
    return f"{city}|{normalised(full_name)}|{normalised(organisation)}"


def plan_rollout(uow, data):
    """A rollout in draft, with its agenda; nothing is announced yet."""
    data = validated(RolloutIn(), data)
    city = slugify(data["city_name"])
    if not city:
        # The slug routes the city's events; a name with no Latin letters or digits has none.
        raise InvalidInput("city_name: needs letters or digits to name the city in routing keys",
                           fields={"city_name": ["needs letters or digits"]})
    sessions = data.pop("sessions")
    rollout = Rollout(city=city, status="draft", registration_open=True, **data)
    rollout.sessions = [Session(**s) for s in sessions]
    uow.session.add(rollout)
    uow.session.flush()
    return rollout


def clone_rollout(uow, template_id, data):
    """A draft for another city with the template's agenda, days kept apart as they were."""
    template = get_rollout(uow.session, template_id)
    data = validated(CloneIn(), data)
    shift = data["starts_on"] - template.starts_on
    planned = {
        "program": data.get("program") or template.program,
        "city_name": data["city_name"], "province": data["province"], "venue": data["venue"],
        "starts_on": data["starts_on"].isoformat(), "ends_on": (template.ends_on + shift).isoformat(),
        "committee_name": data["committee_name"], "committee_email": data["committee_email"],
        "author": template.author, "editor": template.editor,
        "sessions": [{
            "key": s.key, "day": s.day, "date": (s.date + shift).isoformat(), "title": s.title,
            "audience": s.audience, "opened_by": s.opened_by, "topics": s.topics,
            "capacity": s.capacity, "quotas": s.quotas,
        } for s in template.sessions],
    }
    if not planned["committee_name"]:
        planned.pop("committee_name")
    return plan_rollout(uow, planned)


def get_rollout(session, rollout_id):
    rollout = session.get(Rollout, rollout_id)
    if rollout is None:
        raise NotFound(f"rollout {rollout_id} does not exist", field="rollout_id")
    return rollout


def list_rollouts(session, program=None, status=None, city=None):
    query = select(Rollout).order_by(Rollout.starts_on, Rollout.id)
    if program:
        query = query.where(Rollout.program == program)
    if status:
        query = query.where(Rollout.status == status)
    if city:
        query = query.where(Rollout.city == slugify(city))
    return session.scalars(query).all()


def _step(rollout, allowed_from, to):
    if rollout.status not in allowed_from:
        raise Conflict(f"rollout {rollout.id} is {rollout.status}; only a rollout that is "
                       f"{' or '.join(allowed_from)} can become {to}", field="status")


def _rollout_updated(uow, rollout, changed):
    uow.emit(events.ROLLOUT_UPDATED, rollout.city, rollout_id=rollout.id, status=rollout.status,
             changed=changed)


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


def start_rollout(uow, rollout_id):
    """The first day has come: the rollout is running."""
    rollout = get_rollout(uow.session, rollout_id)
    _step(rollout, ("launched",), "running")
    rollout.status = "running"
    _rollout_updated(uow, rollout, ["status"])
    return rollout


def complete_rollout(uow, rollout_id):
    rollout = get_rollout(uow.session, rollout_id)
    _step(rollout, ("running",), "completed")
    rollout.status = "completed"
    rollout.registration_open = False
    _rollout_updated(uow, rollout, ["status"])
    return rollout


def cancel_rollout(uow, rollout_id, data):
    rollout = get_rollout(uow.session, rollout_id)
    data = validated(CancelIn(), data or {})
    _step(rollout, ("draft", "launched", "running"), "cancelled")
    rollout.status = "cancelled"
    rollout.registration_open = False
    rollout.cancel_reason = data["reason"]
    uow.emit(events.ROLLOUT_CANCELLED, rollout.city, rollout_id=rollout.id, reason=data["reason"])
    return rollout


SESSION_EDITABLE = ("date", "title", "opened_by", "topics", "capacity", "quotas")


def edit_rollout(uow, rollout_id, data):
    """Change what the committee re-planned; announces the names of the fields that changed."""
    rollout = get_rollout(uow.session, rollout_id)
    data = validated(RolloutEdit(), data)
    if rollout.status in ("completed", "cancelled"):
        raise Conflict(f"rollout {rollout_id} is {rollout.status} and can no longer be edited", field="status")
    changed = []
    session_edits = data.pop("sessions", [])
    for field, value in data.items():
        if getattr(rollout, field) != value:
            setattr(rollout, field, value)
            changed.append(field)
    sessions = {s.key: s for s in rollout.sessions}
    grown = []
    for index, edit in enumerate(session_edits):
        session = sessions.get(edit["key"])
        if session is None:
            raise InvalidInput(f"sessions.{index}.key: rollout {rollout.id} has no session {edit['key']}",
                               fields={"sessions": {index: {"key": ["no such session"]}}})
        if "quotas" in edit:
            try:
                check_quotas(session.audience, edit["quotas"])
            except ValidationError as exc:
                raise InvalidInput(f"sessions.{index}.quotas: {' '.join(exc.messages)}",
                                   fields={"sessions": {index: {"quotas": exc.messages}}})
        for field in SESSION_EDITABLE:
            if field in edit and getattr(session, field) != edit[field]:
                setattr(session, field, edit[field])
                changed.append(f"sessions.{session.key}.{field}")
                if field in ("capacity", "quotas"):
                    grown.append(session)
    if rollout.ends_on < rollout.starts_on:
        raise InvalidInput("ends_on: must not be before starts_on",
                           fields={"ends_on": ["must not be before starts_on"]})
    if not changed:
        return rollout
    uow.session.flush()
    _rollout_updated(uow, rollout, changed)
    for session in dict.fromkeys(grown):
        _fill_places(uow, rollout, session)
    return rollout


# --- participants -------------------------------------------------------------

def _open_rollout(session, rollout_id):
    rollout = get_rollout(session, rollout_id)
    if rollout.status not in ("launched", "running") or not rollout.registration_open:
        state = rollout.status if rollout.registration_open else "closed for registration"
        raise Conflict(f"rollout {rollout_id} is {state}; registration needs a launched rollout "
                       "with registration open", field="rollout_id")
    return rollout


def _session_for(rollout, category):
    audience = audience_of(category)
    for session in rollout.sessions:
        if session.audience == audience:
            return session
    raise InvalidInput(f"category: rollout {rollout.id} has no session for {audience}",
                       fields={"category": [f"the rollout has no session for {audience}"]})


def _new_code(rollout):
    bits = secrets.randbits(30)  # six letters of 32 (5 bits each)
    return f"{rollout.city[:3].upper()}-" + "".join(CODE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(6))


class Places:
    """Who holds a place in each session, by category: decides registered or waitlisted."""

    def __init__(self, db_session, rollout):
        self.taken = {}
        rows = db_session.execute(
            select(Participant.session_id, Participant.category, func.count())
            .where(Participant.rollout_id == rollout.id, Participant.status == "registered")
            .group_by(Participant.session_id, Participant.category))
        for session_id, category, count in rows:
            self.taken[(session_id, category)] = count

    def in_session(self, session):
        return sum(n for (sid, _), n in self.taken.items() if sid == session.id)

    def has_room(self, session, category):
        if session.capacity is not None and self.in_session(session) >= session.capacity:
            return False
        quota = next((q for q in session.quotas or [] if q["category"] == category), None)
        if quota and quota.get("maximum") is not None and self.taken.get((session.id, category), 0) >= quota["maximum"]:
            return False
        return True

    def take(self, session, category):
        self.taken[(session.id, category)] = self.taken.get((session.id, category), 0) + 1


def _live_duplicates(db_session, keys):
    """person_key -> id of the live (not cancelled) registration holding it."""
    found = {}
    keys = list(keys)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found.update(db_session.execute(
            select(Participant.person_key, Participant.id)
            .where(Participant.person_key.in_(chunk), Participant.status != "cancelled")).all())
    return found


def _refuse_duplicate(existing_id):
    raise Conflict(f"already registered as participant {existing_id}", field="full_name",
                   existing_participant_id=existing_id)


def _registered_event(rollout, participant, session_key):
    return dict(
        rollout_id=rollout.id, participant_id=participant.id, participant_code=participant.code,
        session_key=session_key, category=participant.category, minor=participant.minor,
        sex=participant.sex, age_band=participant.age_band, status=participant.status,
    )


def register_participant(uow, rollout_id, data):
    rollout = _open_rollout(uow.session, rollout_id)
    data = validated(ParticipantIn(), data)
    session = _session_for(rollout, data["category"])
    key = person_key(rollout.city, data["full_name"], data.get("organisation"))
    existing = _live_duplicates(uow.session, [key])
    if existing:
        _refuse_duplicate(existing[key])
    places = Places(uow.session, rollout)
    minor = is_minor(data["category"], data.get("age_band"))
    if minor and not data.get("consent_at"):
        data["consent_at"] = datetime.now(timezone.utc)
    participant = Participant(
        rollout_id=rollout.id, session_id=session.id, code=_new_code(rollout), minor=minor,
        person_key=key, status="registered" if places.has_room(session, data["category"]) else "waitlisted",
        **data,
    )
    participant.session = session
    uow.session.add(participant)
    uow.session.flush()
    uow.emit(events.PARTICIPANT_REGISTERED, rollout.city, **_registered_event(rollout, participant, session.key))
    return participant


def get_participant(db_session, rollout_id, participant_id):
    get_rollout(db_session, rollout_id)
    participant = db_session.get(Participant, participant_id)
    if participant is None or participant.rollout_id != rollout_id:
        raise NotFound(f"participant {participant_id} is not registered for rollout {rollout_id}",
                       field="participant_id")
    return participant


PARTICIPANT_FIELDS = ("full_name", "category", "organisation", "sex", "age_band", "email", "phone",
                      "consent_by", "consent_at")


def edit_participant(uow, rollout_id, participant_id, data):
    """Correct a registration; the rules of a new one apply to the result."""
    rollout = get_rollout(uow.session, rollout_id)
    participant = get_participant(uow.session, rollout_id, participant_id)
    if not isinstance(data, dict) or not data:
        raise InvalidInput("The body must name at least one field to change.", fields={"body": ["nothing to change"]})
    unknown = sorted(set(data) - set(PARTICIPANT_FIELDS))
    if unknown:
        raise InvalidInput(f"{', '.join(unknown)}: Unknown field.", fields={f: ["Unknown field."] for f in unknown})
    if participant.status == "cancelled" or rollout.status in ("completed", "cancelled"):
        raise Conflict(f"participant {participant_id} can no longer be changed", field="participant_id")
    current = {f: getattr(participant, f) for f in PARTICIPANT_FIELDS}
    consent_at = current["consent_at"]
    if consent_at is not None and consent_at.tzinfo is None:
        consent_at = consent_at.replace(tzinfo=timezone.utc)  # SQLite keeps no zone; it was stored as UTC
    current["consent_at"] = consent_at.isoformat() if consent_at else None
    merged = validated(ParticipantIn(), {**current, **data})
    if audience_of(merged["category"]) != participant.session.audience:
        raise InvalidInput("category: a change of audience is a new registration for the other session",
                           fields={"category": [f"must stay a category of {participant.session.audience}"]})
    key = person_key(rollout.city, merged["full_name"], merged.get("organisation"))
    if key != participant.person_key:
        existing = _live_duplicates(uow.session, [key])
        if existing:
            _refuse_duplicate(existing[key])
    changed = [f for f in PARTICIPANT_FIELDS if f in data and getattr(participant, f) != merged[f]]
    for field in changed:
        setattr(participant, field, merged[field])
    participant.person_key = key
    participant.minor = is_minor(participant.category, participant.age_band)
    if participant.minor and participant.consent_at is None:
        participant.consent_at = datetime.now(timezone.utc)
    if changed:
        uow.session.flush()
        # Field names only: what changed in a child's record is nobody else's business.
        uow.emit(events.PARTICIPANT_UPDATED, rollout.city, category=participant.category, changed=changed,
                 **_change_event(rollout, participant))
    return participant


def _change_event(rollout, participant):
    return dict(rollout_id=rollout.id, participant_id=participant.id,
                participant_code=participant.code, session_key=participant.session.key)


def cancel_participant(uow, rollout_id, participant_id):
    """The participant gives up the place; the first on the waitlist who fits gets it."""
    rollout = get_rollout(uow.session, rollout_id)
    participant = get_participant(uow.session, rollout_id, participant_id)
    if participant.status == "cancelled":
        raise Conflict(f"participant {participant_id} is already cancelled", field="participant_id")
    if rollout.status in ("completed", "cancelled"):
        raise Conflict(f"rollout {rollout_id} is {rollout.status}", field="rollout_id")
    held_a_place = participant.status == "registered"
    participant.status = "cancelled"
    uow.session.flush()
    uow.emit(events.PARTICIPANT_CANCELLED, rollout.city, **_change_event(rollout, participant))
    if held_a_place:
        _fill_places(uow, rollout, participant.session)
    return participant


def _fill_places(uow, rollout, session):
    """Promote waitlisted participants, first come first served, while places are free."""
    places = Places(uow.session, rollout)
    waiting = uow.session.scalars(
        select(Participant).where(Participant.session_id == session.id, Participant.status == "waitlisted")
        .order_by(Participant.id)).all()
    promoted = []
    for candidate in waiting:
        if places.has_room(session, candidate.category):
            candidate.status = "registered"
            places.take(session, candidate.category)
            promoted.append(candidate)
            uow.emit(events.PARTICIPANT_PROMOTED, rollout.city, **_change_event(rollout, candidate))
    return promoted


def check_in(uow, rollout_id, participant_id, data=None):
    """The participant came, on their session's day."""
    rollout = get_rollout(uow.session, rollout_id)
    data = validated(CheckInIn(), data or {})
    participant = get_participant(uow.session, rollout_id, participant_id)
    session = participant.session
    if rollout.status not in ("launched", "running"):
        raise Conflict(f"rollout {rollout_id} is {rollout.status}; check-in needs it launched or running",
                       field="rollout_id")
    if participant.status != "registered":
        raise Conflict(f"participant {participant_id} is {participant.status}, without a place to check in to",
                       field="participant_id")
    if data.get("session_key", session.key) != session.key:
        raise InvalidInput(f"session_key: participant {participant_id} attends {session.key}",
                           fields={"session_key": [f"the participant attends {session.key}"]})
    day = data.get("day", session.day)
    if day != session.day:
        raise InvalidInput(f"day: session {session.key} is on day {session.day}",
                           fields={"day": [f"session {session.key} is on day {session.day}"]})
    already = uow.session.scalar(select(CheckIn).where(CheckIn.participant_id == participant.id, CheckIn.day == day))
    if already is not None:
        raise Conflict(f"participant {participant_id} already checked in on day {day}", field="day")
    record = CheckIn(participant_id=participant.id, session_id=session.id, day=day,
                     checked_in_at=datetime.now(timezone.utc))
    uow.session.add(record)
    uow.session.flush()
    uow.emit(events.PARTICIPANT_CHECKED_IN, rollout.city, day=day, **_change_event(rollout, participant))
    return {"participant_id": participant.id, "code": participant.code, "session_key": session.key,
            "day": day, "checked_in_at": record.checked_in_at}


def check_targets(uow, rollout_id, data=None):
    """Categories short of the committee's minimum in sessions starting within ``within_days``.

    Each gap is announced (``target_gap.<city>``) at most once a day, so the
    check can run as often as wanted.
    """
    rollout = get_rollout(uow.session, rollout_id)
    data = validated(TargetCheckIn(), data or {})
    today = data.get("today") or date.today()
    places = Places(uow.session, rollout)
    gaps = []
    if rollout.status not in ("launched", "running"):
        return gaps
    for session in rollout.sessions:
        if not 0 <= (session.date - today).days <= data["within_days"]:
            continue
        for quota in session.quotas or []:
            registered = places.taken.get((session.id, quota["category"]), 0)
            if registered >= quota.get("minimum", 0):
                continue
            seen = uow.session.scalar(select(TargetGapAlert).where(
                TargetGapAlert.session_id == session.id, TargetGapAlert.category == quota["category"],
                TargetGapAlert.on_date == today))
            if seen is None:
                uow.session.add(TargetGapAlert(session_id=session.id, category=quota["category"],
                                               on_date=today, registered=registered))
                uow.emit(events.TARGET_GAP, rollout.city, rollout_id=rollout.id, session_key=session.key,
                         category=quota["category"], minimum=quota["minimum"], registered=registered,
                         session_date=session.date)
            gaps.append({"session_key": session.key, "session_date": session.date,
                         "category": quota["category"], "minimum": quota["minimum"],
                         "registered": registered, "announced": seen is None})
    return gaps


def rollouts_to_check(db_session):
    return db_session.scalars(select(Rollout.id).where(Rollout.status.in_(("launched", "running")))).all()


# --- files --------------------------------------------------------------------

CSV_COLUMNS = ("full_name", "category", "organisation", "sex", "age_band", "email", "phone",
               "consent_by", "consent_at")
REQUIRED_COLUMNS = ("full_name", "category")


class SheetRows(list):
    """Checked participant rows, with ``lines``: each row's line in the file (the header is 1)."""

    def __init__(self, rows=(), lines=()):
        super().__init__(rows)
        self.lines = list(lines)


def _check_header(header):
    unknown = [c for c in header if c not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing or unknown:
        problem = "columns full_name and category are required" + (
            f"; unknown columns {', '.join(unknown)}" if unknown else "")
        raise InvalidInput(
            "The file's header must name the columns " + ", ".join(CSV_COLUMNS)
            + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            rows=[{"line": 1, "field": "header", "problem": problem}])


def _checked_rows(numbered_rows):
    """Load every (line, row); any problem anywhere refuses the file, listing them all."""
    schema = ParticipantIn()
    rows, lines, problems = [], [], []
    for line, row in taking_turns(numbered_rows):
        try:
            rows.append(schema.load(row))
            lines.append(line)
        except ValidationError as exc:
            for field, messages in sorted(exc.messages.items()):
                if isinstance(messages, dict):
                    messages = [f"{k}: {v}" for k, v in messages.items()]
                problems.append({"line": line, "field": field, "problem": " ".join(map(str, messages))})
    if problems:
        _refuse_file(problems)
    if not rows:
        raise InvalidInput("The file has no participant rows.", rows=[{"line": 2, "field": "full_name",
                                                                       "problem": "no rows"}])
    return SheetRows(rows, lines)


def _refuse_file(problems):
    first = problems[0]
    raise InvalidInput(
        f"{len(problems)} problem(s) in the file, nothing was imported; "
        f"first: line {first['line']}, {first['field']}: {first['problem']}",
        rows=problems,
    )


def read_participant_csv(text):
    """Rows of a participant CSV, checked; any bad row refuses the whole file.

    Each problem names its line (the header is line 1) and field.
    """
    reader = csv.DictReader(io.StringIO(text))
    _check_header(reader.fieldnames or [])

    def numbered():
        for row in reader:
            if not any((v or "").strip() for k, v in row.items() if k is not None):
                continue  # a blank line is not a participant
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}
    return _checked_rows(numbered())


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_xlsx(data):
    return data[:4] == b"PK\x03\x04"


SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONS_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _first_sheet(book):
    """The path inside the workbook of its first sheet, as the workbook lists them."""
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    first = workbook.find(f"{SHEET_NS}sheets/{SHEET_NS}sheet")
    relations = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target") for r in relations if r.get("Id") == first.get(f"{RELATIONS_NS}id"))
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _column(reference):
    number = 0
    for letter in reference:
        if not letter.isalpha():
            break
        number = number * 26 + ord(letter.upper()) - 64
    return number - 1


def _sheet_rows(data):
    """(line, [cell text or None, ...]) of an XLSX workbook's first sheet.

    Read straight from its XML: openpyxl builds a typed, styled cell for each
    value and takes several times longer on a file of 20,000 rows.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        shared = []
        if "xl/sharedStrings.xml" in book.namelist():
            for _, item in ElementTree.iterparse(book.open("xl/sharedStrings.xml")):
                if item.tag == f"{SHEET_NS}si":
                    # Plain text, or rich-text runs (phonetic hints left out)
                    shared.append("".join(t.text or "" for t in item.iterfind(f"{SHEET_NS}t"))
                                  + "".join(t.text or "" for t in item.iterfind(f"{SHEET_NS}r/{SHEET_NS}t")))
                    item.clear()
        line = 0
        for _, row in ElementTree.iterparse(book.open(_first_sheet(book))):
            if row.tag != f"{SHEET_NS}row":
                continue
            line = int(row.get("r") or line + 1)
            values = {}
            for position, cell in enumerate(row.iterfind(f"{SHEET_NS}c")):
                kind, value = cell.get("t"), cell.findtext(f"{SHEET_NS}v")
                if kind == "s" and value is not None:
                    value = shared[int(value)]
                elif kind == "inlineStr":
                    value = "".join(t.text or "" for t in cell.iter(f"{SHEET_NS}t"))
                elif kind in (None, "n") and value is not None and value.endswith(".0"):
                    value = value[:-2]
                reference = cell.get("r")
                values[_column(reference) if reference else position] = value
            row.clear()
            yield line, [values.get(i) for i in range(max(values) + 1)] if values else []


def read_participant_xlsx(data):
    """Rows of the first sheet of an XLSX workbook, checked like a CSV file.

    Cells are read as text: a consent date is written as text (2019-04-20T09:00+07:00).
    """
    try:
        rows = _sheet_rows(data)
        _, header = next(rows, (1, []))
        header = [(name or "").strip() for name in header]
        while header and not header[-1]:
            header.pop()
        _check_header(header)

        def numbered():
            for line, values in rows:
                if all(v is None or not v.strip() for v in values):
                    continue
                yield line, {name: v for name, v in zip(header, values) if name}
        return _checked_rows(numbered())
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, StopIteration, ElementTree.ParseError) as exc:
        raise InvalidInput(f"The file is not a readable XLSX workbook ({exc.__class__.__name__}).",
                           fields={"body": ["not a readable XLSX workbook"]})


def read_participant_file(data):
    """CSV (UTF-8) or XLSX, told apart by their first bytes."""
    if is_xlsx(data):
        return read_participant_xlsx(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file must be UTF-8 encoded CSV or an XLSX workbook.", fields={"body": ["not UTF-8"]})
    return read_participant_csv(text)


def import_participants(uow, rollout_id, rows):
    """Register every row of a checked file in one transaction, or none.

    Rows go in with bulk inserts (participants, then their events' outbox
    rows): one statement per batch instead of one per participant.
    """
    rollout = _open_rollout(uow.session, rollout_id)
    lines = getattr(rows, "lines", None) or list(range(2, len(rows) + 2))
    problems, keys, first_line = [], [], {}
    sessions = {}
    for line, row in taking_turns(zip(lines, rows)):
        try:
            sessions[line] = _session_for(rollout, row["category"])
        except InvalidInput as exc:
            problems.append({"line": line, "field": "category", "problem": exc.message})
        key = person_key(rollout.city, row["full_name"], row.get("organisation"))
        keys.append(key)
        if key in first_line:
            problems.append({"line": line, "field": "full_name",
                             "problem": f"the same person as line {first_line[key]}"})
        else:
            first_line[key] = line
    existing = _live_duplicates(uow.session, first_line)
    for line, key in zip(lines, keys):
        if key in existing and first_line[key] == line:
            problems.append({"line": line, "field": "full_name",
                             "problem": f"already registered as participant {existing[key]}",
                             "existing_participant_id": existing[key]})
    if problems:
        problems.sort(key=lambda p: p["line"])
        _refuse_file(problems)

    places = Places(uow.session, rollout)
    codes = _unused_codes(uow.session, rollout, len(rows))
    now = datetime.now(timezone.utc)
    values = []
    for row, line, key, code in taking_turns(zip(rows, lines, keys, codes)):
        session = sessions[line]
        minor = is_minor(row["category"], row.get("age_band"))
        status = "registered" if places.has_room(session, row["category"]) else "waitlisted"
        if status == "registered":
            places.take(session, row["category"])
        values.append({
            **row, "rollout_id": rollout.id, "session_id": session.id, "code": code, "minor": minor,
            "person_key": key, "status": status, "registered_at": now,
            "consent_at": row.get("consent_at") or (now if minor else None),
        })
    # Plain executemany, then the new ids by code: RETURNING row by row is far slower.
    newest = uow.session.scalar(select(func.max(Participant.id)).where(Participant.rollout_id == rollout.id)) or 0
    for start in taking_turns(range(0, len(values), SLICE), every=1):
        uow.session.execute(insert(Participant.__table__), values[start:start + SLICE])
    ids_by_code = dict(uow.session.execute(
        select(Participant.code, Participant.id)
        .where(Participant.rollout_id == rollout.id, Participant.id > newest)).all())
    ids = [ids_by_code[v["code"]] for v in values]
    imported = [SimpleNamespace(id=i, **v) for i, v in zip(ids, values)]
    _emit_registered_in_bulk(uow, rollout, imported, sessions, lines)
    return imported


def _unused_codes(db_session, rollout, count):
    codes = set()
    while len(codes) < count:
        fresh = {_new_code(rollout) for _ in range(count - len(codes))} - codes
        taken = set()
        fresh_list = list(fresh)
        for start in range(0, len(fresh_list), 500):
            taken.update(db_session.scalars(
                select(Participant.code).where(Participant.code.in_(fresh_list[start:start + 500]))))
        codes |= fresh - taken
    return list(codes)


def _emit_registered_in_bulk(uow, rollout, imported, sessions, lines):
    """The outbox rows of ``participant_registered`` for a whole file, in bulk.

    The first payload goes through ``Event.create`` (the event's schema, both
    ways); the others are that payload with each participant's own values,
    which the file's schema already checked: checking each again would double
    the import's time and catch nothing new.
    """
    event = events.PARTICIPANT_REGISTERED
    first = event.create(rollout.city, **_registered_event(rollout, imported[0], sessions[lines[0]].key))
    now = datetime.now(timezone.utc)
    exchange, routing_key = event.exchange, event.routing_key(rollout.city)
    bodies, rows = [], []
    for participant, line in taking_turns(zip(imported, lines)):
        body = first if participant is imported[0] else {
            **first, "event_id": str(uuid.uuid4()),
            **_registered_event(rollout, participant, sessions[line].key)}
        bodies.append(body)
        rows.append({"event_id": body["event_id"], "exchange": exchange, "routing_key": routing_key,
                     "city": rollout.city, "payload": json.dumps(body), "created_at": now, "attempts": 0, "next_attempt_at": now})
    for start in taking_turns(range(0, len(rows), SLICE), every=1):
        uow.session.execute(insert(OutboxMessage.__table__), rows[start:start + SLICE])
    uow.emitted.extend(bodies)


def close_registration(uow, rollout_id):
    rollout = _open_rollout(uow.session, rollout_id)
    rollout.registration_open = False
    count = uow.session.scalar(select(func.count()).where(
        Participant.rollout_id == rollout.id, Participant.status == "registered"))
    uow.emit(events.REGISTRATION_CLOSED, rollout.city, rollout_id=rollout.id, participant_count=count)
    return rollout


def list_participants(session, rollout_id, status=None):
    get_rollout(session, rollout_id)
    query = select(Participant).where(Participant.rollout_id == rollout_id).order_by(Participant.id)
    if status:
        query = query.where(Participant.status == status)
    return session.scalars(query).all()


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
        } for p in list_participants(session, rollout_id, status="registered")],
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
