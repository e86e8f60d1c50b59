"""``/api/v1/invoices``: the firm's invoices and credit notes and their PDFs (``invoices_read``)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from luotsi.billing import delivery, invoices
from luotsi.billing.models import Invoice
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import require
from luotsi.web.api.access import CALLER, needs, oldest_first, problem_responses
from luotsi.web.api.schemas import InvoiceOut, InvoicePage
from luotsi.web.deps import DB, FILES
from luotsi.web.templating import attachment


class InvoicesController(Controller):
    path = "/invoices"
    tags = ["invoices"]
    guards = [needs("invoices_read")]

    @get("/", responses=problem_responses(422))
    async def list_invoices(
        self,
        db: DB,
        caller: CALLER,
        org_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> InvoicePage:
        """Invoices and credit notes, drafts too, oldest first; ``org_id``: one client's."""
        require(permissions.can_manage_billing(caller.actor), "billing")
        statement = select(Invoice)
        if org_id is not None:
            statement = statement.where(Invoice.org_id == org_id)
        rows, after = await oldest_first(db, statement, Invoice, cursor, limit)
        return InvoicePage([InvoiceOut.of(i) for i in rows], after)

    @get("/{invoice_id:uuid}", responses=problem_responses())
    async def get_invoice(
        self, db: DB, caller: CALLER, invoice_id: FromPath[uuid.UUID]
    ) -> InvoiceOut:
        return InvoiceOut.of(await invoices.get_invoice(db, caller.actor, invoice_id))

    @get(
        "/{invoice_id:uuid}/pdf",
        media_type="application/pdf",
        responses=problem_responses(409),
    )
    async def invoice_pdf(
        self, db: DB, files: FILES, caller: CALLER, invoice_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        """The issued invoice's PDF, as the firm sent it (a draft has none yet: 409)."""
        invoice = await invoices.get_invoice(db, caller.actor, invoice_id)
        if invoice.is_draft:
            raise Invalid.field("status", _("A draft has no PDF yet: issue the invoice first."))
        output = await delivery.invoice_pdf(db, files, caller.actor, invoice.id)
        return attachment(output.data, output.media_type, output.filename)
