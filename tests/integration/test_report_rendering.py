"""The report as its readers get it: the PDF through poppler (its fonts, its pages as images, its text) and
the HTML in a real browser (headless Chromium), for the seed's rollout in both languages.

poppler-utils and chromium are Debian packages .ci/run installs."""
import json
import re
import shutil
import subprocess

import pytest

from campaign.demo import load_seed
from services.reporting import document, publication, report
from shared import events
from tests.unit.test_reporting_documents import seeded

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,30000",
                 "--virtual-time-budget=5000"]
PAGE = {"id": "Halaman {page} dari {pages}", "en": "Page {page} of {pages}"}
INTERNAL = {"id": "Internal: angka persis, bukan untuk dipublikasikan",
            "en": "Internal: exact figures, not for publication"}


def needs(*programs):
    missing = [p for p in programs if shutil.which(p) is None]
    return pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed (.ci/run installs them)")


@pytest.fixture(scope="module")
def store():
    return seeded(load_seed())


@pytest.fixture(scope="module", params=report.LANGUAGES)
def pdf(request, store, tmp_path_factory):
    written = report.build(store, "pontianak", request.param)
    path = tmp_path_factory.mktemp(f"pdf-{request.param}") / f"{written.stem}.pdf"
    path.write_bytes(document.pdf(written))
    return request.param, written, path


@needs("pdffonts")
def test_every_font_of_the_pdf_is_embedded(pdf):
    _, _, path = pdf
    listed = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    fonts = [line.split() for line in listed.splitlines()[2:]]

    assert fonts, listed
    for font in fonts:
        name, embedded = font[0], font[-5]
        assert embedded == "yes", listed
        assert "DejaVu" in name, listed


@needs("pdftoppm", "pdftotext", "pdfinfo")
def test_the_pdf_has_a_cover_and_numbered_pages_that_render(pdf, tmp_path):
    lang, written, path = pdf
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(path)], capture_output=True,
                                                             text=True, check=True).stdout)[1])
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))

    assert pages >= 5 and len(images) == pages
    assert all(image.stat().st_size > 3000 for image in images)   # something drawn on every page
    texts = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(path), "-"],
                            capture_output=True, text=True, check=True).stdout for n in range(1, pages + 1)]
    cover = " ".join(texts[0].split())
    context = written.context
    for shown in (context["program"], context["city_name"], "2-3", context["author"], context["editor"],
                  context["narrative"]["organisation"], context["issued"]):
        assert shown in cover, shown
    for number, text in enumerate(texts, 1):
        assert PAGE[lang].format(page=number, pages=pages) in " ".join(text.split())
    # Every page after the cover has the running header, and the body starts on page 2.
    assert all("Internet Aman untuk Anak · Pontianak" in " ".join(t.split()) for t in texts[1:])
    # An internal report says so on every page, the cover's too.
    internal = INTERNAL[lang]
    assert all(internal in " ".join(t.split()) for t in texts), [n for n, t in enumerate(texts, 1)
                                                                 if internal not in " ".join(t.split())]
    assert ("Ringkasan eksekutif" if lang == "id" else "Executive summary") in texts[1]


@needs("pdftotext")
def test_a_public_pdf_is_not_marked_internal_and_ends_by_explaining_its_markers(store, tmp_path):
    publication.publish_changed_summaries(store)
    written = report.build(store, events.NATIONAL, "en", public=True)
    path = tmp_path / f"{written.stem}.pdf"
    path.write_bytes(document.pdf(written))

    text = " ".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Internal" not in text
    assert "About the public figures" in text and "“<5” 1 to 4 people" in text and "“x” hidden so that" in text


COUNT_BARS = """<script>
window.addEventListener("load", () => {
  const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
    const bars = [...svg.querySelectorAll("rect.bar")];
    const seen = bars.filter(bar => {
      const box = bar.getBoundingClientRect();
      if (box.width <= 0 || box.height <= 0) return false;
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      return hit === bar;   // drawn where it is, not clipped away or covered
    });
    return {id: svg.id, bars: bars.length, seen: seen.length,
            font: getComputedStyle(svg.querySelector("text")).fontFamily};
  });
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(charts);
  document.body.appendChild(out);
});
</script>"""


@needs(CHROMIUM)
@pytest.mark.parametrize("lang", report.LANGUAGES)
@pytest.mark.parametrize("city, public", [("pontianak", False), (events.NATIONAL, False), (events.NATIONAL, True)])
def test_a_browser_shows_every_bar_of_every_chart(store, tmp_path, lang, city, public):
    if public:  # Medan's percentages and the students' count are hidden: marked, with no bar
        publication.publish_changed_summaries(store)
    written = report.build(store, city, lang, public=public)
    page = tmp_path / f"{written.stem}.html"
    page.write_text(document.html(written).replace("</body>", COUNT_BARS + "</body>"), encoding="utf-8")

    dom = subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    measured = json.loads(re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)[1].replace("&quot;", '"'))

    drawn = {chart.chart_id: chart.bar_count for chart in written.charts.values()}
    assert len(measured) == len(drawn) >= 2
    assert {chart["id"] for chart in measured} == set(drawn)   # one id per chart
    for chart in measured:
        assert chart["bars"] == chart["seen"] == drawn[chart["id"]], chart
        assert chart["font"].endswith("sans-serif"), chart
