"""Retention: a completed rollout's personal data is purged ``RETENTION_DAYS`` after it completed.

Purged: participants' names, organisations, e-mail addresses and phone numbers (adults'
only: minors never have them), consent details, and any participant file an import never
got to.  Kept: codes, categories, sex, age bands, check-ins and statuses, so every
aggregate, and the rollout and its public agenda.  Each purge is audited (when, which
rollout, how many participants) and announced as ``personal_data_purged``, on which
notification drops the committee's names and addresses wherever it keeps them.
"""
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from services.registration.commands import PurgePersonalData
from services.registration.models import PersonalDataAudit, Rollout
from services.registration.repository import RegistrationUnitOfWork
from shared import events


@dataclass(frozen=True)
class Purge:
    rollout_id: int
    city: str
    participants: int
    kept_until: datetime


def kept_until(rollout: Rollout, retention_days: int) -> datetime:
    """When the rollout's personal data is due for purging (rollouts completed before
    completion was recorded count from the end of their last day)."""
    completed = rollout.completed_at or datetime.combine(rollout.ends_on, time.max, tzinfo=timezone.utc)
    return completed + timedelta(days=retention_days)


def purge_personal_data(command: PurgePersonalData, uow: RegistrationUnitOfWork) -> list[Purge]:
    """Purge every rollout whose retention has ended (or, with ``dry_run``, say which would be)."""
    purges = []
    for rollout in uow.rollouts.completed_not_purged():
        until = kept_until(rollout, command.retention_days)
        if until > command.now:
            continue
        if command.dry_run:
            purges.append(Purge(rollout.id, rollout.city, uow.personal_data.count(rollout.id), until))
            continue
        rows = uow.personal_data.purge(rollout.id)
        rollout.purged_at = command.now
        uow.audit.add(PersonalDataAudit(at=command.now, actor=command.actor, action="purged",
                                        rollout_id=rollout.id, city=rollout.city, rows=rows))
        uow.emit(events.PERSONAL_DATA_PURGED, rollout.city, rollout_id=rollout.id, participants=rows)
        purges.append(Purge(rollout.id, rollout.city, rows, until))
    return purges
