"""``campaign dlq list|replay``: see and replay events that kept failing."""
import json
import sys

import click

from shared import config as settings
from shared import dead_letters


def _broker():
    config = settings.load()
    if settings.is_embedded(config):
        click.echo("error: AMQP_URI is not set; dead-letter queues live on RabbitMQ", err=True)
        sys.exit(2)
    return config["AMQP_URI"]


@click.group()
def dlq():
    """Events that failed DELIVERY_LIMIT + 1 times and wait in dlq.<service>."""


@dlq.command("list")
@click.argument("services", nargs=-1, type=click.Choice(settings.CONSUMERS))
def list_(services):
    """List dead letters of the given services (all by default)."""
    amqp_uri = _broker()
    total = 0
    for service in services or settings.CONSUMERS:
        try:
            letters = dead_letters.list_dead_letters(amqp_uri, service)
        except Exception as exc:  # the queue does not exist until the service has run once
            if "NOT_FOUND" in str(exc):
                continue
            raise
        for letter in letters:
            total += 1
            click.echo(f"{service}\t{letter.event_id}\t{letter.routing_key}\t{letter.reason}\t{letter.queue}")
    click.echo(f"{total} dead letter(s)", err=True)


@dlq.command()
@click.argument("service", type=click.Choice(settings.CONSUMERS))
@click.option("--event-id", help="Replay only this event (default: all of the service's dead letters).")
@click.option("--payload", type=click.File("r", encoding="utf-8"),
              help="A JSON file with the corrected event, replacing the dead letter's body.")
def replay(service, event_id, payload):
    """Send dead letters back to the queue they failed in, once the cause is fixed."""
    if payload is not None and event_id is None:
        raise click.UsageError("--payload replaces one event: give its --event-id too")
    body = None
    if payload is not None:
        try:
            body = json.load(payload)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--payload")
    replayed = dead_letters.replay(_broker(), service, event_id=event_id, payload=body)
    for letter in replayed:
        click.echo(f"replayed {letter.event_id} ({letter.routing_key}) to {letter.queue}")
    if event_id is not None and not replayed:
        click.echo(f"error: no dead letter of {service} has event id {event_id}", err=True)
        sys.exit(1)
