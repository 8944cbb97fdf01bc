"""Each service's schema, kept as Alembic revisions beside its models.

A service's revisions live in ``services/<name>/migrations/versions``; its schema is
the shared tables (outbox, processed events) plus the tables of its own ``models.py``.
Alembic is configured here, so nobody needs an ``alembic.ini``:

- ``upgrade(service, url)`` brings a database to the newest revision.  A database made
  before migrations existed (tables, no ``alembic_version``) is adopted first: stamped
  at the revision its tables match, then upgraded from there.
- ``current(service, url)`` tells the revision a database is at.
- ``drift(service, url)`` lists what the models have that the migrations do not make.
- ``revision(service, message)`` writes a new revision for a changed model.

Upgrades take a lock (an advisory lock on PostgreSQL, a file beside the database on
SQLite), so workers starting together migrate once and the others wait.
"""
import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import URL, Connection, Engine, MetaData, create_engine, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import NullPool

import services
from shared.config import SERVICES

SERVICES_DIR = Path(services.__file__).resolve().parent

# The revisions every service starts with; adoption stamps one of them.
INITIAL = "0001"  # the tables as create_all made them, outbox without its city column
OUTBOX_CITY = "0002"  # the outbox's city column

# Autogenerate and the drift check compare the same things.
COMPARE: dict[str, Any] = {"compare_type": True, "compare_server_default": True}

_SCHEMA_LOCK_ID = 2019050203


class MigrationError(Exception):
    """A database that cannot be reached, or a service or URL that is not one."""


def metadata(service: str) -> list[MetaData]:
    """The tables a service's database holds: the shared ones and its own."""
    from shared.database import SharedBase

    return [SharedBase.metadata, import_module(f"services.{service}.models").Base.metadata]


def service_of(service_metadata: MetaData) -> str | None:
    """The service whose models ``service_metadata`` is, or None for any other tables."""
    for service in SERVICES:
        if import_module(f"services.{service}.models").Base.metadata is service_metadata:
            return service
    return None


def config(service: str, connection: Connection | None = None) -> Config:
    """Alembic's configuration for one service; ``connection`` is the database it works on."""
    if service not in SERVICES:
        raise MigrationError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")
    alembic_config = Config()
    alembic_config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    alembic_config.attributes["connection"] = connection
    return alembic_config


def head(service: str) -> str | None:
    """The newest revision of a service's migrations (None only for a service without any)."""
    return ScriptDirectory.from_config(config(service)).get_current_head()


def upgrade(service: str, database: str | Engine) -> str | None:
    """Bring a database (URL or engine) to the newest revision; returns that revision."""
    with schema_lock(database) as connection:
        return upgrade_locked(service, connection)


def upgrade_locked(service: str, connection: Connection) -> str | None:
    """``upgrade`` on a connection that already holds the schema lock."""
    alembic_config = config(service, connection)
    adopt(alembic_config, connection)
    command.upgrade(alembic_config, "head")
    return MigrationContext.configure(connection).get_current_revision()


def adopt(alembic_config: Config, connection: Connection) -> None:
    """Stamp a database that create_all made at the revision its tables match."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or "outbox" not in tables:
        return
    outbox = {column["name"] for column in inspect(connection).get_columns("outbox")}
    command.stamp(alembic_config, OUTBOX_CITY if "city" in outbox else INITIAL)


def current(service: str, url: str) -> str | None:
    """The revision a database is at; None before its first upgrade."""
    config(service)  # an unknown service is refused before anything is read
    database = _url(url)
    if database.get_backend_name() == "sqlite" and not Path(database.database or ":memory:").exists():
        return None  # not made yet: say so rather than create an empty file
    with _connect(url) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def drift(service: str, url: str, models: list[MetaData] | None = None) -> list[Any]:
    """Differences between a database and the models (the service's own by default).

    Run on a database upgraded to head, an empty list means the migrations make
    exactly the tables the models describe.
    """
    with _connect(url) as connection:
        context = MigrationContext.configure(connection, opts=COMPARE)
        # Alembic takes a list of MetaData here as target_metadata does; its annotation says one.
        differences: list[Any] = compare_metadata(context, models or metadata(service))  # type: ignore[arg-type]
        return differences


def revision(service: str, message: str) -> Path:
    """Write the next revision of a service from what its models have that head lacks.

    The models are compared with a scratch SQLite database at head; read the new file and
    tidy it before committing it.
    """
    script = ScriptDirectory.from_config(config(service))
    number = f"{len(list(script.walk_revisions())) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{scratch}/{service}.db", poolclass=NullPool)
        upgrade(service, engine)
        with engine.begin() as connection:
            # One head, so one script (a list comes only from several heads).
            written = cast(Script, command.revision(config(service, connection), message=message,
                                                    autogenerate=True, rev_id=number))
        engine.dispose()
    return Path(written.path)


def run_environment(context: EnvironmentContext, service_models: MetaData) -> None:
    """The body of every service's ``env.py``: run its revisions on the given connection."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise MigrationError("run migrations through shared.migrations (campaign db upgrade), "
                             "which hands them their database")
    from shared.database import SharedBase

    context.configure(
        connection=connection,
        target_metadata=[SharedBase.metadata, service_models],
        # SQLite alters a table by copying it; batch mode does that and is plain ALTER elsewhere.
        render_as_batch=connection.dialect.name == "sqlite",
        **COMPARE,
    )
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def schema_lock(database: str | Engine) -> Iterator[Connection]:
    """A connection in a transaction that only one process at a time holds per database."""
    with _file_lock(database), _connect(database) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_ID})"))
        yield connection


@contextmanager
def _file_lock(database: str | Engine) -> Iterator[None]:
    """On SQLite, an exclusive lock on a file beside the database (PostgreSQL has its own)."""
    url = database.url if isinstance(database, Engine) else _url(database)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.schema-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _connect(database: str | Engine) -> Iterator[Connection]:
    """A connection in a transaction, from an engine or from a URL (an engine for this alone)."""
    engine = database if isinstance(database, Engine) else create_engine(_url(database), poolclass=NullPool)
    try:
        try:
            connection = engine.connect()
        except OperationalError as exc:
            shown = engine.url.render_as_string(hide_password=True)
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise MigrationError(f"the database {shown} does not answer: {reason}") from exc
        with connection:
            # SQLite alters a table by copying it and dropping the old one, which fails while other
            # tables' rows refer to it if foreign keys are enforced (Store turns them on): off while
            # migrating, as Alembic advises (the pragma only takes outside a transaction).
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    yield connection
            finally:
                if sqlite:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    finally:
        if engine is not database:
            engine.dispose()


def _url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise MigrationError(f"not a database URL: {url!r}") from exc
