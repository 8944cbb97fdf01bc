"""``campaign reporting ...`` and ``campaign subscribe``: reports, exports, rebuilds, summaries.

They work on reporting's own database (``REPORTING_DATABASE_URL`` or the SQLite
file under ``CAMPAIGN_DATA_DIR``) and, for ``subscribe``, on the broker.
"""
import functools
import json
import sys
from pathlib import Path

import click

from shared import config as settings


def _database_errors_as_messages(command):
    """A database that cannot be reached is a message and a non-zero exit, not a traceback."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        from sqlalchemy.exc import OperationalError
        try:
            return command(*args, **kwargs)
        except OperationalError as exc:
            problem = (str(exc.orig).strip().splitlines() or [exc.orig.__class__.__name__])[0]
            raise click.ClickException(f"the reporting database cannot answer: {problem} "
                                       "(if its tables are from an older version: campaign reporting rebuild)")
    return run


def _store():
    from services.reporting.models import Base
    from services.reporting.repository import ReportingUnitOfWork
    from shared.database import Store

    url = settings.load()["DATABASE_URLS"]["reporting"]
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        raise click.ClickException(f"no reporting database at {url.split('///', 1)[-1]}; "
                                   "set CAMPAIGN_DATA_DIR or REPORTING_DATABASE_URL")
    return Store(url, Base.metadata, consumer="reporting.cli", unit_of_work=ReportingUnitOfWork)


def _report(store, city, lang):
    from services.reporting import report

    with store.read() as uow:
        written = report.build(uow, city, lang)
    if written is None:
        raise click.ClickException(f"{city} has no launched rollout to report on")
    return written


@click.group()
def reporting():
    """Activity reports, exports and the read models of the reporting service."""


@reporting.command()
@_database_errors_as_messages
def rebuild():
    """Recompute every read model from reporting's event log."""
    from services.reporting import projections

    store = _store()
    try:
        with store.unit_of_work() as uow:
            applied = projections.rebuild(uow)
    finally:
        store.dispose()
    click.echo(f"rebuilt the read models from {applied} events")


CITY = click.argument("city", metavar="CITY")  # a city slug, or "national" for the roll-up
LANG = click.option("--lang", type=click.Choice(["id", "en"]), default="id", show_default=True,
                    help="Bahasa Indonesia or English.")
OUT = click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
                   help="Where to write (default: REPORTS_DIR).")


def _directory(directory):
    return directory or Path(settings.load()["REPORTS_DIR"])


@reporting.command()
@CITY
@LANG
@click.option("--format", "formats", type=click.Choice(["md", "html", "pdf"]), multiple=True,
              help="Repeat for several; default: all three.")
@OUT
@_database_errors_as_messages
def report(city, lang, formats, directory):
    """Write CITY's activity report (or the national one for CITY=national)."""
    from services.reporting import report as reports

    store = _store()
    try:
        paths = reports.write(_report(store, city, lang), _directory(directory), formats or reports.FORMATS)
    finally:
        store.dispose()
    for path in paths.values():
        click.echo(path)


@reporting.command()
@CITY
@LANG
@click.option("--format", "formats", type=click.Choice(["csv", "xlsx"]), multiple=True,
              help="Repeat for both; default: both.")
@click.option("--public", is_flag=True, help="For partners: cells under 5 people shown as <5.")
@OUT
@_database_errors_as_messages
def export(city, lang, formats, public, directory):
    """Export the tables of CITY's report as CSV files and an XLSX workbook."""
    from services.reporting import exports

    store = _store()
    try:
        written = _report(store, city, lang)
    finally:
        store.dispose()
    for name in formats or tuple(exports.FORMATS):
        made = exports.FORMATS[name](written, _directory(directory), public=public)
        for path in made if isinstance(made, list) else [made]:
            click.echo(path)


@click.command()
@click.argument("pattern")
@click.option("--snapshot", "api", metavar="URL",
              help="First print the current summaries from the reporting API at URL (e.g. http://host:8000).")
@click.option("--count", type=int, help="Stop after this many summaries.")
@click.option("--timeout", type=float, help="Stop after this many seconds without a summary.")
def subscribe(pattern, api, count, timeout):
    """Print summary events whose routing key matches PATTERN, e.g. 'summary.*.pontianak'.

    One line each: the routing key, then the JSON body.
    """
    import pika

    from shared.events import SUMMARY_EXCHANGE

    if not pattern.startswith("summary.") and pattern != "#":
        raise click.BadParameter("must be a routing-key pattern starting 'summary.', e.g. summary.*.medan",
                                 param_hint="PATTERN")
    uri = settings.load()["AMQP_URI"]
    if settings.is_embedded(settings.load()):
        raise click.ClickException("set AMQP_URI to the broker the services publish to")
    seen = 0

    def show(key, body):
        nonlocal seen
        click.echo(f"{key} {json.dumps(body, ensure_ascii=False, sort_keys=True)}")
        sys.stdout.flush()
        seen += 1

    try:
        connection = pika.BlockingConnection(pika.URLParameters(uri))
    except pika.exceptions.AMQPError as exc:
        raise click.ClickException(f"cannot reach the broker: {exc.__class__.__name__}")
    channel = connection.channel()
    channel.exchange_declare(SUMMARY_EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, SUMMARY_EXCHANGE, routing_key=pattern)
    # Bound before the snapshot is read, so nothing published in between is missed.
    if api:
        import requests
        try:
            snapshot = _snapshot(api, pattern)
        except requests.RequestException as exc:
            connection.close()
            raise click.ClickException(f"cannot read the current summaries from {api}: {exc.__class__.__name__}")
        for key, body in list(snapshot.items())[:count]:
            show(key, body)
    messages = channel.consume(queue, auto_ack=True, inactivity_timeout=timeout)
    try:
        while count is None or seen < count:
            method, _, body = next(messages)
            if method is None:
                break
            show(method.routing_key, json.loads(body))
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()


def _snapshot(api, pattern):
    """Current summaries matching ``pattern``, for the city it names (all cities' if it names none)."""
    import requests

    city = pattern.split(".")[2] if pattern.count(".") == 2 else "*"
    base = api.rstrip("/") + ("" if api.rstrip("/").endswith("/api/v1") else "/api/v1")
    cities = [city] if city not in ("*", "#") else requests.get(f"{base}/summaries", timeout=30).json()["cities"]
    found = {}
    for name in cities:
        answer = requests.get(f"{base}/summaries/{name}", timeout=30)
        answer.raise_for_status()
        found.update({key: body for key, body in answer.json().items() if _matches(pattern, key)})
    return found


def _matches(pattern, key):
    """AMQP topic matching: * is one word, # is zero or more."""
    def match(p, k):
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])
    return match(pattern.split("."), key.split("."))
