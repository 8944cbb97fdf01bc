"""``campaign rollout ...`` and ``campaign participants ...``: registration through the API.

They talk to the API's base URL (``--api-url`` or ``$CAMPAIGN_API_URL``): a
process running the services, or ``campaign gateway`` in front of several.  Bad
input gets the API's message, naming the field (and the line of a file), and
exit status 1.
"""
import copy
import json
import os
import sys
from datetime import date
from pathlib import Path

import click

from campaign.api import api_url_option, emit, fail, json_option, limit_option, pass_api, read_json, refusal
from services.registration.rules import cloned_fields, slugify
from services.registration.schemas import AGE_BANDS, CATEGORIES, CONSENT_GIVERS, PARTICIPANT_STATES, ROLLOUT_STATES

# Below this a file uploads in a blink; above it the upload shows a progress bar.
PROGRESS_FROM_BYTES = 256 * 1024


def rollout_line(r):
    dates = f"{r['starts_on']}..{r['ends_on']}" if r.get("starts_on") else "dates to be decided"
    return (f"{r['id']:>4}  {r['status']:<10} {r['city']:<18} {dates}  "
            f"{r['program']} ({r.get('venue') or 'venue to be decided'})")


# --- rollouts -------------------------------------------------------------------

@click.group()
@api_url_option
def rollout():
    """Plan, edit, launch, close registration for, list, show and cancel city rollouts."""


def seed_agenda():
    from campaign.demo import load_rollout

    return load_rollout()  # the seed: Pontianak 2019 with the original report's narrative


def as_template(rollout, city_name, starts_on):
    """What ``rollout`` (the API's JSON) gives a new rollout in ``city_name``, moved to ``starts_on``, as
    JSON: what a clone keeps (``rules.cloned_fields``), another city's own fields never."""
    same_city = slugify(city_name) == slugify(rollout.get("city_name") or "")
    return json.loads(json.dumps(cloned_fields(rollout, starts_on, same_city), default=date.isoformat))


@rollout.command()
@click.option("--city", "city_name", required=True, help="The city's name, e.g. Medan.")
@click.option("--starts-on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (YYYY-MM-DD).")
@click.option("--committee-email", required=True, help="The local committee's address.")
@click.option("--committee-name", help="The local committee.")
@click.option("--venue")
@click.option("--province")
@click.option("--program", help="The program (default: the template's).")
@click.option("--template", "template_id", type=int,
              help="Clone this rollout's agenda (default: the Pontianak 2019 seed agenda).")
@click.option("--agenda", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A rollout JSON file to take the agenda from instead.")
@json_option
@pass_api
def plan(api, city_name, starts_on, committee_email, committee_name, venue, province, program,
         template_id, agenda, as_json):
    """Plan a city's rollout as a draft, from a template agenda with its own dates."""
    own = {"city_name": city_name, "committee_email": committee_email, "committee_name": committee_name,
           "venue": venue, "province": province}
    if template_id is not None:
        body = {**own, "starts_on": starts_on.date().isoformat(), **({"program": program} if program else {})}
        planned = api.call("POST", f"/rollouts/{template_id}/clone", json=body)
    else:
        try:
            template = json.loads(agenda.read_text("utf-8")) if agenda else seed_agenda()
            body = as_template(template, city_name, starts_on.date())
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            fail(f"--agenda: not a rollout JSON file with sessions, each with its key and day ({exc})")
        except OverflowError:
            fail(f"--starts-on: {starts_on.date()} moves the agenda's days past the calendar's end")
        body.update({k: v for k, v in own.items() if v is not None})
        if program:
            body["program"] = program
        planned = api.call("POST", "/rollouts", json=body)
    emit(planned, as_json, f"planned: {rollout_line(planned)}")


@rollout.command()
@click.argument("template_id", type=int)
@click.option("--city", "city_name", required=True, help="The new rollout's city, e.g. Medan.")
@click.option("--starts-on", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (YYYY-MM-DD); without it the draft has no dates yet.")
@click.option("--committee-email", help="The local committee's address (needed to launch).")
@click.option("--committee-name", help="The local committee.")
@click.option("--venue")
@click.option("--province")
@click.option("--program", help="The program (default: the template's).")
@json_option
@pass_api
def clone(api, template_id, starts_on, as_json, **own):
    """Plan a draft in another city with what TEMPLATE_ID shares with the program (agenda, aims, tips...);
    the city's own fields are those given, its days moved to --starts-on."""
    body = {"starts_on": starts_on.date().isoformat() if starts_on else None,
            **{k: v for k, v in own.items() if v is not None}}
    planned = api.call("POST", f"/rollouts/{template_id}/clone", json=body)
    emit(planned, as_json, f"planned: {rollout_line(planned)}")


def changes(fields: dict, body_file: Path | None) -> dict:
    """The fields to change: those of ``--body FILE``, then each option given ("" clears a field)."""
    body = read_json(body_file) if body_file else {}
    if not isinstance(body, dict):
        raise click.BadParameter("must hold a JSON object of the fields to change", param_hint="--body")
    for name, value in fields.items():
        if value is not None:
            body[name] = value.date().isoformat() if hasattr(value, "date") else (value if value != "" else None)
    if not body:
        raise click.UsageError("give at least one field to change (see --help), or --body FILE")
    return body


BODY = click.option("--body", "body_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                    help="A JSON file of the fields to change, as the API takes them; options given win.")


@rollout.command()
@click.argument("rollout_id", type=int)
@click.option("--program")
@click.option("--province", help='"" clears it.')
@click.option("--venue", help='"" clears it.')
@click.option("--starts-on", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--ends-on", type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--committee-name", help='"" clears it.')
@click.option("--committee-email")
@click.option("--author", help='"" clears it.')
@click.option("--editor", help='"" clears it.')
@BODY
@json_option
@pass_api
def edit(api, rollout_id, body_file, as_json, **fields):
    """Change a rollout's fields; sessions (dates, capacity, targets, topics) through --body FILE."""
    edited = api.call("PATCH", f"/rollouts/{rollout_id}", json=changes(fields, body_file))
    emit(edited, as_json, f"edited: {rollout_line(edited)}")


def _step(api, rollout_id, action, as_json, **kwargs):
    answer = api.call("POST", f"/rollouts/{rollout_id}/{action}", **kwargs)
    emit(answer, as_json, rollout_line(answer))


@rollout.command()
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def launch(api, rollout_id, as_json):
    """Launch a draft: it is announced and takes registrations."""
    _step(api, rollout_id, "launch", as_json)


@rollout.command()
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def start(api, rollout_id, as_json):
    """Mark a launched rollout as running (its first day has come)."""
    _step(api, rollout_id, "start", as_json)


@rollout.command()
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def complete(api, rollout_id, as_json):
    """Mark a running rollout as completed."""
    _step(api, rollout_id, "complete", as_json)


@rollout.command()
@click.argument("rollout_id", type=int)
@click.option("--reason", help="Why, for the committee and partners.")
@json_option
@pass_api
def cancel(api, rollout_id, reason, as_json):
    """Cancel a rollout that has not completed."""
    _step(api, rollout_id, "cancel", as_json, json={"reason": reason} if reason else None)


@rollout.command(name="close-registration")
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def close_registration(api, rollout_id, as_json):
    """Close registration: the committee is sent its list of participants."""
    answer = api.call("POST", f"/rollouts/{rollout_id}/close-registration")
    emit(answer, as_json, f"registration closed: {rollout_line(answer)}")


@rollout.command(name="target-check")
@click.argument("rollout_id", type=int)
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="Check as of this day (default: today).")
@click.option("--within-days", type=int, help="Sessions this many days ahead (the API's default: 14).")
@json_option
@pass_api
def target_check(api, rollout_id, today, within_days, as_json):
    """Sessions coming up whose registrations are below a category's target (each gap announced once a day)."""
    body = {k: v for k, v in {"today": today.date().isoformat() if today else None,
                              "within_days": within_days}.items() if v is not None}
    gaps = api.call("POST", f"/rollouts/{rollout_id}/target-check", json=body)
    emit(gaps, as_json, "\n".join(
        f"{g['session_key']} ({g['session_date']}): {g['category']} {g['registered']} of at least {g['minimum']}"
        for g in gaps) or "every target met")


@rollout.command(name="list")
@click.option("--program")
@click.option("--status", type=click.Choice(ROLLOUT_STATES))
@click.option("--city")
@limit_option
@json_option
@pass_api
def list_(api, program, status, city, limit, as_json):
    """List rollouts by first day, undated drafts last (with --limit: the first N planned)."""
    rollouts = api.items("/rollouts", limit, program=program or None, status=status, city=city or None)
    by_first_day = sorted(rollouts, key=lambda r: (r.get("starts_on") is None, r.get("starts_on") or "", r["id"]))
    emit(rollouts, as_json, "\n".join(rollout_line(r) for r in by_first_day) or "no rollouts")


@rollout.command()
@click.argument("rollout_id", type=int)
@json_option
@pass_api
def show(api, rollout_id, as_json):
    """A rollout with its agenda: days, sessions, topics and facilitators."""
    r = api.call("GET", f"/rollouts/{rollout_id}")
    lines = [rollout_line(r), f"      committee: {r.get('committee_name') or '-'} <{r.get('committee_email') or '-'}>",
             f"      registration {'open' if r.get('registration_open') else 'closed'}"]
    for s in r["sessions"]:
        places = f"{s['capacity']} places" if s.get("capacity") else "no place limit"
        lines.append(f"  day {s['day']} {s.get('date') or '(no date)'} [{s['key']}] {s['title']} - "
                     f"{s['audience']}, {places}")
        for q in s.get("quotas") or []:
            lines.append(f"    target {q['category']}: min {q['minimum']}, max {q.get('maximum') or '-'}")
        for t in s.get("topics") or []:
            people = ", ".join(f"{f['name']} ({f['organisation']})" for f in t.get("facilitators", []))
            lines.append(f"    - {t['title']}" + (f": {people}" if people else ""))
    emit(r, as_json, "\n".join(lines))


# --- participants ------------------------------------------------------------------

@click.group()
@api_url_option
def participants():
    """Register, import, list, show, edit, check in and cancel participants."""


def participant_line(p):
    return f"{p['id']:>6}  {p['code']}  {p['status']:<10} {p['session_key']:<14} {p['category']:<10} {p['full_name']}"


@participants.command("committee-list")
@click.argument("rollout_id", type=int)
@limit_option
@json_option
@pass_api
def committee_list(api, rollout_id, limit, as_json):
    """The list a rollout's committee receives: code, name, category, organisation, session and day."""
    people, rollout = api.listing(f"/rollouts/{rollout_id}/committee-list", limit)
    lines = [f"{rollout['city_name']}: {len(people)} participants"]
    lines += [f"  {p['code']}  {p['full_name']}  {p['category']}  {p.get('organisation') or '-'}" for p in people]
    emit({**rollout, "items": people}, as_json, "\n".join(lines))


@participants.command()
@click.argument("rollout_id", type=int)
@click.option("--name", "full_name", required=True)
@click.option("--category", required=True, type=click.Choice(CATEGORIES))
@click.option("--organisation", help="Organisation, or school for a student.")
@click.option("--sex", type=click.Choice(["F", "M"]))
@click.option("--age-band", type=click.Choice(AGE_BANDS))
@click.option("--email", help="Not for a minor.")
@click.option("--phone", help="Not for a minor.")
@click.option("--consent-by", type=click.Choice(CONSENT_GIVERS), help="Who consented, for a minor.")
@json_option
@pass_api
def add(api, rollout_id, as_json, **fields):
    """Register one participant (waitlisted when the session is full)."""
    body = {k: v for k, v in fields.items() if v is not None}
    p = api.call("POST", f"/rollouts/{rollout_id}/participants", json=body)
    emit(p, as_json, f"{p['status']}: {participant_line(p)}")


class UploadProgress:
    """A file body that moves a progress bar as requests reads it."""

    def __init__(self, data, bar):
        self.data, self.bar, self.offset = data, bar, 0

    def __len__(self):
        return len(self.data) - self.offset

    def read(self, size=-1):
        size = len(self.data) - self.offset if size is None or size < 0 else size
        chunk = self.data[self.offset:self.offset + size]
        self.offset += len(chunk)
        self.bar.update(len(chunk))
        return chunk


@participants.command(name="import")
@click.argument("rollout_id", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_api
def import_(api, rollout_id, path, as_json):
    """Import a CSV or XLSX file: every row, or none if any row is bad.

    The API keeps the file as a job for the city's import worker; this follows
    the job to its end, then prints what was imported, or every bad line.
    """
    data = path.read_bytes()
    xlsx = data[:4] == b"PK\x03\x04"
    headers = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
               if xlsx else "text/csv"}
    target = f"/rollouts/{rollout_id}/participants/import"
    large = len(data) >= PROGRESS_FROM_BYTES
    if large:
        with click.progressbar(length=len(data), label=f"Sending {path.name}", file=sys.stderr,
                               show_pos=False, show_percent=True) as bar:
            job = api.call("POST", target, data=UploadProgress(data, bar), headers=headers, timeout=600)
    else:
        job = api.call("POST", target, data=data, headers=headers, timeout=600)
    job = follow_import(api, rollout_id, job, show_progress=large and not as_json)
    if job["status"] == "failed":
        raise refusal(422, {"message": job.get("message") or "the import failed; nothing was imported",
                            "rows": job.get("errors") or []})
    result = job["result"]
    emit(job, as_json, f"imported {result['imported']} participants "
                       f"({result['registered']} registered, {result['waitlisted']} waitlisted)")


def follow_import(api, rollout_id, job, show_progress):
    """The import job once its worker has finished it, with a bar of rows checked meanwhile."""
    path = f"/rollouts/{rollout_id}/imports/{job['id']}"
    if not show_progress:
        return api.follow(path)
    with click.progressbar(length=1, label="Checking rows", file=sys.stderr, show_pos=True) as bar:
        def moved(job):
            if job.get("rows_total"):
                bar.length = job["rows_total"]
                bar.update(job["rows_done"] - bar.pos)
        return api.follow(path, on_progress=moved)


@participants.command(name="list")
@click.argument("rollout_id", type=int)
@click.option("--status", type=click.Choice(PARTICIPANT_STATES))
@limit_option
@json_option
@pass_api
def list_participants(api, rollout_id, status, limit, as_json):
    """List a rollout's participants, in the order they registered."""
    people = api.items(f"/rollouts/{rollout_id}/participants", limit, status=status)
    emit(people, as_json, "\n".join(participant_line(p) for p in people) or "no participants")


@participants.command(name="show")
@click.argument("rollout_id", type=int)
@click.argument("participant_id", type=int)
@json_option
@pass_api
def show_participant(api, rollout_id, participant_id, as_json):
    """One participant: code, session, category, consent."""
    p = api.call("GET", f"/rollouts/{rollout_id}/participants/{participant_id}")
    details = [f"{label}: {p[key]}" for label, key in (
        ("organisation", "organisation"), ("sex", "sex"), ("age band", "age_band"), ("consent by", "consent_by"),
        ("registered at", "registered_at")) if p.get(key)]
    emit(p, as_json, "\n".join([participant_line(p)] + [f"        {line}" for line in details]))


@participants.command(name="edit")
@click.argument("rollout_id", type=int)
@click.argument("participant_id", type=int)
@click.option("--name", "full_name")
@click.option("--category", type=click.Choice(CATEGORIES), help="Within the same audience (session).")
@click.option("--organisation", help='Organisation, or school for a student; "" clears it.')
@click.option("--sex", type=click.Choice(["F", "M", ""]), help='"" clears it.')
@click.option("--age-band", type=click.Choice(AGE_BANDS + ("",)), help='"" clears it.')
@click.option("--email", help='Not for a minor; "" clears it.')
@click.option("--phone", help='Not for a minor; "" clears it.')
@click.option("--consent-by", type=click.Choice(CONSENT_GIVERS + ("",)), help="Who consented, for a minor.")
@BODY
@json_option
@pass_api
def edit_participant(api, rollout_id, participant_id, body_file, as_json, **fields):
    """Correct a participant's registration."""
    p = api.call("PATCH", f"/rollouts/{rollout_id}/participants/{participant_id}", json=changes(fields, body_file))
    emit(p, as_json, f"edited: {participant_line(p)}")


@participants.command(name="check-in")
@click.argument("rollout_id", type=int)
@click.argument("participant_id", type=int)
@click.option("--day", type=int, help="The day (default: the participant's session's day).")
@click.option("--session", "session_key", help="The session (default: the participant's).")
@json_option
@pass_api
def checkin(api, rollout_id, participant_id, day, session_key, as_json):
    """Record that a participant came, on a day of their session."""
    body = {k: v for k, v in {"day": day, "session_key": session_key}.items() if v is not None}
    record = api.call("POST", f"/rollouts/{rollout_id}/participants/{participant_id}/check-in", json=body)
    emit(record, as_json, f"checked in: {record['code']} at {record['session_key']}, day {record['day']}")


participants.add_command(copy.copy(checkin), name="checkin")  # the name it had first
participants.commands["checkin"].hidden = True


@participants.command(name="cancel")
@click.argument("rollout_id", type=int)
@click.argument("participant_id", type=int)
@json_option
@pass_api
def cancel_participant(api, rollout_id, participant_id, as_json):
    """Cancel a registration; the first on the waitlist gets the place."""
    p = api.call("POST", f"/rollouts/{rollout_id}/participants/{participant_id}/cancel")
    emit(p, as_json, f"cancelled: {participant_line(p)}")


# --- one base URL -----------------------------------------------------------------------

@click.command()
@click.option("--listen", default=os.environ.get("GATEWAY_ADDRESS", "127.0.0.1:8000"), show_default=True,
              help="host:port to answer on (also $GATEWAY_ADDRESS).")
@click.option("--route", "routes", multiple=True, metavar="SERVICE=URL",
              help="Where a service answers, e.g. registration=http://10.0.0.5:8000 (also $<SERVICE>_URL).")
def gateway(listen, routes):
    """Answer /api/v1 on one address, passing each request to the service behind it."""
    from campaign.gateway import serve
    from shared.config import SERVICES

    urls = {s: os.environ[f"{s.upper()}_URL"] for s in SERVICES if os.environ.get(f"{s.upper()}_URL")}
    for route in routes:
        name, sep, url = route.partition("=")
        if not sep or name not in SERVICES or not url.startswith(("http://", "https://")):
            fail(f"--route {route}: expected SERVICE=http://host:port with SERVICE one of {', '.join(SERVICES)}")
        urls[name] = url
    missing = [s for s in SERVICES if s not in urls]
    if missing:
        click.echo(f"warning: no address for {', '.join(missing)}; their paths will answer 503", err=True)

    def ready(address):
        click.echo(f"ready: gateway on http://{address[0]}:{address[1]} for "
                   + ", ".join(f"{s}={u}" for s, u in sorted(urls.items())), err=True)
    try:
        serve(listen, urls, ready)
    except OSError as exc:
        fail(f"--listen {listen}: {exc.strerror or exc}")

