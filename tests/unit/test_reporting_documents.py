"""The activity report as the seed writes it, in two languages and three formats, and its exports."""
import csv
import html
import json
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from campaign.demo import WORKSHOP_PARTICIPANTS, load_seed
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


def without_narrative(seed):
    """The seed's agenda alone: a rollout launched with no narrative at all."""
    bare = {name: value for name, value in seed.items() if name not in events.NARRATIVE_FIELDS}
    bare["sessions"] = [{name: value for name, value in s.items() if name != "summary"} for s in seed["sessions"]]
    return bare


def launch(store, rollout_id, city, city_name, seed=None):
    """The seed's rollout without its narrative, or ``seed`` with whatever narrative it has."""
    seed = seed or without_narrative(load_seed())
    sessions = [{**s, "date": date.fromisoformat(s["date"])} for s in seed["sessions"]]
    narrative = {name: seed[name] for name in events.NARRATIVE_FIELDS if name in seed}
    if "issued_on" in narrative:
        narrative["issued_on"] = date.fromisoformat(narrative["issued_on"])
    deliver(store, events.ROLLOUT_LAUNCHED, city, rollout_id=rollout_id, program=seed["program"],
            city_name=city_name, province=seed["province"], venue=city_name,
            starts_on=date.fromisoformat(seed["starts_on"]), ends_on=date.fromisoformat(seed["ends_on"]),
            author=seed["author"], editor=seed["editor"], sessions=sessions, **narrative)


def register(store, participant_id, category, rollout_id=1, city="pontianak", sex=None, age_band=None):
    deliver(store, events.PARTICIPANT_REGISTERED, city, rollout_id=rollout_id, participant_id=participant_id,
            participant_code=f"C{participant_id}", category=category, minor=category in ("student", "forum_anak"),
            session_key="socialisation" if category == "student" else "workshop", sex=sex, age_band=age_band)


TOPICS = [t["title"] for t in load_seed()["sessions"][1]["topics"]]


def scored(store, submission_id, participant_id, phase, right, rollout_id=1, city="pontianak"):
    """A 10-question test, two per day-2 topic; ``right`` of them answered right, topic by topic."""
    topics = [{"topic": t, "score": min(2, max(0, right - 2 * i)), "max_score": 2} for i, t in enumerate(TOPICS)]
    deliver(store, events.TEST_SCORED, city, rollout_id=rollout_id, submission_id=submission_id,
            instrument_id=rollout_id, session_key="socialisation", participant_code=f"C{participant_id}",
            phase=phase, score=right, max_score=10, passed=right >= 7, topics=topics)


def seeded(seed=None):
    """The seed's Pontianak rollout as reporting hears of it, and a smaller Medan one."""
    store = FakeReportingUnitOfWork()
    launch(store, 1, "pontianak", "Pontianak", seed)
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
            owner="group", status="planned", due_on=date(2019, 6, 30), group_name="Kelompok SMP Negeri 3",
            commitment="Poster | \"Internet Aman\" di setiap kelas")
    deliver(store, events.COMMITTEE_NOTIFIED, rollout_id=1, delivery_id=1, kind="participant_list",
            channel="mail", participant_count=106)
    launch(store, 2, "medan", "Medan")
    for i in range(3):
        register(store, 500 + i, "student", rollout_id=2, city="medan")
        scored(store, 3000 + i, 500 + i, "pre", 3, rollout_id=2, city="medan")
        scored(store, 4000 + i, 500 + i, "post", 6, rollout_id=2, city="medan")
    return store


@pytest.fixture(scope="module")
def pontianak():
    """Launched without the narrative: the figures and the agenda alone."""
    return seeded()


@pytest.fixture(scope="module")
def narrated():
    """Launched with the seed's narrative (the original report's), as registration launches the demo's."""
    return seeded(load_seed())


def test_the_city_report_states_what_the_seed_states(pontianak):
    markdown = report.build(pontianak, "pontianak").markdown

    assert "2-3 Mei 2019, Pontianak, Kalimantan Barat" in markdown
    assert "**86 peserta** terdaftar dari unsur aktivis anak" in markdown
    for label, count in SEED_WORKSHOP_LABELS.items():
        assert f"| {label} | {count} |" in markdown
    for facilitator in FACILITATORS:
        assert facilitator in markdown
    assert "Dibuka oleh Walikota Pontianak, Ir. H. Edi Rusdi Kamtono, M.M., M.T." in markdown
    assert "| Perempuan | 43 |" in markdown                    # sex where known
    assert "Peserta yang hadir (check-in) pada hari ini: 10." in markdown
    assert "| Pra-tes | 20 | 50,0% | 0 |" in markdown
    assert "| Pasca-tes | 18 | 90,0% | 18 |" in markdown
    assert "| Literasi di Era Digitalisasi Dunia Pendidikan | 100,0% | 100,0% | - | 18 |" in markdown
    assert "| Eksploitasi Seksual Anak di Ranah Online | 50,0% | 100,0% | 1,00 | 18 |" in markdown
    assert "Sebanyak 1 action plan dibuat" in markdown
    assert "Daftar peserta (106 orang) dikirim kepada Panitia Lokal melalui email" in markdown
    assert "Penyusun Laporan : Andy Ardian (Program Manager)" in markdown
    assert "Editor : Muhammad Shobar Arief" in markdown
    assert "![Rata\\-rata skor pra\\-tes dan pasca\\-tes per topik (%)](laporan-pontianak-2019-topik.svg)" \
        not in markdown  # "-" is no Markdown: titles keep their hyphens
    assert "![Rata-rata skor pra-tes dan pasca-tes per topik (%)](laporan-pontianak-2019-topik.svg)" in markdown
    assert "n = 18 (ikut kedua tes)" in markdown


def test_registered_and_attended_are_kept_apart(pontianak):
    markdown = report.build(pontianak, "pontianak").markdown

    assert "dihadiri" not in markdown.lower()  # 86 registered are not 86 who came
    assert "| Hari | Tanggal | Agenda | Terdaftar | Hadir (check-in) |" in markdown
    assert "| 1 | 2 Mei 2019 | Workshop pencegahan dan penanganan eksploitasi seksual anak melalui media online " \
           "| 86 | 10 |" in markdown
    assert "Kehadiran tidak dicatat (check-in) pada hari ini." in markdown  # day 2: no check-ins


def test_every_date_comes_from_the_events_never_from_the_clock(pontianak, narrated):
    """The committee was notified today (the event's time): a 2019 report still says only 2019."""
    for store in (pontianak, narrated):
        for lang in report.LANGUAGES:
            written = report.build(store, "pontianak", lang)
            for text in (written.markdown, visible(document.html(written))):
                assert set(re.findall(r"\b(?:19|20)\d\d\b", text)) == {"2019"}
    assert "Tanggal terbit : 3 Mei 2019" in report.build(pontianak, "pontianak").markdown   # the last day
    assert "Tanggal terbit : 31 Mei 2019" in report.build(narrated, "pontianak").markdown   # as the seed says


def test_the_city_report_in_english(pontianak):
    written = report.build(pontianak, "pontianak", lang="en")

    assert written.stem == "report-pontianak-2019"
    assert "**Dates and place:** 2-3 May 2019, Pontianak" in written.markdown
    assert "| Educators | 24 |" in written.markdown
    assert "| Post-test | 18 | 90.0% | 18 |" in written.markdown
    assert "Author: Andy Ardian (Program Manager)" in written.markdown
    assert "**86 participants** registered from among child-protection activists." in written.markdown
    assert "Mei" not in written.markdown


# Words of the Indonesian catalogue that must never reach an English report, and the other way round.
INDONESIAN = ("Halaman", "Jumlah", "Peserta", "Penyusun", "Dibuka oleh", "Walikota", "Ringkasan", "pra-tes",
              "pasca-tes", "Tidak dicatat", "Laporan", "laporan", "Lembaga", "Tanggal", "terdaftar", "orang)",
              "kategori", "topik", "publik")
ENGLISH = ("Pre n", "Post n", "Gain", "normalised gain", "Normalised", "Participants", "Total", "Page ",
           "Opened by", "Registered", "registered", "Pre-test", "Post-test", "Author", "public", "topics")


def test_english_is_fully_english_and_indonesian_fully_indonesian(narrated):
    english = report.build(narrated, "pontianak", "en")
    indonesian = report.build(narrated, "pontianak", "id")

    assert "Opened by the Mayor of Pontianak, Ir. H. Edi Rusdi Kamtono" in english.markdown
    for words, written in ((INDONESIAN, english), (ENGLISH, indonesian)):
        own = _own_words(written)
        assert [w for w in words if w in own] == []
        assert [w for w in words if w in " ".join(t.sheet for t in written.tables.values())] == []
        assert [w for w in words if w in exports.workbook_name(written, public=True)] == []
    assert "2 kota, 2 pelaksanaan" in report.build(narrated, "national", "id").markdown
    assert "1 city, 1 rollout" in report.build(FakeWithOneCity.store(), "national", "en").markdown
    assert "2 cities, 2 rollouts" in report.build(narrated, "national", "en").markdown


def visible(page):
    """An HTML page's text, as a reader sees it (no styles, no tags)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", page, flags=re.S)))


def _own_words(written):
    """The report's text without what people wrote (agendas, names, the narrative: those stay as written)."""
    text = visible(document.html(written))
    typed = [s["title"] for s in written.context["sessions"]] + [
        cell for s in written.context["sessions"] for row in s["tables"]["topics"].rows for cell in row[1:]]
    for value in written.context["narrative"].values():
        for item in value if isinstance(value, list) else []:
            typed += list(item.values()) if isinstance(item, dict) else [item]
    typed += [p for s in written.context["sessions"] for p in s["summary"]]
    for words in sorted(typed, key=len, reverse=True):
        text = text.replace(words, "")
    return text


class FakeWithOneCity:
    @staticmethod
    def store():
        store = FakeReportingUnitOfWork()
        launch(store, 1, "pontianak", "Pontianak")
        return store


SECTIONS = {
    "id": ["Ringkasan eksekutif", "Latar belakang", "Tujuan", "Hasil belajar yang diharapkan",
           "Hari 1, 2 Mei 2019", "Hari 2, 3 Mei 2019", "Tips aman berinternet",
           "Lembaga pelaporan kekerasan dan eksploitasi", "Hasil pra-tes dan pasca-tes", "Temuan dan tanya jawab",
           "Rekomendasi", "Tindak lanjut", "Action plan", "Koordinasi dengan Panitia Lokal", "Metode",
           "Penyusun Laporan : Andy Ardian"],
    "en": ["Executive summary", "Background", "Aims", "Expected learning", "Day 1, 2 May 2019", "Day 2, 3 May 2019",
           "Internet-safety tips", "Where abuse can be reported", "Pre-test and post-test results",
           "Findings and questions", "Recommendations", "Follow-up", "Action plans",
           "Coordination with the local committee", "Method", "Author: Andy Ardian"],
}


def has_every_section_of_the_original(text, lang):
    """Assert that a report of the seed's rollout (Markdown, or an HTML page's visible text) has every
    section of the original in its order, with the seed's narrative in ``lang``."""
    seed = load_seed()
    at = 0
    for section in SECTIONS[lang]:  # each after the one before, as in the original
        at = text.find(section, at)
        assert at != -1, section
    for paragraph in seed["background"] + seed["aims"] + seed["tips"] + seed["findings"] + seed["follow_up"]:
        assert paragraph[lang].split(",")[0] in text
    for place in seed["reporting_institutions"]:
        assert place["name"] in text and place["channel"][lang] in text
    assert seed["qa"][0]["answer"][lang].split(",")[0] in text
    assert seed["sessions"][0]["summary"][0][lang].split(",")[0] in text
    assert "ECPAT Indonesia" in text  # the organisation, on the cover
    assert ("Tidak dicatat untuk pelaksanaan ini." if lang == "id" else "Not recorded for this rollout.") not in text


@pytest.mark.parametrize("lang", report.LANGUAGES)
def test_the_seed_report_has_every_section_of_the_original_in_its_order(narrated, lang):
    written = report.build(narrated, "pontianak", lang)

    for text in (written.markdown, visible(document.html(written))):
        has_every_section_of_the_original(text, lang)


def test_a_rollout_without_narrative_says_so_plainly(pontianak):
    written = report.build(pontianak, "medan")

    assert written.markdown.count("Tidak dicatat untuk pelaksanaan ini.") >= 8
    assert "Belum ada action plan yang tercatat." in written.markdown
    assert "Tidak dicatat untuk pelaksanaan ini." in document.html(written)


def test_action_plans_are_printed_with_owner_commitment_due_date_and_status(pontianak):
    markdown = report.build(pontianak, "pontianak").markdown

    assert "| No | Pemilik | Komitmen | Tenggat | Status |" in markdown
    assert '| 1 | Kelompok SMP Negeri 3 | Poster \\| "Internet Aman" di setiap kelas | 30 Juni 2019 | Direncanakan |' \
        in markdown


def test_a_narrative_edit_replaces_what_it_names_and_an_older_one_changes_nothing():
    store = FakeReportingUnitOfWork()
    launch(store, 1, "pontianak", "Pontianak", load_seed())
    edit = events.ROLLOUT_UPDATED.create("pontianak", rollout_id=1, status="launched", changed=["tips"],
                                         tips=[{"id": "Tip baru.", "en": "A new tip."}])
    late = {**events.ROLLOUT_UPDATED.create("pontianak", rollout_id=1, status="launched", changed=["tips"],
                                            tips=["Tip lama."]), "occurred_at": "2019-01-01T00:00:00+00:00"}
    dispatch(store, HANDLERS, [(events.ROLLOUT_UPDATED, json.loads(json.dumps(edit))),
                               (events.ROLLOUT_UPDATED, late)])

    written = report.build(store, "pontianak", "en")
    assert "- A new tip." in written.markdown and "Tip lama" not in written.markdown
    assert load_seed()["aims"][0]["en"] in written.markdown  # what the edit did not name stays


def test_national_roll_up_states_its_rules_and_sets_cities_side_by_side(pontianak):
    written = report.build(pontianak, events.NATIONAL, lang="en")

    assert "never by averaging the cities' percentages or gains" in written.markdown
    cities = written.tables["cities"]
    assert [row[0] for row in cities.rows] == ["Medan", "Pontianak"]
    assert "| Pre-test | 23 | 47.4% |" in written.markdown   # every pre-test taker: (9 + 100) / 230
    assert [heading for heading, _ in cities.columns][5:8] == ["n pre-test", "Pre-test %", "n post-test"]
    national = {row[0]: row for row in cities.rows}
    assert national["Medan"][2] == 3 and national["Pontianak"][2] == 106
    tests = figures.test_figures(pontianak, events.NATIONAL)
    # Pooled pairs: pre (3*3 + 18*5) / 210 = 47.1%, post (3*6 + 18*9) / 210 = 85.7%.
    assert (tests["paired_pre_percent"], tests["paired_post_percent"]) == (47.1, 85.7)
    assert tests["gain"] == 0.73   # the mean of the cities' gains, (0.43 + 0.8) / 2, would be 0.61
    # Medan's 100% from 3 people is not drawn like Pontianak's from 18: each city's n is on its row.
    assert [row.lines for row in written.charts["report-national-2019-cities.svg"].rows] == [
        ["Medan (n = 3)"], ["Pontianak (n = 18)"]]


def test_html_has_the_tables_and_the_charts_inline(pontianak):
    written = report.build(pontianak, "pontianak")
    page = document.html(written)

    assert page.startswith("<!DOCTYPE html>") and '<html lang="id">' in page
    assert '<td>Tenaga pendidikan</td><td class="n">24</td>' in page          # numbers right-aligned
    assert '<tr class="total"><td>Jumlah</td><td class="n">86</td></tr>' in page  # totals set apart
    assert page.count("<svg") == 2
    assert "<strong>86 peserta</strong>" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))                                          # no id shared by two charts
    assert "clip" not in page and "Helvetica" not in page
    for family in map(html.unescape, re.findall(r'font-family="([^"]+)"', page)):
        assert family.endswith("sans-serif") and family.startswith("'DejaVu Sans'")
    assert "n = 106 (terdaftar)" in page and "n = 18 (ikut kedua tes)" in page


def test_chart_labels_are_whole_and_every_bar_is_drawn(pontianak):
    chart = report.build(pontianak, "pontianak").charts["laporan-pontianak-2019-topik.svg"]

    assert [" ".join(row.lines) for row in chart.rows] == TOPICS          # wrapped, never cut
    assert max(len(line) for row in chart.rows for line in row.lines) <= 28
    assert chart.bar_count == 2 * len(TOPICS) and all(b.width > 0 for r in chart.rows for b in r.bars)
    assert chart.value_axis == "Rata-rata skor (%)" and chart.row_axis == "Topik"


def test_exports_give_exact_figures_and_public_ones_suppress_small_cells(pontianak, tmp_path):
    written = report.build(pontianak, "pontianak")

    exact = {p.name: p for p in exports.write_csv(written, tmp_path)}
    rows = list(csv.reader(exact["laporan-pontianak-2019-kategori.csv"].open(encoding="utf-8")))
    assert rows[0] == ["Kategori peserta", "Jumlah"]
    assert ["Unit PPA", "8"] in rows and ["Pelajar", "20"] in rows

    publication.publish_changed_summaries(pontianak)  # partners see what was released
    released = report.build(pontianak, "pontianak", public=True)
    public = {p.name: p for p in exports.write_csv(released, tmp_path, public=True)}
    plans = list(csv.reader(public["laporan-pontianak-2019-publik-action-plan.csv"].open(encoding="utf-8")))
    assert plans[1] == ["Direncanakan", "<5"]
    assert plans[-2:] == [[f"<5: {publication.MARKERS['en']['<5']}"], [f"x: {publication.MARKERS['en']['x']}"]]

    workbook = load_workbook(exports.write_xlsx(released, tmp_path, public=True))
    assert "workshop-kategori" in workbook.sheetnames
    assert [c.value for c in workbook["action-plan"][2]] == ["Direncanakan", "<5"]
    with pytest.raises(ValueError, match="public=True"):  # never the exact figures under a public name
        exports.write_xlsx(written, tmp_path, public=True)
    exact_book = load_workbook(exports.write_xlsx(written, tmp_path))
    assert [c.value for c in exact_book["tes"][3]] == ["Pasca-tes", 18, 90.0, 18]
    english = report.build(pontianak, "pontianak", "en")
    assert exports.workbook_name(english, public=True) == "report-pontianak-2019-public.xlsx"
    assert "workshop-categories" in load_workbook(exports.write_xlsx(english, tmp_path)).sheetnames


def test_no_export_cell_is_ever_a_formula(tmp_path):
    store = FakeReportingUnitOfWork()
    seed = load_seed()
    for prefix, session in zip("=+-@", seed["sessions"][0]["topics"]):
        session["facilitators"][0]["name"] = f'{prefix}HYPERLINK("http://evil.example","x")'
    launch(store, 1, "pontianak", "Pontianak", seed)
    written = report.build(store, "pontianak")

    cells = [row[2] for row in written.tables["workshop_topics"].rows]
    text = exports.table_csv(exports.table(written, "workshop-topik"))
    for prefix in "=+-@":
        assert f"'{prefix}HYPERLINK" in text
    assert all(any(f"{p}HYPERLINK" in c for c in cells) for p in "=+-@")
    book = load_workbook(exports.write_xlsx(written, tmp_path))
    assert [c.coordinate for sheet in book for row in sheet.iter_rows() for c in row if c.data_type == "f"] == []


def test_the_report_answer_names_files_never_server_paths(pontianak, tmp_path):
    answer = report.write_and_describe(report.build(pontianak, "pontianak"), tmp_path, ("md", "html"))

    assert answer["files"] == {"md": "laporan-pontianak-2019.md", "html": "laporan-pontianak-2019.html"}
    assert str(tmp_path) not in json.dumps(answer)
    assert (tmp_path / "laporan-pontianak-2019-topik.svg").read_text().startswith("<?xml")


def test_public_export_hides_percentages_resting_on_a_small_cell(pontianak, tmp_path):
    assert report.build(pontianak, "medan").tables["tests"].rows[0][1:3] == [3, 30.0]
    publication.publish_changed_summaries(pontianak)
    assert report.build(pontianak, "medan", public=True).tables["tests"].public_rows()[0][1:3] == ["<5", None]


def test_report_numbers_and_dates_in_both_languages():
    assert report.tanggal(date(2019, 5, 2), "en") == "2 May 2019"
    assert report.rentang(date(2019, 5, 2), date(2019, 5, 3), "en") == "2-3 May 2019"
    assert report.persen(85.75, "en") == "85.8%"
    assert report.decimal(0.677) == "0,68"
    assert report.number(12345) == "12.345" and report.number(12345, "en") == "12,345"


def test_the_catalogues_are_compiled_and_complete():
    """The .mo files shipped are the .po files compiled, and every message has its Indonesian."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    for lang in report.LANGUAGES:
        folder = report.LOCALE_DIR / lang / "LC_MESSAGES"
        with (folder / "reporting.po").open("rb") as po, (folder / "reporting.mo").open("rb") as mo:
            source, compiled = read_po(po), read_mo(mo)
        def pairs(catalogue):
            return {_key(m.id): _key(m.string) for m in catalogue if m.id and any(_key(m.string))}
        written, shipped = pairs(source), pairs(compiled)
        assert {i: shipped.get(i) for i in written} == written
        assert all(shipped[i] == i for i in set(shipped) - set(written))  # untranslated: the English itself
        if lang == "id":
            assert [m.id for m in source if m.id and not m.string] == []


def _key(text):
    return tuple(text) if isinstance(text, list | tuple) else (text,)


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


def test_a_public_report_prints_the_released_figures_never_sums_them_and_explains_the_markers():
    store = seeded()
    publication.publish_changed_summaries(store)
    released = publication.released_figures(store, events.NATIONAL)
    assert released["by_category"]["student"] == "x" and released["cities"][0]["pre_n"] == "<5"  # Medan's 3

    written = report.build(store, "national", "en", public=True)
    markdown, page = written.markdown, document.html(written)

    assert (written.public, written.stem) == (True, "report-national-2019-public")
    # The total is the released one (a sum over "x" would be no number at all).
    assert written.tables["categories"].rows[-1] == ["Total", released["participants"]]
    assert "## About the public figures" in markdown and '- "x": hidden so that' in markdown
    assert "“\\<5”" not in page and "“&lt;5”" in page and "Internal" not in page + markdown
    # Hidden values are marked, never drawn as bars of 0: Medan's percentages, the students' count.
    cities = written.charts["report-national-2019-public-cities.svg"]
    assert [(b.value, b.drawn) for b in cities.rows[0].bars] == [("-", False), ("-", False)]
    categories = written.charts["report-national-2019-public-categories.svg"]
    assert [(b.value, b.drawn) for r in categories.rows for b in r.bars][-1] == ("x", False)
    assert categories.bar_count == len(categories.rows) - 1
    assert 'data-value="x"' not in categories.svg() and ">x</text>" in categories.svg()
    assert f"n = {released['participants']} (registered)" in categories.n_note


def test_a_public_city_report_lists_no_plan_and_no_committee_list_size():
    store = seeded()
    publication.publish_changed_summaries(store)
    written = report.build(store, "pontianak", public=True)

    assert written.stem == "laporan-pontianak-2019-publik"
    assert "action_plan_list" not in written.tables and "Kelompok SMP" not in written.markdown
    assert "- Action plan: \\<5" in written.markdown  # a marker, in the plural the language writes it with
    assert "Daftar peserta dikirim kepada Panitia Lokal melalui email." in written.markdown
    assert "106 orang" not in written.markdown
    assert document.pdf(written).startswith(b"%PDF")


def test_an_internal_report_says_so_on_every_page():
    store = seeded()
    for lang, words in (("id", "Internal: angka persis, bukan untuk dipublikasikan"),
                        ("en", "Internal: exact figures, not for publication")):
        for city in ("pontianak", "national"):
            written = report.build(store, city, lang)
            page = document.html(written)
            assert not written.public and f"**{words}**" in written.markdown
            # On screen at the top; in print (the PDF) in every page's top right margin, the cover's too.
            assert f'<p class="classification">{words}</p>' in page
            assert re.search(r'@page\{@top-right\{content:"Internal:', page)


def test_the_pass_mark_and_the_method_are_two_sentences():
    written = report.build(seeded(), "pontianak", "en")
    assert "with these scores. \nMean scores are" in written.markdown
    assert "with these scores. \nMean scores are" in document.html(written)
