"""The owner's confidentiality settings: how long content is kept, and erasure requests.

``/t/{slug}/settings/retention/`` sets the retention period; shortening it so that ended
agreements become due for erasure at once asks for a confirmation first.
``/t/{slug}/settings/erasure-requests/`` lists supervisees' erasure requests; each has a
confirmation step that shows what would be erased before the owner erases or declines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.tenants import content
from luotsi.tenants.content import ErasureStatus, retention
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import read_form
from luotsi.web.middleware import origin
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

PER_PAGE = 50
UNDERSTOOD = "yes"  # the value of the ticked "cannot be undone" checkbox


@dataclass
class RetentionForm:
    months: str = ""
    confirmed: str = ""


@dataclass
class EraseForm:
    understood: str = ""


@dataclass
class DeclineForm:
    reason: str = ""


class RetentionController(Controller):
    """The firm's owner keeps the rules of confidential content; nobody else sees these pages."""

    path = "/settings"
    guards = [requires(permissions.can_manage_retention)]

    # --- retention period -------------------------------------------------------------------

    @get("/retention/", name="retention")
    async def retention_page(self, request: Req, ws: WS) -> Any:
        return render(
            request,
            "content/retention.html",
            _retention_context(ws, str(ws.tenant.content_retention_months)),
        )

    @post("/retention/", name="change_retention")
    async def change_retention(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, RetentionForm)
        try:
            months = retention.parse_retention_months(form.months)
            due = await retention.agreements_due_after_change(
                db, ws.membership, months, clock.now()
            )
            if due and form.confirmed != UNDERSTOOD:
                label = retention.retention_label(months)
                context = {"ws": ws, "months": months, "due": due, "label": label}
                return render(request, "content/retention_confirm.html", context)
            await retention.change_retention(db, ws.membership, months, origin=origin(request))
        except Invalid as exc:
            context = _retention_context(ws, form.months, errors=exc.errors)
            return render(request, "content/retention.html", context, status_code=422)
        return redirect(request, ws.url("settings/retention/"), flash="retention_saved")

    # --- erasure requests -------------------------------------------------------------------

    @get("/erasure-requests/", name="erasure_requests")
    async def erasure_requests(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        page = await content.list_erasure_requests(
            db, ws.membership, page=page_number(query.get("page")), per_page=PER_PAGE
        )
        context = {
            "ws": ws,
            "page": page,
            "query": query,
            "deciders": await retention.decider_names(db, page.items),
            "pending": ErasureStatus.PENDING,
        }
        return render(request, "content/erasure_requests.html", context, block="erasure_list")

    @get("/erasure-requests/{request_id:uuid}", name="erasure_request")
    async def erasure_request(
        self, request: Req, db: DB, ws: WS, request_id: FromPath[uuid.UUID]
    ) -> Any:
        return await _erasure_page(request, db, ws, request_id)

    @post("/erasure-requests/{request_id:uuid}/erase", name="confirm_erasure")
    async def confirm_erasure(
        self, request: Req, db: DB, ws: WS, request_id: FromPath[uuid.UUID]
    ) -> Any:
        form = await read_form(request, EraseForm)
        try:
            # The request is looked up (404 when it is not the firm's) before the form is read.
            await content.erasure_plan(db, ws.membership, request_id)
            if form.understood != UNDERSTOOD:
                raise Invalid.field("understood", _("Tick the box to confirm that you understand."))
            await content.confirm_erasure(db, ws.membership, request_id, origin(request))
        except Invalid as exc:
            return await _erasure_page(request, db, ws, request_id, errors=exc.errors)
        return redirect(request, ws.url(f"settings/erasure-requests/{request_id}"))

    @post("/erasure-requests/{request_id:uuid}/decline", name="decline_erasure")
    async def decline_erasure(
        self, request: Req, db: DB, ws: WS, request_id: FromPath[uuid.UUID]
    ) -> Any:
        form = await read_form(request, DeclineForm)
        try:
            await content.decline_erasure(
                db, ws.membership, request_id, form.reason, origin(request)
            )
        except Invalid as exc:
            return await _erasure_page(
                request, db, ws, request_id, errors=exc.errors, reason=form.reason
            )
        return redirect(request, ws.url(f"settings/erasure-requests/{request_id}"))


def _retention_context(
    ws: WS, months: str, *, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "ws": ws,
        "months": months,
        "choices": retention.retention_choices(),
        "current": retention.retention_label(ws.tenant.content_retention_months),
        "errors": errors or {},
    }


async def _erasure_page(
    request: Req,
    db: DB,
    ws: WS,
    request_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    reason: str = "",
) -> Any:
    """A request's confirmation step while it waits; its outcome once decided."""
    erasure = await retention.get_erasure_request(db, ws.membership, request_id)
    plan = None
    if erasure.status == ErasureStatus.PENDING:
        plan = await content.erasure_plan(db, ws.membership, request_id)
    context = {
        "ws": ws,
        "erasure": erasure,
        "plan": plan,
        "deciders": await retention.decider_names(db, [erasure]),
        "errors": errors or {},
        "reason": reason,
    }
    status_code = 422 if errors else 200
    return render(request, "content/erasure_request.html", context, status_code=status_code)
