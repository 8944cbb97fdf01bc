"""The web console's plain parts, without a browser or a server: the dashboard's figures and gaps,
the pages as each role sees them (the API answered by a stand-in), sign-in and its CSRF token,
refreshing a session once for requests side by side, lists followed page by page, files that are
formula-safe, and every word of the pages in Bahasa Indonesia.  The browser: tests/e2e/test_console.py."""
import csv
import io
import json
import re
from pathlib import Path

import pytest
import requests
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services.console import app, committee, dashboard, pages, render, rollouts, session
from services.console.client import ApiClient, Download, Refused, Unreachable
from shared import auth

CONSOLE = Path(pages.__file__).parent
ROLLOUT = {
    "id": 7, "program": "Internet Aman untuk Anak", "city": "pontianak", "city_name": "Pontianak", "status": "launched",
    "starts_on": "2026-06-02", "ends_on": "2026-06-03", "registration_open": True, "venue": "Hotel Kapuas",
    "province": "Kalimantan Barat", "committee_name": None, "committee_email": "panitia@pontianak.example",
    "cancel_reason": None,
    "sessions": [
        {"key": "workshop", "day": 1, "date": "2026-06-02", "title": "Workshop", "audience": "activists",
         "capacity": 30, "opened_by": None, "topics": [{"title": "Kejahatan Siber", "facilitators": [
             {"name": "Andy Ardian", "organisation": "ECPAT Indonesia"}]}],
         "quotas": [{"category": "educator", "minimum": 3, "maximum": None},
                    {"category": "lsm", "minimum": 2, "maximum": None}]},
        {"key": "socialisation", "day": 2, "date": "2026-06-03", "title": "Sosialisasi", "audience": "students",
         "capacity": 60, "opened_by": "Wali Kota", "topics": [], "quotas": []}]}
DRAFT = {**ROLLOUT, "id": 8, "city": "medan", "city_name": "Medan", "status": "draft",
         "sessions": ROLLOUT["sessions"][:1]}
FIGURES = {"rollout_id": 7, "city": "pontianak", "city_name": "Pontianak", "starts_on": "2026-06-02",
           "ends_on": "2026-06-03", "by_session": {"workshop": {"educator": 3, "lsm": 1, "patbm": 1}},
           "attendance": [{"day": 1, "session_key": "workshop", "checked_in": 2}],
           "tests": {"pre_n": 0, "pre_percent": None, "post_n": 0, "post_percent": None, "paired": 0, "gain": None},
           "notifications": []}
DELIVERIES = [{"id": 1, "rollout_id": 7, "city": "pontianak", "kind": "digest", "channel": "mail",
               "status": "acknowledged", "recipient": "panitia@pontianak.example", "participant_count": 5,
               "attempts": 1, "last_error": None,
               "sent_at": "2026-06-01T08:00:00+00:00", "acknowledged_at": "2026-06-01T09:00:00+00:00"},
              {"id": 2, "rollout_id": 7, "city": "pontianak", "kind": "participant_list", "channel": "mail",
               "status": "sent", "recipient": "panitia@pontianak.example", "participant_count": 5, "attempts": 1,
               "last_error": None, "sent_at": "2026-06-01T10:00:00+00:00", "acknowledged_at": None}]
PEOPLE = [{"id": i, "code": f"PON-{i:06d}", "full_name": name, "category": category, "organisation": organisation,
           "session_key": "workshop", "status": status}
          for i, (name, category, organisation, status) in enumerate([
              ("Umi Farida", "educator", "SMP Negeri 3", "registered"),
              ("Dewi Lestari", "educator", "SD Negeri 14", "registered"),
              ("Sri Wahyuni", "lsm", "LPA Kalimantan Barat", "waitlisted")], start=1)]


# --- the dashboard's figures ------------------------------------------------------------

def test_each_rollout_shows_its_places_gaps_check_ins_and_least_settled_delivery():
    progress = dashboard.progress([DRAFT, ROLLOUT], [FIGURES], DELIVERIES)

    medan, pontianak = progress.rollouts  # by city name
    assert (medan.city_name, medan.figures_known, medan.delivery_state) == ("Medan", False, None)
    workshop, socialisation = pontianak.sessions
    assert (workshop.held, workshop.capacity, workshop.fill_percent) == (5, 30, 17)
    assert [(t.category, t.held, t.minimum, t.gap) for t in workshop.targets] == [("educator", 3, 3, 0),
                                                                                  ("lsm", 1, 2, 1)]
    assert workshop.others == {"patbm": 1}  # holds places, has no minimum
    assert (socialisation.held, socialisation.targets) == (0, [])
    assert pontianak.checked_in == 2 and pontianak.delivery_state == "sent"  # one not acknowledged yet
    assert (progress.held, progress.gaps, progress.checked_in, progress.cities) == (5, 1, 2, 2)
    assert progress.by_status == {"draft": 1, "launched": 1}


# --- the pages, as each role sees them ----------------------------------------------------

class FakeSessions:
    """Sessions without identity: a cookie "signed-in:<role>:<city>" is that person, anything else none."""

    def open(self, cookie):
        if not cookie or not cookie.startswith("signed-in:"):
            raise session.SignedOut("no session")
        return session.Session(cookie, "refresh", 9e12, "the-csrf")

    def current(self, signed_in):
        return signed_in

    def principal(self, signed_in):
        _, role, city = signed_in.access_token.split(":")
        return auth.Principal("1", f"a-{role}", role, (city,) if city else (auth.ALL_CITIES,))

    def seal(self, signed_in):
        return signed_in.access_token

    def sign_in(self, username, password):
        if password != "benar":
            raise Refused(401, {"code": "unauthenticated", "message": "no"})
        return session.Session("signed-in:national_coordinator:", "refresh", 9e12, "the-csrf")


class FakeApi:
    """The services' API as the pages call it, with canned answers; what was sent is kept."""

    answers = {
        "/rollouts": [DRAFT, ROLLOUT], "/rollouts/7": ROLLOUT,
        "/reports/national/rollout-figures": {"rollouts": [FIGURES]},
        "/reports/pontianak/rollout-figures": {"rollouts": [FIGURES]}, "/deliveries": DELIVERIES,
        "/rollouts/7/participants": PEOPLE, "/instruments": [], "/action-plans": [], "/audit": [],
        "/rollouts/7/committee": {"rollout_id": 7, "city": "pontianak", "name": "Panitia Lokal",
                                  "emails": ["panitia@pontianak.example"], "webhook_url": None,
                                  "list_format": "csv"},
        "/rollouts/7/committee/changes": [], "/summaries": {"cities": ["pontianak"]},
        "/summaries/pontianak": {"summary.participants.pontianak": {"participants": "<5", "by_category": {}},
                                 "summary.tests.pontianak": {"pre": {"n": 0}, "post": {"n": 0}, "paired": 0,
                                                             "gain": None}},
        "/dead-letters/assessment": [], "/dead-letters/notification": [],
        "/dead-letters/reporting": [{"service": "reporting", "event_id": "e-1", "routing_key": "test_scored.pontianak",
                                     "queue": "reporting.pontianak", "reason": "delivery_limit"}],
    }

    def __init__(self, base_url, token=None):
        self.token = token
        self.sent = []

    def get(self, path, **params):
        if path not in self.answers:
            raise Refused(404, {"code": "not_found", "message": f"{path} does not exist"})
        return self.answers[path]

    def items(self, path, **params):
        return list(self.get(path, **params))

    def post(self, path, body=None):
        FakeApi.last = (path, body)
        if path == "/rollouts":
            if not body.get("city_name"):
                raise Refused(422, {"code": "invalid_input", "message": "city_name: missing",
                                    "fields": {"city_name": ["Missing data for required field."],
                                               "sessions": {"0": {"capacity": ["Not a valid integer."]}}}})
            return {**ROLLOUT, "id": 9}
        if path.endswith("/check-in"):
            return {"code": "PON-000001", "day": 1}
        return {**ROLLOUT, "status": "running"}

    def call(self, method, path, **kwargs):
        FakeApi.last = (path, kwargs.get("json"))
        return ROLLOUT

    def download(self, path, default_name, **params):
        return Download("laporan-pontianak-2026.pdf", "application/pdf", b"%PDF-1.7")

    def close(self):
        pass


@pytest.fixture
def console(monkeypatch):
    monkeypatch.setattr(app, "ApiClient", FakeApi)
    return app.Console(FakeSessions(), "http://api.invalid")


def visit(console, path, who=None, method="GET", form=None, cookies=None, htmx=False, **query):
    jar = dict(cookies or {})
    if who:
        jar[session.COOKIE] = f"signed-in:{who}"
    if method == "POST":
        form = {"csrf": "the-csrf", **(form or {})}
    reply = console.handle(app.Visit(method, path, {k: str(v) for k, v in query.items()}, form or {}, {}, {},
                                     jar, htmx))
    return reply, reply.body.decode("utf-8", "replace")


def words(html):
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_no_session_goes_to_sign_in_and_back_after(console):
    reply, _ = visit(console, "/rollouts/7")
    assert (reply.status, reply.headers["Location"]) == (303, "/console/sign-in?next=%2Frollouts%2F7")
    polled, _ = visit(console, "/dashboard/live", htmx=True)  # a polled part sends the whole page there
    assert polled.headers["HX-Redirect"].startswith("/console/sign-in")

    form, html = visit(console, "/sign-in", next="/rollouts/7")
    assert 'lang="id"' in html and "Nama pengguna" in html
    csrf = next(c.value for c in form.cookies if c.name == session.CSRF_COOKIE)
    def sign_in(password, back):
        return console.handle(app.Visit("POST", "/sign-in", form={
            "csrf": csrf, "username": "nasional", "password": password, "next": back},
            cookies={session.CSRF_COOKIE: csrf}))

    wrong = sign_in("tebakan-7391", "/rollouts/7")
    assert wrong.status == 401 and "tebakan-7391" not in wrong.body.decode()  # a password is never shown back
    signed = sign_in("benar", "//evil.example/x")
    assert signed.status == 303 and signed.headers["Location"] == "/console/"  # never another site
    cookie = next(c for c in signed.cookies if c.name == session.COOKIE)
    assert cookie.http_only and cookie.max_age is None


def test_a_form_without_the_sessions_csrf_token_changes_nothing(console):
    FakeApi.last = None
    reply, html = visit(console, "/rollouts/7/step/launch", "national_coordinator:", "POST", {"csrf": "forged"})
    assert reply.status == 403 and FakeApi.last is None
    reply, _ = console.handle(app.Visit("POST", "/sign-in", form={"username": "x", "password": "benar"})), None
    assert reply.status == 403


def test_the_national_dashboard_shows_gaps_check_ins_and_deliveries(console):
    reply, html = visit(console, "/", "national_coordinator:")
    assert reply.status == 200 and 'hx-trigger="every 10s"' in html
    text = words(html)
    assert "Pontianak" in text and "Medan" in text
    assert 'data-gap="1"' in html and "kurang 1" in text  # the LSM, one short of its minimum
    assert "hari ke-1: 2" in text and "terkirim" in text
    live, fragment = visit(console, "/dashboard/live", "national_coordinator:", htmx=True)
    assert live.status == 200 and "<html" not in fragment and 'data-gap="1"' in fragment


def test_each_role_sees_the_pages_it_may_and_is_told_so_of_the_others(console):
    _, html = visit(console, "/", "partner:")
    assert "Rencanakan pelaksanaan" not in html and "/console/operations" not in html
    assert "&lt;5" in html  # the public figures, as released
    reply, html = visit(console, "/rollouts/new", "partner:")
    assert reply.status == 403 and "rollouts:write" in html
    reply, html = visit(console, "/operations", "operator:")
    assert reply.status == 200 and "test_scored.pontianak" in html and "panitia@" not in html  # no addresses
    reply, _ = visit(console, "/operations", "partner:")
    assert reply.status == 403
    _, html = visit(console, "/", "committee_member:medan")
    assert "Rencanakan pelaksanaan" not in html and "/console/committee" in html


def test_the_pages_of_a_rollout_render_for_a_coordinator_in_both_languages(console):
    for lang in ("id", "en"):
        for path in ("/rollouts/7", "/rollouts/7/participants", "/committee", "/committee/7", "/reports",
                     "/operations", "/rollouts/new"):
            reply, html = visit(console, path, "national_coordinator:", lang=lang)
            assert reply.status == 200, (path, lang, html)
            assert f'lang="{lang}"' in html
    _, html = visit(console, "/rollouts/7", "national_coordinator:", lang="en")
    assert "Kejahatan Siber" in html and "Andy Ardian" in html
    assert "Close registration" in html and ">Launch<" not in html  # the steps its state allows


def test_participants_are_searched_filtered_and_paged(console):
    _, html = visit(console, "/rollouts/7/participants", "national_coordinator:", category="educator", q="umi")
    assert "Umi Farida" in html and "Dewi Lestari" not in html and "1 dari 3 peserta" in words(html)
    _, html = visit(console, "/rollouts/7/participants", "committee_member:pontianak")
    assert "Umi Farida" in html and "/check-in" not in html  # a committee reads, it does not check in
    many = [{**PEOPLE[0], "id": i, "code": f"C{i}"} for i in range(1, 121)]
    shown, number, pages_ = rollouts.page_of(rollouts.matching(many, {}), "3")
    assert (len(shown), number, pages_) == (20, 3, 3)
    assert rollouts.page_of(many, "99")[1] == 3 and rollouts.page_of(many, "x")[1] == 1


def test_a_refused_plan_shows_each_problem_beside_its_field(console):
    reply, html = visit(console, "/rollouts", "national_coordinator:", "POST",
                        {"sessions.0.title": "Workshop", "sessions.0.capacity": "banyak"})
    assert reply.status == 422
    assert re.search(r'id="f-city_name"[^>]*aria-invalid="true"', html)
    assert re.search(r'id="f-sessions-0-capacity"[^>]*value="banyak"[^>]*aria-invalid="true"', html)
    assert "sessions.0.capacity: Not a valid integer." in html


def test_an_action_refused_by_the_api_goes_back_with_its_message(console, monkeypatch):
    def refused(self, path, body=None):
        raise Refused(409, {"code": "conflict", "message": "participant 1 already checked in on day 1"})
    monkeypatch.setattr(FakeApi, "post", refused)
    reply, _ = visit(console, "/rollouts/7/participants/1/check-in", "national_coordinator:", "POST",
                     {"back": "/rollouts/7/participants?category=educator"})
    assert reply.status == 303 and reply.headers["Location"] == "/console/rollouts/7/participants?category=educator"
    flash = next(c.value for c in reply.cookies if c.name == app.FLASH_COOKIE)
    _, html = visit(console, "/rollouts/7/participants", "national_coordinator:", cookies={app.FLASH_COOKIE: flash})
    assert "already checked in on day 1" in html
    _, fragment = visit(console, "/dashboard/live", "national_coordinator:", cookies={app.FLASH_COOKIE: flash},
                        htmx=True)
    assert "already checked in" not in fragment  # a polled part leaves the message for its page


def test_the_plan_form_becomes_registrations_body():
    body = rollouts.planned_rollout({
        "program": "Internet Aman untuk Anak", "city_name": "Pontianak", "starts_on": "2026-06-02",
        "ends_on": "2026-06-03", "committee_email": "p@x.example", "sessions.0.title": "Workshop",
        "sessions.0.date": "2026-06-02", "sessions.0.capacity": "30", "sessions.0.minimum.educator": "3",
        "sessions.1.title": "Sosialisasi", "sessions.1.date": "2026-06-03", "sessions.1.capacity": "x"})
    workshop, socialisation = body["sessions"]
    assert (workshop["day"], workshop["capacity"], workshop["quotas"]) == (1, 30, [{"category": "educator",
                                                                                     "minimum": 3}])
    assert (socialisation["day"], socialisation["capacity"], socialisation["audience"]) == (2, "x", "students")
    assert "province" not in body  # left empty: not sent


def test_agenda_rows_make_topics_with_their_facilitators():
    edit = rollouts.agenda_edit(ROLLOUT, "workshop", {"title": "Workshop", "capacity": "40", "opened_by": ""}, {
        "topic": ["Kejahatan Siber", "Kejahatan Siber", "Jejak Digital", ""],
        "facilitator": ["Andy Ardian", "Sri Wahyuni", "", ""],
        "organisation": ["ECPAT Indonesia", "LPA", "", ""]})
    assert edit == {"sessions": [{"key": "workshop", "title": "Workshop", "capacity": 40, "topics": [
        {"title": "Kejahatan Siber", "facilitators": [{"name": "Andy Ardian", "organisation": "ECPAT Indonesia"},
                                                       {"name": "Sri Wahyuni", "organisation": "LPA"}]},
        {"title": "Jejak Digital", "facilitators": []}]}]}


def test_the_details_form_sends_only_what_changed_and_keeps_texts_written_per_language():
    rollout = {**ROLLOUT, "organisation": None, "aims": ["Satu"],
               "background": [{"id": "Anak-anak makin lama daring.", "en": "Children spend longer online."}, "Kedua"]}
    form = {"province": "Kalimantan Barat", "organisation": "ECPAT Indonesia", "findings": "",
            "background": "Anak-anak makin lama daring.\nKedua", "aims": "Satu\n\nDua "}
    assert rollouts.details_edit(rollout, form, "id") == {"organisation": "ECPAT Indonesia", "aims": ["Satu", "Dua"]}
    assert rollouts.paragraphs(rollout["background"], "en") == "Children spend longer online.\nKedua"


def test_downloads_are_named_by_the_api_and_the_report_preview_runs_nothing(console):
    reply, _ = visit(console, "/reports/pontianak/download/pdf", "partner:")
    assert reply.media_type == "application/pdf" and reply.body.startswith(b"%PDF")
    assert reply.headers["Content-Disposition"] == 'attachment; filename="laporan-pontianak-2026.pdf"'
    reply, _ = visit(console, "/reports/pontianak/preview", "partner:")
    assert reply.headers["Content-Security-Policy"].startswith("sandbox")


# --- files people open ----------------------------------------------------------------------

def test_the_committee_list_files_are_formula_safe():
    from openpyxl import load_workbook

    listing = {"rollout_id": 7, "city": "pontianak"}
    people = [{"code": "PON-1", "full_name": "=HYPERLINK(\"http://x\")", "category": "LSM", "organisation": "+62 LSM",
               "session": "Workshop", "day": 1}]
    as_csv = committee.list_file(listing, people, "csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8"))))
    assert as_csv.name == "peserta-pontianak-7.csv"
    assert rows == [list(committee.LIST_COLUMNS), ["PON-1", "'=HYPERLINK(\"http://x\")", "LSM", "'+62 LSM",
                                                   "Workshop", "1"]]
    sheet = load_workbook(io.BytesIO(committee.list_file(listing, people, "xlsx").content)).active
    name = sheet.cell(row=2, column=2)
    assert name.value == "'=HYPERLINK(\"http://x\")" and name.data_type == "s"


# --- sessions ---------------------------------------------------------------------------------

@pytest.fixture
def sessions(tmp_path):
    return session.Sessions({"SECRET_KEY": "a key for the tests", "SECRET_KEY_FILE": str(tmp_path / "k"),
                             "IDENTITY_URL": "http://identity.invalid"}, "http://api.invalid")


def test_a_session_cookie_is_sealed_and_cannot_be_altered(sessions):
    signed = session.Session("access", "refresh", 123.0, "csrf")
    sealed = sessions.seal(signed)
    assert "refresh" not in sealed and sessions.open(sealed) == signed
    with pytest.raises(session.SignedOut):
        sessions.open(sealed[:-4] + "AAAA")
    with pytest.raises(session.SignedOut):
        sessions.open(None)


def test_requests_side_by_side_share_one_refresh(sessions, monkeypatch):
    refreshed = []

    class Identity:
        def __init__(self, url, token=None):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            pass

        def post(self, path, body):
            refreshed.append(body["refresh_token"])
            return {"access_token": f"access-{len(refreshed)}", "refresh_token": f"refresh-{len(refreshed)}",
                    "expires_in": 50}
    monkeypatch.setattr(session, "ApiClient", Identity)
    expiring = session.Session("access-0", "refresh-0", 1000.0, "csrf")

    first = sessions.current(expiring, now=995.0)
    again = sessions.current(expiring, now=996.0)  # another request with the same cookie, meanwhile
    assert first is again and refreshed == ["refresh-0"] and first.csrf == "csrf"
    assert sessions.current(first, now=1000.0) is first  # time left: kept as it is


# --- the client -------------------------------------------------------------------------------

class Pages(requests.adapters.BaseAdapter):
    """A list answered in pages, as the API's paginated lists will: items and a next cursor."""

    def send(self, request, **kwargs):
        cursor = requests.utils.urlparse(request.url).query
        body = {"items": [1, 2], "next_cursor": "c2"} if "cursor" not in cursor else {"items": [3], "next_cursor": None}
        answer = requests.Response()
        answer.status_code, answer.url, answer._content = 200, request.url, json.dumps(body).encode()
        return answer

    def close(self):
        pass


def test_lists_are_followed_page_by_page_and_refusals_name_their_fields():
    http = requests.Session()
    http.mount("http://api.test", Pages())
    assert ApiClient("http://api.test", http=http).items("/rollouts") == [1, 2, 3]

    refused = Refused(422, {"code": "invalid_input", "message": "bad", "field": "rollout_id",
                            "fields": {"sessions": {"1": {"capacity": ["Not a valid integer."]}}, "city_name": ["x"]}})
    assert refused.fields == {"sessions.1.capacity": ["Not a valid integer."], "city_name": ["x"],
                              "rollout_id": ["bad"]}
    with pytest.raises(Unreachable):
        ApiClient("http://127.0.0.1:9", timeout=2).get("/rollouts")


# --- words ------------------------------------------------------------------------------------

def test_every_word_of_the_pages_has_its_bahasa_indonesia_and_the_catalogue_is_compiled():
    template = read_po((CONSOLE / "locale" / "console.pot").open("rb"))
    indonesian = read_po((CONSOLE / "locale" / "id" / "LC_MESSAGES" / "console.po").open("rb"))
    compiled = read_mo((CONSOLE / "locale" / "id" / "LC_MESSAGES" / "console.mo").open("rb"))
    missing = [m.id for m in template if m.id and not (indonesian.get(m.id) and indonesian.get(m.id).string)]
    assert missing == [], "pybabel update, then translate them"
    stale = [m.id for m in indonesian if m.id and (compiled.get(m.id) is None
                                                   or _texts(compiled.get(m.id).string) != _texts(m.string))]
    assert stale == [], "pybabel compile -d locale -D console"
    assert render.gettext("id", "Sign in") == "Masuk" and render.gettext("en", "Sign in") == "Sign in"
    assert render.number(1234567, "id") == "1.234.567" and render.percent(56.25, "en") == "56.2%"


def _texts(string):
    return tuple(string) if isinstance(string, (list, tuple)) else (string,)
