"""``campaign reporting ...`` and ``campaign subscribe``: reports, exports, figures, rebuilds, summaries.

Reports and exports come through the API (``--api-url`` or ``$CAMPAIGN_API_URL``)
or, with ``--local`` (or ``--data-dir``/``--database``, or when only
``CAMPAIGN_DATA_DIR``/``REPORTING_DATABASE_URL`` is set), from reporting's own
database.  ``rebuild`` works on that database alone, ``subscribe`` on the broker.
"""
import functools
import io
import json
import os
import sys
from pathlib import Path

import click

from campaign.api import Api, ApiError, api_url_option, emit, json_option, pass_api
from shared import config as settings
from shared.events import NATIONAL


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


def _settings(data_dir=None, database=None):
    """The configuration, with ``--data-dir``/``--database`` in place of the environment's."""
    env = dict(os.environ)
    if data_dir is not None:
        env["CAMPAIGN_DATA_DIR"] = str(data_dir)
        env["REPORTING_DATABASE_URL"] = database or ""
    elif database:
        env["REPORTING_DATABASE_URL"] = database
    return settings.load(env)


def _store(data_dir=None, database=None):
    from services.reporting.models import Base
    from services.reporting.repository import ReportingUnitOfWork
    from shared.database import Store

    url = _settings(data_dir, database)["DATABASE_URLS"]["reporting"]
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        raise click.ClickException(f"no reporting database at {url.split('///', 1)[-1]}; "
                                   "set --data-dir (CAMPAIGN_DATA_DIR) or --database (REPORTING_DATABASE_URL)")
    return Store(url, Base.metadata, consumer="reporting.cli", unit_of_work=ReportingUnitOfWork)


def _report(store, city, lang, rollout_id=None, public=False):
    from services.reporting import report
    from shared.errors import NotFound

    with store.read() as uow:
        try:
            written = report.build(uow, city, lang, rollout_id, public)
        except NotFound as exc:  # a public report of figures never released
            raise click.ClickException(exc.message)
    if written is None:
        if rollout_id is not None:
            raise click.ClickException(f"{city} has no rollout {rollout_id} to report on")
        raise click.ClickException(f"{city} has no launched rollout to report on")
    return written


@click.group()
@api_url_option
def reporting():
    """Activity reports, exports, figures and the read models of the reporting service."""


DATA_DIR = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                        help="Work on the reporting database under this data directory (implies --local).")
DATABASE = click.option("--database", metavar="URL",
                        help="Work on this reporting database, e.g. postgresql://... (implies --local).")


@reporting.command()
@DATA_DIR
@DATABASE
@_database_errors_as_messages
def rebuild(data_dir, database):
    """Recompute every read model from reporting's event log (on its database)."""
    from services.reporting import projections

    store = _store(data_dir, database)
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
ROLLOUT = click.option("--rollout", "rollout_id", type=int,
                       help="Which of the city's rollouts (default: its latest).")


def where(command):
    """``--api-url``, or ``--local``/``--data-dir``/``--database``: the API or reporting's own database."""
    @click.option("--api-url", "own_url", metavar="URL", help="The API's base URL (default $CAMPAIGN_API_URL).")
    @click.option("--local", is_flag=True, help="Read reporting's database directly instead of asking the API.")
    @DATA_DIR
    @DATABASE
    @click.pass_context
    def choose(ctx, own_url, local, data_dir, database, **kwargs):
        url = own_url or ctx.meta.get("campaign.api_url")
        on_database = bool(local or data_dir or database)
        if on_database and url:
            raise click.UsageError("--api-url asks the API; --local, --data-dir and --database read the database")
        if not on_database and not url and not os.environ.get("CAMPAIGN_API_URL"):
            # Only a data directory or database in the environment: the way these commands always worked.
            on_database = bool(os.environ.get("CAMPAIGN_DATA_DIR") or os.environ.get("REPORTING_DATABASE_URL"))
        source = (data_dir, database) if on_database else Api(url)
        return ctx.invoke(command, source, **kwargs)
    return functools.update_wrapper(choose, command)


def _check_rollout(city, rollout_id):
    if rollout_id is not None and city == NATIONAL:
        raise click.UsageError("--rollout chooses one of a city's rollouts; the national report has them all")


@reporting.command()
@CITY
@LANG
@click.option("--format", "formats", type=click.Choice(["md", "html", "pdf"]), multiple=True,
              help="Repeat for several; default: all three.")
@click.option("--public", is_flag=True,
              help='For partners: the figures last released to the public ("<5" and "x" for hidden cells); '
                   "without it the report is internal (exact figures).")
@ROLLOUT
@OUT
@where
@_database_errors_as_messages
def report(source, city, lang, formats, public, rollout_id, directory):
    """Write CITY's activity report (or the national one for CITY=national).

    Through the API the reporting service writes it (in its REPORTS_DIR) and the
    names of the files it wrote there are printed; --dir also keeps the Markdown here.
    """
    from services.reporting import report as reports

    _check_rollout(city, rollout_id)
    formats = formats or reports.FORMATS
    if isinstance(source, Api):
        written = source.call("POST", f"/reports/{city}/activity-report", timeout=600, params={
            "lang": lang, "format": ",".join(formats), "rollout_id": rollout_id, "public": "1" if public else None})
        for name in written["files"].values():
            click.echo(name)
        if directory is not None:
            stem = Path(next(iter(written["files"].values()))).stem
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{stem}.md").write_text(written["markdown"], encoding="utf-8")
            click.echo(directory / f"{stem}.md")
        return
    store = _store(*source)
    try:
        paths = reports.write(_report(store, city, lang, rollout_id, public), _directory(directory, *source),
                              formats)
    finally:
        store.dispose()
    for path in paths.values():
        click.echo(path)


def _directory(directory, data_dir=None, database=None):
    return directory or Path(_settings(data_dir, database)["REPORTS_DIR"])


@reporting.command()
@CITY
@LANG
@click.option("--format", "formats", type=click.Choice(["csv", "xlsx"]), multiple=True,
              help="Repeat for both; default: both.")
@click.option("--public", is_flag=True,
              help='For partners: the released public figures, "<5" for 1-4 people and "x" for a protecting cell.')
@ROLLOUT
@OUT
@where
@_database_errors_as_messages
def export(source, city, lang, formats, public, rollout_id, directory):
    """Export the tables of CITY's report as CSV files and an XLSX workbook."""
    from services.reporting import exports

    _check_rollout(city, rollout_id)
    formats = formats or tuple(exports.FORMATS)
    if isinstance(source, Api):
        for path in _export_through(source, city, lang, formats, public, rollout_id, _directory(directory)):
            click.echo(path)
        return
    store = _store(*source)
    try:
        written = _report(store, city, lang, rollout_id, public)
    finally:
        store.dispose()
    for name in formats:
        made = exports.FORMATS[name](written, _directory(directory, *source), public=public)
        for path in made if isinstance(made, list) else [made]:
            click.echo(path)


def _export_through(api, city, lang, formats, public, rollout_id, directory):
    """Download the workbook and each table's CSV, named as a local export names them."""
    from openpyxl import load_workbook

    query = {"lang": lang, "public": "1" if public else None, "rollout_id": rollout_id}
    workbook = api.download(f"/reports/{city}/export.xlsx", directory, f"{city}.xlsx", **query)
    paths = [workbook] if "xlsx" in formats else []
    if "csv" in formats:
        # The workbook has a sheet per table, named after it; each table comes as its own CSV.
        sheets = load_workbook(io.BytesIO(workbook.read_bytes()), read_only=True).sheetnames
        for name in sheets:
            answer = api.send("GET", f"/reports/{city}/tables/{name}.csv", params={
                k: v for k, v in query.items() if v is not None})
            path = directory / f"{workbook.stem}-{name}.csv"
            path.write_bytes(answer.content)
            paths.append(path)
        if "xlsx" not in formats:
            workbook.unlink()
    return paths


@reporting.command()
@CITY
@LANG
@click.option("--format", "formats", type=click.Choice(["md", "html", "pdf"]), multiple=True,
              help="Repeat for several; default: pdf.")
@click.option("--public", is_flag=True, help="For partners: the figures last released to the public.")
@ROLLOUT
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to save the files.")
@pass_api
def download(api, city, lang, formats, public, rollout_id, directory):
    """Download CITY's activity report (made now by the service) into --dir: nothing is written on the server."""
    _check_rollout(city, rollout_id)
    for name in formats or ("pdf",):
        click.echo(api.download(f"/reports/{city}/activity-report", directory, f"{city}.{name}", format=name,
                                lang=lang, rollout_id=rollout_id, public="1" if public else None))


@reporting.command()
@CITY
@json_option
@pass_api
def rollouts(api, city, as_json):
    """Each live rollout of CITY (or CITY=national) side by side: places per session, check-ins, tests."""
    found = api.get(f"/reports/{city}/rollout-figures")
    lines = []
    for r in found["rollouts"]:
        held = sum(sum(counts.values()) for counts in r["by_session"].values())
        checked_in = sum(a["checked_in"] for a in r["attendance"])
        lines.append(f"rollout {r['rollout_id']} {r['city_name']} {r['starts_on']}: {held} places held, "
                     f"{checked_in} check-ins, pre n {r['tests']['pre_n']}, post n {r['tests']['post_n']}, "
                     f"gain {r['tests']['gain'] if r['tests']['gain'] is not None else '-'}")
    emit(found, as_json, "\n".join(lines) or f"{city} has no launched rollout")


@reporting.command()
@CITY
@ROLLOUT
@json_option
@pass_api
def figures(api, city, rollout_id, as_json):
    """The exact figures of CITY (or of one rollout, or CITY=national), for the coordinator."""
    found = api.get(f"/reports/{city}/figures", rollout_id=rollout_id)
    tests = found.get("tests") or {}
    if as_json or "participants" not in found or not tests:
        return emit(found, True)
    pre, post = tests.get("pre") or {}, tests.get("post") or {}
    audience = found.get("by_audience") or {}
    def shown(value, unit=""):
        return "-" if value is None else f"{value}{unit}"
    emit(found, False, f"{city}: participants {found['participants']} ("
                       + ", ".join(f"{k} {v}" for k, v in audience.items()) + "); "
                       f"pre {pre.get('n')} (mean {shown(pre.get('mean_percent'), '%')}), "
                       f"post {post.get('n')} (mean {shown(post.get('mean_percent'), '%')}), "
                       f"paired {tests.get('paired')}, normalised gain {shown(tests.get('gain'))}")


@reporting.command()
@click.argument("city", required=False)
@pass_api
def summaries(api, city):
    """The public summaries of CITY as they stand now (without CITY: the cities that have some)."""
    if city is None:
        click.echo("\n".join(api.get("/summaries")["cities"]) or "no summaries yet")
        return
    for key, body in api.get(f"/summaries/{city}").items():
        click.echo(f"{key} {json.dumps(body, ensure_ascii=False, sort_keys=True)}")


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
    try:  # a partner's broker user may bind to it, not declare it
        channel.exchange_declare(SUMMARY_EXCHANGE, exchange_type="topic", durable=True, passive=True)
    except pika.exceptions.ChannelClosedByBroker:  # not there yet: no summary was ever published
        channel = connection.channel()
        channel.exchange_declare(SUMMARY_EXCHANGE, exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, SUMMARY_EXCHANGE, routing_key=pattern)
    # Bound before the snapshot is read, so nothing published in between is missed.
    if api:
        try:
            snapshot = _snapshot(Api(api), pattern)
        except ApiError:
            connection.close()
            raise
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
    city = pattern.split(".")[2] if pattern.count(".") == 2 else "*"
    cities = [city] if city not in ("*", "#") else api.get("/summaries")["cities"]
    found = {}
    for name in cities:
        try:
            current = api.get(f"/summaries/{name}")
        except ApiError as exc:
            if exc.status != 404:  # 404: nothing of that city yet; its first summary comes by the queue
                raise
            continue
        found.update({key: body for key, body in current.items() if _matches(pattern, key)})
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
