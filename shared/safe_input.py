"""What arrives from outside, refused at the door when it cannot be meant.

Every JSON body and query string passes here before any schema sees it:
bytes that are not UTF-8, JSON nested deeper than any real request, text with
NUL or other control characters, and integers past what a database column
holds are each refused naming where they were.  Plain Python, so the command
line and file imports use the same rules.
"""
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.errors import InvalidInput

MAX_DEPTH = 32  # the deepest real request (a rollout's sessions' topics' facilitators) is 6
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # what an INTEGER column holds
# C0 controls but tab, line feed and carriage return (text may have lines), DEL, and C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Malformed(InvalidInput):
    """Not even a request: bytes that are not UTF-8, JSON that does not parse or nests too deep."""

    code = "malformed"


def refuse(field: str, problem: str, kind: type[InvalidInput] = InvalidInput) -> InvalidInput:
    return kind(f"{field}: {problem}", fields={field: [problem]}, field=field)


def decode_text(raw: bytes, what: str = "body") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(what, f"is not valid UTF-8 (byte {exc.start})", Malformed) from None


def load_json(raw: bytes) -> Any:
    """The JSON document in ``raw``, checked; refuses what no request of ours could be."""
    text = decode_text(raw)
    _check_depth(text)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise refuse("body", f"is not valid JSON: {exc}", Malformed) from None
    check_values(value)
    return value


def _check_depth(text: str) -> None:
    # Counted on the text, before parsing, so a deep document never reaches the parser's recursion.
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise refuse("body", f"is nested more than {MAX_DEPTH} levels deep", Malformed)
        elif char in "]}":
            depth -= 1


def check_values(value: Any, path: str = "") -> None:
    """Refuse control characters in any text and integers no column holds, naming the field."""
    if isinstance(value, str):
        check_text(value, path or "body")
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise refuse(path or "body", f"{value} is out of range ({INT_MIN} to {INT_MAX})")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_text(key, f"{path}.{key}" if path else key)
            check_values(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_values(item, f"{path}.{index}" if path else str(index))


def text_problem(text: str) -> str | None:
    """What is wrong with a text typed by someone, or None: a control character in it."""
    found = CONTROL.search(text)
    return f"contains the control character U+{ord(found.group()):04X}" if found else None


def check_text(text: str, field: str) -> None:
    problem = text_problem(text)
    if problem:
        raise refuse(field, problem)


def row_problems(header: Sequence[str], cells: Sequence[str | None]) -> list[tuple[str, str]]:
    """(field, problem) of one row of a file read as text under its ``header`` (CSV or a sheet).

    A cell with a control character is named by its column; cells holding something
    past the header's columns would be lost without a word, so the row is refused
    (field ``row``).
    """
    problems = [(name, problem) for name, cell in zip(header, cells) if cell and (problem := text_problem(cell))]
    surplus = [cell for cell in cells[len(header):] if cell and cell.strip()]
    if surplus:
        problems.append(("row", f"{len(surplus)} cell(s) past the header's {len(header)} columns: "
                                "each value needs a column named in the first line"))
    return problems
