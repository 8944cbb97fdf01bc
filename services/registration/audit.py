"""The audit of personal data: who listed, showed or exported which rollout's participants,
when, and how many rows; and each purge (services/registration/retention.py).

What was sent to a committee is notification's to record (its disclosures).
"""
from datetime import datetime, timezone

from services.registration.commands import ListAudit
from services.registration.models import PersonalDataAudit, Rollout
from services.registration.repository import RegistrationUnitOfWork
from shared.pagination import PageOf


def record_read(uow: RegistrationUnitOfWork, action: str, rollout: Rollout, rows: int, actor: str | None) -> None:
    """Audit a read of participants' personal data; written at once, whatever the read's unit of work does."""
    uow.audit.record(PersonalDataAudit(at=datetime.now(timezone.utc), actor=actor, action=action,
                                       rollout_id=rollout.id, city=rollout.city, rows=rows))


def list_audit(query: ListAudit, uow: RegistrationUnitOfWork) -> PageOf[PersonalDataAudit]:
    """The newest first, within the caller's cities."""
    return uow.audit.list(query.rollout_id, query.city, query.cities, page=query.page)
