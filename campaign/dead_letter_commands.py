"""``campaign dead-letters list|replay``: the operator's view of events that kept failing, through the API.

Each service that consumes events answers for its own dead-letter queue (``GET /dead-letters/<service>``,
permission ``operations``), so an operator needs an account, not the broker's administrator: compare
``campaign dlq``, which reads the queues on the broker directly, on its host.
"""
import click

from campaign.api import api_url_option, emit, json_option, pass_api
from shared.config import DEAD_LETTERING as CONSUMERS


@click.group("dead-letters")
@api_url_option
def dead_letters():
    """Events that failed DELIVERY_LIMIT + 1 times, as the services report them (permission operations)."""


def _line(letter):
    return f"{letter['service']}\t{letter['event_id']}\t{letter['routing_key']}\t{letter['reason']}\t{letter['queue']}"


@dead_letters.command("list")
@click.argument("services", nargs=-1, type=click.Choice(CONSUMERS))
@json_option
@pass_api
def list_(api, services, as_json):
    """The dead letters of the given services (all by default)."""
    found = [letter for service in services or CONSUMERS for letter in api.items(f"/dead-letters/{service}")]
    emit(found, as_json, "\n".join(map(_line, found)) or "no dead letters")


@dead_letters.command()
@click.argument("service", type=click.Choice(CONSUMERS))
@click.option("--event-id", help="Replay only this event (default: all of the service's dead letters).")
@json_option
@pass_api
def replay(api, service, event_id, as_json):
    """Send a service's dead letters back to the queue of their city, once the cause is fixed."""
    replayed = api.call("POST", f"/dead-letters/{service}/replay", json={"event_id": event_id})
    emit(replayed, as_json, "\n".join(f"replayed {letter['event_id']} ({letter['routing_key']}) to {letter['queue']}"
                                       for letter in replayed) or f"{service} has no dead letters to replay")
