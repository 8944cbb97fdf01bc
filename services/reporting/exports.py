"""The report's tables as CSV files and as an XLSX workbook.

A coordinator's export has the exact figures; a public one (``public=True``,
for partners) shows any count under 5 people as "<5" and leaves out the
percentages and gains that rest on such a count.

Every cell goes through ``shared.spreadsheets``: text a spreadsheet would run as a
formula (a facilitator named ``=HYPERLINK(...)``) is written as plain text.  Files
and sheets are named in the report's language.
"""
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from services.reporting.report import Words
from shared.errors import NotFound
from shared.spreadsheets import append_rows, csv_text


def _rows(table, public):
    rows = table.public_rows() if public else table.rows
    return [[heading for heading, _ in table.columns]] + rows


def _suffix(report, public):
    _ = Words(report.lang)
    return f"-{_('public')}" if public else ""


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
