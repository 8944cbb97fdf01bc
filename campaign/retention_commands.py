"""``campaign retention purge``: personal data of rollouts completed RETENTION_DAYS ago, purged now.

It runs on registration's database (like ``campaign db``), as registration's own daily
timer does: names, organisations, adults' contact data and consent details go; codes and
every aggregate stay.  Registration then announces each purge, and notification drops the
committee's names and addresses of that rollout when it hears of it.
"""
import os
from datetime import datetime, timezone
from pathlib import Path

import click

from shared import config as settings


def _store(database):
    from services.registration.models import Base
    from services.registration.repository import RegistrationUnitOfWork
    from shared.database import Store

    url = database or settings.load()["DATABASE_URLS"]["registration"]
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        raise click.ClickException(f"no registration database at {url.split('///', 1)[-1]}; "
                                   "set CAMPAIGN_DATA_DIR or --database (REGISTRATION_DATABASE_URL)")
    return Store(url, Base.metadata, consumer="registration.cli", unit_of_work=RegistrationUnitOfWork)


@click.group()
def retention():
    """Personal data kept RETENTION_DAYS after a rollout completes, then purged."""


@retention.command()
@click.option("--dry-run", is_flag=True, help="Say which rollouts would be purged, and change nothing.")
@click.option("--days", type=click.IntRange(min=0), help="Days kept after completion (default $RETENTION_DAYS, 365).")
@click.option("--database", metavar="URL", help="Registration's database (default $REGISTRATION_DATABASE_URL).")
def purge(dry_run, days, database):
    """Purge the personal data of every rollout whose retention has ended."""
    from sqlalchemy.exc import OperationalError

    from services.registration import retention as rules
    from services.registration.commands import PurgePersonalData

    days = settings.load()["RETENTION_DAYS"] if days is None else days
    actor = os.environ.get("USER") or "campaign retention purge"
    command = PurgePersonalData(datetime.now(timezone.utc), days, dry_run=dry_run, actor=actor)
    try:
        store = _store(database)
        with store.unit_of_work() as uow:
            purges = rules.purge_personal_data(command, uow)
    except OperationalError as exc:
        raise click.ClickException(f"registration's database cannot answer: {str(exc.orig).strip().splitlines()[0]}")
    verb = "would purge" if dry_run else "purged"
    for done in purges:
        click.echo(f"{verb} rollout {done.rollout_id} ({done.city}): {done.participants} participants, "
                   f"kept until {done.kept_until:%Y-%m-%d}")
    if not purges:
        click.echo(f"nothing to purge: no rollout completed more than {days} days ago still holds personal data")
