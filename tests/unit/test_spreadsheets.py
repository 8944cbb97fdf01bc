"""What someone typed never runs as a formula in the files a committee or partner opens."""
import csv
import io

import pytest
from openpyxl import Workbook, load_workbook

from shared.spreadsheets import FORMULA_PREFIXES, append_rows, csv_text

HOSTILE = [prefix + 'HYPERLINK("http://evil.example","x")' for prefix in FORMULA_PREFIXES] + ["=1+1", "@SUM(A1)"]


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_a_csv_cell_beginning_with_a_formula_prefix_is_made_plain_text(prefix):
    text = csv_text([["full_name", "organisation"], [prefix + "cmd|' /C calc'!A0", "Unit PPA"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == "'" + prefix + "cmd|' /C calc'!A0"
    assert rows[1][1] == "Unit PPA"


def test_numbers_and_ordinary_text_are_written_as_they_are():
    rows = list(csv.reader(io.StringIO(csv_text([[-5, 3.5, None, "Ani-Wati", "O'Brien"]]))))
    assert rows == [["-5", "3.5", "", "Ani-Wati", "O'Brien"]]


def test_an_xlsx_written_from_hostile_text_has_no_formula_cell(tmp_path):
    workbook = Workbook()
    append_rows(workbook.active, [["name"], *[[value] for value in HOSTILE], [42]])
    workbook.save(tmp_path / "list.xlsx")
    sheet = load_workbook(tmp_path / "list.xlsx").active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    # (XML reads a carriage return back as a line feed)
    assert [cell.value for cell in cells][1:-1] == ["'" + value.replace("\r", "\n") for value in HOSTILE]
    assert cells[-1].value == 42
