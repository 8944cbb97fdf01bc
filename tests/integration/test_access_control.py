"""Every door of the API has a lock: each operation of the OpenAPI document, tried as an
outsider, as a role without its permission, as a coordinator of another city and as the
right role; and tokens that are expired, altered, signed by someone else or of a disabled
account.

The services run each in its own process (SQLite), with access tokens living 5 seconds
(ACCESS_TOKEN_TTL), so a lapse is seen quickly; the harness refreshes its own.
"""
import base64
import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import auth
from shared.config import DEAD_LETTERING
from tests.integration.conftest import rollout_for, running_cluster
from tests.support.accounts import PASSWORD
from tests.support.cluster import wait_until

TOKEN_TTL = 5
# Who lacks a permission, tried in this order: the role asked must not have it.
OUTSIDERS = ("operator", "partner", "committee", "medan")
TOPICS = ["Kejahatan Siber", "Jejak Digital dan Privasi"]
QUESTIONS = [{"id": f"q{i}", "text": "…", "topic": TOPICS[i % 2], "kind": "true_false", "answer": True}
             for i in range(1, 3)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smtp):
    with running_cluster("sqlite", tmp_path_factory.mktemp("access"), smtp, ACCESS_TOKEN_TTL=TOKEN_TTL) as cluster:
        yield cluster


def ok(answer, status=None):
    assert (answer.status_code == status) if status else answer.status_code < 300, \
        f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    return answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else answer


class World:
    """Records of Pontianak and of Medan, made by a national coordinator; fresh ones on demand."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.pontianak_rollouts = set()
        self.p = self.launched("Pontianak")
        self.m = self.launched("Medan")
        self.student_code = self.student(self.p)["code"]
        self.educator = self.person(self.p)
        self.medan_person = self.person(self.m)
        for rollout in (self.p, self.m):
            ok(cluster.put("notification", f"/rollouts/{rollout}/committee",
                           json={"emails": [f"panitia-{rollout}@committee.example"]}))
        self.instrument = wait_until(lambda: self._instrument(), "assessment to hear of the launch")
        ok(cluster.post("assessment", "/submissions", json={
            "instrument_id": self.instrument, "participant_code": self.student_code, "phase": "pre",
            "answers": {"q1": True, "q2": False}}), 201)
        self.plan = self.action_plan()
        ok(cluster.get("registration", f"/rollouts/{self.p}/participants"))  # a read the audit keeps
        self.job = ok(cluster.post("registration", f"/rollouts/{self.p}/participants/import",
                                   **sheet(f"full_name,category\nAndi {uuid.uuid4().hex[:6]},patbm\n")), 202)["id"]
        # A list sent to Pontianak's committee (and one to Medan's): deliveries and disclosures.
        self.p_closed, self.p_closed_person = self.closed("Pontianak")
        self.m_closed, _ = self.closed("Medan")
        self.delivery = self.sent(self.p_closed)
        self.medan_delivery = self.sent(self.m_closed)
        wait_until(lambda: cluster.get("reporting", "/summaries/pontianak").status_code == 200,
                   "Pontianak's first summaries")

    def launched(self, city, start=False):
        rollout = self.planned(city)
        ok(self.cluster.post("registration", f"/rollouts/{rollout}/launch"))
        if start:
            ok(self.cluster.post("registration", f"/rollouts/{rollout}/start"))
        return rollout

    def planned(self, city):
        rollout = ok(self.cluster.post("registration", "/rollouts",
                                       json=rollout_for(city, f"panitia@{city.lower()}.example")), 201)["id"]
        if city == "Pontianak":
            self.pontianak_rollouts.add(rollout)
        return rollout

    def person(self, rollout):
        return ok(self.cluster.post("registration", f"/rollouts/{rollout}/participants",
                                    json={"full_name": f"Umi {uuid.uuid4().hex[:6]}", "category": "educator"}), 201)

    def student(self, rollout):
        return ok(self.cluster.post("registration", f"/rollouts/{rollout}/participants", json={
            "full_name": f"Siti {uuid.uuid4().hex[:6]}", "category": "student", "age_band": "13-15",
            "consent_by": "school"}), 201)

    def _instrument(self):
        answer = self.cluster.post("assessment", "/instruments", json=self.instrument_body())
        return answer.json()["id"] if answer.status_code == 201 else None

    def instrument_body(self):
        return {"rollout_id": self.p, "session_key": "socialisation", "title": "Tes", "questions": QUESTIONS}

    def action_plan(self):
        return ok(self.cluster.post("assessment", "/action-plans", json={
            "rollout_id": self.p, "session_key": "socialisation", "owner": "group", "group_name": "Kelas 8A",
            "commitment": "Poster di kelas"}), 201)["id"]

    def closed(self, city):
        rollout = self.launched(city)
        person = self.person(rollout)
        ok(self.cluster.post("registration", f"/rollouts/{rollout}/close-registration"))
        return rollout, person["id"]

    def sent(self, rollout):
        def found():
            rows = self.cluster.get("notification", "/deliveries", params={"rollout_id": rollout}).json()["items"]
            return next((d["id"] for d in rows if d["status"] == "sent"), None)
        return wait_until(found, f"rollout {rollout}'s list to be sent")

    def account(self, role="partner", cities=()):
        username = f"akun-{uuid.uuid4().hex[:8]}"
        ok(self.cluster.post("identity", "/accounts", json={"username": username, "password": PASSWORD,
                                                            "role": role, "cities": list(cities)}), 201)
        return username


@pytest.fixture(scope="module")
def world(cluster):
    return World(cluster)


def sheet(text):
    return {"data": text.encode(), "headers": {"Content-Type": "text/csv"}}


# For each operation: (service, a right role, a call on a Pontianak record -> (path values, kwargs),
# what Medan's city coordinator gets: "404" (a record by id), "403" (a city in the path), "list"
# (Pontianak rows left out), or None (not a city's record)).
OPERATIONS = {
    ("GET", "/rollouts"): ("registration", "pontianak", lambda w: ({}, {}), "list"),
    ("POST", "/rollouts"): ("registration", "pontianak",
                            lambda w: ({}, {"json": rollout_for("Pontianak", "p@committee.example")}), None),
    ("GET", "/rollouts/{rollout_id}"): ("registration", "committee", lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("PATCH", "/rollouts/{rollout_id}"): ("registration", "pontianak",
                                         lambda w: ({"rollout_id": w.p}, {"json": {"venue": "Aula"}}), "404"),
    ("POST", "/rollouts/{rollout_id}/cancel"): ("registration", "pontianak",
                                                lambda w: ({"rollout_id": w.launched("Pontianak")}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/clone"): ("registration", "pontianak", lambda w: ({"rollout_id": w.p}, {
        "json": {"city_name": "Pontianak", "starts_on": "2020-01-06", "committee_email": "p@committee.example"}}),
        "404"),
    ("POST", "/rollouts/{rollout_id}/close-registration"): (
        "registration", "pontianak", lambda w: ({"rollout_id": w.launched("Pontianak")}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/complete"): (
        "registration", "pontianak", lambda w: ({"rollout_id": w.launched("Pontianak", start=True)}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/launch"): ("registration", "pontianak",
                                                lambda w: ({"rollout_id": w.planned("Pontianak")}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/start"): ("registration", "pontianak",
                                               lambda w: ({"rollout_id": w.launched("Pontianak")}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/target-check"): ("registration", "pontianak",
                                                      lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("GET", "/rollouts/{rollout_id}/participants"): ("registration", "committee",
                                                     lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/participants"): ("registration", "pontianak", lambda w: (
        {"rollout_id": w.p}, {"json": {"full_name": "Rina Wati", "category": "lsm"}}), "404"),
    ("POST", "/rollouts/{rollout_id}/participants/import"): ("registration", "pontianak", lambda w: (
        {"rollout_id": w.p}, sheet(f"full_name,category\nAndi {uuid.uuid4().hex[:6]},patbm\n")), "404"),
    ("GET", "/rollouts/{rollout_id}/imports/{job_id}"): (
        "registration", "pontianak", lambda w: ({"rollout_id": w.p, "job_id": w.job}, {}), "404"),
    ("GET", "/audit"): ("registration", "committee", lambda w: ({}, {}), "list"),
    ("GET", "/rollouts/{rollout_id}/participants/{participant_id}"): (
        "registration", "committee", lambda w: ({"rollout_id": w.p, "participant_id": w.educator["id"]}, {}), "404"),
    ("PATCH", "/rollouts/{rollout_id}/participants/{participant_id}"): ("registration", "pontianak", lambda w: (
        {"rollout_id": w.p, "participant_id": w.educator["id"]}, {"json": {"organisation": "SMPN 3"}}), "404"),
    ("POST", "/rollouts/{rollout_id}/participants/{participant_id}/cancel"): ("registration", "pontianak", lambda w: (
        {"rollout_id": w.p, "participant_id": w.person(w.p)["id"]}, {}), "404"),
    ("POST", "/rollouts/{rollout_id}/participants/{participant_id}/check-in"): ("registration", "pontianak", lambda w: (
        {"rollout_id": w.p, "participant_id": w.person(w.p)["id"]}, {}), "404"),
    ("GET", "/rollouts/{rollout_id}/committee-list"): ("registration", "committee",
                                                       lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("GET", "/rollouts/{rollout_id}/committee/changes"): ("notification", "committee",
                                                          lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("GET", "/rollouts/{rollout_id}/committee"): ("notification", "committee",
                                                  lambda w: ({"rollout_id": w.p}, {}), "404"),
    ("PUT", "/rollouts/{rollout_id}/committee"): ("notification", "pontianak", lambda w: (
        {"rollout_id": w.p}, {"json": {"emails": ["panitia@pontianak.example"]}}), "404"),
    ("GET", "/deliveries"): ("notification", "committee", lambda w: ({}, {}), "list"),
    ("GET", "/deliveries/{delivery_id}"): ("notification", "committee",
                                           lambda w: ({"delivery_id": w.delivery}, {}), "404"),
    ("POST", "/deliveries/{delivery_id}/resend"): ("notification", "pontianak",
                                                   lambda w: ({"delivery_id": w.delivery}, {}), "404"),
    ("GET", "/participants/{participant_id}/disclosures"): (
        "notification", "committee", lambda w: ({"participant_id": w.p_closed_person}, {}), "list"),
    ("GET", "/alerts"): ("notification", "pontianak", lambda w: ({}, {}), "list"),
    ("GET", "/instruments"): ("assessment", "pontianak", lambda w: ({}, {}), "list"),
    ("POST", "/instruments"): ("assessment", "pontianak", lambda w: ({}, {"json": w.instrument_body()}), "404"),
    ("GET", "/instruments/{instrument_id}"): ("assessment", "pontianak",
                                              lambda w: ({"instrument_id": w.instrument}, {}), "404"),
    ("GET", "/instruments/{instrument_id}/item-analysis"): (
        "assessment", "pontianak", lambda w: ({"instrument_id": w.instrument}, {}), "404"),
    ("POST", "/instruments/{instrument_id}/submissions/import"): ("assessment", "pontianak", lambda w: (
        {"instrument_id": w.instrument}, sheet(f"participant_code,phase,q1,q2\n{w.student(w.p)['code']},pre,benar,"
                                               "salah\n")), "404"),
    ("POST", "/submissions"): ("assessment", "pontianak", lambda w: ({}, {"json": {
        "instrument_id": w.instrument, "participant_code": w.student(w.p)["code"], "phase": "pre",
        "answers": {"q1": True, "q2": True}}}), "404"),
    ("GET", "/gains/{scope}"): ("assessment", "pontianak", lambda w: ({"scope": "pontianak"}, {}), "403"),
    ("GET", "/action-plans"): ("assessment", "pontianak", lambda w: ({}, {}), "list"),
    ("POST", "/action-plans"): ("assessment", "pontianak", lambda w: ({}, {"json": {
        "rollout_id": w.p, "session_key": "socialisation", "owner": "group", "group_name": "Kelas 9B",
        "commitment": "Diskusi"}}), "404"),
    ("PATCH", "/action-plans/{plan_id}"): ("assessment", "pontianak", lambda w: (
        {"plan_id": w.plan}, {"json": {"status": "in_progress"}}), "404"),
    ("GET", "/reports/{city}/figures"): ("reporting", "pontianak", lambda w: ({"city": "pontianak"}, {}), "403"),
    ("POST", "/reports/{city}/activity-report"): ("reporting", "partner", lambda w: (
        {"city": "pontianak"}, {"params": {"public": "1", "format": "md"}}), "403"),
    ("GET", "/reports/{city}/export.xlsx"): ("reporting", "partner", lambda w: (
        {"city": "pontianak"}, {"params": {"public": "1"}}), "403"),
    ("GET", "/reports/{city}/tables/{name}.csv"): ("reporting", "pontianak", lambda w: (
        {"city": "pontianak", "name": "categories"}, {}), "403"),
    ("GET", "/reports/{city}/rollout-figures"): ("reporting", "pontianak", lambda w: ({"city": "pontianak"}, {}),
                                                 "403"),
    ("GET", "/reports/{city}/activity-report"): ("reporting", "partner", lambda w: (
        {"city": "pontianak"}, {"params": {"public": "1", "format": "md"}}), "403"),
    ("POST", "/deliveries/{delivery_id}/receipt"): ("notification", "committee",
                                                    lambda w: ({"delivery_id": w.delivery}, {}), "404"),
    **{("GET", f"/dead-letters/{service}"): (service, "operator", lambda w: ({}, {}), None)
       for service in DEAD_LETTERING},
    **{("POST", f"/dead-letters/{service}/replay"): (service, "operator", lambda w: ({}, {"json": {}}), None)
       for service in DEAD_LETTERING},
    ("GET", "/summaries"): ("reporting", "partner", lambda w: ({}, {}), "list"),
    ("GET", "/summaries/{city}"): ("reporting", "committee", lambda w: ({"city": "pontianak"}, {}), "403"),
    ("GET", "/accounts"): ("identity", "national", lambda w: ({}, {}), None),
    ("POST", "/accounts"): ("identity", "national", lambda w: ({}, {"json": {
        "username": f"akun-{uuid.uuid4().hex[:8]}", "password": PASSWORD, "role": "partner", "cities": []}}), None),
    ("GET", "/accounts/{username}"): ("identity", "national", lambda w: ({"username": w.account()}, {}), None),
    ("POST", "/accounts/{username}/disable"): ("identity", "national",
                                               lambda w: ({"username": w.account()}, {}), None),
    ("POST", "/accounts/{username}/enable"): ("identity", "national",
                                              lambda w: ({"username": w.account()}, {}), None),
    ("POST", "/accounts/{username}/grant"): ("identity", "national", lambda w: (
        {"username": w.account()}, {"json": {"role": "committee_member", "cities": ["medan"]}}), None),
    ("GET", "/auth/me"): ("identity", "committee", lambda w: ({}, {}), None),
}


def secured_operations():
    from shared import openapi
    document = openapi.document()
    return sorted((method.upper(), path) for path, methods in document["paths"].items()
                  for method, operation in methods.items() if operation.get("security"))


def test_every_operation_that_needs_a_token_is_in_this_test_and_the_others_are_public():
    from shared import openapi
    document = openapi.document()
    assert set(secured_operations()) == set(OPERATIONS)
    public = sorted((m.upper(), p) for p, ms in document["paths"].items() for m, o in ms.items()
                    if not o.get("security"))
    assert {o["x-permission"] for ms in document["paths"].values() for o in ms.values()
            if not o.get("security")} == {auth.PUBLIC}
    # Anyone: signing in and what a token is checked with, the first account, and the committee's
    # acknowledgement (the one-time token of its mail's link is the credential).
    assert public == [("GET", "/auth/jwks.json"), ("GET", "/deliveries/{delivery_id}/acknowledge"),
                      ("POST", "/auth/bootstrap"), ("POST", "/auth/logout"), ("POST", "/auth/refresh"),
                      ("POST", "/auth/service-token"), ("POST", "/auth/token"),
                      ("POST", "/deliveries/{delivery_id}/acknowledge")]


def document_operation(method, path):
    from shared import openapi
    return openapi.document()["paths"][path][method.lower()]


def is_pontianak_row(world, row):
    return isinstance(row, dict) and (row.get("city") == "pontianak" or row.get("rollout_id") in
                                      world.pontianak_rollouts or row.get("id") in world.pontianak_rollouts
                                      and "sessions" in row)


def rows_of(answer):
    """The entries of a list's (first) page, or the cities that have summaries."""
    body = answer.json()
    return body["cities"] if "cities" in body else body["items"]


@pytest.mark.parametrize("method, path", secured_operations(), ids=lambda value: value)
def test_an_operation_is_refused_to_outsiders_and_other_cities_and_answers_the_right_role(cluster, world, method,
                                                                                        path):
    service, right_role, call, medan = OPERATIONS[method, path]
    permission = document_operation(method, path)["x-permission"]
    values, kwargs = call(world)
    url = cluster.url(service) + path.format(**values)

    def ask(who, **extra):
        headers = {"Authorization": f"Bearer {cluster.token(who)}"} if who else {}
        return requests.request(method, url, timeout=60, **{**kwargs, **extra,
                                                             "headers": {**kwargs.get("headers", {}), **headers}})

    anonymous = ask(None)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.json()["error"]["reason"] == "missing" and "Sign in" in anonymous.json()["error"]["message"]
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

    if permission != auth.SIGNED_IN:
        outsider = next(who for who in OUTSIDERS if permission not in auth.ROLES[_role(who)])
        refused = ask(outsider)
        assert refused.status_code == 403, (outsider, refused.text)
        assert refused.json()["error"]["permission"] == permission and permission in refused.json()["error"]["message"]

    if medan is not None and permission in auth.ROLES["city_coordinator"]:
        elsewhere = ask("medan")
        if medan == "list":
            assert elsewhere.status_code == 200, elsewhere.text
            assert not [row for row in rows_of(elsewhere) if is_pontianak_row(world, row) or row == "pontianak"]
            if path != "/alerts":  # (no alert has been raised: nothing to leave out)
                seen = rows_of(ask("national"))  # the same list holds Pontianak's rows for a national coordinator
                assert [row for row in seen if is_pontianak_row(world, row) or row == "pontianak"], (path, seen)
        else:
            assert elsewhere.status_code == int(medan), elsewhere.text

    answered = ask(right_role)
    assert answered.status_code < 300, answered.text


def _role(who):
    from tests.support.tokens import PEOPLE
    return PEOPLE[who][0]


def test_medans_coordinator_does_not_learn_which_pontianak_ids_exist(cluster, world):
    medan = cluster.session("medan")
    base = cluster.url("registration")
    existing = medan.get(f"{base}/rollouts/{world.p}")
    missing = medan.get(f"{base}/rollouts/2147483000")
    assert (existing.status_code, missing.status_code) == (404, 404)
    assert existing.json()["error"]["message"] == f"rollout {world.p} does not exist"
    assert medan.get(f"{base}/rollouts/{world.m}").status_code == 200
    # A list asked of Pontianak's rollout, by a filter: nothing, as for any unknown rollout.
    deliveries = medan.get(cluster.url("notification") + "/deliveries", params={"rollout_id": world.p_closed})
    assert deliveries.status_code == 200 and deliveries.json()["items"] == []
    assert [d["id"] for d in medan.get(cluster.url("notification") + "/deliveries").json()["items"]] == [
        world.medan_delivery]


def test_a_city_coordinator_cannot_plan_in_another_city(cluster, world):
    planned = cluster.session("medan").post(cluster.url("registration") + "/rollouts",
                                            json=rollout_for("Pontianak", "p@committee.example"))
    assert planned.status_code == 403 and planned.json()["error"]["field"] == "city_name"


def test_exact_figures_in_a_report_need_reports_internal_even_for_a_partner_who_has_public_ones(cluster, world):
    partner = cluster.session("partner")
    exact = partner.get(cluster.url("reporting") + "/reports/pontianak/tables/categories.csv")
    assert exact.status_code == 403 and exact.json()["error"]["permission"] == "reports:internal"
    wait_until(lambda: partner.get(cluster.url("reporting") + "/reports/pontianak/tables/categories.csv",
                                   params={"public": "1", "rollout_id": world.p}).status_code == 200,
               "the partner's public table (once the rollout's figures are released)")


# --- tokens -------------------------------------------------------------------------

def refusal(cluster, token):
    answer = requests.get(cluster.url("registration") + "/rollouts", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    return answer.json()["error"]["reason"]


def signed_in(cluster, username):
    answer = requests.post(cluster.url("identity") + "/auth/token", timeout=30,
                           json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_expired_token_is_refused(cluster, world):
    token = signed_in(cluster, "mitra")["access_token"]
    assert requests.get(cluster.url("reporting") + "/summaries", timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).status_code == 200
    reason = wait_until(lambda: _reason_if_refused(cluster, token), "the token to lapse",
                        timeout=TOKEN_TTL + auth.LEEWAY + 10, interval=0.5)
    assert reason == "expired"


def _reason_if_refused(cluster, token):
    answer = requests.get(cluster.url("registration") + "/rollouts", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    return answer.json()["error"]["reason"] if answer.status_code == 401 else None


def test_a_token_altered_to_claim_more_is_refused(cluster, world):
    header, payload, signature = signed_in(cluster, "komite-pontianak")["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(role="national_coordinator", cities=["*"])
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refusal(cluster, f"{header}.{forged}.{signature}") == "tampered"


def test_a_token_signed_with_another_key_is_refused(cluster, world):
    genuine = signed_in(cluster, "nasional")["access_token"]
    kid = jwt.get_unverified_header(genuine)["kid"]
    claims = jwt.decode(genuine, options={"verify_signature": False})
    stranger = Ed25519PrivateKey.generate()
    assert refusal(cluster, jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid})) == "tampered"
    assert refusal(cluster, jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "mine"})) == "unknown_key"
    assert refusal(cluster, jwt.encode(claims, "a shared secret, known to no issuer", algorithm="HS256",
                                       headers={"kid": kid})) in ("tampered", "invalid")


def test_a_disabled_account_is_refused_within_a_minute_and_cannot_refresh(cluster, world):
    username = world.account("city_coordinator", ["pontianak"])
    tokens = signed_in(cluster, username)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    rollouts = cluster.url("registration") + f"/rollouts/{world.p}"
    assert requests.get(rollouts, headers=headers, timeout=30).status_code == 200

    ok(cluster.post("identity", f"/accounts/{username}/disable"))
    disabled_at = time.monotonic()
    wait_until(lambda: requests.get(rollouts, headers=headers, timeout=30).status_code == 401,
               "the disabled account's last token to lapse", timeout=60, interval=0.5)

    assert time.monotonic() - disabled_at < 60
    refreshed = requests.post(cluster.url("identity") + "/auth/refresh", timeout=30,
                              json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    again = requests.post(cluster.url("identity") + "/auth/token", timeout=30,
                          json={"username": username, "password": PASSWORD})
    assert again.status_code == 401
