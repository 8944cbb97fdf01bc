"""The operator's page: the committees' deliveries and their states (resend a failed one), and the
events each service dead-lettered (replay them once the cause is fixed).  An operator sees the dead
letters only: deliveries name the committees' addresses, which are personal data."""
from services.console.app import Context, Reply, route
from shared.config import DEAD_LETTERING as CONSUMERS

DELIVERY_STATES = ("queued", "sent", "acknowledged", "failed")


@route("GET", "/operations")
def operations_page(ctx: Context) -> Reply:
    if not (ctx.may("deliveries:read") or ctx.may("operations")):
        return ctx.page("refused.html.j2", status=403, reason="permission", permission="operations")
    status = ctx.visit.query.get("status")
    status = status if status in DELIVERY_STATES else None
    deliveries = None
    if ctx.may("deliveries:read"):
        deliveries = sorted(ctx.attempt(lambda: ctx.api.items("/deliveries", status=status), []),
                            key=lambda d: d["id"], reverse=True)
    letters = None
    if ctx.may("operations"):
        letters = {service: ctx.attempt(lambda service=service: ctx.api.items(f"/dead-letters/{service}"), [])
                   for service in CONSUMERS}
    return ctx.page("operations.html.j2", deliveries=deliveries, letters=letters, chosen=status,
                    states=DELIVERY_STATES)


@route("POST", "/deliveries/<delivery_id>/resend", "committee:write")
def resend(ctx: Context, delivery_id: int) -> Reply:
    ctx.api.post(f"/deliveries/{delivery_id}/resend")
    return ctx.redirect("/operations", ctx._("Delivery %(id)s is queued to be sent again.", id=delivery_id))


@route("POST", "/dead-letters/<service:word>/replay", "operations")
def replay(ctx: Context, service: str) -> Reply:
    if service not in CONSUMERS:
        return ctx.page("refused.html.j2", status=404, reason="api", message=f"no dead letters of {service}")
    event_id = ctx.visit.form.get("event_id") or None
    replayed = ctx.api.post(f"/dead-letters/{service}/replay", {"event_id": event_id})
    return ctx.redirect("/operations", ctx._("%(n)s dead letters of %(service)s are sent back to their queues.",
                                             n=len(replayed), service=service))
