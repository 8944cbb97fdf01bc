"""``campaign notifications ...``: see, resend and audit committee deliveries through the HTTP API."""
import json
import sys

import click
import requests

DEFAULT_API_URL = "http://127.0.0.1:8000/api/v1"


class Api:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def call(self, method, path, **kwargs):
        """The answer's JSON; a clear message and exit status 1 on any failure."""
        try:
            response = requests.request(method, self.url + path, timeout=30, **kwargs)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach the API at {self.url}: {exc.__class__.__name__}")
        try:
            body = response.json()
        except ValueError:
            raise click.ClickException(f"the API answered {response.status_code} without JSON")
        if response.status_code >= 400:
            error = body.get("error", {}) if isinstance(body, dict) else {}
            raise click.ClickException(error.get("message") or f"the API answered {response.status_code}")
        return body


def _echo(value, as_json):
    if as_json:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))
        return True
    return False


def _delivery_line(d):
    when = d.get("acknowledged_at") or d.get("sent_at") or d.get("next_attempt_at") or ""
    count = "" if d.get("participant_count") is None else f"{d['participant_count']} participants"
    return (f"{d['id']:>5}  {d['status']:<12} {d['kind']:<16} {d['channel']:<8} {d['city']:<14} "
            f"rollout {d['rollout_id']:<5} attempts {d['attempts']:<3} {count:<18} {when[:19]}")


def with_api(command):
    """``--api-url`` (or $CAMPAIGN_API_URL) on each command, handed to it as ``api``."""
    def callback(ctx, param, value):
        return Api(value)
    return click.option("--api-url", "api", envvar="CAMPAIGN_API_URL", default=DEFAULT_API_URL, show_default=True,
                        callback=callback, expose_value=True,
                        help="Base URL of the notification service's API ($CAMPAIGN_API_URL).")(command)


@click.group()
def notifications():
    """Committee deliveries: list, show, resend, and who received whose data."""


@notifications.command("list")
@click.option("--rollout", "rollout_id", type=int, help="Only this rollout's deliveries.")
@click.option("--city", help="Only this city's (slug).")
@click.option("--status", type=click.Choice(["queued", "sent", "failed", "acknowledged"]))
@click.option("--kind", type=click.Choice(["agenda", "digest", "participant_list", "final_list", "target_gap",
                                               "rollout_cancelled"]))
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def list_deliveries(api, rollout_id, city, status, kind, as_json):
    """List deliveries, oldest first."""
    params = {k: v for k, v in {"rollout_id": rollout_id, "city": city, "status": status, "kind": kind}.items()
              if v is not None}
    found = api.call("GET", "/deliveries", params=params)
    if _echo(found, as_json):
        return
    if not found:
        click.echo("No deliveries.")
    for delivery in found:
        click.echo(_delivery_line(delivery))


@notifications.command()
@click.argument("delivery_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_api
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
@with_api
def resend(api, delivery_id):
    """Send a delivery again, as a new message (new Message-ID and idempotency key)."""
    delivery = api.call("POST", f"/deliveries/{delivery_id}/resend")
    click.echo(f"Delivery {delivery['id']} queued again (resend {delivery['resends']}).")


@notifications.command()
@click.argument("participant_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_api
def disclosures(api, participant_id, as_json):
    """Who received a participant's data, when, by which channel."""
    found = api.call("GET", f"/participants/{participant_id}/disclosures")
    if _echo(found, as_json):
        return
    if not found:
        click.echo(f"Participant {participant_id}'s data has not been sent to anyone.")
    for d in found:
        click.echo(f"{d['disclosed_at'][:19]}  {d['channel']:<8} {d['recipient']}  "
                   f"({d['kind']}, delivery {d['delivery_id']}, rollout {d['rollout_id']})")


@notifications.command()
@click.option("--rollout", "rollout_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@with_api
def alerts(api, rollout_id, as_json):
    """What the coordinator was alerted to: disabled webhooks, failed deliveries."""
    found = api.call("GET", "/alerts", params={"rollout_id": rollout_id} if rollout_id else {})
    if _echo(found, as_json):
        return
    for alert in found:
        click.echo(f"{alert['raised_at'][:19]}  {alert['reason']:<17} {alert['message']}")


@notifications.command()
@click.argument("rollout_id", type=int)
@click.option("--email", "emails", multiple=True, help="A committee mail address (repeat for more).")
@click.option("--webhook-url", help="Where to POST signed JSON.")
@click.option("--webhook-secret", envvar="CAMPAIGN_WEBHOOK_SECRET", help="The secret to sign with "
              "($CAMPAIGN_WEBHOOK_SECRET keeps it out of the shell history).")
@click.option("--format", "list_format", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--name", help="How mails greet the committee.")
@with_api
def committee(api, rollout_id, emails, webhook_url, webhook_secret, list_format, name):
    """Set a rollout's committee: its addresses, webhook and list format."""
    body = {"emails": list(emails), "webhook_url": webhook_url, "webhook_secret": webhook_secret,
            "list_format": list_format, "name": name}
    saved = api.call("PUT", f"/rollouts/{rollout_id}/committee", json=body)
    channels = ", ".join(saved["emails"]) + (f"; webhook {saved['webhook_url']}" if saved["webhook_url"] else "")
    click.echo(f"Committee of rollout {rollout_id} ({saved['city']}): {channels}; lists as {saved['list_format']}.")


if __name__ == "__main__":
    sys.exit(notifications())
