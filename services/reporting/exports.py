"""The report's tables as CSV files and as an XLSX workbook.

A coordinator's export has the exact figures; a public one (``public=True``,
for partners) is made from a report built on the released public figures
(``report.build(..., public=True)``, which reads ``publication``): "<5" for 1 to 4
people, "x" for a cell hidden to protect one, no percentage or gain resting on a
hidden count, and a note at the foot explaining both markers.

Every cell goes through ``shared.spreadsheets``: text a spreadsheet would run as a
formula (a facilitator named ``=HYPERLINK(...)``) is written as plain text.  Files
and sheets are named in the report's language.
"""
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from services.reporting import publication
from services.reporting.report import Words
from shared.errors import NotFound
from shared.spreadsheets import append_rows, csv_text


def _rows(table, public):
    rows = [[heading for heading, _ in table.columns]] + (table.public_rows() if public else table.rows)
    if public:  # every public file explains its two markers
        rows += [[]] + [[f"{marker}: {meaning}"] for lang in ("id", "en")
                        for marker, meaning in publication.MARKERS[lang].items()]
    return rows


def _suffix(report, public):
    """A public report's stem already says so; an internal report's public name (never its rows) says it here."""
    if not public or report.public:
        return ""
    _ = Words(report.lang)
    return f"-{_('public')}"


def _publishable(report, public):
    """A public file is made only of the released figures: never of an internal report's exact ones."""
    if public and not report.public:
        raise ValueError("a public export is made from a report built with public=True (the released figures)")


def table(report, name):
    """The report's table ``name`` (as its sheet is named, or its key), or NotFound naming the tables it has."""
    for found in report.tables.values():
        if name in (found.sheet, found.name):
            return found
    raise NotFound(f"the report has no table {name}; it has {', '.join(t.sheet for t in report.tables.values())}",
                   field="name")


def table_csv(table, public=False):
    """One table as UTF-8 CSV text, its headings first, no cell a formula."""
    return csv_text(_rows(table, public))


def write_csv(report, directory, public=False):
    """One UTF-8 CSV per table, named after the report and the table; returns their paths."""
    _publishable(report, public)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in report.tables.values():
        path = directory / f"{report.stem}{_suffix(report, public)}-{table.sheet}.csv"
        path.write_text(table_csv(table, public), encoding="utf-8", newline="")
        paths.append(path)
    return paths


def workbook_bytes(report, public=False):
    """One workbook, a sheet per table, as the bytes of an XLSX file."""
    _publishable(report, public)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in report.tables.values():
        sheet = workbook.create_sheet(table.sheet[:31])  # Excel's limit on sheet names
        append_rows(sheet, _rows(table, public))
        for heading in sheet[1]:
            heading.font = Font(bold=True)
        for column, (_, kind) in enumerate(table.columns, 1):
            if kind == "percent":
                for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                    cell.number_format = "0.0"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def workbook_name(report, public=False):
    return f"{report.stem}{_suffix(report, public)}.xlsx"


def write_xlsx(report, directory, public=False):
    """The workbook written beside the reports; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / workbook_name(report, public)
    path.write_bytes(workbook_bytes(report, public))
    return path


FORMATS = {"csv": write_csv, "xlsx": write_xlsx}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
