"""A city's import is a job of its own: read by its city's import worker, never by the API.

The services run as deployed (each its own process, PostgreSQL, the real broker), with
Surabaya's files read by an import worker of its own.
"""
import csv
import io
import threading
import time

import pytest

from tests.integration.conftest import launcher, running_cluster
from tests.support.workbook_bombs import inflating_workbook, shared_strings_workbook

# What a single registration may take while another city imports: generous, as other work
# may share the machine (it takes tens of milliseconds alone), yet short of a file of 20,000
# rows read and written in the process that answers it.
BUDGET = 5.0


def people(n, prefix):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["full_name", "category", "organisation"])
    writer.writerows((f"{prefix} {i}", "educator", f"Sekolah {i % 40}") for i in range(n))
    return buffer.getvalue().encode()


@pytest.fixture(scope="module")
def system(tmp_path_factory, smtp):
    def prepare(cluster, databases):
        cluster.services["registration-imports"].env["CITY"] = "pontianak,medan,palembang"
        cluster.add_worker("imports-surabaya", "registration-imports", CITY="surabaya")

    with running_cluster("postgresql", tmp_path_factory.mktemp("import-jobs"), smtp, prepare=prepare) as cluster:
        yield cluster


def test_a_citys_import_job_never_holds_another_citys_registration_past_its_budget(system):
    launch = launcher(system)
    surabaya = launch("Surabaya", "surabaya-jobs@committee.example")
    pontianak = launch("Pontianak", "pontianak-jobs@committee.example")
    submitted = system.post("registration", f"/rollouts/{surabaya['id']}/participants/import",
                            data=people(20000, "Peserta"), timeout=120)
    assert submitted.status_code == 202, submitted.text
    job_path = f"/rollouts/{surabaya['id']}/imports/{submitted.json()['id']}"
    job = {"status": "queued"}

    def follow():
        while job["status"] not in ("succeeded", "failed"):
            job.update(system.get("registration", job_path).json())
            time.sleep(0.1)
    follower = threading.Thread(target=follow)
    follower.start()

    took, seen_running = [], False
    while job["status"] not in ("succeeded", "failed") or not took:
        seen_running = seen_running or job["status"] == "running"
        started = time.perf_counter()
        answer = system.post("registration", f"/rollouts/{pontianak['id']}/participants",
                             json={"full_name": f"Sampel {len(took)}", "category": "lsm"})
        took.append(time.perf_counter() - started)
        assert answer.status_code == 201, answer.text
    follower.join()

    assert job["status"] == "succeeded", job
    assert (job["rows_done"], job["rows_total"], job["result"]["imported"]) == (20000, 20000, 20000)
    assert seen_running, "no registration was made while the job ran"
    assert max(took) < BUDGET, f"slowest of {len(took)} registrations: {max(took):.2f}s (median " \
        f"{sorted(took)[len(took) // 2]:.2f}s), the job from {job['started_at']} to {job['finished_at']}"


def test_progress_is_reported_as_the_worker_checks_the_rows(system):
    medan = launcher(system)("Medan", "medan-jobs@committee.example")
    submitted = system.post("registration", f"/rollouts/{medan['id']}/participants/import",
                            data=people(20000, "Medan"), timeout=120)
    job_path = f"/rollouts/{medan['id']}/imports/{submitted.json()['id']}"
    seen = []
    while not seen or seen[-1]["status"] not in ("succeeded", "failed"):
        seen.append(system.get("registration", job_path).json())
        time.sleep(0.02)

    assert seen[-1]["status"] == "succeeded", seen[-1]
    done = [j["rows_done"] for j in seen]
    assert done == sorted(done)  # never backwards
    assert any(0 < j["rows_done"] < 20000 and j["rows_total"] == 20000 for j in seen), \
        "no progress between the start and the end was ever seen"


def test_workbook_bombs_are_refused_within_2_s_while_another_clients_get_answers_within_500_ms(system):
    """Issue 13's acceptance: a 1 MB workbook unpacking to 1 GB and a 130 KB one of 3 million shared strings
    are refused within 2 s, and another client's GET answers within 500 ms meanwhile.

    Both bars are the stated ones on top of what the same requests take idle, measured here first (best
    of three): a machine busy with other work slows every request alike, and must not fail the test.
    """
    launch = launcher(system)
    palembang = launch("Palembang", "palembang-bombs@committee.example")
    other = launch("Pontianak", "pontianak-bombs@committee.example")
    coordinator = system.session("pontianak")  # another client, in another city
    upload = f"/rollouts/{palembang['id']}/participants/import"

    def get():
        started = time.perf_counter()
        answer = coordinator.get(system.url("registration") + f"/rollouts/{other['id']}", timeout=30)
        assert answer.status_code == 200, answer.text
        return time.perf_counter() - started

    def refusal(data):
        started = time.perf_counter()
        answer = system.post("registration", upload, data=data, timeout=60)
        return time.perf_counter() - started, answer

    idle_get = min(get() for _ in range(3))
    idle_refusal = min(refusal(b"PK\x03\x04 not a workbook")[0] for _ in range(3))

    def another_client(gets, stop):
        while not stop.is_set() or not gets:
            gets.append(get())

    for name, bomb in (("1 GB unpacked", inflating_workbook()), ("3 million shared strings",
                                                                  shared_strings_workbook())):
        gets, stop = [], threading.Event()
        client = threading.Thread(target=another_client, args=(gets, stop))
        client.start()
        took, answer = refusal(bomb)
        stop.set()
        client.join()

        assert answer.status_code == 422 and "body" in answer.json()["error"]["fields"], answer.text
        assert took < 2.0 + idle_refusal, f"{name}: refused after {took:.2f}s (a refusal idle: {idle_refusal:.2f}s)"
        assert max(gets) < 0.5 + idle_get, f"{name}: another client's GET took {max(gets):.2f}s " \
                                           f"(idle: {idle_get:.2f}s)"
    assert system.get("registration", f"/rollouts/{palembang['id']}/participants").json()["items"] == []
