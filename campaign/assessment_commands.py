"""``campaign assessment ...``: instruments, tests, gain, item analysis and action plans over the HTTP API."""
import json
from pathlib import Path

import click

from campaign.api import api_url_option, emit, fail, limit_option, pass_api, read_json


def show(value):
    emit(value, True)


@click.group()
@api_url_option
def assessment():
    """Test instruments, pre- and post-tests, learning gain and action plans."""


@assessment.command("create-instrument")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_api
def create_instrument(api, file):
    """Create an instrument (or its next version) from a JSON FILE."""
    created = api.call("POST", "/instruments", json=read_json(file))
    click.echo(f"instrument {created['id']}: {created['title']} (rollout {created['rollout_id']}, "
               f"session {created['session_key']}, version {created['version']}, "
               f"{len(created['questions'])} questions, pass mark {created['pass_percent']}%)")


@assessment.command("instruments")
@click.option("--rollout", "rollout_id", type=int, help="Only this rollout's.")
@click.option("--session", "session_key", help="Only this session's.")
@limit_option
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@pass_api
def instruments(api, rollout_id, session_key, limit, as_json):
    """List instruments, in the order they were created."""
    found = api.items("/instruments", limit, rollout_id=rollout_id, session_key=session_key)
    emit(found, as_json, "\n".join(f"{i['id']}\trollout {i['rollout_id']}\t{i['session_key']}\t"
                                   f"v{i['version']}\t{i['title']}" for i in found) or "no instruments")


@assessment.command("instrument")
@click.argument("instrument_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@pass_api
def instrument(api, instrument_id, as_json):
    """One instrument with its questions (and their answers)."""
    found = api.call("GET", f"/instruments/{instrument_id}")
    lines = [f"instrument {found['id']}: {found['title']} (rollout {found['rollout_id']}, session "
             f"{found['session_key']}, version {found['version']}, pass mark {found['pass_percent']}%)"]
    lines += [f"  {q.get('id')}  [{q.get('topic') or '-'}] {q.get('text')}" for q in found.get("questions") or []]
    emit(found, as_json, "\n".join(lines))


@assessment.command()
@click.option("--instrument", "instrument_id", type=int, required=True)
@click.option("--code", "participant_code", required=True, help="The participant's pseudonymous code.")
@click.option("--phase", type=click.Choice(["pre", "post"]), required=True)
@click.option("--answers", required=True, help='JSON object, e.g. \'{"q1": true, "q2": "b"}\'.')
@pass_api
def submit(api, instrument_id, participant_code, phase, answers):
    """Score one test."""
    try:
        answers = json.loads(answers)
    except ValueError:
        fail("--answers: not valid JSON")
    scored = api.call("POST", "/submissions", json={"instrument_id": instrument_id, "participant_code":
                                                    participant_code, "phase": phase, "answers": answers})
    verdict = "passed" if scored["passed"] else "not passed"
    blank = f", {len(scored['unanswered'])} unanswered" if scored["unanswered"] else ""
    click.echo(f"submission {scored['id']}: {scored['score']}/{scored['max_score']} {verdict}{blank}")


@assessment.command("import")
@click.argument("instrument_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False))
@pass_api
def import_(api, instrument_id, file):
    """Import a CSV FILE of tests: participant_code, phase, one column per question."""
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    imported = api.call("POST", f"/instruments/{instrument_id}/submissions/import", data=data,
                        headers={"Content-Type": "text/csv"})
    click.echo(f"imported {imported['imported']} tests")


def _percent(fraction):
    return "-" if fraction is None else f"{100 * fraction:.1f}%"


def _gain(figure):
    if figure["value"] is None:
        return f"-  (n {figure['n']})"
    ci = figure["ci"]
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"{figure['value']:.3f}{interval}  (n {figure['n']})"


def _gain_lines(label, group):
    yield (f"{label}: paired {group['paired']} (perfect pre-test {group['perfect_pre']}), "
           f"pre only {group['pre_only']}, post only {group['post_only']}; "
           f"mean {_percent(group['mean_pre'])} -> {_percent(group['mean_post'])}")
    yield f"  <g> {_gain(group['gain_of_averages'])}; mean of g {_gain(group['mean_of_gains'])}"
    for topic in group["by_topic"]:
        yield f"  {topic['topic']}: <g> {_gain(topic['gain_of_averages'])}"


@assessment.command()
@click.argument("scope")
@click.option("--rollout", "rollout_id", type=int, help="Only this rollout.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@pass_api
def gains(api, scope, rollout_id, as_json):
    """Learning gain of a city (its slug) or `national`, with 95% intervals, per topic and session."""
    figures = api.call("GET", f"/gains/{scope}", params={"rollout_id": rollout_id} if rollout_id else None)
    if as_json:
        return show(figures)
    for line in _gain_lines(scope, figures):
        click.echo(line)
    for group in figures["by_session"]:
        for line in _gain_lines(f"rollout {group['rollout_id']} {group['session_key']} ({group['city']})", group):
            click.echo(line)


@assessment.command()
@click.argument("instrument_id", type=int)
@click.option("--phase", type=click.Choice(["pre", "post"]), default="post", show_default=True)
@pass_api
def items(api, instrument_id, phase):
    """Facility and discrimination index of each question (Moodle's definitions)."""
    analysis = api.call("GET", f"/instruments/{instrument_id}/item-analysis", params={"phase": phase})
    click.echo(f"{analysis['attempts']} {phase}-tests")

    def cell(value):
        return "-" if value is None else f"{value:.1f}"
    for item in analysis["items"]:
        click.echo(f"{item['question']}\tfacility {cell(item['facility_index'])}\t"
                   f"discrimination {cell(item['discrimination_index'])}\t{item['topic']}")


@assessment.group()
def plan():
    """Action plans: what a participant or group commits to do, and how it goes."""


@plan.command("add")
@click.option("--rollout", "rollout_id", type=int, required=True)
@click.option("--session", "session_key", required=True)
@click.option("--participant", "participant_code", help="The participant's code (a participant's plan).")
@click.option("--group", "group_name", help="The group's name (a group's plan).")
@click.option("--commitment", required=True)
@click.option("--due", "due_on", help="YYYY-MM-DD")
@pass_api
def plan_add(api, rollout_id, session_key, participant_code, group_name, commitment, due_on):
    """Record an action plan."""
    if bool(participant_code) == bool(group_name):
        fail("give either --participant or --group")
    body = {"rollout_id": rollout_id, "session_key": session_key, "commitment": commitment,
            "owner": "participant" if participant_code else "group"}
    body.update({k: v for k, v in (("participant_code", participant_code), ("group_name", group_name),
                                   ("due_on", due_on)) if v})
    recorded = api.call("POST", "/action-plans", json=body)
    click.echo(f"action plan {recorded['id']}: {recorded['status']}")


@plan.command("update")
@click.argument("plan_id", type=int)
@click.option("--status", type=click.Choice(["planned", "in_progress", "done", "dropped"]), required=True)
@click.option("--note")
@pass_api
def plan_update(api, plan_id, status, note):
    """Record a follow-up of an action plan."""
    updated = api.call("PATCH", f"/action-plans/{plan_id}", json={"status": status, "note": note})
    click.echo(f"action plan {updated['id']}: {updated['status']}")


@plan.command("list")
@click.option("--rollout", "rollout_id", type=int)
@click.option("--status")
@limit_option
@pass_api
def plan_list(api, rollout_id, status, limit):
    """List action plans."""
    params = {k: v for k, v in (("rollout_id", rollout_id), ("status", status)) if v}
    for found in api.items("/action-plans", limit, **params):
        who = found["participant_code"] or found["group_name"]
        click.echo(f"{found['id']}\t{found['status']}\tdue {found['due_on'] or '-'}\t{who}\t{found['commitment']}")
