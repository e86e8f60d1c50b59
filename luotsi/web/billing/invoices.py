"""The invoice list, its CSV export and an invoice's page (owners and admins).

The list shows each invoice's payment state (open, partly paid, overdue, paid, credited) and
its open amount, computed in the list's own statement, and filters by state. A draft is edited
on its page (hand-added lines, descriptions, the buyer's reference and the notes), then issued
or deleted, each after a confirmation page. An issued invoice's page downloads its PDF and
Finvoice file, e-mails it, records payments received (and deletes one recorded by mistake,
after a confirmation), and sends a payment reminder when it is overdue. An issued invoice is
corrected by crediting chosen lines: that drafts a credit note and opens it. Refusals from the
services (:class:`Invalid`) come back as form errors on the page that asked, never as an error
page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath

from luotsi.billing import delivery, invoices, lines, overview, payments, reminders
from luotsi.billing.delivery import Output
from luotsi.billing.lines import LineInput
from luotsi.billing.profile import get_profile, missing_settings
from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import Sort, page_number
from luotsi.web.deps import DB, FILES, WS, Req
from luotsi.web.forms import form_text, form_texts, ids_of, query_text, read_form
from luotsi.web.templating import attachment, redirect, render
from luotsi.web.workspace import requires

PER_PAGE = 25


def _filters(request: Req) -> overview.InvoiceFilter:
    return overview.InvoiceFilter.parse(
        status=query_text(request, "status"),
        org=query_text(request, "org"),
        issued_from=query_text(request, "from"),
        issued_to=query_text(request, "to"),
        text=query_text(request, "q"),
        state=query_text(request, "state"),
    )


def _sort(request: Req) -> Sort:
    raw = request.query_params.get("sort")
    return Sort.parse(raw, overview.INVOICE_SORTS, overview.INVOICE_DEFAULT_SORT)


def _invoice_url(ws: WS, invoice_id: uuid.UUID) -> str:
    return ws.url(f"billing/invoices/{invoice_id}")


def _download(output: Output) -> Response[bytes]:
    return attachment(output.data, output.media_type, output.filename)


@dataclass
class PaymentInput:
    """The record-a-payment form as typed."""

    paid_on: str = ""
    amount: str = ""
    note: str = ""


class InvoicesController(Controller):
    path = "/billing"
    guards = [requires(permissions.can_manage_billing)]

    @get("/invoices", name="billing_invoices")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        filters, sort = _filters(request), _sort(request)
        found = await overview.list_invoices(
            db,
            ws.membership,
            filters,
            page_number(request.query_params.get("page")),
            PER_PAGE,
            sort,
        )
        context = {
            "ws": ws,
            "found": found,
            "page": found.page,
            "filters": filters,
            "sort": sort,
            "query": request.query_params,
            "state_choices": overview.state_choices(),
        }
        return render(request, "billing/invoices.html", context, block="results")

    @get("/invoices.csv", name="billing_invoices_csv")
    async def export(self, request: Req, db: DB, ws: WS) -> Response[bytes]:
        rows = await overview.export_invoices(db, ws.membership, _filters(request), _sort(request))
        filename = f"invoices-{clock.today().isoformat()}.csv"
        return attachment(overview.invoices_csv(rows), "text/csv", filename)

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
        chosen = None if form_text(form, "all") else set(ids_of(form_texts(form, "line", 40)))
        restores = bool(form_text(form, "restores_sessions"))
        try:
            note = await invoices.credit(
                db, ws.membership, invoice_id, chosen, restores_sessions=restores
            )
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return redirect(request, _invoice_url(ws, note.id), flash="credit_note_drafted")

    @get("/invoices/{invoice_id:uuid}/pdf", name="billing_invoice_pdf")
    async def pdf(
        self, request: Req, db: DB, files: FILES, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        try:
            output = await delivery.invoice_pdf(db, files, ws.membership, invoice_id)
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return _download(output)

    @get("/invoices/{invoice_id:uuid}/finvoice", name="billing_invoice_finvoice")
    async def finvoice(self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]) -> Any:
        try:
            output = await delivery.finvoice_download(db, ws.membership, invoice_id)
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return _download(output)

    @post("/invoices/{invoice_id:uuid}/send", name="send_invoice")
    async def send(
        self, request: Req, db: DB, files: FILES, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        try:
            settings = request.app.state["settings"]
            await delivery.send_invoice(db, files, ws.membership, invoice_id, settings)
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return redirect(request, _invoice_url(ws, invoice_id), flash="invoice_sent")

    @post("/invoices/{invoice_id:uuid}/payments", name="record_payment")
    async def record_payment(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        values = await read_form(request, PaymentInput)
        try:
            await payments.record_payment(
                db,
                ws.membership,
                invoice_id,
                i18n.parse_date(values.paid_on),
                payments.parse_payment_amount(values.amount),
                values.note,
            )
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors, payment=values)
        return redirect(request, _invoice_url(ws, invoice_id), flash="payment_recorded")

    @get("/payments/{payment_id:uuid}/delete", name="confirm_delete_payment")
    async def confirm_delete_payment(
        self, request: Req, db: DB, ws: WS, payment_id: FromPath[uuid.UUID]
    ) -> Any:
        return await self._payment_confirm(request, db, ws, payment_id)

    @post("/payments/{payment_id:uuid}/delete", name="delete_payment")
    async def delete_payment(
        self, request: Req, db: DB, ws: WS, payment_id: FromPath[uuid.UUID]
    ) -> Any:
        payment = await payments.get_payment(db, ws.membership, payment_id)
        try:
            await payments.delete_payment(db, ws.membership, payment_id)
        except Invalid as exc:
            return await self._payment_confirm(request, db, ws, payment_id, exc.errors)
        if payment.invoice_id is None:
            return redirect(request, ws.url("billing/invoices"), flash="payment_deleted")
        return redirect(request, _invoice_url(ws, payment.invoice_id), flash="payment_deleted")

    @post("/invoices/{invoice_id:uuid}/reminders", name="send_reminder")
    async def send_reminder(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        try:
            settings = request.app.state["settings"]
            await reminders.send_reminder(db, ws.membership, invoice_id, settings)
        except Invalid as exc:
            return await self._page(request, db, ws, invoice_id, exc.errors)
        return redirect(request, _invoice_url(ws, invoice_id), flash="reminder_sent")

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

    @get("/lines/{line_id:uuid}/remove", name="confirm_remove_invoice_line")
    async def confirm_remove_line(
        self, request: Req, db: DB, ws: WS, line_id: FromPath[uuid.UUID]
    ) -> Any:
        """Ask before removing a line: a session's line goes back to what is still to bill."""
        line = await lines.get_line(db, ws.membership, line_id)
        invoice = await invoices.get_invoice(db, ws.membership, line.invoice_id)
        if not invoice.is_draft:
            return redirect(request, _invoice_url(ws, invoice.id))
        context = {"ws": ws, "invoice": invoice, "line": line}
        return render(request, "billing/remove_line.html", context)

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
        payment: PaymentInput | None = None,
    ) -> Any:
        page = await overview.invoice_page(db, ws.membership, invoice_id)
        invoice = page.invoice
        context = {
            "ws": ws,
            "view": page,
            "activity": await overview.invoice_activity(db, ws.membership, invoice),
            "payment": payment or PaymentInput(paid_on=clock.today().isoformat()),
            "is_manual": overview.is_manual,
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

    async def _payment_confirm(
        self,
        request: Req,
        db: DB,
        ws: WS,
        payment_id: uuid.UUID,
        errors: dict[str, str] | None = None,
    ) -> Any:
        payment = await payments.get_payment(db, ws.membership, payment_id)
        invoice = None
        if payment.invoice_id is not None:
            invoice = await invoices.get_invoice(db, ws.membership, payment.invoice_id)
        context = {
            "ws": ws,
            "payment": payment,
            "invoice": invoice,
            "manual": overview.is_manual(payment),
            "errors": errors or {},
        }
        status = 422 if errors else 200
        return render(request, "billing/payment_delete.html", context, status_code=status)

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
