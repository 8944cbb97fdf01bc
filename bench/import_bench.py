"""How long 20,000 participants take to import, against a raw executemany baseline.

    python bench/import_bench.py [--rows 20000] [--database URL] [--xlsx]

Measures the whole import a coordinator waits for: reading and checking the
file, then registering every row with its event in one unit of work.  The
baseline, taken in the same run on a fresh database of the same schema, is a
bare DB-API ``executemany`` of the same participant and outbox rows: what the
database alone costs.  The ratio says how much the rules add on top.
"""
import argparse
import copy
import io
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.registration import imports, rollouts  # noqa: E402
from services.registration.commands import ImportParticipants, LaunchRollout, PlanRollout  # noqa: E402
from services.registration.models import Base  # noqa: E402
from services.registration.repository import RegistrationUnitOfWork  # noqa: E402
from services.registration.schemas import RolloutIn  # noqa: E402
from shared.database import Store  # noqa: E402

ROLLOUT = json.loads((Path(__file__).resolve().parents[1] / "campaign/seed/pontianak-2019.json").read_text("utf-8"))
HEADER = ["full_name", "category", "organisation", "sex", "age_band", "email", "phone", "consent_by"]


def rows(count):
    for i in range(count):
        if i % 3:
            yield [f"Pelajar {i}", "student", f"SMP Negeri {i % 40}", "FM"[i % 2], "13-15", "", "", "school"]
        else:
            yield [f"Peserta {i}", "educator", f"SD Negeri {i % 40}", "FM"[i % 2], "25-39", f"p{i}@example.org", "", ""]


def as_csv(count):
    lines = [",".join(HEADER)] + [",".join(row) for row in rows(count)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def as_xlsx(count):
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for row in rows(count):
        sheet.append([cell or None for cell in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class Databases:
    """Fresh databases for one run: SQLite files, or PostgreSQL databases made and dropped here."""

    def __init__(self, admin_url):
        self.admin_url = admin_url
        self.created = []

    def fresh_store(self, name):
        if self.admin_url is None:
            return Store(f"sqlite:///{tempfile.mkdtemp(prefix='import-bench-')}/{name}.db", Base.metadata,
                         unit_of_work=RegistrationUnitOfWork)
        database = f"import_bench_{uuid.uuid4().hex[:8]}_{name}"
        self._admin(f"CREATE DATABASE {database}")
        self.created.append(database)
        return Store(self.admin_url.rsplit("/", 1)[0] + "/" + database, Base.metadata,
                     unit_of_work=RegistrationUnitOfWork)

    def drop(self):
        for database in self.created:
            self._admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    def _admin(self, statement):
        import sqlalchemy
        engine = sqlalchemy.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql(statement)
        engine.dispose()


def launched_rollout(store):
    with store.unit_of_work() as uow:
        rollout_id = rollouts.plan_rollout(PlanRollout.from_input(RolloutIn().load(copy.deepcopy(ROLLOUT))), uow).id
    with store.unit_of_work() as uow:
        rollouts.launch_rollout(LaunchRollout(rollout_id), uow)
    return rollout_id


def timed_import(store, data):
    rollout_id = launched_rollout(store)
    started = time.perf_counter()
    sheet = imports.read_participant_file(data)
    with store.unit_of_work() as uow:
        summary = imports.import_participants(ImportParticipants(rollout_id, sheet), uow)
    return time.perf_counter() - started, summary.imported


def timed_baseline(store, count):
    """The same rows straight into the tables: one executemany each, one commit."""
    rollout_id = launched_rollout(store)
    with store.read() as uow:
        session_ids = {s.audience: s.id for s in rollouts.get_rollout(uow, rollout_id).sessions}
    participants, outbox = [], []
    for i, row in enumerate(rows(count)):
        participants.append((rollout_id, session_ids["students" if row[1] == "student" else "activists"],
                             f"BAS-{i:08d}", row[0], row[1], row[2], row[3], row[4], row[1] == "student",
                             row[5] or None, row[7] or None, "registered", f"pontianak|{row[0]}|{row[2]}"))
        outbox.append((str(uuid.uuid4()), "registration.events", "participant_registered.pontianak", "pontianak",
                       json.dumps({"participant_id": i, "category": row[1]})))
    mark = "?" if store.sqlite else "%s"
    connection = store.engine.raw_connection()
    try:
        started = time.perf_counter()
        cursor = connection.cursor()
        cursor.executemany(
            "INSERT INTO participants (rollout_id, session_id, code, full_name, category, organisation, sex, "
            "age_band, minor, email, consent_by, status, person_key, registered_at) VALUES ("
            + ", ".join([mark] * 13) + ", CURRENT_TIMESTAMP)", participants)
        cursor.executemany(
            "INSERT INTO outbox (event_id, exchange, routing_key, city, payload, created_at, attempts, "
            "next_attempt_at) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}, CURRENT_TIMESTAMP, 0, CURRENT_TIMESTAMP)", outbox)
        connection.commit()
        return time.perf_counter() - started
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--postgres", metavar="ADMIN_URL",
                        help="measure on PostgreSQL: fresh databases are made (and dropped) through this "
                             "server URL, e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--xlsx", action="store_true", help="import an XLSX workbook instead of a CSV file")
    args = parser.parse_args()

    data = as_xlsx(args.rows) if args.xlsx else as_csv(args.rows)
    kind = "XLSX" if args.xlsx else "CSV"
    databases = Databases(args.postgres)
    try:
        store = databases.fresh_store("import")
        seconds, imported = timed_import(store, data)
        store.dispose()
        store = databases.fresh_store("baseline")
        baseline = timed_baseline(store, args.rows)
        store.dispose()
    finally:
        databases.drop()
    backend = "SQLite" if args.postgres is None else "PostgreSQL"
    print(f"import of {imported} rows from a {len(data) / 1e6:.1f} MB {kind} file into {backend}: {seconds:.2f} s "
          f"({imported / seconds:,.0f} rows/s)")
    print(f"baseline, raw executemany of the same participant and outbox rows: {baseline:.2f} s")
    print(f"ratio import/baseline: {seconds / baseline:.1f}x; under 10 s: {'yes' if seconds < 10 else 'NO'}")


if __name__ == "__main__":
    main()
