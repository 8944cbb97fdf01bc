"""Participant files (CSV or XLSX) read into lines, and imported all or nothing.

Reading is the edge's part: each line is checked against the schema of a
single registration and becomes an applicant, or problems naming its line
and field.  The import is the handler's: it adds what only the rollout can
tell (a person twice in the file, someone registered already, a category
the rollout has no session for), lists every problem of the file at once,
and writes nothing unless there are none.
"""
import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.etree import ElementTree

from marshmallow import ValidationError

from services.registration import participants, rollouts
from services.registration.commands import Applicant, ImportParticipants, Problem, Sheet, SheetLine
from services.registration.rules import Places, audience_of, is_minor, person_key
from services.registration.schemas import ParticipantIn
from shared import events
from shared.errors import InvalidInput
from shared.safe_input import row_problems
from shared.turns import taking_turns

CSV_COLUMNS = ("full_name", "category", "organisation", "sex", "age_band", "email", "phone",
               "consent_by", "consent_at")
REQUIRED_COLUMNS = ("full_name", "category")

# What a participant file may hold.  A workbook is a zip of XML: these are checked
# from its directory before anything is inflated, and while it is read, so a crafted
# file is refused in a blink instead of holding a worker for minutes.
MAX_ROWS = 100_000
MAX_WORKBOOK_ENTRIES = 200
MAX_WORKBOOK_BYTES = 100 * 1024 * 1024  # inflated, all entries together
MAX_SHARED_STRINGS = 2 * MAX_ROWS * len(CSV_COLUMNS)
# A part that inflates past this many times its packed size was built to inflate: the most
# repetitive real list (one row 100,000 times over) packs about 18:1.  Parts under a megabyte
# may pack any way.  (Apache POI refuses past the same 100:1.)
MAX_INFLATE_RATIO = 100
RATIO_FROM_BYTES = 1024 * 1024

Progress = Callable[[int, int], None]  # (rows checked, rows in the file)
PROGRESS_EVERY = 1000


# --- reading -------------------------------------------------------------------

def read_participant_file(data: bytes, progress: Progress | None = None) -> Sheet:
    """CSV (UTF-8) or XLSX, told apart by their first bytes; ``progress`` hears how far the checks are."""
    if is_xlsx(data):
        return read_participant_xlsx(data, progress)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("The file must be UTF-8 encoded CSV or an XLSX workbook.", fields={"body": ["not UTF-8"]})
    return read_participant_csv(text, progress)


def check_upload(data: bytes) -> None:
    """What can be refused before the file is read: no bytes, or a workbook past the limits."""
    if not data.strip():
        raise InvalidInput("The file is empty.", fields={"body": ["empty"]})
    if is_xlsx(data):
        check_workbook(data)
    else:  # a CSV's header is its first line: a wrong one is said at once, not by the job
        try:
            first_line = data.split(b"\n", 1)[0].decode("utf-8-sig")
        except UnicodeDecodeError:
            return  # not text: the job says where, with the rest of the file's problems
        _check_header([name.strip() for name in next(csv.reader([first_line]), [])])


def check_workbook(data: bytes) -> None:
    """Refuse a workbook whose zip directory promises too much, before inflating any of it.

    zipfile reads no more of an entry than its directory gives as its size, so
    these sizes bound what reading it can cost.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            entries = book.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidInput(f"The file is not a readable XLSX workbook ({exc.__class__.__name__}).",
                           fields={"body": ["not a readable XLSX workbook"]})
    if len(entries) > MAX_WORKBOOK_ENTRIES:
        raise InvalidInput(f"The workbook holds {len(entries)} parts; at most {MAX_WORKBOOK_ENTRIES} are read.",
                           fields={"body": [f"more than {MAX_WORKBOOK_ENTRIES} parts in the workbook"]})
    inflated = sum(entry.file_size for entry in entries)
    if inflated > MAX_WORKBOOK_BYTES:
        raise InvalidInput(f"The workbook unpacks to {inflated // (1024 * 1024)} MB; at most "
                           f"{MAX_WORKBOOK_BYTES // (1024 * 1024)} MB are read.",
                           fields={"body": [f"unpacks to more than {MAX_WORKBOOK_BYTES // (1024 * 1024)} MB"]})
    for entry in entries:
        if entry.file_size > RATIO_FROM_BYTES and entry.file_size > MAX_INFLATE_RATIO * entry.compress_size:
            raise InvalidInput(f"The workbook's part {entry.filename} unpacks to {entry.file_size:,} bytes from "
                               f"{entry.compress_size:,}: more than {MAX_INFLATE_RATIO} times, as no list does.",
                               fields={"body": [f"a part unpacks to more than {MAX_INFLATE_RATIO} times its size"]})


def _too_many_rows(line: int) -> InvalidInput:
    return InvalidInput(f"The file has more than {MAX_ROWS:,} participant rows; split it.",
                        rows=[{"line": line, "field": "body", "problem": f"more than {MAX_ROWS} rows"}])


def read_participant_csv(text: str, progress: Progress | None = None) -> Sheet:
    """The lines of a participant CSV, each checked; the header is line 1."""
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    _check_header(header)

    def numbered():
        for cells in reader:
            yield reader.line_num, cells
    return _checked_lines(header, numbered(), progress)


def read_participant_xlsx(data: bytes, progress: Progress | None = None) -> Sheet:
    """The lines of the first sheet of an XLSX workbook, checked like a CSV file.

    Cells are read as text: a consent date is written as text (2019-04-20T09:00+07:00).
    """
    check_workbook(data)
    try:
        rows = _sheet_rows(data)
        _, header = next(rows, (1, []))
        header = [(name or "").strip() for name in header]
        while header and not header[-1]:
            header.pop()
        _check_header(header)
        return _checked_lines(header, rows, progress)
    except (zipfile.BadZipFile, KeyError, ValueError, IndexError, StopIteration, ElementTree.ParseError) as exc:
        raise InvalidInput(f"The file is not a readable XLSX workbook ({exc.__class__.__name__}).",
                           fields={"body": ["not a readable XLSX workbook"]})


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


def _readable(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


def _checked_lines(header: list[str], numbered_rows: Iterable[tuple[int, list[str | None]]],
                   progress: Progress | None = None) -> Sheet:
    """Each (line, cells) under ``header`` checked against a registration's schema; problems are
    collected, not raised.

    The rows are read first (cheap beside the checks), so ``progress`` knows the total.
    """
    rows = []
    for line, cells in numbered_rows:
        if all(cell is None or not cell.strip() for cell in cells):
            continue  # a blank line is not a participant
        rows.append((line, cells))
        if len(rows) > MAX_ROWS:
            raise _too_many_rows(line)
    schema = ParticipantIn()
    lines, problems = [], []
    for done, (line, cells) in enumerate(taking_turns(rows), 1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, len(rows))
        row = {name: cell for name, cell in zip(header, cells) if name}
        found = row_problems(header, cells)  # control characters, cells past the header
        try:
            loaded = schema.load(row)
        except ValidationError as exc:
            for field, messages in sorted(exc.messages.items()):
                if isinstance(messages, dict):
                    messages = [f"{k}: {v}" for k, v in messages.items()]
                found.append((field, " ".join(map(str, messages))))
            loaded = None
        problems.extend(Problem(line, field, problem) for field, problem in found)
        if found or loaded is None:
            # Still who the line is, as far as it can be read, to find it twice.
            bad = {field for field, _ in found}
            full_name = None if "full_name" in bad else _readable(row.get("full_name"))
            organisation = None if "organisation" in bad else _readable(row.get("organisation"))
            lines.append(SheetLine(line, None, full_name, organisation))
        else:
            lines.append(SheetLine(line, Applicant(**loaded), loaded["full_name"], loaded["organisation"]))
    if progress is not None:
        progress(len(rows), len(rows))
    if not lines:
        raise InvalidInput("The file has no participant rows.",
                           rows=[{"line": 2, "field": "full_name", "problem": "no rows"}])
    return Sheet(tuple(lines), tuple(problems))


XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def is_xlsx(data: bytes) -> bool:
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
                    if len(shared) >= MAX_SHARED_STRINGS:
                        raise InvalidInput(
                            f"The workbook has more than {MAX_SHARED_STRINGS:,} shared strings; "
                            f"a participant file of {MAX_ROWS:,} rows needs fewer.",
                            fields={"body": [f"more than {MAX_SHARED_STRINGS} shared strings"]})
                    # Plain text, or rich-text runs (phonetic hints left out)
                    shared.append("".join(t.text or "" for t in item.iterfind(f"{SHEET_NS}t"))
                                  + "".join(t.text or "" for t in item.iterfind(f"{SHEET_NS}r/{SHEET_NS}t")))
                    item.clear()
        line = read = 0
        for _, row in ElementTree.iterparse(book.open(_first_sheet(book))):
            if row.tag != f"{SHEET_NS}row":
                continue
            line = int(row.get("r") or line + 1)
            read += 1
            if read > MAX_ROWS + 1:  # blank rows too: each costs its parsing
                raise _too_many_rows(line)
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


# --- importing -----------------------------------------------------------------

@dataclass(frozen=True)
class ImportSummary:
    imported: int
    registered: int
    waitlisted: int
    returning: int  # people with a record in an earlier rollout of the city
    codes: list[str]  # in the order of the file's lines


def refuse_file(problems: list[Problem]) -> None:
    problems = sorted(problems, key=lambda p: (p.line, p.field))
    first = problems[0]
    raise InvalidInput(
        f"{len(problems)} problem(s) in the file, nothing was imported; "
        f"first: line {first.line}, {first.field}: {first.problem}",
        rows=[p.as_dict() for p in problems],
    )


def _problems_in_the_rollout(rollout, sheet: Sheet, uow):
    """Every problem of the file: the sheet's own, and what only the rollout can tell.

    Returns the problems, and for a file without any the (line, key, session) of each line.
    """
    problems = list(sheet.problems)
    sessions = {s.audience: s for s in rollout.sessions}
    first_line, good = {}, []
    for line in taking_turns(sheet.lines):
        key = person_key(rollout.city, line.full_name, line.organisation) if line.full_name else None
        if key is not None:
            if key in first_line:
                problems.append(Problem(line.line, "full_name", f"the same person as line {first_line[key]}"))
            else:
                first_line[key] = line.line
        if line.applicant is None:
            continue
        audience = audience_of(line.applicant.category)
        if audience not in sessions:
            problems.append(Problem(line.line, "category", f"the rollout has no session for {audience}"))
            continue
        good.append((line, key, sessions[audience]))
    existing = uow.participants.live_holders(rollout.id, first_line)
    for key, line in first_line.items():
        if key in existing:
            problems.append(Problem(line, "full_name", f"already registered as participant {existing[key]}",
                                    existing_participant_id=existing[key]))
    return problems, good


def import_participants(command: ImportParticipants, uow) -> ImportSummary:
    """Register every line of a file in one unit of work, or none, listing every problem.

    A full session waitlists as a single registration does.  Rows go in with
    bulk inserts, their events with one ``emit_many``.
    """
    rollout = rollouts.open_rollout(uow, command.rollout_id, command.cities)
    problems, good = _problems_in_the_rollout(rollout, command.sheet, uow)
    if problems:
        refuse_file(problems)

    keys = [key for _, key, _ in good]
    earlier = uow.participants.earlier_records(rollout, keys)
    places = Places(uow.participants.places_taken(rollout.id))
    codes = participants.fresh_codes(uow, rollout.city, len(good))
    now = datetime.now(timezone.utc)
    values = []
    for (line, key, session), code in taking_turns(zip(good, codes)):
        applicant = line.applicant
        minor = is_minor(applicant.category, applicant.age_band)
        status = "registered" if places.has_room(session, applicant.category) else "waitlisted"
        if status == "registered":
            places.take(session.id, applicant.category)
        values.append({
            **vars(applicant), "rollout_id": rollout.id, "session_id": session.id, "code": code, "minor": minor,
            "person_key": key, "status": status, "registered_at": now, "returning_of": earlier.get(key),
            "consent_at": applicant.consent_at or (now if minor else None),
        })
    ids = uow.participants.add_many(values)
    uow.emit_many(events.PARTICIPANT_REGISTERED, [
        (rollout.city, dict(rollout_id=rollout.id, participant_id=participant_id, participant_code=v["code"],
                            session_key=session.key, category=v["category"], minor=v["minor"], sex=v["sex"],
                            age_band=v["age_band"], status=v["status"]))
        for participant_id, v, (_, _, session) in zip(ids, values, good)])
    waitlisted = sum(v["status"] == "waitlisted" for v in values)
    return ImportSummary(imported=len(values), registered=len(values) - waitlisted, waitlisted=waitlisted,
                         returning=sum(v["returning_of"] is not None for v in values),
                         codes=[v["code"] for v in values])
