"""The firm's settings hub and, for the owner, the firm's details (name and business ID).

The hub: people and roles, areas, specialties, the public page, the audit log
and, for the owner, confidential content, erasure requests and (with Stripe on) the firm's
subscription to Luotsi."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post

from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.firm import FirmDetails, change_firm_details
from luotsi.tenants.content import retention
from luotsi.tenants.directory import hours
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import read_form
from luotsi.web.middleware import origin
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires


@get("/settings/", name="settings", guards=[requires(permissions.can_view_members)])
async def settings_hub(request: Req, db: DB, ws: WS) -> Any:
    pending_erasures = None
    if permissions.can_manage_retention(ws.membership):
        pending_erasures = await retention.count_pending_erasure_requests(db, ws.membership)
    usual_runs = None
    if permissions.can_set_firm_hours(ws.membership):
        usual_runs = hours.week_runs(await hours.firm_week(db))
    context = {
        "ws": ws,
        "pending_erasures": pending_erasures,
        "usual_runs": usual_runs,
        "subscriptions": request.app.state["settings"].subscriptions_enabled,
    }
    return render(request, "firm/settings.html", context)


class FirmDetailsController(Controller):
    """The owner edits the firm's name and business ID after signup."""

    path = "/settings/firm"
    guards = [requires(permissions.can_manage_firm_settings)]

    @get("/", name="firm_details")
    async def page(self, request: Req, ws: WS) -> Any:
        form = FirmDetails(firm_name=ws.tenant.name, business_id=ws.tenant.business_id)
        return render(request, "firm/details.html", {"ws": ws, "form": form})

    @post("/")
    async def save(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, FirmDetails)
        try:
            await change_firm_details(db, ws.membership, form, origin=origin(request))
        except Invalid as exc:
            context = {"ws": ws, "form": form, "errors": exc.errors}
            return render(request, "firm/details.html", context, block="form", status_code=422)
        return redirect(request, ws.url("settings/"), flash="firm_details_saved")
