"""A rollout's pages: planning it, its lifecycle, its agenda and facilitators, its participants
(search, filter, pages, waitlist, cancel, check-in), imports with every row's error, test sheets
and action plans.  Every read and write goes to the services' API as the signed-in person."""
from datetime import date
from math import ceil
from typing import Any

from services.console.app import Context, Reply, route, url
from services.console.client import Refused
from services.console.dashboard import CATEGORY_ORDER

PER_PAGE = 50
ACTIVIST_CATEGORIES = CATEGORY_ORDER[:-1]
PROGRAM = "Internet Aman untuk Anak"
# The program's two days: a workshop for activists, then a socialisation for students.
SESSIONS = (("workshop", "activists", ACTIVIST_CATEGORIES), ("socialisation", "students", ("student",)))
STEPS = ("launch", "start", "complete", "close-registration", "cancel")
# Which step each state allows (registration refuses the others with 409 all the same).
NEXT_STEPS = {"draft": ("launch", "cancel"), "launched": ("close-registration", "start", "cancel"),
              "running": ("close-registration", "complete", "cancel")}
FILE_TYPES = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
BLANK_AGENDA_ROWS = 3
FINISHED = ("succeeded", "failed")  # an import job's last states
# What a rollout's page edits besides its agenda: what its committee and its report's cover need
# (registration refuses to launch without them), and the report's narrative, section by section.
DETAILS = ("province", "venue", "committee_name", "committee_email", "organisation", "author", "editor")
NARRATIVE_SECTIONS = ("background", "aims", "expected_learning", "tips", "findings", "recommendations", "follow_up")


# --- planning -----------------------------------------------------------------------------

def plan_form_defaults() -> dict[str, str]:
    return {"program": PROGRAM, "sessions.0.title": "Workshop", "sessions.1.title": "Sosialisasi"}


def planned_rollout(form: dict[str, str]) -> dict[str, Any]:
    """registration's ``POST /rollouts`` body from the plan form, whose fields are named as the body's
    (``sessions.0.capacity``...), so each refusal lands beside its field."""
    body: dict[str, Any] = {name: form.get(name, "").strip() or None for name in (
        "program", "city_name", "province", "venue", "starts_on", "ends_on", "committee_name", "committee_email",
        "organisation", "author", "editor")}
    starts_on = _date(body["starts_on"])
    sessions = []
    for index, (key, audience, categories) in enumerate(SESSIONS):
        field = f"sessions.{index}."
        title = form.get(field + "title", "").strip()
        if not title:
            continue  # a rollout may have one day only
        when = form.get(field + "date", "").strip() or None
        on = _date(when)
        quotas = [{"category": c, "minimum": _count(form.get(f"{field}minimum.{c}"))} for c in categories
                  if _count(form.get(f"{field}minimum.{c}"))]
        sessions.append({"key": key, "title": title, "audience": audience, "date": when,
                         "day": (on - starts_on).days + 1 if on and starts_on and on >= starts_on else index + 1,
                         "capacity": _count(form.get(field + "capacity")), "quotas": quotas})
    body["sessions"] = sessions
    return {k: v for k, v in body.items() if v is not None}


def problems(refusal: Refused) -> str:
    """A refusal's problems, field by field ("sessions.1.capacity: Not a valid integer.")."""
    named = refusal.fields
    return "; ".join(f"{name}: {' '.join(texts)}" for name, texts in named.items()) if named else refusal.message


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _count(value: str | None) -> Any:
    """A whole number from a form; anything else as typed, for the API to name the field."""
    value = (value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value


@route("GET", "/rollouts/new", "rollouts:write")
def plan_form(ctx: Context) -> Reply:
    return ctx.page("rollout_plan.html.j2", form=plan_form_defaults(), errors={}, message=None)


@route("POST", "/rollouts", "rollouts:write")
def plan(ctx: Context) -> Reply:
    form = ctx.visit.form
    try:
        rollout = ctx.api.post("/rollouts", planned_rollout(form))
    except Refused as exc:
        if exc.status != 422:
            raise
        return ctx.page("rollout_plan.html.j2", status=422, form=form, errors=exc.fields, message=problems(exc))
    return ctx.redirect(f"/rollouts/{rollout['id']}", ctx._("The rollout is planned as a draft."))


# --- the rollout --------------------------------------------------------------------------

@route("GET", "/rollouts/<rollout_id>", "rollouts:read")
def rollout_page(ctx: Context, rollout_id: int) -> Reply:
    api = ctx.api
    rollout = api.get(f"/rollouts/{rollout_id}")
    instruments = ctx.attempt(lambda: api.items("/instruments", rollout_id=rollout_id), []) \
        if ctx.may("assessment:read") else None
    plans = ctx.attempt(lambda: api.items("/action-plans", rollout_id=rollout_id), []) \
        if ctx.may("assessment:read") else None
    return ctx.page("rollout.html.j2", rollout=rollout, steps=NEXT_STEPS.get(rollout["status"], ()),
                    instruments=instruments, plans=plans, blank_rows=BLANK_AGENDA_ROWS, sheet=None,
                    **editing(ctx.lang))


def editing(lang: str) -> dict[str, Any]:
    """What the rollout page's forms need: the fields and sections they edit, shown in ``lang``."""
    return {"details": DETAILS, "sections": NARRATIVE_SECTIONS, "paragraphs": lambda texts: paragraphs(texts, lang)}


@route("POST", "/rollouts/<rollout_id>/step/<step:word>", "rollouts:write")
def lifecycle_step(ctx: Context, rollout_id: int, step: str) -> Reply:
    if step not in STEPS:
        return ctx.page("refused.html.j2", status=404, reason="api", message=f"no step {step}")
    body = {"reason": ctx.visit.form.get("reason") or None} if step == "cancel" else None
    rollout = ctx.api.post(f"/rollouts/{rollout_id}/{step}", body)
    return ctx.redirect(f"/rollouts/{rollout_id}", ctx._("The rollout is now %(status)s.",
                                                         status=ctx._(rollout["status"])))


def paragraphs(texts: list[Any] | None, lang: str) -> str:
    """A section of the narrative as its form shows it: a paragraph a line, each in the reader's language
    (a text written per language is ``{"id": ..., "en": ...}``)."""
    shown = []
    for text in texts or []:
        if isinstance(text, dict):
            text = text.get(lang) or next(iter(text.values()), "")
        shown.append(" ".join(str(text).split()))
    return "\n".join(shown)


def changed_paragraphs(before: list[Any] | None, typed: str, lang: str) -> list[str] | None:
    """The section as typed (a paragraph a line), or None when it reads as it did: a section left as it
    was keeps its texts written per language."""
    if " ".join(typed.split()) == " ".join(paragraphs(before, lang).split()):
        return None
    return [line.strip() for line in typed.splitlines() if line.strip()]


def details_edit(rollout: dict[str, Any], form: dict[str, str], lang: str) -> dict[str, Any]:
    """``PATCH /rollouts/<id>`` from the details-and-narrative form: only what was changed."""
    edit: dict[str, Any] = {}
    for name in DETAILS:
        if name in form and (form[name].strip() or None) != (rollout.get(name) or None):
            edit[name] = form[name].strip() or None
    for name in NARRATIVE_SECTIONS:
        if name in form:
            typed = changed_paragraphs(rollout.get(name), form[name], lang)
            if typed is not None:
                edit[name] = typed
    return edit


@route("POST", "/rollouts/<rollout_id>/details", "rollouts:write")
def edit_details(ctx: Context, rollout_id: int) -> Reply:
    rollout = ctx.api.get(f"/rollouts/{rollout_id}")
    edit = details_edit(rollout, ctx.visit.form, ctx.lang)
    if edit:
        ctx.api.call("PATCH", f"/rollouts/{rollout_id}", json=edit)
    return ctx.redirect(f"/rollouts/{rollout_id}#narrative-title",
                        ctx._("The details and the narrative are saved.") if edit else ctx._("Nothing was changed."))


def agenda_edit(rollout: dict[str, Any], key: str, form: dict[str, str],
                lists: dict[str, list[str]], lang: str = "id") -> dict[str, Any]:
    """``PATCH /rollouts/<id>`` for one session from the agenda form: its title, date, capacity, opener and
    summary, and its topics, one row per facilitator (rows of one topic make one topic)."""
    session: dict[str, Any] = {"key": key}
    before = next((s for s in rollout.get("sessions") or [] if s["key"] == key), {})
    if "summary" in form:
        summary = changed_paragraphs(before.get("summary"), form["summary"], lang)
        if summary is not None:
            session["summary"] = summary
    for name in ("title", "date"):
        if name in form:
            session[name] = form[name].strip() or None
    if "opened_by" in form and changed_paragraphs([before["opened_by"]] if before.get("opened_by") else [],
                                                  form["opened_by"], lang) is not None:
        session["opened_by"] = form["opened_by"].strip() or None  # written per language, kept unless changed
    if "capacity" in form:
        session["capacity"] = _count(form["capacity"])
    topics: dict[str, list[dict[str, str]]] = {}
    rows = zip(lists.get("topic", []), lists.get("facilitator", []), lists.get("organisation", []))
    for title, name, organisation in rows:
        title, name, organisation = title.strip(), name.strip(), organisation.strip()
        if not title:
            continue
        facilitators = topics.setdefault(title, [])
        if name or organisation:
            facilitators.append({"name": name, "organisation": organisation})
    session["topics"] = [{"title": title, "facilitators": people} for title, people in topics.items()]
    if session.get("title") is None:
        session.pop("title", None)  # a session keeps its title: it cannot be emptied
    if session.get("date") is None:
        session.pop("date", None)
    return {"sessions": [session]}


@route("POST", "/rollouts/<rollout_id>/agenda/<key:word>", "rollouts:write")
def edit_agenda(ctx: Context, rollout_id: int, key: str) -> Reply:
    rollout = ctx.api.get(f"/rollouts/{rollout_id}")
    ctx.api.call("PATCH", f"/rollouts/{rollout_id}",
                 json=agenda_edit(rollout, key, ctx.visit.form, ctx.visit.form_lists, ctx.lang))
    return ctx.redirect(f"/rollouts/{rollout_id}#agenda-{key}", ctx._("The agenda is saved."))


# --- participants -------------------------------------------------------------------------

def matching(people: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """The participants a search (name, code or organisation) and filters (category, session) keep."""
    words = (query.get("q") or "").casefold().split()
    category, session = query.get("category") or None, query.get("session") or None

    def keeps(person: dict[str, Any]) -> bool:
        text = " ".join(str(person.get(k) or "") for k in ("full_name", "code", "organisation")).casefold()
        return (all(word in text for word in words) and (category is None or person.get("category") == category)
                and (session is None or person.get("session_key") == session))
    return [p for p in people if keeps(p)]


def page_of(items: list[Any], wanted: str | None) -> tuple[list[Any], int, int]:
    """(the items of page ``wanted``, that page's number, how many pages): PER_PAGE a page."""
    pages = max(1, ceil(len(items) / PER_PAGE))
    number = int(wanted) if wanted and wanted.isdigit() else 1
    number = min(max(number, 1), pages)
    return items[(number - 1) * PER_PAGE: number * PER_PAGE], number, pages


@route("GET", "/rollouts/<rollout_id>/participants", "participants:read")
def participants_page(ctx: Context, rollout_id: int) -> Reply:
    query = ctx.visit.query
    rollout = ctx.api.get(f"/rollouts/{rollout_id}")
    status = query.get("status") if query.get("status") in ("registered", "waitlisted", "cancelled") else None
    people = ctx.api.items(f"/rollouts/{rollout_id}/participants", status=status)
    found = matching(people, query)
    shown, number, pages = page_of(found, query.get("page"))
    filters = {k: query.get(k) for k in ("q", "status", "category", "session") if query.get(k)}
    back = url(f"/rollouts/{rollout_id}/participants", **filters, page=number if number > 1 else None)
    return ctx.page("participants.html.j2", rollout=rollout, people=shown, found=len(found), total=len(people),
                    number=number, pages=pages, filters=filters, categories=CATEGORY_ORDER,
                    back=back.removeprefix("/console"))


@route("POST", "/rollouts/<rollout_id>/participants/<participant_id>/check-in", "participants:write")
def check_in(ctx: Context, rollout_id: int, participant_id: int) -> Reply:
    done = ctx.api.post(f"/rollouts/{rollout_id}/participants/{participant_id}/check-in", {})
    return ctx.redirect(_back(ctx, f"/rollouts/{rollout_id}/participants"),
                        ctx._("%(code)s is checked in for day %(day)s.", code=done["code"], day=done["day"]))


@route("POST", "/rollouts/<rollout_id>/participants/<participant_id>/cancel", "participants:write")
def cancel_participant(ctx: Context, rollout_id: int, participant_id: int) -> Reply:
    person = ctx.api.post(f"/rollouts/{rollout_id}/participants/{participant_id}/cancel")
    return ctx.redirect(_back(ctx, f"/rollouts/{rollout_id}/participants"),
                        ctx._("%(code)s is cancelled; the first on the waitlist who fits takes the place.",
                              code=person["code"]))


def _back(ctx: Context, default: str) -> str:
    back = ctx.visit.form.get("back") or default
    return back if back.startswith("/") and not back.startswith("//") else default


# --- imports ----------------------------------------------------------------------------

def file_type(name: str) -> str | None:
    return next((media for suffix, media in FILE_TYPES.items() if name.lower().endswith(suffix)), None)


@route("POST", "/rollouts/<rollout_id>/imports", "participants:write")
def upload_participants(ctx: Context, rollout_id: int) -> Reply:
    name, content = ctx.visit.files.get("file", ("", b""))
    media_type = file_type(name)
    rollout = ctx.api.get(f"/rollouts/{rollout_id}")
    if not content or media_type is None:
        problem = ctx._("Choose a CSV or XLSX file of participants.")
        return ctx.page("import.html.j2", status=422, rollout=rollout, job=None, problem=problem, rows=[], name=name)
    try:
        job = ctx.api.upload(f"/rollouts/{rollout_id}/participants/import", content, media_type)
    except Refused as exc:
        if exc.status != 422 and exc.status != 413:
            raise
        return ctx.page("import.html.j2", status=exc.status, rollout=rollout, job=None, problem=exc.message,
                        rows=exc.rows, name=name)
    return ctx.redirect(f"/rollouts/{rollout_id}/imports/{job['id']}")


@route("GET", "/rollouts/<rollout_id>/imports/<job_id>", "participants:read")
def import_job(ctx: Context, rollout_id: int, job_id: int) -> Reply:
    job = ctx.api.get(f"/rollouts/{rollout_id}/imports/{job_id}")
    if ctx.visit.htmx:  # polled: 286 tells htmx the job has finished and to stop asking
        return ctx.page("import_job.html.j2", status=286 if job["status"] in FINISHED else 200, rollout_id=rollout_id,
                        job=job)
    rollout = ctx.api.get(f"/rollouts/{rollout_id}")
    return ctx.page("import.html.j2", rollout=rollout, job=job, problem=None, rows=job.get("errors") or [], name=None)


# --- test sheets and action plans ------------------------------------------------------

@route("POST", "/rollouts/<rollout_id>/instruments/<instrument_id>/sheet", "assessment:write")
def upload_test_sheet(ctx: Context, rollout_id: int, instrument_id: int) -> Reply:
    name, content = ctx.visit.files.get("file", ("", b""))
    if not content or not name.lower().endswith(".csv"):
        return ctx.redirect(f"/rollouts/{rollout_id}#tests", ctx._("Choose a CSV test sheet."), kind="error")
    try:
        done = ctx.api.upload(f"/instruments/{instrument_id}/submissions/import", content, "text/csv")
    except Refused as exc:
        if exc.status != 422:
            raise
        rollout = ctx.api.get(f"/rollouts/{rollout_id}")
        instruments = ctx.api.items("/instruments", rollout_id=rollout_id)
        plans = ctx.api.items("/action-plans", rollout_id=rollout_id)
        return ctx.page("rollout.html.j2", status=422, rollout=rollout, steps=NEXT_STEPS.get(rollout["status"], ()),
                        instruments=instruments, plans=plans, blank_rows=BLANK_AGENDA_ROWS,
                        sheet={"instrument_id": instrument_id, "message": exc.message, "rows": exc.rows},
                        **editing(ctx.lang))
    return ctx.redirect(f"/rollouts/{rollout_id}#tests", ctx._("%(n)s tests are scored.", n=done["imported"]))


def action_plan(rollout_id: int, form: dict[str, str]) -> dict[str, Any]:
    owner = form.get("owner") or "group"
    plan = {"rollout_id": rollout_id, "session_key": form.get("session_key") or "socialisation", "owner": owner,
            "commitment": form.get("commitment", "").strip(), "due_on": form.get("due_on") or None}
    if owner == "participant":
        plan["participant_code"] = form.get("participant_code", "").strip().upper() or None
    else:
        plan["group_name"] = form.get("group_name", "").strip() or None
    return {k: v for k, v in plan.items() if v is not None}


@route("POST", "/rollouts/<rollout_id>/action-plans", "assessment:write")
def record_action_plan(ctx: Context, rollout_id: int) -> Reply:
    ctx.api.post("/action-plans", action_plan(rollout_id, ctx.visit.form))
    return ctx.redirect(f"/rollouts/{rollout_id}#plans", ctx._("The action plan is recorded."))
