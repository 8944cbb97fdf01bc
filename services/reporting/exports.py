"""The report's tables as CSV files and as an XLSX workbook.

A coordinator's export has the exact figures; a public one (``public=True``,
for partners) shows any count under 5 people as "<5" and leaves out the
percentages and gains that rest on such a count.
"""
import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font


def _rows(table, public):
    rows = table.public_rows() if public else table.rows
    return [[heading for heading, _ in table.columns]] + rows


def _suffix(public):
    return "-publik" if public else ""


def write_csv(report, directory, public=False):
    """One UTF-8 CSV per table, named after the report and the table; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in report.tables.values():
        path = directory / f"{report.stem}{_suffix(public)}-{table.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(["" if v is None else v for v in row] for row in _rows(table, public))
        paths.append(path)
    return paths


def write_xlsx(report, directory, public=False):
    """One workbook, a sheet per table; returns its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
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
    path = directory / f"{report.stem}{_suffix(public)}.xlsx"
    workbook.save(path)
    return path


FORMATS = {"csv": write_csv, "xlsx": write_xlsx}
