"""Each service's migrations on real SQLite files and real PostgreSQL databases.

From empty to head, adopting a database that create_all made (with and without the
outbox's city column), and the drift check that keeps models and migrations together.
"""
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg2
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, inspect, select, text
from sqlalchemy.pool import NullPool

from shared import migrations
from shared.config import SERVICES
from shared.database import Store
from tests.support.cluster import POSTGRES_ADMIN_URL

ROOT = Path(__file__).parents[2]
WRITTEN_AT = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)


def _admin(statement):
    connection = psycopg2.connect(POSTGRES_ADMIN_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """The URL of a database with nothing in it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    name = f"campaign_m_{uuid.uuid4().hex[:8]}"
    _admin(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def engine_for(url):
    return create_engine(url, poolclass=NullPool)


def table_names(url):
    engine = engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def model_tables(service):
    return {name for metadata in migrations.metadata(service) for name in metadata.tables}


def create_all(url, metadatas):
    """The tables as Store made them before migrations: create_all, no alembic_version."""
    engine = engine_for(url)
    with engine.begin() as connection:
        for metadata in metadatas:
            metadata.create_all(connection)
    engine.dispose()


def released_before_migrations(url, service, revision=migrations.OUTBOX_CITY):
    """The tables as Store's create_all made them in a release before migrations existed
    (``revision``'s schema), with no alembic_version."""
    engine = engine_for(url)
    with engine.begin() as connection:
        command.upgrade(migrations.config(service, connection), revision)
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


def create_all_before_city(url, service):
    """The service's tables as create_all made them before the outbox had its city column."""
    released_before_migrations(url, service, migrations.INITIAL)


def put_outbox_row(url, event_id, **values):
    engine = engine_for(url)
    outbox = Table("outbox", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(insert(outbox).values(
            event_id=event_id, exchange="registration.events", routing_key="rollout_launched.pontianak",
            payload="{}", created_at=WRITTEN_AT, attempts=0, next_attempt_at=WRITTEN_AT,
            **values))
    engine.dispose()


def outbox_rows(url):
    engine = engine_for(url)
    outbox = Table("outbox", MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        rows = connection.execute(select(outbox.c.event_id, outbox.c.city)).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("service", SERVICES)
def test_an_empty_database_gets_every_table_of_the_models_at_the_newest_revision(empty_database, service):
    assert migrations.current(service, empty_database) is None

    assert migrations.upgrade(service, empty_database) == migrations.head(service)

    assert migrations.current(service, empty_database) == migrations.head(service)
    assert table_names(empty_database) == model_tables(service) | {"alembic_version"}
    assert migrations.drift(service, empty_database) == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_database_made_by_create_all_is_adopted_with_its_rows(empty_database, service):
    released_before_migrations(empty_database, service)
    put_outbox_row(empty_database, "e-1", city="medan")

    assert migrations.upgrade(service, empty_database) == migrations.head(service)

    assert outbox_rows(empty_database) == [("e-1", "medan")]
    assert migrations.drift(service, empty_database) == []
    # Adopted once: a second upgrade finds it at head and does nothing.
    assert migrations.upgrade(service, empty_database) == migrations.head(service)


@pytest.mark.parametrize("service", SERVICES)
def test_an_outbox_from_before_the_city_column_gets_it_and_keeps_its_rows(empty_database, service):
    create_all_before_city(empty_database, service)
    put_outbox_row(empty_database, "e-old")

    migrations.upgrade(service, empty_database)

    assert outbox_rows(empty_database) == [("e-old", "")]
    # The same schema as a new database: the column, and no default left behind.
    assert migrations.drift(service, empty_database) == []


def summary(difference):
    """(what, table, column) of one of compare_metadata's differences."""
    if difference[0] == "add_table":
        return ("add_table", difference[1].name, None)
    kind, _schema, table, column = difference
    return (kind, table, column.name)


def test_a_model_changed_without_a_migration_is_reported_as_drift(empty_database):
    migrations.upgrade("registration", empty_database)
    changed = MetaData()
    for metadata in migrations.metadata("registration"):
        for table in metadata.tables.values():
            table.to_metadata(changed)
    changed.tables["rollouts"].append_column(Column("sponsor", String(200)))
    Table("sponsors", changed, Column("id", Integer, primary_key=True))

    differences = migrations.drift("registration", empty_database, [changed])

    assert sorted(summary(difference) for difference in differences) == [
        ("add_column", "rollouts", "sponsor"), ("add_table", "sponsors", None)]


def test_a_store_opened_on_an_empty_database_migrates_it(empty_database):
    from services.notification.models import Base

    store = Store(empty_database, Base.metadata, consumer="notification")
    store.dispose()

    assert migrations.current("notification", empty_database) == migrations.head("notification")
    assert migrations.drift("notification", empty_database) == []


def test_workers_starting_together_migrate_once_and_all_start(empty_database):
    opener = ("import sys, warnings; warnings.simplefilter('ignore');"
              "from services.reporting.models import Base; from shared.database import Store;"
              "Store(sys.argv[1], Base.metadata).dispose()")
    workers = [subprocess.Popen([sys.executable, "-c", opener, empty_database], cwd=ROOT,
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for worker in workers:
        _, errors = worker.communicate(timeout=60)
        assert worker.returncode == 0, errors

    assert migrations.current("reporting", empty_database) == migrations.head("reporting")


def test_a_new_revision_is_numbered_after_head_and_is_empty_while_models_and_migrations_agree(
        tmp_path, monkeypatch):
    for service in SERVICES:
        shutil.copytree(migrations.SERVICES_DIR / service / "migrations", tmp_path / service / "migrations",
                        ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "SERVICES_DIR", tmp_path)

    written = migrations.revision("assessment", "nothing changed")

    assert written.parent == tmp_path / "assessment" / "migrations" / "versions"
    assert written.name.startswith("0003_")
    scripts = ScriptDirectory.from_config(migrations.config("assessment"))
    assert (scripts.get_current_head(), scripts.get_revision("0003").down_revision) == ("0003", "0002")
    upgrade_body = written.read_text().split("def upgrade()", 1)[1].split("def downgrade()", 1)[0]
    assert "op." not in upgrade_body
