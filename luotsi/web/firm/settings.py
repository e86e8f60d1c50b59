"""The firm's settings hub: people and roles, areas, specialties, the public page, the audit log
and, for the owner, confidential content, erasure requests and (with Stripe on) the firm's
subscription to Luotsi."""

from __future__ import annotations

from typing import Any

from litestar import get

from luotsi.platform import permissions
from luotsi.tenants.content import retention
from luotsi.web.deps import DB, WS, Req
from luotsi.web.templating import render
from luotsi.web.workspace import requires


@get("/settings/", name="settings", guards=[requires(permissions.can_view_members)])
async def settings_hub(request: Req, db: DB, ws: WS) -> Any:
    pending_erasures = None
    if permissions.can_manage_retention(ws.membership):
        pending_erasures = await retention.count_pending_erasure_requests(db, ws.membership)
    context = {
        "ws": ws,
        "pending_erasures": pending_erasures,
        "subscriptions": request.app.state["settings"].subscriptions_enabled,
    }
    return render(request, "firm/settings.html", context)
