"""``campaign db upgrade|current|revision``: each service's schema, kept by its migrations."""
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from shared import config as settings
from shared import migrations

SERVICE = click.Choice(settings.SERVICES)


@click.group()
def db():
    """Each service's database schema (Alembic revisions in services/<name>/migrations)."""


@db.command()
@click.argument("service", required=False, type=SERVICE)
def upgrade(service):
    """Bring the databases of DATABASE_URLS (all four, or SERVICE's) to their newest revision.

    A database made before migrations existed is adopted first.  Services also do this when
    they start; run it to migrate ahead of a deployment.
    """
    _each(service, lambda name, url: f"{name}: {migrations.upgrade(name, url)} (head)")


@db.command()
@click.argument("service", required=False, type=SERVICE)
def current(service):
    """Show the revision each database is at, and whether it is the newest."""
    def describe(name, url):
        revision, head = migrations.current(name, url), migrations.head(name)
        if revision == head:
            return f"{name}: {revision} (head)"
        return f"{name}: {revision or 'none'} (head is {head}: run campaign db upgrade)"

    _each(service, describe)


@db.command()
@click.argument("service", type=SERVICE)
@click.option("-m", "--message", required=True, help="What the revision changes, in a few words.")
def revision(service, message):
    """Write SERVICE's next revision from what its models have that its migrations lack.

    Read the new file in services/SERVICE/migrations/versions and tidy it before committing it.
    """
    click.echo(migrations.revision(service, message))


def _each(service, describe):
    """One line per service; a database that fails is named and the exit is non-zero."""
    urls = settings.load()["DATABASE_URLS"]
    failed = False
    for name in (service,) if service else settings.SERVICES:
        try:
            click.echo(describe(name, urls[name]))
        except migrations.MigrationError as exc:
            click.echo(f"error: {name}: {exc}", err=True)
            failed = True
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            click.echo(f"error: {name}: {reason}", err=True)
            failed = True
    if failed:
        sys.exit(1)
