"""The one API client of ``campaign``, against a real local HTTP server standing in for the API."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from campaign.commands import API_COMMANDS
from tests.support.cluster import free_port

rollout, participants, assessment, notifications, reporting, audit, dead_letters = API_COMMANDS
NOT_FOUND = (404, {"error": {"code": "http_error", "message": "The requested URL was not found on the server."}})
EMPTY = {"items": [], "next_cursor": None}  # a list's last (and only) page


class FakeApi(BaseHTTPRequestHandler):
    """Answers ``(method, path with query)`` or ``(method, path)`` as told; anything else as the API's 404."""

    answers = {}
    received = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        FakeApi.received.append((self.command, self.path, body))
        status, value = FakeApi.answers.get((self.command, self.path)) or FakeApi.answers.get(
            (self.command, self.path.split("?")[0]), NOT_FOUND)
        data = value if isinstance(value, bytes) else json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(value, bytes) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeApi.answers, FakeApi.received = {}, []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(group, *args, url=None, env_url=None):
    env = {"CAMPAIGN_API_URL": env_url} if env_url else {"CAMPAIGN_API_URL": ""}
    return CliRunner().invoke(group, [*args, *(["--api-url", url] if url else [])], env=env)


@pytest.mark.parametrize("given", ["{}", "{}/", "{}/api/v1", "{}/api/v1/"])
def test_every_group_takes_the_base_url_or_the_api_v1_url(api, given):
    FakeApi.answers.update({("GET", "/api/v1/rollouts"): (200, EMPTY), ("GET", "/api/v1/deliveries"): (200, EMPTY),
                            ("GET", "/api/v1/instruments"): (200, EMPTY), ("GET", "/api/v1/summaries"): (200, {
                                "cities": ["pontianak"]})})
    url = given.format(api)
    for group, args in ((rollout, ["list"]), (notifications, ["list"]), (assessment, ["instruments"]),
                        (reporting, ["summaries"])):
        from_env = run(group, *args, env_url=url)
        assert from_env.exit_code == 0, from_env.output
        on_the_group = CliRunner().invoke(group, ["--api-url", url, *args], env={"CAMPAIGN_API_URL": ""})
        assert on_the_group.exit_code == 0, on_the_group.output
    assert {path.split("?")[0] for _, path, _ in FakeApi.received} == {
        "/api/v1/rollouts", "/api/v1/deliveries", "/api/v1/instruments", "/api/v1/summaries"}


def test_a_command_s_own_api_url_wins_over_its_group_s_and_the_environment(api):
    FakeApi.answers[("GET", "/api/v1/rollouts")] = (200, EMPTY)
    elsewhere = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(rollout, ["--api-url", elsewhere, "list", "--api-url", api],
                                env={"CAMPAIGN_API_URL": elsewhere})
    assert result.exit_code == 0, result.output


def test_an_unreachable_api_is_one_clear_line_and_exit_1():
    result = run(notifications, "list", url=f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: cannot reach the API at http://")
    assert "Traceback" not in result.output


def test_a_url_that_is_not_a_url_is_one_clear_line_and_exit_1():
    result = run(rollout, "list", url="localhost:8000")
    assert result.exit_code == 1
    assert result.stderr == ("error: --api-url localhost:8000: not an http(s) URL; give the API's base URL, "
                             "e.g. http://127.0.0.1:8000 (also $CAMPAIGN_API_URL)\n")


def test_a_base_url_with_no_api_behind_it_says_so_in_one_line(api):
    wrong_path = run(rollout, "list", url=api + "/campaign")
    assert wrong_path.exit_code == 1 and wrong_path.stderr.count("\n") == 1
    assert f"the API has no such path; is {api}/campaign its base URL?" in wrong_path.stderr
    assert "requested URL was not found" not in wrong_path.stderr

    FakeApi.answers[("GET", "/api/v1/deliveries")] = (502, b"<html>Bad Gateway</html>")
    not_json = run(notifications, "list", url=api)
    assert not_json.exit_code == 1 and not_json.stderr.count("\n") == 1
    assert "answered 502" in not_json.stderr and "not the campaign API's JSON" in not_json.stderr


def test_a_refusal_names_the_field_in_one_line_and_exits_1(api):
    FakeApi.answers[("POST", "/api/v1/rollouts/3/participants")] = (422, {"error": {
        "code": "invalid_input", "message": "email: must not be given for a minor",
        "fields": {"email": ["must not be given for a minor"]}}})
    refused = run(participants, "add", "3", "--name", "Siti", "--category", "student", "--email", "s@example.org",
                  url=api)
    assert refused.exit_code == 1
    assert refused.stderr == "error: email: must not be given for a minor\n"

    FakeApi.answers[("GET", "/api/v1/rollouts/9/committee")] = (404, {"error": {
        "code": "not_found", "message": "rollout 9 has no committee set", "field": "rollout_id"}})
    missing = run(notifications, "committee", "show", "9", url=api)
    assert missing.exit_code == 1
    assert missing.stderr == "error: rollout_id: rollout 9 has no committee set\n"


def test_a_first_day_that_moves_the_agenda_past_the_calendar_is_one_line_and_nothing_sent(api):
    result = run(rollout, "plan", "--city", "Sambas", "--starts-on", "9999-12-31", "--committee-email",
                 "panitia@sambas.example", url=api)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: --starts-on: 9999-12-31 ")
    assert FakeApi.received == []


def test_a_server_error_exits_1_without_a_traceback(api):
    FakeApi.answers[("POST", "/api/v1/rollouts/3/close-registration")] = (503, {"error": {
        "code": "unavailable", "message": "The database is unavailable; try again shortly."}})
    result = run(rollout, "close-registration", "3", url=api)
    assert result.exit_code == 1
    assert result.stderr == "error: The database is unavailable; try again shortly.\n"


def test_a_list_answered_in_pages_is_followed_to_its_end(api):
    delivery = {"status": "sent", "kind": "digest", "channel": "mail", "city": "medan", "rollout_id": 2,
                "attempts": 1, "participant_count": 7, "sent_at": "2020-03-09T08:00:00"}
    FakeApi.answers[("GET", "/api/v1/deliveries?rollout_id=2&limit=1000")] = (200, {
        "items": [{**delivery, "id": 1}], "next_cursor": "abc"})
    FakeApi.answers[("GET", "/api/v1/deliveries?rollout_id=2&cursor=abc&limit=1000")] = (200, {
        "items": [{**delivery, "id": 2}], "next_cursor": None})
    result = run(notifications, "list", "--rollout", "2", "--json", url=api)
    assert result.exit_code == 0, result.output
    assert [d["id"] for d in json.loads(result.stdout)] == [1, 2]


def person(number):
    return {"id": number, "code": f"PON-{number:04d}", "status": "registered", "session_key": "workshop",
            "category": "educator", "full_name": f"Peserta {number}"}


def test_limit_stops_a_list_early_asking_only_for_what_is_left(api):
    FakeApi.answers.update({  # the API may answer fewer than asked; the command asks on until it has N
        ("GET", "/api/v1/rollouts/4/participants?limit=3"): (200, {"items": [person(1), person(2)],
                                                                   "next_cursor": "c2"}),
        ("GET", "/api/v1/rollouts/4/participants?cursor=c2&limit=1"): (200, {"items": [person(3)],
                                                                             "next_cursor": "c3"})})
    result = run(participants, "list", "4", "--limit", "3", url=api)
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["1", "2", "3"]
    assert len(FakeApi.received) == 2  # not the page after c3

    assert run(participants, "list", "4", "--limit", "0", url=api).exit_code == 2


def test_the_committee_list_is_read_to_its_end_with_the_rollout_it_is_of(api):
    rollout_fields = {"rollout_id": 4, "city": "pontianak", "city_name": "Pontianak", "committee_name": None,
                      "committee_email": "panitia@pontianak.example"}
    rows = [{"participant_id": n, "code": f"PON-{n:04d}", "full_name": f"Peserta {n}", "category": "Pelajar",
             "organisation": "", "session": "Sosialisasi", "day": 1} for n in range(1, 1502)]
    FakeApi.answers.update({
        ("GET", "/api/v1/rollouts/4/committee-list?limit=1000"): (200, {**rollout_fields, "items": rows[:1000],
                                                                        "next_cursor": "c1000"}),
        ("GET", "/api/v1/rollouts/4/committee-list?cursor=c1000&limit=1000"): (200, {
            **rollout_fields, "items": rows[1000:], "next_cursor": None})})
    shown = run(participants, "committee-list", "4", url=api)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "Pontianak: 1501 participants" and "PON-1501" in shown.stdout
    as_json = json.loads(run(participants, "committee-list", "4", "--json", url=api).stdout)
    assert as_json == {**rollout_fields, "items": rows}


def test_an_answer_that_is_not_a_page_is_one_clear_line(api):
    FakeApi.answers[("GET", "/api/v1/rollouts")] = (200, [{"id": 1}])
    result = run(rollout, "list", url=api)
    assert result.exit_code == 1
    assert result.stderr == (f"error: GET /rollouts answered something other than a page of a list; is {api} the "
                             "campaign API's base URL?\n")


def test_committee_with_an_id_alone_shows_it_and_with_options_sets_it(api):
    committee = {"rollout_id": 1, "city": "pontianak", "name": None, "emails": ["panitia@pontianak.example"],
                 "webhook_url": None, "webhook_enabled": False, "list_format": "csv"}
    FakeApi.answers[("GET", "/api/v1/rollouts/1/committee")] = (200, committee)
    FakeApi.answers[("PUT", "/api/v1/rollouts/1/committee")] = (200, committee)

    shown = run(notifications, "committee", "1", url=api)
    assert shown.exit_code == 0, shown.output
    assert "Committee of rollout 1 (pontianak): panitia@pontianak.example; lists as csv." in shown.stdout
    assert run(notifications, "committee", "1", "--email", "panitia@pontianak.example", url=api).exit_code == 0
    assert [(method, path) for method, path, _ in FakeApi.received] == [
        ("GET", "/api/v1/rollouts/1/committee"), ("PUT", "/api/v1/rollouts/1/committee")]
    assert json.loads(FakeApi.received[1][2])["emails"] == ["panitia@pontianak.example"]


def test_rollout_edit_sends_only_the_fields_given_and_empty_clears(api, tmp_path):
    edited = {"id": 4, "status": "draft", "city": "medan", "starts_on": "2020-03-10", "ends_on": "2020-03-11",
              "program": "Internet Aman untuk Anak", "venue": None}
    FakeApi.answers[("PATCH", "/api/v1/rollouts/4")] = (200, edited)
    sessions = tmp_path / "sessions.json"
    sessions.write_text(json.dumps({"sessions": [{"key": "workshop", "capacity": 90}], "venue": "Aula"}))

    result = run(rollout, "edit", "4", "--venue", "", "--starts-on", "2020-03-10", "--body", str(sessions), url=api)
    assert result.exit_code == 0, result.output
    assert json.loads(FakeApi.received[0][2]) == {
        "sessions": [{"key": "workshop", "capacity": 90}], "venue": None, "starts_on": "2020-03-10"}

    nothing = run(rollout, "edit", "4", url=api)
    assert nothing.exit_code == 2 and "at least one field" in nothing.output
    assert len(FakeApi.received) == 1


def test_reporting_report_asks_the_api_for_the_rollout_chosen(api, tmp_path):
    FakeApi.answers[("POST", "/api/v1/reports/pontianak/activity-report")] = (201, {
        "files": {"md": "laporan-pontianak-2019.md"}, "markdown": "# Laporan\n",
        "file": "laporan-pontianak-2019.md"})
    result = run(reporting, "report", "pontianak", "--rollout", "7", "--format", "md", "--dir", str(tmp_path),
                 url=api)
    assert result.exit_code == 0, result.output
    assert FakeApi.received[0][1] == "/api/v1/reports/pontianak/activity-report?lang=id&format=md&rollout_id=7"
    assert result.stdout.splitlines() == ["laporan-pontianak-2019.md",
                                          str(tmp_path / "laporan-pontianak-2019.md")]
    assert (tmp_path / "laporan-pontianak-2019.md").read_text() == "# Laporan\n"

    both = run(reporting, "report", "pontianak", "--local", url=api)
    assert both.exit_code == 2 and "--api-url asks the API" in both.output
    national = run(reporting, "report", "national", "--rollout", "7", url=api)
    assert national.exit_code == 2 and "--rollout" in national.output


def test_the_audit_shows_reads_purges_and_who_received_the_lists_newest_first(api):
    FakeApi.answers.update({
        ("GET", "/api/v1/audit?city=pontianak&limit=1000"): (200, {"next_cursor": None, "items": [
            {"id": 2, "at": "2019-06-01T09:00:00+00:00", "actor": None, "action": "purged", "rollout_id": 3,
             "city": "pontianak", "rows": 206},
            {"id": 1, "at": "2019-05-01T08:00:00+00:00", "actor": "budi", "action": "listed", "rollout_id": 3,
             "city": "pontianak", "rows": 206}]}),
        ("GET", "/api/v1/deliveries?city=pontianak&limit=1000"): (200, {"next_cursor": None, "items": [
            {"id": 5, "rollout_id": 3, "city": "pontianak", "kind": "final_list", "channel": "mail",
             "recipient": "panitia@pontianak.example", "participant_count": 206,
             "sent_at": "2019-05-01T07:00:00+00:00", "acknowledged_at": None},
            {"id": 6, "rollout_id": 3, "city": "pontianak", "kind": "agenda", "channel": "mail",
             "recipient": "panitia@pontianak.example", "participant_count": None,
             "sent_at": "2019-04-30T07:00:00+00:00", "acknowledged_at": None}]}),
    })
    result = run(audit, "--city", "pontianak", url=api)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["purged", "listed", "received"]
    assert "by budi" in lines[1] and "by panitia@pontianak.example" in lines[2] and "agenda" not in result.stdout
