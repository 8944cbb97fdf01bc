"""Hostile input to reporting through its real web layer (issue 13), each case named.

Reporting's input is what the other services announce, and its query strings
and paths.  A bad query or path is a 4xx naming it, with nothing written; text
typed elsewhere to look like markup or a formula comes out of the report, its
tables and exports as the same text, and no answer shows where files are kept.
"""
import csv
import io
import re
from datetime import date

import pytest
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_waiter
from openpyxl import load_workbook

from services.reporting.service import ReportingService
from shared import events
from shared.spreadsheets import FORMULA_PREFIXES
from tests.support.hostile import assert_refused
from tests.support.in_process import serving

FACILITATOR = "Ahmad | Sofian | ECPAT"
# A session per dangerous first character; their titles fill the attendance table.
TITLES = [prefix + 'HYPERLINK("http://evil.example","klik")' for prefix in FORMULA_PREFIXES]
ROLLOUT = events.ROLLOUT_LAUNCHED.create(
    "pontianak", rollout_id=31, program="**Internet** Aman", city_name="Pontianak <script>alert(1)</script>",
    province="[Kalbar](javascript:alert(1))", venue="=cmd|' /C calc'!A0", starts_on=date(2019, 5, 2),
    ends_on=date(2019, 5, 8), author="@SUM(1+1)", editor="Muhammad\n![" + "x" * 2000,
    sessions=[{"key": f"s{day}", "day": day, "date": date(2019, 5, 1 + day), "title": title,
               "audience": "activists", "opened_by": "# Bupati\n- item",
               "topics": [{"title": "Jejak | Digital", "facilitators": [{"name": FACILITATOR,
                                                                        "organisation": "<b>ECPAT</b>"}]}]}
              for day, title in enumerate(TITLES, 1)])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile-reporting")
    with serving([ReportingService], directory, REPORTS_DIR=directory / "reports") as served:
        container = served.containers["reporting"]
        with entrypoint_waiter(container, "handle_events", timeout=10):
            event_dispatcher(container.config)(events.ROLLOUT_LAUNCHED.source,
                                               events.ROLLOUT_LAUNCHED.routing_key("pontianak"), ROLLOUT)
        served.directory = directory
        yield served


def held(served):
    """What a refused request could have written: the reports on disk, the city's figures."""
    return sorted(p.name for p in served.directory.rglob("*")), served.call("GET", "/reports/pontianak/figures").json()


REPORT = "/reports/pontianak/activity-report"
CASES = [
    ("control-character-in-a-city", "GET", "/reports/ponti%01anak/figures", {}, 422, "city"),
    ("nul-in-a-city", "POST", "/reports/ponti%00anak/activity-report", {}, 422, "city"),
    ("control-character-in-a-summarys-city", "GET", "/summaries/ponti%1banak", {}, 422, "city"),
    ("report-of-rollout-minus-5", "POST", REPORT, {"params": {"rollout_id": "-5"}}, 422, "rollout_id"),
    ("report-of-rollout-0", "POST", REPORT, {"params": {"rollout_id": "0"}}, 422, "rollout_id"),
    ("figures-of-rollout-2^40", "GET", "/reports/pontianak/figures", {"params": {"rollout_id": str(2**40)}}, 422,
     "rollout_id"),
    ("report-in-an-unknown-language", "POST", REPORT, {"params": {"lang": "xx"}}, 422, "lang"),
    ("nul-in-a-language", "POST", REPORT, {"params": {"lang": "id\u0000"}}, 422, "lang"),
    ("report-as-an-executable", "POST", REPORT, {"params": {"format": "md,exe"}}, 422, "format"),
    ("report-to-a-path-of-its-choosing", "POST", REPORT, {"params": {"path": "/etc/cron.d/x"}}, 422, "path"),
    ("table-named-as-a-path", "GET", "/reports/pontianak/tables/..%2F..%2Fsecret.csv", {}, 404, None),
    ("table-that-is-not-there", "GET", "/reports/pontianak/tables/passwd.csv", {}, 404, "name"),
    ("export-of-rollout-2^40", "GET", "/reports/pontianak/export.xlsx", {"params": {"rollout_id": str(2**40)}},
     422, "rollout_id"),
]


@pytest.mark.parametrize("method, path, request_, status, field",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_query_or_path_is_refused_naming_it_and_writes_nothing(served, method, path, request_, status,
                                                                        field):
    before = held(served)
    assert_refused(served.call(method, path, **request_), status, field)
    assert held(served) == before


def unescaped_pipes(line):
    return len(re.findall(r"(?<!\\)\|", line))


def test_markup_typed_into_a_rollout_is_printed_as_text_and_no_answer_shows_a_server_path(served):
    answer = served.call("POST", REPORT, params={"format": "md,html", "lang": "en"})
    assert answer.status_code == 201, answer.text
    assert str(served.directory) not in answer.text and all("/" not in name for name in answer.json()["files"].values())

    markdown = answer.json()["markdown"]
    assert "Ahmad \\| Sofian \\| ECPAT" in markdown
    table = []
    for line in markdown.splitlines() + [""]:
        if line.startswith("|"):
            table.append(unescaped_pipes(line))
        elif table:  # a table's every row has its header's columns: a "|" typed in a name adds none
            assert len(set(table)) == 1, table
            table = []
    for markup in (r"<script", r"\]\(javascript:", r"!\[", r"\*\*Internet"):  # each printed escaped, as text
        assert not re.search(r"(?<!\\)" + markup, markdown), markup

    page = (served.directory / "reports" / answer.json()["files"]["html"]).read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page and "<b>ECPAT</b>" not in page


def test_titles_typed_as_formulas_reach_the_csv_and_xlsx_exports_as_text(served):
    exported = served.call("GET", "/reports/pontianak/tables/attendance.csv", params={"lang": "en"})
    assert exported.status_code == 200, exported.text
    titles = [row[2] for row in csv.reader(io.StringIO(exported.text))][1:]
    assert sorted(titles) == sorted("'" + title for title in TITLES)

    workbook = served.call("GET", "/reports/pontianak/export.xlsx", params={"lang": "en"})
    assert workbook.status_code == 200, workbook.text
    cells = [cell for sheet in load_workbook(io.BytesIO(workbook.content)) for row in sheet.iter_rows()
             for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    typed = [cell.value for cell in cells if isinstance(cell.value, str) and "HYPERLINK" in cell.value]
    # XML reads a lone carriage return back as a line end.
    assert sorted(typed) == sorted("'" + title.replace("\r", "\n") for title in TITLES)
