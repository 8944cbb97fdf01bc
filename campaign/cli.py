"""``campaign``: run the services, or the whole seed scenario with ``campaign demo``."""
import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # nameko's services are green; patch before anything opens a socket

import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

from campaign import (  # noqa: E402
    accounts_commands,
    broker_commands,
    db_commands,
    dlq_commands,
    registration_commands,
    reporting_commands,
    retention_commands,
)
from campaign.commands import API_COMMANDS  # noqa: E402
from shared import config as settings  # noqa: E402
from shared import logs  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the services do.")
def main(verbose):
    """Coordinate the Internet Aman untuk Anak campaign, city by city."""
    logs.configure(verbose)  # text, or JSON lines with LOG_FORMAT=json


def start_or_exit(runner, config, names=settings.SERVICES):
    """The started services, or one line saying what is missing and exit status 1."""
    from shared.connect import CannotStart

    try:
        return runner.start(config, names)
    except CannotStart as exc:
        click.echo(f"campaign: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("services", nargs=-1, type=click.Choice(settings.SERVICES + ("registration-imports", "console", "all")))
@click.option("--city", help="Consume only this city's events (default: all cities, or $CITY).")
def serve(services, city):
    """Run services in this process until stopped (all of them, the import worker and the console by default).

    ``registration-imports --city X`` is the worker that reads city X's participant files.
    """
    from campaign import runner

    if city:
        os.environ["CITY"] = city
    names = runner.EVERYTHING if not services or "all" in services else services
    config = settings.load()
    running = start_or_exit(runner, config, names)
    click.echo(f"ready: {', '.join(names)} on http://{config['WEB_SERVER_ADDRESS']} "
               f"(broker {'in-process' if settings.is_embedded(config) else config['AMQP_URI'].split('@')[-1]}, "
               f"cities {config['CITY']})", err=True)
    if "identity" in names:
        accounts_commands.announce_bootstrap(config)
    runner.serve_until_stopped(running)  # SIGTERM: stopped within 10 s, whatever hangs


@main.command()
@click.option("--dir", "workdir", default="campaign-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where the demo keeps its data and reports (cleared at each run).")
@click.option("--serve", is_flag=True,
              help="Then keep the services and the web console running (at $WEB_SERVER_ADDRESS, or a free port) "
                   "until stopped with Ctrl-C.")
def demo(workdir, serve):
    """Run the Pontianak 2019 seed scenario end to end and write its activity report."""
    from campaign import demo as scenario
    from campaign import runner
    from shared.connect import masked

    workdir = workdir.absolute()
    for stale in ("data", "reports"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    # The demo's files live under --dir, whatever CAMPAIGN_DATA_DIR or REPORTS_DIR say: a run starts
    # from the empty directories just cleared, and never writes into (or wipes) a real data directory.
    address = os.environ.get("WEB_SERVER_ADDRESS") if serve else None
    env = {**os.environ, "CAMPAIGN_DATA_DIR": str(workdir / "data"), "REPORTS_DIR": str(workdir / "reports"),
           "WEB_SERVER_ADDRESS": address or f"127.0.0.1:{free_port()}"}
    config = settings.load(env)
    broker = "in-process" if settings.is_embedded(config) else config["AMQP_URI"].split("@")[-1]
    click.echo(f"Starting the services and the console (broker: {broker})...")
    running = start_or_exit(runner, config, runner.EVERYTHING)  # the import worker reads the workshop list
    base_url = f"http://{config['WEB_SERVER_ADDRESS']}"
    try:
        usernames, password = scenario.create_accounts(config)
        result = scenario.run(base_url, workdir, scenario.SignIn(base_url, scenario.DEMO_COORDINATOR, password))
    except scenario.DemoError as exc:
        running.stop()
        click.echo(f"campaign: {exc}", err=True)
        sys.exit(1)
    except BaseException:
        running.stop()
        raise
    if not serve:
        running.stop()

    figures = result.figures
    click.echo(f"Rollout {result.rollout_id}: Internet Aman untuk Anak, Pontianak, 2-3 Mei 2019")
    click.echo(f"  participants: {figures['participants']} "
               f"({figures['by_audience']['activists']} activists at the workshop, "
               f"{figures['by_audience']['students']} students)")
    click.echo("  workshop by category: " + ", ".join(f"{c} {n}" for c, n in figures["by_category"].items()
                                                        if c != "student"))
    tests = figures["tests"]
    click.echo(f"  tests: pre {tests['pre']['n']} (mean {tests['pre']['mean_percent']}%), "
               f"post {tests['post']['n']} (mean {tests['post']['mean_percent']}%), "
               f"paired {tests['paired']}, normalised gain {tests['gain']}")
    for note in figures["notifications"]:
        click.echo(f"  committee list sent by {note['channel']}: {note['participant_count']} participants")
    smtp_url = config["SMTP_URL"]
    mail = smtp_url.split("://", 1)[1] if smtp_url.startswith("maildir") else masked(smtp_url)
    click.echo(f"  committee mail: {mail}")
    click.echo(f"Report: {Path(config['REPORTS_DIR']) / result.report_file}")
    click.echo(f"  in English: {Path(config['REPORTS_DIR']) / result.english_report_file}")
    click.echo(f"Accounts {', '.join(usernames)}, password {password} (this demo's data only).")
    if not serve:
        click.echo(f"To look around: campaign demo --serve, or\n"
                   f"  CAMPAIGN_DATA_DIR={workdir / 'data'} REPORTS_DIR={workdir / 'reports'} campaign serve\n"
                   f"  campaign login --username {scenario.DEMO_COORDINATOR}")
        return
    click.echo(f"Console: {base_url}/console/  (sign in as {scenario.DEMO_COORDINATOR}, password {password}; "
               f"as komite-medan to see what a Medan committee member sees)\n"
               f"API: {base_url}/api/v1/openapi.json  (CAMPAIGN_API_URL={base_url} campaign login --username "
               f"{scenario.DEMO_COORDINATOR})\n"
               "Serving until stopped (Ctrl-C).", err=False)
    runner.serve_until_stopped(running)


for command in API_COMMANDS:
    main.add_command(command)
main.add_command(registration_commands.gateway)
main.add_command(reporting_commands.subscribe)
main.add_command(dlq_commands.dlq)
main.add_command(db_commands.db)
main.add_command(broker_commands.broker)
main.add_command(retention_commands.retention)
for command in accounts_commands.COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
