"""Files people open in a spreadsheet, safe from what others typed.

A cell of text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is read by Excel, LibreOffice and Google Sheets as a formula: a
participant named ``=HYPERLINK(...)`` would run in the committee's
spreadsheet.  Following OWASP's CSV-injection rule, such text is written with a
leading apostrophe, and XLSX cells of text are always typed as text, never as
formulas.  Numbers stay numbers.
"""
import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """``value``, with text that a spreadsheet would take for a formula made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as UTF-8 CSV text (``None`` as an empty cell), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if value is None else neutralised(value) for value in row])
    return buffer.getvalue()


def append_rows(sheet: Any, rows: Iterable[Sequence[Any]]) -> None:
    """Append rows to an openpyxl worksheet, text always as text, never a formula."""
    for row in rows:
        sheet.append([neutralised(value) for value in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
