"""Imports as jobs: the API keeps the file, its city's worker reads it, the job tells how it went."""
import io
import zipfile
from contextlib import contextmanager

import pytest

from services.registration import import_jobs, imports
from services.registration.commands import ShowImport, SubmitImport
from services.registration.fakes import FakeRegistrationUnitOfWork
from shared import events
from shared.errors import Conflict, InvalidInput, NotFound
from tests.unit.test_registration import launched
from tests.unit.test_registration_imports import xlsx


@pytest.fixture
def uow():
    return FakeRegistrationUnitOfWork()


class Worker:
    """What the worker's ``db`` gives: units of work, here the one fake, each update kept."""

    def __init__(self, uow):
        self.uow = uow
        self.updates = []
        update = uow.import_jobs.update

        def recorded(job_id, **values):
            self.updates.append(values)
            update(job_id, **values)
        uow.import_jobs.update = recorded

    @contextmanager
    def unit_of_work(self):
        yield self.uow


def people(n, bad_lines=()):
    rows = ["full_name,category,organisation"]
    for line in range(2, n + 2):
        rows.append(f"Peserta {line},{'astronaut' if line in bad_lines else 'educator'},Sekolah {line % 7}")
    return ("\n".join(rows) + "\n").encode()


def test_a_submitted_file_is_a_queued_job_for_its_citys_worker_and_nothing_is_read_yet(uow):
    rollout = launched(uow)

    job = import_jobs.submit_import(SubmitImport(rollout.id, people(3, bad_lines={2})), uow)

    assert (job.status, job.city, job.rows_done, job.rows_total) == ("queued", "pontianak", 0, None)
    assert uow.participants.of_rollout(rollout.id) == []  # a bad line is the worker's to find
    [(event, city, fields)] = [e for e in uow.events if e[0] is import_jobs.IMPORT_REQUESTED]
    assert (city, fields) == ("pontianak", {"job_id": job.id, "rollout_id": rollout.id})
    assert import_jobs.show_import(ShowImport(rollout.id, job.id), uow) is job
    with pytest.raises(NotFound):
        import_jobs.show_import(ShowImport(rollout.id + 1, job.id), uow)


def test_what_needs_no_reading_is_refused_at_once(uow):
    rollout = launched(uow)
    with pytest.raises(InvalidInput) as empty:
        import_jobs.submit_import(SubmitImport(rollout.id, b"  \n"), uow)
    assert "body" in empty.value.details["fields"]
    with pytest.raises(NotFound):
        import_jobs.submit_import(SubmitImport(999, people(1)), uow)
    closed = launched(uow)
    closed.registration_open = False
    with pytest.raises(Conflict):
        import_jobs.submit_import(SubmitImport(closed.id, people(1)), uow)


def test_the_worker_reports_progress_as_rows_are_checked_then_the_result(uow):
    rollout = launched(uow)
    job = import_jobs.submit_import(SubmitImport(rollout.id, people(2500)), uow)
    worker = Worker(uow)

    import_jobs.run_import(job.id, worker)

    progress = [(u["rows_done"], u.get("rows_total")) for u in worker.updates if "rows_done" in u]
    assert progress == [(0, None), (1000, 2500), (2000, 2500), (2500, 2500), (2500, 2500)]
    assert worker.updates[0]["status"] == "running" and worker.updates[-1]["status"] == "succeeded"
    assert (job.status, job.file, job.message) == ("succeeded", b"", None)
    assert {k: job.result[k] for k in ("imported", "registered", "waitlisted")} == {
        "imported": 2500, "registered": 2500, "waitlisted": 0}
    assert len(uow.participants.of_rollout(rollout.id)) == 2500
    assert len(uow.emitted_of(events.PARTICIPANT_REGISTERED)) == 2500


def test_a_file_with_bad_rows_fails_whole_listing_every_bad_row(uow):
    rollout = launched(uow)
    job = import_jobs.submit_import(SubmitImport(rollout.id, people(1500, bad_lines={3, 700, 1501})), uow)

    import_jobs.run_import(job.id, Worker(uow))

    assert job.status == "failed" and job.file == b""
    assert [(e["line"], e["field"]) for e in job.errors] == [(3, "category"), (700, "category"), (1501, "category")]
    assert job.message.startswith("3 problem(s) in the file, nothing was imported")
    assert uow.participants.of_rollout(rollout.id) == []
    assert uow.emitted_of(events.PARTICIPANT_REGISTERED) == []


def test_a_finished_job_delivered_again_does_nothing(uow):
    rollout = launched(uow)
    job = import_jobs.submit_import(SubmitImport(rollout.id, people(3)), uow)
    import_jobs.run_import(job.id, Worker(uow))
    worker = Worker(uow)

    import_jobs.run_import(job.id, worker)

    assert worker.updates == [] and len(uow.participants.of_rollout(rollout.id)) == 3


def test_a_file_that_is_no_participant_file_fails_naming_the_body(uow):
    rollout = launched(uow)
    job = import_jobs.submit_import(SubmitImport(rollout.id, b"\xff\xfe not text"), uow)

    import_jobs.run_import(job.id, Worker(uow))

    assert job.status == "failed"
    assert job.errors == [{"line": None, "field": "body", "problem": "not UTF-8"}]


# --- workbooks that would cost more to read than a participant file can ------------

def workbook_with_entries(n):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        for i in range(n):
            book.writestr(f"xl/padding{i}.xml", "<x/>")
    return buffer.getvalue()


def test_a_workbook_of_too_many_parts_is_refused_before_it_is_read():
    with pytest.raises(InvalidInput) as refused:
        imports.check_upload(workbook_with_entries(imports.MAX_WORKBOOK_ENTRIES + 1))
    assert "parts" in refused.value.message and "body" in refused.value.details["fields"]


def test_a_workbook_that_unpacks_past_the_limit_is_refused_from_its_directory(monkeypatch):
    data = xlsx([["Umi", "educator"]] * 50)
    monkeypatch.setattr(imports, "MAX_WORKBOOK_BYTES", 1000)
    with pytest.raises(InvalidInput) as refused:
        imports.check_upload(data)
    assert "unpacks to" in refused.value.message


def with_shared_strings(data, n):
    """The workbook with a shared-strings part of ``n`` strings (openpyxl writes its text inline)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as book:
        for entry in source.infolist():
            book.writestr(entry, source.read(entry))
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{imports.SHEET_NS[1:-1]}">'
                      + "".join(f"<si><t>s{i}</t></si>" for i in range(n)) + "</sst>")
    return buffer.getvalue()


def test_a_workbook_of_too_many_rows_or_shared_strings_is_refused_while_read(monkeypatch):
    data = with_shared_strings(xlsx([[f"Peserta {i}", "educator"] for i in range(50)]), 11)
    monkeypatch.setattr(imports, "MAX_ROWS", 20)
    with pytest.raises(InvalidInput) as rows:
        imports.read_participant_file(data)
    assert "more than 20 participant rows" in rows.value.message
    monkeypatch.setattr(imports, "MAX_ROWS", 100)
    monkeypatch.setattr(imports, "MAX_SHARED_STRINGS", 10)
    with pytest.raises(InvalidInput) as strings:
        imports.read_participant_file(data)
    assert "shared strings" in strings.value.message


def test_a_csv_of_too_many_rows_is_refused(monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 10)
    with pytest.raises(InvalidInput) as refused:
        imports.read_participant_file(people(11))
    assert refused.value.details["rows"][0]["field"] == "body"
