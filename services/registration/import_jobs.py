"""Participant files as jobs: the API keeps the upload, its city's import worker reads it.

    POST .../participants/import ──> submit_import: job row (file kept) + import_requested.<city>
                                          │ (outbox, then the city's queue)
    campaign serve registration-imports --city <city> ──> run_import: read, check, write, all or nothing

Reading and checking a file of 20,000 rows costs seconds of CPU.  Done in the
process that answers requests it would hold up every other city's requests
(and a crafted workbook could hold them up for longer): here it runs in the
worker of the rollout's own city, and the API answers 202 at once.  The job
row is what the client follows: queued -> running -> succeeded | failed, the
rows checked so far, every problem of a refused file, or what was imported.
"""
import logging
from dataclasses import asdict
from typing import Any, Protocol

from marshmallow import fields

from services.registration import imports, rollouts
from services.registration.commands import ImportParticipants, ShowImport, SubmitImport
from services.registration.models import ImportJob
from shared.database import utcnow
from shared.errors import DomainError, NotFound
from shared.events import Event, EventSchema
from shared.faults import is_transient

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed")


class ImportRequestedSchema(EventSchema):
    """Registration's own: a job for the import worker of the rollout's city (no names, no file)."""

    job_id = fields.Integer(required=True)
    rollout_id = fields.Integer(required=True)


IMPORT_REQUESTED = Event("import_requested", "registration", ImportRequestedSchema)


class UnitsOfWork(Protocol):
    """Where the worker opens its transactions: the service's ``db`` (or a test's stand-in)."""

    def unit_of_work(self) -> Any: ...


def submit_import(command: SubmitImport, uow) -> ImportJob:
    """Keep the file as a queued job of the rollout's city; refuse at once what needs no reading."""
    rollout = rollouts.open_rollout(uow, command.rollout_id)
    imports.check_upload(command.file)
    job = ImportJob(rollout_id=rollout.id, city=rollout.city, status="queued", file=command.file,
                    file_bytes=len(command.file), rows_done=0, errors=[], created_at=utcnow())
    uow.import_jobs.add(job)
    uow.emit(IMPORT_REQUESTED, rollout.city, job_id=job.id, rollout_id=rollout.id)
    return job


def show_import(command: ShowImport, uow) -> ImportJob:
    job = uow.import_jobs.get(command.job_id)
    if job is None or job.rollout_id != command.rollout_id:
        raise NotFound(f"no import {command.job_id} for rollout {command.rollout_id}", field="job_id")
    return job


def run_import(job_id: int, db: UnitsOfWork) -> None:
    """Read, check and write one job's file: every row in one transaction, or none.

    Progress is committed on its own as the rows are checked, before the
    transaction that writes them opens (SQLite has one writer at a time).  A
    job delivered again after it finished does nothing; one that was running
    when its worker stopped runs again from the start, as nothing of it was written.
    """
    with db.unit_of_work() as uow:
        job = uow.import_jobs.get(job_id)
        if job is None or job.status in FINISHED:
            return
        rollout_id, data = job.rollout_id, uow.import_jobs.file_of(job_id)
        uow.import_jobs.update(job_id, status="running", started_at=utcnow(), rows_done=0)

    def progress(done: int, total: int) -> None:
        with db.unit_of_work() as uow:
            uow.import_jobs.update(job_id, rows_done=done, rows_total=total)

    try:
        sheet = imports.read_participant_file(data, progress)
        with db.unit_of_work() as uow:
            summary = imports.import_participants(ImportParticipants(rollout_id, sheet), uow)
            uow.import_jobs.update(job_id, status="succeeded", result=asdict(summary), rows_done=len(sheet.lines),
                                   rows_total=len(sheet.lines), file=b"", finished_at=utcnow())
    except DomainError as refused:
        _fail(db, job_id, refused.message, _problems(refused))
    except Exception as exc:
        if is_transient(exc):
            raise  # the database is away: the consumer waits it out and delivers the job again
        log.exception("import %s failed", job_id)
        _fail(db, job_id, f"the import failed unexpectedly ({exc.__class__.__name__}); nothing was imported", [])


def _fail(db: UnitsOfWork, job_id: int, message: str, errors: list[dict]) -> None:
    # The file goes with the failure: a corrected file is a new job.
    with db.unit_of_work() as uow:
        uow.import_jobs.update(job_id, status="failed", message=message[:500], errors=errors, file=b"",
                               finished_at=utcnow())


def _problems(refused: DomainError) -> list[dict]:
    """Every problem the refusal names: its rows, or its fields for the file as a whole."""
    rows = refused.details.get("rows")
    if rows:
        return list(rows)
    named = refused.details.get("fields") or ({refused.details["field"]: [refused.message]}
                                              if "field" in refused.details else {})
    return [{"line": None, "field": field, "problem": " ".join(map(str, problems))}
            for field, problems in named.items()]
