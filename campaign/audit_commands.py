"""``campaign audit``: who read participants' personal data, and who received a city's lists."""
import click

from campaign.api import api_url_option, emit, pass_api


def _audit_line(entry):
    return (f"{entry['at'][:19]}  {entry['action']:<8} {entry['city']:<14} rollout {entry['rollout_id']:<5} "
            f"{entry['rows']:>6} rows  by {entry['actor'] or '(unknown)'}")


def _received_line(delivery):
    when = delivery.get("acknowledged_at") or delivery.get("sent_at") or ""
    count = delivery.get("participant_count")
    return (f"{when[:19]}  received {delivery['city']:<14} rollout {delivery['rollout_id']:<5} "
            f"{'' if count is None else count:>6} rows  by {delivery.get('recipient') or '(unknown)'} "
            f"({delivery['kind']}, {delivery['channel']})")


@click.command()
@api_url_option
@click.option("--rollout", "rollout_id", type=int, help="Only this rollout.")
@click.option("--city", help="Only this city (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answers.")
@pass_api
def audit(api, rollout_id, city, as_json):
    """Who listed, showed or exported participants (and each purge), and who received their lists."""
    reads = api.items("/audit", rollout_id=rollout_id, city=city)
    received = [d for d in api.items("/deliveries", rollout_id=rollout_id, city=city)
                if d.get("participant_count") and d.get("sent_at")]  # lists with names that went out
    if as_json:
        emit({"reads": reads, "received": received}, True)
        return
    lines = [(e["at"], _audit_line(e)) for e in reads]
    lines += [(d.get("acknowledged_at") or d["sent_at"], _received_line(d)) for d in received]
    for _, line in sorted(lines, reverse=True):
        click.echo(line)
    if not lines:
        click.echo("nobody has read or received personal data" + (" of this rollout" if rollout_id else ""))
