"""The report's tables as CSV files and as an XLSX workbook.

A coordinator's export has the exact figures; a public one (``public=True``,
for partners) is made from a report built on the released public figures
(``publication``): "<5" for 1 to 4 people, "x" for a cell hidden to protect
one, no percentage or gain resting on a hidden count, and a note at the foot
explaining both markers.
"""
import csv
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from services.reporting import publication
from shared.errors import NotFound


def _rows(table, public):
    rows = [[heading for heading, _ in table.columns]] + (table.public_rows() if public else table.rows)
    if public:  # every public file explains its two markers
        rows += [[]] + [[f"{marker}: {meaning}"] for lang in ("id", "en")
                        for marker, meaning in publication.MARKERS[lang].items()]
    return rows


def _suffix(report, public):
    return "-publik" if public and not report.stem.endswith("-publik") else ""


def table(report, name):
    """The report's table ``name``, or NotFound naming the tables it has."""
    if name not in report.tables:
        raise NotFound(f"the report has no table {name}; it has {', '.join(report.tables)}", field="name")
    return report.tables[name]


def table_csv(table, public=False):
    """One table as UTF-8 CSV text, its headings first."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(["" if v is None else v for v in row] for row in _rows(table, public))
    return buffer.getvalue()


def write_csv(report, directory, public=False):
    """One UTF-8 CSV per table, named after the report and the table; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in report.tables.values():
        path = directory / f"{report.stem}{_suffix(report, public)}-{table.name}.csv"
        path.write_text(table_csv(table, public), encoding="utf-8", newline="")
        paths.append(path)
    return paths


def workbook_bytes(report, public=False):
    """One workbook, a sheet per table, as the bytes of an XLSX file."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in report.tables.values():
        sheet = workbook.create_sheet(table.name[:31])  # Excel's limit on sheet names
        for row in _rows(table, public):
            sheet.append(row)
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
