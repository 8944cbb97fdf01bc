"""The console scenario in Chromium, run by tests/e2e/test_console_in_browser.py in a process of its own.

Playwright's synchronous API runs an asyncio loop and threads of its own, which eventlet's green
threads (the test process is monkey-patched for the nameko containers of the unit tests) would
stall; so the browser is driven from a plain interpreter: ``python console_browser.py URL``.
Debian's Chromium, never a browser Playwright downloads.  A failed expectation exits non-zero with
Playwright's message, which the test shows.
"""
import re
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "output" / "console"
WAIT = 45_000  # ms: what the page waits for at most (events reach reporting, the dashboard polls every 10 s)

BAD_FILE = ("full_name,category,organisation,sex,age_band\n"
            "Umi Farida,educator,SMP Negeri 3 Pontianak,F,25-39\n"
            "Rudi Hartono,pilot,Bandara Supadio,M,25-39\n"     # line 3: no such category
            ",lsm,LPA Kalimantan Barat,F,40-59\n"               # line 4: no name
            "Dewi Lestari,educator,SD Negeri 14 Pontianak,F,25-39\n")
GOOD_FILE = ("full_name,category,organisation,sex,age_band\n"
             "Umi Farida,educator,SMP Negeri 3 Pontianak,F,25-39\n"
             "Rudi Hartono,patbm,PATBM Sungai Bangkong,M,25-39\n"
             "Sri Wahyuni,lsm,LPA Kalimantan Barat,F,40-59\n"
             "Dewi Lestari,educator,SD Negeri 14 Pontianak,F,25-39\n"
             "Agus Salim,educator,SMA Negeri 1 Pontianak,M,40-59\n")


def eventually(page, what, read, expected):
    """Wait, without reloading ``page``, until ``read()`` gives ``expected``: the page changes by itself.

    Checked from here every half second rather than with ``expect``: a page waited on by ``expect`` in a
    window that is not in front was seen to stop running its own timers, and so its polling."""
    deadline = time.monotonic() + WAIT / 1000
    while (found := read()) != expected:
        assert time.monotonic() < deadline, f"{what}: still {found!r}, not {expected!r}, after {WAIT / 1000:.0f}s"
        page.wait_for_timeout(500)


def gaps(card):
    """{category: how many short, or 0 when its minimum is met}, as the rollout's card shows them now."""
    return dict(card.locator("[data-category]").evaluate_all("""items => items.map(item => [
        item.dataset.category, Number((item.querySelector('.gap') || {dataset: {gap: 0}}).dataset.gap)])"""))


def text(locator):
    return [t.strip() for t in locator.all_text_contents()]


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, console, username, password):
    page.goto(console + "/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action$='/sign-in'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))


def scenario(browser, console, password, downloads):
    """Issue 16's scenario, as people click through it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT)
    page = context.new_page()

    # Bahasa Indonesia by default; the sign-in form's fields are labelled.
    page.goto(console + "/")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    expect(page.get_by_label("Nama pengguna")).to_be_visible()
    shot(page, "sign-in")
    sign_in(page, console, "nasional", password)

    # A second window (its own browser context) keeps the dashboard open: what changes below must reach
    # it by itself, by its polling.  What it asked and when is printed, for when this fails.
    watching = browser.new_context(viewport={"width": 1280, "height": 900})
    watching.set_default_timeout(WAIT)
    board = watching.new_page()
    started = time.monotonic()
    board.on("request", lambda request: print(f"{time.monotonic() - started:5.1f}s dashboard asks {request.url}"))
    board.on("requestfailed", lambda request: print(f"{time.monotonic() - started:5.1f}s failed: {request.url}"))
    board.on("pageerror", lambda error: print(f"{time.monotonic() - started:5.1f}s dashboard error: {error}"))
    sign_in(board, console, "nasional", password)

    # Plan a rollout with a minimum per category, and launch it.
    page.goto(console + "/rollouts/new")
    for field, value in {"city_name": "Pontianak", "province": "Kalimantan Barat", "venue": "Hotel Kapuas",
                         "starts_on": "2026-06-02", "ends_on": "2026-06-03",
                         "committee_email": "panitia@pontianak.example", "organisation": "ECPAT Indonesia",
                         "author": "Andy Ardian", "editor": "Rio Hendra", "sessions.0.date": "2026-06-02",
                         "sessions.0.capacity": "30", "sessions.0.minimum.educator": "3",
                         "sessions.0.minimum.lsm": "2", "sessions.1.date": "2026-06-03",
                         "sessions.1.capacity": "60", "sessions.1.minimum.student": "2"}.items():
        page.fill(f"[name='{field}']", value)
    shot(page, "plan")
    page.click("form[action$='/rollouts'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/rollouts/\d+$"))
    rollout_id = int(page.url.rsplit("/", 1)[1])
    page.click(f"form[action$='/rollouts/{rollout_id}/step/launch'] button")
    expect(page.locator("h1 .badge")).to_have_class(re.compile("state-launched"))
    shot(page, "rollout")

    card = board.locator(f"#rollout-{rollout_id}")
    eventually(board, "the launched rollout's gaps on the dashboard", lambda: gaps(card),
               {"educator": 3, "lsm": 2, "student": 2})

    # A file with two bad rows: nothing imported, both rows named.
    def upload(content):
        page.goto(f"{console}/rollouts/{rollout_id}")
        page.set_input_files("#import-file", files=[{"name": "peserta.csv", "mimeType": "text/csv",
                                                      "buffer": content.encode("utf-8")}])
        page.click(f"form[action$='/rollouts/{rollout_id}/imports'] button")
        page.wait_for_url(re.compile(r".*/imports/\d+$"))

    upload(BAD_FILE)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "failed")
    errors = page.locator("#import-job table tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("3")
    expect(errors.nth(0)).to_contain_text("category")
    expect(errors.nth(1)).to_contain_text("4")
    expect(errors.nth(1)).to_contain_text("full_name")
    shot(page, "import-errors")

    upload(GOOD_FILE)
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("[data-imported]")).to_have_attribute("data-imported", "5")
    shot(page, "import-done")

    # Check two educators in, from the participant list filtered to their category.
    page.goto(f"{console}/rollouts/{rollout_id}/participants?category=educator")
    expect(page.locator("tbody tr")).to_have_count(3)
    for row in (0, 1):
        page.locator("tbody tr").nth(row).locator("form[action$='/check-in'] button").click()
        expect(page.locator(".flash.done")).to_be_visible()
    expect(page.locator("tbody tr").nth(0).locator("form[action$='/check-in']")).to_have_count(1)
    shot(page, "participants")

    # The open dashboard caught up on its own: places, the educators' minimum met, the LSM still short, check-ins.
    eventually(board, "places held on day 1", lambda: text(card.locator("[data-figure=held-workshop]")), ["5"])
    eventually(board, "the categories short", lambda: gaps(card), {"educator": 0, "lsm": 1, "student": 2})
    eventually(board, "day 1's check-ins", lambda: text(card.locator("[data-figure=checked-in-day-1]")),
               ["hari ke-1: 2"])
    expect(card.locator("[data-category=educator] .met")).to_be_visible()
    shot(board, "dashboard")

    # The committee's page, its list to download, the reports and the operator's page.
    page.goto(f"{console}/committee/{rollout_id}")
    with page.expect_download() as listed:
        page.click(f"a[href$='/committee/{rollout_id}/list.csv']")
    assert listed.value.path().read_text(encoding="utf-8").startswith("code,full_name,category")
    shot(page, "committee")
    page.goto(f"{console}/reports?city=pontianak&rollout_id={rollout_id}")
    expect(page.locator("iframe.preview")).to_be_visible()
    with page.expect_download() as report:
        page.click("a[href*='/download/pdf']")
    pdf = downloads / report.value.suggested_filename
    report.value.save_as(pdf)
    assert pdf.name.endswith(".pdf") and pdf.read_bytes().startswith(b"%PDF")
    shot(page, "reports")
    page.goto(f"{console}/operations")
    expect(page.locator("#deliveries-title")).to_be_visible()
    shot(page, "operations")

    # The English switch, then signing out.
    page.click("a[hreflang=en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/sign-in$"))
    watching.close()

    # Medan's committee member, on a phone: Medan's rollout, and nothing of Pontianak anywhere.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, accept_downloads=True)
    phone.set_default_timeout(WAIT)
    member = phone.new_page()
    sign_in(member, console, "komite-medan", password)
    expect(member.locator("main")).to_contain_text("Medan")
    assert "Pontianak" not in member.content()
    shot(member, "medan-dashboard")
    member.goto(console + "/committee")
    expect(member.locator("main")).to_contain_text("Medan")
    assert "Pontianak" not in member.content()
    shot(member, "medan-committee")
    for path in (f"/rollouts/{rollout_id}", f"/rollouts/{rollout_id}/participants", f"/committee/{rollout_id}",
                 f"/committee/{rollout_id}/list.csv", "/reports/pontianak/download/pdf"):
        answer = member.request.get(console + path)
        assert answer.status in (403, 404), (path, answer.status)
        assert "Umi Farida" not in answer.text() and "Pontianak" not in answer.text()
    phone.close()
    context.close()


def main(console, password, downloads):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            scenario(browser, console, password, Path(downloads))
        finally:
            browser.close()
    print("the console scenario passed; screenshots in", SCREENSHOTS)


if __name__ == "__main__":
    main(*sys.argv[1:4])
