"""``campaign notifications ...``: see, resend and audit committee deliveries through the HTTP API."""
import re
from urllib.parse import parse_qs, urlsplit

import click

from campaign.api import api_url_option, emit, json_option, limit_option, pass_api


def _echo(value, as_json):
    """Print the API's JSON if asked; True when done."""
    if as_json:
        emit(value, True)
    return as_json


def _delivery_line(d):
    when = d.get("acknowledged_at") or d.get("sent_at") or d.get("next_attempt_at") or ""
    count = "" if d.get("participant_count") is None else f"{d['participant_count']} participants"
    return (f"{d['id']:>5}  {d['status']:<12} {d['kind']:<16} {d['channel']:<8} {d['city']:<14} "
            f"rollout {d['rollout_id']:<5} attempts {d['attempts']:<3} {count:<18} {when[:19]}")


@click.group()
@api_url_option
def notifications():
    """Committees, deliveries to them (list, show, resend, acknowledge), and who received whose data."""


@notifications.command("list")
@click.option("--rollout", "rollout_id", type=int, help="Only this rollout's deliveries.")
@click.option("--city", help="Only this city's (slug).")
@click.option("--status", type=click.Choice(["queued", "sent", "failed", "acknowledged"]))
@click.option("--kind", type=click.Choice(["agenda", "digest", "participant_list", "final_list", "target_gap",
                                               "rollout_cancelled"]))
@limit_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@pass_api
def list_deliveries(api, rollout_id, city, status, kind, limit, as_json):
    """List deliveries, oldest first."""
    found = api.items("/deliveries", limit, rollout_id=rollout_id, city=city, status=status, kind=kind)
    if _echo(found, as_json):
        return
    if not found:
        click.echo("No deliveries.")
    for delivery in found:
        click.echo(_delivery_line(delivery))


@notifications.command()
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_api
def show(api, delivery_id, as_json):
    """One delivery with each of its attempts."""
    delivery = api.call("GET", f"/deliveries/{delivery_id}")
    if _echo(delivery, as_json):
        return
    click.echo(_delivery_line(delivery))
    for label in ("recipient", "message_id", "last_error"):
        if delivery.get(label):
            click.echo(f"  {label}: {delivery[label]}")
    for attempt in delivery["attempt_log"]:
        click.echo(f"  {attempt['attempted_at'][:19]}  {attempt['outcome']:<7} {attempt['detail'] or ''}")


@notifications.command()
@click.argument("delivery_id", type=int)
@pass_api
def resend(api, delivery_id):
    """Send a delivery again, as a new message (new Message-ID and idempotency key)."""
    delivery = api.call("POST", f"/deliveries/{delivery_id}/resend")
    click.echo(f"Delivery {delivery['id']} queued again (resend {delivery['resends']}).")


@notifications.command("confirm-receipt")
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_api
def confirm_receipt(api, delivery_id, as_json):
    """As a committee member signed in: confirm that the committee received a delivery (no mail link needed)."""
    delivery = api.call("POST", f"/deliveries/{delivery_id}/receipt")
    if _echo(delivery, as_json):
        return
    click.echo(f"Delivery {delivery['id']} acknowledged.")


@notifications.command()
@click.argument("participant_id", type=int)
@limit_option
@click.option("--json", "as_json", is_flag=True)
@pass_api
def disclosures(api, participant_id, limit, as_json):
    """Who received a participant's data, when, by which channel."""
    found = api.items(f"/participants/{participant_id}/disclosures", limit)
    if _echo(found, as_json):
        return
    if not found:
        click.echo(f"Participant {participant_id}'s data has not been sent to anyone.")
    for d in found:
        click.echo(f"{d['disclosed_at'][:19]}  {d['channel']:<8} {d['recipient']}  "
                   f"({d['kind']}, delivery {d['delivery_id']}, rollout {d['rollout_id']})")


@notifications.command()
@click.option("--rollout", "rollout_id", type=int)
@limit_option
@click.option("--json", "as_json", is_flag=True)
@pass_api
def alerts(api, rollout_id, limit, as_json):
    """What the coordinator was alerted to: disabled webhooks, failed deliveries."""
    found = api.items("/alerts", limit, rollout_id=rollout_id)
    if _echo(found, as_json):
        return
    for alert in found:
        click.echo(f"{alert['raised_at'][:19]}  {alert['reason']:<17} {alert['message']}")


class CommitteeGroup(click.Group):
    """``committee show ID`` and ``committee set ID ...``; ``committee ID`` shows, with what to set, sets."""

    SETTING = ("--email", "--webhook-url", "--webhook-secret", "--format", "--name")

    def parse_args(self, ctx, args):
        if args and args[0].isdigit():
            setting = any(arg.split("=", 1)[0] in self.SETTING for arg in args[1:])
            args = ["set" if setting else "show", *args]
        return super().parse_args(ctx, args)


@notifications.group(cls=CommitteeGroup)
def committee():
    """A rollout's committee: where its digests and lists go."""


def _committee_text(saved):
    channels = ", ".join(saved["emails"]) or "no mail address"
    if saved.get("webhook_url"):
        channels += f"; webhook {saved['webhook_url']}" + ("" if saved.get("webhook_enabled", True) else " (disabled)")
        channels += " (secret set)" if saved.get("webhook_secret_set") else " (no secret)"
    name = f"{saved['name']}: " if saved.get("name") else ""
    return (f"Committee of rollout {saved['rollout_id']} ({saved['city']}): {name}{channels}; "
            f"lists as {saved['list_format']}.")


@committee.command("show")
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def show_committee(api, rollout_id, as_json):
    """Where a rollout's committee gets its mail, webhook and lists."""
    saved = api.call("GET", f"/rollouts/{rollout_id}/committee")
    emit(saved, as_json, _committee_text(saved))


@committee.command("set")
@click.argument("rollout_id", type=int)
@click.option("--email", "emails", multiple=True, help="A committee mail address (repeat for more).")
@click.option("--webhook-url", help="Where to POST signed JSON.")
@click.option("--webhook-secret", envvar="CAMPAIGN_WEBHOOK_SECRET", help="The secret to sign with "
              "($CAMPAIGN_WEBHOOK_SECRET keeps it out of the shell history).")
@click.option("--format", "list_format", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--name", help="How mails greet the committee.")
@json_option
@pass_api
def set_committee(api, rollout_id, emails, webhook_url, webhook_secret, list_format, name, as_json):
    """Set a rollout's committee: its addresses, webhook and list format (replacing what was set)."""
    body = {"emails": list(emails), "webhook_url": webhook_url, "webhook_secret": webhook_secret,
            "list_format": list_format, "name": name}
    saved = api.call("PUT", f"/rollouts/{rollout_id}/committee", json=body)
    emit(saved, as_json, _committee_text(saved))


@committee.command("changes")
@click.argument("rollout_id", type=int)
@limit_option
@json_option
@pass_api
def committee_changes(api, rollout_id, limit, as_json):
    """Who set or changed a rollout's committee, when, and where its lists went before and after."""
    found = api.items(f"/rollouts/{rollout_id}/committee/changes", limit)
    if _echo(found, as_json):
        return

    def where(side):
        return ", ".join(side["emails"]) + (f" + {side['webhook_url']}" if side.get("webhook_url") else "")
    for change in found:
        before = where(change["before"]) if change["before"] else "(not set)"
        told = "  previous addresses told" if change["redirects"] else ""
        click.echo(f"{change['changed_at'][:19]}  {change['changed_by']}: {before} -> {where(change['after'])}{told}")


def _acknowledgement(link):
    """(delivery id, token) of a mail's link: ``…/deliveries/ID/acknowledge#token=…`` (or ``?token=`` in older mail)."""
    parts = urlsplit(link)
    found = re.search(r"/deliveries/(\d+)/acknowledge$", parts.path)
    token = (parse_qs(parts.fragment).get("token") or parse_qs(parts.query).get("token") or [None])[0]
    if not found or not token:
        raise click.BadParameter("not an acknowledgement link (…/deliveries/ID/acknowledge#token=…)",
                                 param_hint="--link")
    return int(found.group(1)), token


@notifications.command()
@click.argument("delivery_id", type=int, required=False)
@click.option("--token", help="The token of the acknowledgement link in the committee's mail.")
@click.option("--link", help="The whole acknowledgement link from the mail, as the committee would open it.")
@json_option
@pass_api
def acknowledge(api, delivery_id, token, link, as_json):
    """Record that the committee received a delivery (say, when it answered by phone or chat).

    With --link, the link is asked of this command's API (--api-url), whichever host it names.
    """
    if link:
        delivery_id, token = _acknowledgement(link)
    elif delivery_id is None or not token:
        raise click.UsageError("give DELIVERY_ID and --token, or --link")
    # The token travels in the body, never in a URL that access logs keep.
    delivery = api.call("POST", f"/deliveries/{delivery_id}/acknowledge", json={"token": token})
    emit(delivery, as_json, f"Delivery {delivery['id']} acknowledged.")

