"""Reading a CSV sheet of tests into submissions (plain Python: no database, no HTTP).

A sheet has ``participant_code``, ``phase``, then one column per question id
(any subset).  A blank cell is an unanswered question; true/false cells read
true/false, benar/salah, ya/tidak or 1/0.  Every problem is reported by line
and field, so a sheet is fixed in one go.
"""
import csv
import io
from collections.abc import Collection, Sequence
from typing import Any

from services.assessment.commands import SubmitTest
from shared.errors import InvalidInput
from shared.safe_input import row_problems

PHASES = ("pre", "post")
TRUE_WORDS = {"true", "benar", "ya", "1"}
FALSE_WORDS = {"false", "salah", "tidak", "0"}
CODE_LENGTH = 20


def decode(sheet: bytes) -> str:
    """The sheet's text; a BOM (as spreadsheet programs write it) is dropped."""
    try:
        return sheet.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("body: the file must be UTF-8 encoded CSV", fields={"body": ["not UTF-8"]})


def check_header(sheet: bytes) -> None:
    """Refuse a sheet that is not UTF-8 or lacks ``participant_code`` or ``phase``: its shape,
    checked before anything is looked up for it (an instrument, a participant)."""
    header = next(csv.reader(io.StringIO(decode(sheet))), [])
    _check_columns(header, known=None)


def _check_columns(header: Sequence[str], known: Collection[str] | None) -> None:
    """``known``: the question ids, or None when they are not known yet."""
    missing = [c for c in ("participant_code", "phase") if c not in header]
    strangers = [] if known is None else [c for c in header if c not in ("participant_code", "phase", *known)]
    if missing or strangers:
        problems = [f"missing column {c}" for c in missing] + [f"unknown column {c}" for c in strangers]
        raise InvalidInput("header: " + "; ".join(problems), fields={"header": problems},
                           rows=[{"line": 1, "field": "header", "problem": p} for p in problems])


def read_tests(instrument_id: int, questions: list[dict[str, Any]], sheet: bytes) -> list[tuple[int, SubmitTest]]:
    """(line, test) for every row, or InvalidInput listing every bad row with its line and field."""
    reader = csv.reader(io.StringIO(decode(sheet)))
    header = next(reader, [])
    _check_columns(header, known=[q["id"] for q in questions])
    kinds = {q["id"]: q["kind"] for q in questions}
    tests: list[tuple[int, SubmitTest]] = []
    errors: list[dict[str, Any]] = []
    for cells in reader:
        if not cells:
            continue  # a blank line
        line = reader.line_num
        row = dict(zip(header, cells))
        # Control characters and cells past the header: refused by line, as the rest.
        cell_problems = row_problems(header, cells)
        errors.extend({"line": line, "field": field, "problem": problem} for field, problem in cell_problems)
        answers: dict[str, bool | str] = {}
        for question, kind in kinds.items():
            cell = (row.get(question) or "").strip()
            if not cell:
                continue
            if kind == "true_false":
                word = cell.lower()
                if word not in TRUE_WORDS | FALSE_WORDS:
                    errors.append({"line": line, "field": question, "problem": "must be true or false"})
                    continue
                answers[question] = word in TRUE_WORDS
            else:
                answers[question] = cell
        code = (row.get("participant_code") or "").strip()
        phase = (row.get("phase") or "").strip().lower()
        problems = _row_problems(code, phase)
        errors.extend({"line": line, "field": field, "problem": problem} for field, problem in problems)
        if not problems and not cell_problems:
            tests.append((line, SubmitTest(instrument_id=instrument_id, participant_code=code, phase=phase,
                                           answers=answers)))
    if not tests and not errors:
        raise InvalidInput("body: the sheet has no rows", fields={"body": ["no rows"]})
    if errors:
        raise bad_rows(errors)
    return tests


def _row_problems(code: str, phase: str) -> list[tuple[str, str]]:
    problems = []
    if not code:
        problems.append(("participant_code", "missing"))
    elif len(code) > CODE_LENGTH:
        problems.append(("participant_code", f"longer than {CODE_LENGTH} characters"))
    if phase not in PHASES:
        problems.append(("phase", "must be pre or post"))
    return problems


def bad_rows(errors: list[dict[str, Any]]) -> InvalidInput:
    """One refusal for the whole sheet, listing every bad row (the first ten in its message)."""
    errors.sort(key=lambda e: e["line"])
    shown = "; ".join(f"line {e['line']}, {e['field']}: {e['problem']}" for e in errors[:10])
    return InvalidInput(f"{len(errors)} bad row(s), nothing imported: {shown}", rows=errors)
