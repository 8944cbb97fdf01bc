"""The activity report as the seed writes it, in two languages and three formats, and its exports."""
import csv
import json
import shutil
import subprocess
from datetime import date

import pytest
from openpyxl import load_workbook

from campaign.demo import WORKSHOP_PARTICIPANTS, load_rollout
from services.reporting import document, exports, figures, publication, report
from services.reporting.fakes import FakeReportingUnitOfWork
from shared import events
from shared.handling import dispatch
from tests.unit.test_reporting import HANDLERS

SEED_WORKSHOP_LABELS = {"Tenaga pendidikan": 24, "SKPD": 16, "PATBM": 14, "Unit PPA": 8, "LSM": 12, "Forum Anak": 12}
FACILITATORS = ("Umi Farida (ECPAT Indonesia)", "Widuri (ICT Watch)", "Andy Ardian (ECPAT Indonesia)",
                "Ahmad Sofian (ECPAT Indonesia)", "Paryono (Dinas Pendidikan dan Kebudayaan Kota Pontianak)",
                "Inayatun Nurhasanah (Unit PPA SAT Reskrim Polresta Pontianak Kota)",
                "Oviani Fathul Janah (ECPAT Indonesia)")


def deliver(store, kind, city="pontianak", /, **fields):
    dispatch(store, HANDLERS, [(kind, json.loads(json.dumps(kind.create(city, **fields))))])


def launch(store, rollout_id, city, city_name):
    seed = load_rollout()
    sessions = [{**s, "date": date.fromisoformat(s["date"])} for s in seed["sessions"]]
    deliver(store, events.ROLLOUT_LAUNCHED, city, rollout_id=rollout_id, program=seed["program"],
            city_name=city_name, province=seed["province"], venue=city_name,
            starts_on=date.fromisoformat(seed["starts_on"]), ends_on=date.fromisoformat(seed["ends_on"]),
            author=seed["author"], editor=seed["editor"], sessions=sessions)


def register(store, participant_id, category, rollout_id=1, city="pontianak", sex=None, age_band=None):
    deliver(store, events.PARTICIPANT_REGISTERED, city, rollout_id=rollout_id, participant_id=participant_id,
            participant_code=f"C{participant_id}", category=category, minor=category in ("student", "forum_anak"),
            session_key="socialisation" if category == "student" else "workshop", sex=sex, age_band=age_band)


TOPICS = [t["title"] for t in load_rollout()["sessions"][1]["topics"]]


def scored(store, submission_id, participant_id, phase, right, rollout_id=1, city="pontianak"):
    """A 10-question test, two per day-2 topic; ``right`` of them answered right, topic by topic."""
    topics = [{"topic": t, "score": min(2, max(0, right - 2 * i)), "max_score": 2} for i, t in enumerate(TOPICS)]
    deliver(store, events.TEST_SCORED, city, rollout_id=rollout_id, submission_id=submission_id,
            instrument_id=rollout_id, session_key="socialisation", participant_code=f"C{participant_id}", phase=phase, score=right,
            max_score=10, passed=right >= 7, topics=topics)


@pytest.fixture(scope="module")
def pontianak():
    """The seed's Pontianak rollout as reporting hears of it, and a smaller Medan one."""
    store = FakeReportingUnitOfWork()
    launch(store, 1, "pontianak", "Pontianak")
    next_id = 1
    for category, count in WORKSHOP_PARTICIPANTS.items():
        for i in range(count):
            age_band = "13-15" if category == "forum_anak" else "25-39"
            register(store, next_id, category, sex="FM"[i % 2], age_band=age_band)
            next_id += 1
    for i in range(20):
        register(store, next_id + i, "student", sex="FM"[i % 2], age_band="13-15")
        scored(store, 1000 + i, next_id + i, "pre", 5)
        if i < 18:
            scored(store, 2000 + i, next_id + i, "post", 9)
    for i in range(10):
        deliver(store, events.PARTICIPANT_CHECKED_IN, rollout_id=1, participant_id=1 + i,
                participant_code=f"C{1 + i}", session_key="workshop", day=1)
    deliver(store, events.ACTION_PLAN_RECORDED, rollout_id=1, action_plan_id=1, session_key="socialisation",
            owner="group", status="planned")
    deliver(store, events.COMMITTEE_NOTIFIED, rollout_id=1, delivery_id=1, kind="participant_list",
            channel="mail", participant_count=106)
    launch(store, 2, "medan", "Medan")
    for i in range(3):
        register(store, 500 + i, "student", rollout_id=2, city="medan")
        scored(store, 3000 + i, 500 + i, "pre", 3, rollout_id=2, city="medan")
        scored(store, 4000 + i, 500 + i, "post", 6, rollout_id=2, city="medan")
    return store


def test_the_city_report_states_what_the_seed_states(pontianak):
    markdown = report.build(pontianak, "pontianak").markdown

    assert "2-3 Mei 2019, Pontianak, Kalimantan Barat" in markdown
    assert "**86 peserta** dari unsur aktivis anak" in markdown
    for label, count in SEED_WORKSHOP_LABELS.items():
        assert f"| {label} | {count} |" in markdown
    for facilitator in FACILITATORS:
        assert facilitator in markdown
    assert "Dibuka oleh Walikota Pontianak" in markdown
    assert "| Perempuan | 43 |" in markdown                    # sex where known
    assert "Peserta yang hadir (check-in) pada hari ini: 10." in markdown
    assert "| Pre-test | 20 | 50,0% | 0 |" in markdown
    assert "| Post-test | 18 | 90,0% | 18 |" in markdown
    assert "| Literasi di Era Digitalisasi Dunia Pendidikan | 100,0% | 100,0% | - | 18 |" in markdown
    assert "| Eksploitasi Seksual Anak di Ranah Online | 50,0% | 100,0% | 1,00 | 18 |" in markdown
    assert "Sebanyak 1 action plan dibuat" in markdown
    assert "Daftar peserta (106 orang) dikirim kepada Panitia Lokal melalui email" in markdown
    assert "Penyusun Laporan : Andy Ardian (Program Manager)" in markdown
    assert "Editor : Muhammad Shobar Arief" in markdown
    assert "![Pre-test dan post-test per topik](laporan-pontianak-2019-topik.svg)" in markdown


def test_the_city_report_in_english(pontianak):
    written = report.build(pontianak, "pontianak", lang="en")

    assert written.stem == "report-pontianak-2019"
    assert "**Dates and place:** 2-3 May 2019, Pontianak" in written.markdown
    assert "| Educators | 24 |" in written.markdown
    assert "| Post-test | 18 | 90.0% | 18 |" in written.markdown
    assert "Author: Andy Ardian (Program Manager)" in written.markdown
    assert "Mei" not in written.markdown


def test_national_roll_up_states_its_rules_and_sets_cities_side_by_side(pontianak):
    written = report.build(pontianak, events.NATIONAL, lang="en")

    assert "never by averaging the cities' percentages or gains" in written.markdown
    cities = written.tables["cities"]
    assert [row[0] for row in cities.rows] == ["Medan", "Pontianak"]
    assert "| Pre-test | 23 | 47.4% |" in written.markdown   # every pre-test taker: (9 + 100) / 230
    national = {row[0]: row for row in cities.rows}
    assert national["Medan"][2] == 3 and national["Pontianak"][2] == 106
    tests = figures.test_figures(pontianak, events.NATIONAL)
    # Pooled pairs: pre (3*3 + 18*5) / 210 = 47.1%, post (3*6 + 18*9) / 210 = 85.7%.
    assert (tests["paired_pre_percent"], tests["paired_post_percent"]) == (47.1, 85.7)
    assert tests["gain"] == 0.73   # the mean of the cities' gains, (0.43 + 0.8) / 2, would be 0.61


def test_html_has_the_tables_and_the_charts_inline(pontianak):
    written = report.build(pontianak, "pontianak")
    page = document.html(written)

    assert page.startswith("<!DOCTYPE html>") and '<html lang="id">' in page
    assert '<td>Tenaga pendidikan</td><td class="n">24</td>' in page
    assert page.count("<svg") == 2
    assert "<strong>86 peserta</strong>" in page


def test_the_pdf_renders_into_readable_pages(pontianak, tmp_path):
    paths = report.write(report.build(pontianak, "pontianak"), tmp_path, formats=("md", "html", "pdf"))

    data = paths["pdf"].read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    assert (tmp_path / "laporan-pontianak-2019-topik.svg").read_text().lstrip().startswith("<?xml")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(paths["pdf"]), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2 and all(p.stat().st_size > 3000 for p in pages)
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(paths["pdf"]), "-"], capture_output=True, text=True).stdout
        assert "Laporan Kegiatan Internet Aman untuk Anak" in text
        assert "Umi Farida (ECPAT Indonesia)" in text


def test_exports_give_exact_figures_and_public_ones_suppress_small_cells(pontianak, tmp_path):
    written = report.build(pontianak, "pontianak")

    exact = {p.name: p for p in exports.write_csv(written, tmp_path)}
    rows = list(csv.reader(exact["laporan-pontianak-2019-categories.csv"].open(encoding="utf-8")))
    assert rows[0] == ["Kategori peserta", "Jumlah"]
    assert ["Unit PPA", "8"] in rows and ["Pelajar", "20"] in rows

    publication.publish_changed_summaries(pontianak)  # partners see what was released
    released = report.build(pontianak, "pontianak", public=True)
    public = {p.name: p for p in exports.write_csv(released, tmp_path, public=True)}
    plans = list(csv.reader(public["laporan-pontianak-2019-publik-action_plans.csv"].open(encoding="utf-8")))
    assert plans[1] == ["Direncanakan", "<5"]
    assert plans[-2:] == [[f"<5: {publication.MARKERS['en']['<5']}"], [f"x: {publication.MARKERS['en']['x']}"]]

    workbook = load_workbook(exports.write_xlsx(released, tmp_path, public=True))
    assert "workshop_categories" in workbook.sheetnames
    assert [c.value for c in workbook["action_plans"][2]] == ["Direncanakan", "<5"]
    exact_book = load_workbook(exports.write_xlsx(written, tmp_path))
    assert [c.value for c in exact_book["tests"][3]] == ["Post-test", 18, 90.0, 18]


def test_public_export_hides_percentages_resting_on_a_small_cell(pontianak, tmp_path):
    assert report.build(pontianak, "medan").tables["tests"].rows[0][1:3] == [3, 30.0]
    publication.publish_changed_summaries(pontianak)
    assert report.build(pontianak, "medan", public=True).tables["tests"].public_rows()[0][1:3] == ["<5", None]


def test_report_date_formats_in_both_languages():
    assert report.tanggal(date(2019, 5, 2), "en") == "2 May 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 3), "en") == "2-3 May 2019"
    assert report.persen(85.75, "en") == "85.8%"
    assert report.decimal(0.677) == "0,68"


def test_a_hidden_part_cannot_be_recovered_from_the_total_and_a_cell_of_seven_is_never_small():
    store = FakeReportingUnitOfWork()
    launch(store, 1, "pontianak", "Pontianak")
    for i, category in enumerate(["lsm"] + ["student"] * 7 + ["patbm"] * 9):
        register(store, i + 1, category)
    publication.publish_changed_summaries(store)

    rows = report.build(store, "pontianak", public=True).tables["categories"].rows
    shown = {label: n for label, n in rows}
    assert shown["LSM"] == "<5"
    assert "x" in (shown["Pelajar"], shown["PATBM"], shown["Jumlah"])  # one of them protects it
    assert "<5" not in (shown["Pelajar"], shown["PATBM"], shown["Jumlah"])
    assert ["LSM", 1] in report.build(store, "pontianak").tables["categories"].rows  # the coordinator's stays exact
