"""The invoice list, its CSV export and an invoice's page (owners and admins).

A draft is edited on its page (hand-added lines, descriptions, the buyer's reference and the
notes), then issued or deleted, each after a confirmation page. An issued invoice is corrected
by crediting chosen lines: that drafts a credit note and opens it. Refusals from the services
(:class:`Invalid`) come back as form errors on the page that asked, never as an error page.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath

from luotsi.billing import invoices, lines, overview
from luotsi.billing.lines import LineInput
from luotsi.billing.profile import get_profile, missing_settings
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import page_number
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import form_text, form_texts, query_text, read_form
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

PER_PAGE = 25


def _filters(request: Req) -> overview.InvoiceFilter:
    return overview.InvoiceFilter.parse(
        status=query_text(request, "status"),
        org=query_text(request, "org"),
        issued_from=query_text(request, "from"),
        issued_to=query_text(request, "to"),
        text=query_text(request, "q"),
    )


def _uuids(values: list[str]) -> set[uuid.UUID]:
    found = set()
    for value in values:
        try:
            found.add(uuid.UUID(value))
        except ValueError:
            continue  # a value no form of ours sends chooses nothing
    return found


def _invoice_url(ws: WS, invoice_id: uuid.UUID) -> str:
    return ws.url(f"billing/invoices/{invoice_id}")


class InvoicesController(Controller):
    path = "/billing"
    guards = [requires(permissions.can_manage_billing)]

    @get("/invoices", name="billing_invoices")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        filters = _filters(request)
        found = await overview.list_invoices(
            db, ws.membership, filters, page_number(request.query_params.get("page")), PER_PAGE
        )
        context = {
            "ws": ws,
            "found": found,
            "page": found.page,
            "filters": filters,
            "query": request.query_params,
        }
        return render(request, "billing/invoices.html", context, block="results")

    @get("/invoices.csv", name="billing_invoices_csv")
    async def export(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        rows = await overview.export_invoices(db, ws.membership, _filters(request))
        filename = f"invoices-{clock.today().isoformat()}.csv"
        return Response(
            content=overview.invoices_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    @get("/invoices/{invoice_id:uuid}", name="billing_invoice")
    async def show(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        return await self._page(request, db, ws, invoice_id)

    @post("/invoices/{invoice_id:uuid}/lines", name="add_invoice_line")
    async def add_line(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        values = await read_form(request, LineInput)
        try:
            await lines.add_line(db, ws.membership, invoice_id, values)
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors, new_line=values)
        return redirect(request, _invoice_url(ws, invoice_id), flash="invoice_line_added")

    @post("/invoices/{invoice_id:uuid}/details", name="update_invoice_details")
    async def update_details(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        form = await request.form()
        reference, notes = form_text(form, "buyer_reference"), form_text(form, "notes")
        try:
            await lines.update_draft(db, ws.membership, invoice_id, reference, notes)
        except Invalid as exc:
            details = {"buyer_reference": reference, "notes": notes}
            return await self._page(request, db, ws, invoice_id, exc.errors, details=details)
        return redirect(request, _invoice_url(ws, invoice_id), flash="invoice_details_saved")

    @get("/invoices/{invoice_id:uuid}/issue", name="confirm_issue_invoice")
    async def confirm_issue(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._confirm(request, db, ws, invoice_id, "billing/issue.html")

    @post("/invoices/{invoice_id:uuid}/issue", name="issue_invoice")
    async def issue(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        try:
            await invoices.issue(db, ws.membership, invoice_id)
        except Invalid as exc:
            return await self._confirm(
                request, db, ws, invoice_id, "billing/issue.html", exc.errors
            )
        return redirect(request, _invoice_url(ws, invoice_id), flash="invoice_issued")

    @get("/invoices/{invoice_id:uuid}/delete", name="confirm_delete_invoice")
    async def confirm_delete(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._confirm(request, db, ws, invoice_id, "billing/delete.html")

    @post("/invoices/{invoice_id:uuid}/delete", name="delete_invoice")
    async def delete(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        try:
            await invoices.delete_draft(db, ws.membership, invoice_id)
        except Invalid as exc:
            return await self._confirm(
                request, db, ws, invoice_id, "billing/delete.html", exc.errors
            )
        return redirect(request, ws.url("billing/invoices"), flash="invoice_deleted")

    @post("/invoices/{invoice_id:uuid}/credit", name="credit_invoice")
    async def credit(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        form = await request.form()
        chosen = None if form_text(form, "all") else _uuids(form_texts(form, "line", 40))
        restores = bool(form_text(form, "restores_sessions"))
        try:
            note = await invoices.credit(
                db, ws.membership, invoice_id, chosen, restores_sessions=restores
            )
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return redirect(request, _invoice_url(ws, note.id), flash="credit_note_drafted")

    @get("/lines/{line_id:uuid}/edit", name="edit_invoice_line")
    async def edit_line(self, request: Req, db: DB, ws: WS, line_id: FromPath[uuid.UUID]) -> Any:
        line = await lines.get_line(db, ws.membership, line_id)
        invoice = await invoices.get_invoice(db, ws.membership, line.invoice_id)
        if not invoice.is_draft:
            return redirect(request, _invoice_url(ws, invoice.id))
        return self._line_form(request, ws, invoice, line, LineInput.of(line))

    @post("/lines/{line_id:uuid}/edit", name="update_invoice_line")
    async def update_line(self, request: Req, db: DB, ws: WS, line_id: FromPath[uuid.UUID]) -> Any:
        line = await lines.get_line(db, ws.membership, line_id)
        values = await read_form(request, LineInput)
        try:
            await lines.update_line(db, ws.membership, line_id, values)
        except Invalid as exc:
            invoice = await invoices.get_invoice(db, ws.membership, line.invoice_id)
            return self._line_form(request, ws, invoice, line, values, exc.errors)
        return redirect(request, _invoice_url(ws, line.invoice_id), flash="invoice_line_saved")

    @post("/lines/{line_id:uuid}/remove", name="remove_invoice_line")
    async def remove_line(self, request: Req, db: DB, ws: WS, line_id: FromPath[uuid.UUID]) -> Any:
        line = await lines.get_line(db, ws.membership, line_id)
        try:
            await lines.remove_line(db, ws.membership, line_id)
        except Invalid as exc:
            return await self._page(request, db, ws, line.invoice_id, exc.errors)
        return redirect(request, _invoice_url(ws, line.invoice_id), flash="invoice_line_removed")

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        invoice_id: uuid.UUID,
        errors: dict[str, str] | None = None,
        *,
        new_line: LineInput | None = None,
        details: dict[str, str] | None = None,
    ) -> Any:
        page = await overview.invoice_page(db, ws.membership, invoice_id)
        invoice = page.invoice
        context = {
            "ws": ws,
            "view": page,
            "invoice": invoice,
            "errors": errors or {},
            "new_line": new_line or LineInput(quantity="-1" if invoice.is_credit_note else "1"),
            "details": details
            or {"buyer_reference": invoice.buyer_reference, "notes": invoice.notes},
            "units": lines.unit_choices(),
            "vat_rates": lines.vat_rate_choices(),
            "vat_rate_label": lines.vat_rate_label,
            "quantity_text": overview.quantity_text,
            "is_work_line": lines.is_work_line,
        }
        status = 422 if errors else 200
        return render(request, "billing/invoice.html", context, status_code=status)

    async def _confirm(
        self,
        request: Req,
        db: DB,
        ws: WS,
        invoice_id: uuid.UUID,
        template: str,
        errors: dict[str, str] | None = None,
    ) -> Any:
        page = await overview.invoice_page(db, ws.membership, invoice_id)
        context = {
            "ws": ws,
            "view": page,
            "invoice": page.invoice,
            "missing": missing_settings(await get_profile(db)),
            "errors": errors or {},
            "vat_rate_label": lines.vat_rate_label,
        }
        status = 422 if errors else 200
        return render(request, template, context, status_code=status)

    def _line_form(
        self,
        request: Req,
        ws: WS,
        invoice: Any,
        line: Any,
        values: LineInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "invoice": invoice,
            "line": line,
            "values": values,
            "errors": errors or {},
            "work_line": lines.is_work_line(line),
            "units": lines.unit_choices(),
            "vat_rates": lines.vat_rate_choices(),
        }
        status = 422 if errors else 200
        return render(request, "billing/line.html", context, status_code=status)
