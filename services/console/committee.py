"""The committee's page: its city's lists (to download as CSV or XLSX), what was sent to it,
acknowledging receipt, and who else received or read the city's list."""
import io
from typing import Any

from services.console.app import Context, Reply, route
from services.console.client import Download, Refused
from shared.spreadsheets import append_rows, csv_text

# The committee's columns, as registration's committee list gives them (no contacts, ages or consent).
LIST_COLUMNS = ("code", "full_name", "category", "organisation", "session", "day")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def list_file(listing: dict[str, Any], people: list[dict[str, Any]], file_format: str) -> Download:
    """The committee list (``listing``: its rollout; ``people``: its rows) as a file people open, every
    cell formula-safe (shared.spreadsheets)."""
    rows = [[person.get(column) for column in LIST_COLUMNS] for person in people]
    stem = f"peserta-{listing['city']}-{listing['rollout_id']}"
    if file_format == "csv":
        return Download(f"{stem}.csv", "text/csv; charset=utf-8",
                        csv_text([LIST_COLUMNS, *rows]).encode("utf-8"))
    from openpyxl import Workbook

    workbook = Workbook(write_only=False)
    sheet = workbook.active
    sheet.title = "peserta"
    append_rows(sheet, [LIST_COLUMNS, *rows])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return Download(f"{stem}.xlsx", XLSX, buffer.getvalue())


@route("GET", "/committee", "committee:read")
def committee_home(ctx: Context) -> Reply:
    rollouts = ctx.api.items("/rollouts")
    return ctx.page("committee_home.html.j2", rollouts=sorted(rollouts, key=lambda r: (r["city_name"], r["starts_on"])))


@route("GET", "/committee/<rollout_id>", "committee:read")
def committee_page(ctx: Context, rollout_id: int) -> Reply:
    api = ctx.api
    rollout = api.get(f"/rollouts/{rollout_id}")
    try:
        committee = api.get(f"/rollouts/{rollout_id}/committee")
    except Refused as exc:
        if exc.status != 404:
            raise
        committee = None  # not set up yet: the rollout's committee address is all there is
    deliveries = ctx.attempt(lambda: api.items("/deliveries", rollout_id=rollout_id), []) \
        if ctx.may("deliveries:read") else []
    changes = ctx.attempt(lambda: api.items(f"/rollouts/{rollout_id}/committee/changes"), []) \
        if committee is not None else []
    reads = ctx.attempt(lambda: api.items("/audit", rollout_id=rollout_id), []) if ctx.may("audit:read") else []
    return ctx.page("committee.html.j2", rollout=rollout, committee=committee,
                    deliveries=sorted(deliveries, key=lambda d: d["id"], reverse=True), changes=changes,
                    reads=reads)


@route("GET", "/committee/<rollout_id>/list.<file_format:word>", "participants:read")
def download_list(ctx: Context, rollout_id: int, file_format: str) -> Reply:
    if file_format not in ("csv", "xlsx"):
        return ctx.page("refused.html.j2", status=404, reason="api", message=f"no list as {file_format}")
    people, listing = ctx.api.listing(f"/rollouts/{rollout_id}/committee-list")  # registration audits each page
    return ctx.download(list_file(listing, people, file_format))


@route("POST", "/deliveries/<delivery_id>/receipt", "deliveries:acknowledge")
def confirm_receipt(ctx: Context, delivery_id: int) -> Reply:
    delivery = ctx.api.post(f"/deliveries/{delivery_id}/receipt")
    return ctx.redirect(f"/committee/{delivery['rollout_id']}", ctx._("Receipt confirmed. Thank you."))
