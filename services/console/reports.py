"""The reports page: a city's activity report (or the national roll-up) previewed, and downloaded as
PDF, HTML, Markdown or the XLSX export.  Who may not see exact figures gets the public report."""
from typing import Any

from services.console import render
from services.console.app import Context, Reply, route
from shared.auth import Principal

DOCUMENTS = ("pdf", "html", "md")
NATIONAL = "national"


def report_query(ctx: Context) -> dict[str, Any]:
    """lang, rollout_id and public, as the reporting API takes them; partners and committees get public."""
    query = ctx.visit.query
    rollout_id = query.get("rollout_id")
    return {"lang": render.language(query.get("report_lang") or ctx.lang),
            "rollout_id": int(rollout_id) if rollout_id and rollout_id.isdigit() else None,
            "public": "false" if ctx.may("reports:internal") else "true"}


def cities_of(ctx: Context, principal: Principal | None) -> list[str]:
    """The places the person may ask a report of: their cities, and the nation for every-city roles."""
    if principal is not None and not principal.every_city:
        return list(principal.cities)
    if ctx.may("rollouts:read"):
        cities = sorted({r["city"] for r in ctx.attempt(lambda: ctx.api.items("/rollouts"), [])})
    else:
        cities = [c for c in ctx.attempt(lambda: ctx.api.get("/summaries")["cities"], []) if c != NATIONAL]
    return [NATIONAL, *cities]


@route("GET", "/reports", "reports:public")
def reports_page(ctx: Context) -> Reply:
    cities = cities_of(ctx, ctx.principal)
    wanted = ctx.visit.query.get("city")
    city = wanted if wanted in cities else (cities[0] if cities else None)
    query = report_query(ctx)
    rollouts = []
    if city and city != NATIONAL and ctx.may("rollouts:read"):
        rollouts = [r for r in ctx.attempt(lambda: ctx.api.items("/rollouts", city=city), [])
                    if r["status"] != "draft"]
    return ctx.page("reports.html.j2", cities=cities, city=city, rollouts=rollouts, report=query,
                    documents=DOCUMENTS)


def _document_query(ctx: Context) -> dict[str, Any]:
    query = report_query(ctx)
    return {k: v for k, v in query.items() if v is not None}


@route("GET", "/reports/<city:word>/preview", "reports:public")
def preview(ctx: Context, city: str) -> Reply:
    """The report's HTML for the page's frame, sandboxed: it runs nothing and fetches nothing."""
    page = ctx.api.download(f"/reports/{city}/activity-report", "report.html", format="html", **_document_query(ctx))
    return Reply(200, page.content, "text/html; charset=utf-8", headers={
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "no-store"})


@route("GET", "/reports/<city:word>/download/<kind:word>", "reports:public")
def download(ctx: Context, city: str, kind: str) -> Reply:
    if kind in DOCUMENTS:
        file = ctx.api.download(f"/reports/{city}/activity-report", f"report-{city}.{kind}", format=kind,
                                **_document_query(ctx))
    elif kind == "xlsx":
        file = ctx.api.download(f"/reports/{city}/export.xlsx", f"report-{city}.xlsx", **_document_query(ctx))
    else:
        return ctx.page("refused.html.j2", status=404, reason="api", message=f"no report as {kind}")
    return ctx.download(file)
