"""Payments: reading a bank's camt.053/054 file in, and matching what it could not match.

The import's result is shown on the page that posted the file (what was paid in full, in
part, over, unmatched, and what was imported before), with the payments still waiting for a
match below it. A payment is matched by hand to an open invoice of the firm.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath

from luotsi.billing import payments
from luotsi.billing.payments import ImportResult
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

MAX_STATEMENT_BYTES = 5 * 1024 * 1024


async def _statement(request: Req) -> bytes:
    """The uploaded file's bytes; :class:`Invalid` (``file``) when none or over the limit."""
    form = await request.form()
    upload = form.get("file")
    data = await upload.read(MAX_STATEMENT_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data:
        raise Invalid.field("file", _("Choose a camt.053 or camt.054 file from your bank."))
    if len(data) > MAX_STATEMENT_BYTES:
        raise Invalid.field("file", _("The file is too large; the limit is 5 MB."))
    return data


class PaymentsController(Controller):
    path = "/billing/payments"
    guards = [requires(permissions.can_manage_billing)]

    @get("/", name="billing_payments")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        matched = request.query_params.get("matched") == "1"
        return await self._page(request, db, ws, matched=matched)

    @post("/", name="import_statement")
    async def upload(self, request: Req, db: DB, ws: WS) -> Any:
        try:
            result = await payments.import_statement(db, ws.membership, await _statement(request))
        except Invalid as exc:
            return await self._page(request, db, ws, errors=exc.errors)
        return await self._page(request, db, ws, result=result)

    @post("/{payment_id:uuid}/match", name="match_payment")
    async def match(self, request: Req, db: DB, ws: WS, payment_id: FromPath[uuid.UUID]) -> Any:
        payment = await payments.get_payment(db, ws.membership, payment_id)
        raw = form_text(await request.form(), "invoice", 40)
        try:
            invoice_id = uuid.UUID(raw)
        except ValueError:
            error = {"invoice": _("Choose the invoice the payment is for.")}
            return await self._page(request, db, ws, errors=error, payment_id=payment.id)
        try:
            await payments.match_payment(db, ws.membership, payment.id, invoice_id)
        except Invalid as exc:
            return await self._page(request, db, ws, errors=exc.errors, payment_id=payment.id)
        return redirect(request, ws.url("billing/payments") + "?matched=1")

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        *,
        result: ImportResult | None = None,
        errors: dict[str, str] | None = None,
        payment_id: uuid.UUID | None = None,
        matched: bool = False,
    ) -> Any:
        context = {
            "ws": ws,
            "result": result,
            "errors": errors or {},
            "error_payment": payment_id,
            "matched": matched,
            "unmatched": await payments.unmatched_payments(
                db, ws.membership, page_number(request.query_params.get("page"))
            ),
            "open_invoices": await payments.open_invoices(db, ws.membership),
        }
        status = 422 if errors else 200
        return render(request, "billing/payments.html", context, status_code=status)
