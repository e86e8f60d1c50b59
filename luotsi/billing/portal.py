"""A client organisation's invoices as its HR contacts see them: issued ones only.

The portal lists the organisation's issued invoices and credit notes with their number, dates,
amount and state (open, paid, overdue, credited); drafts are the firm's work in progress and
never shown. Which organisation is the caller's business (the HR contact's own, decided by
:mod:`luotsi.tenants.portal.hr`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import Invoice, InvoiceStatus
from luotsi.billing.payments import OPEN_STATES, InvoiceState, states
from luotsi.platform.paging import Page, paginate

PER_PAGE = 20


@dataclass(frozen=True)
class PortalInvoice:
    id: uuid.UUID
    kind: DocumentKind
    number: int
    issued_on: date
    due_on: date
    gross_cents: int
    open_cents: int
    state: InvoiceState

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE

    @property
    def is_open(self) -> bool:
        """Something is left to pay (what a "Pay by card" button is offered for)."""
        return self.state in OPEN_STATES and self.open_cents > 0


async def org_invoices(
    db: AsyncSession, org_id: uuid.UUID, page: int = 1, per_page: int = PER_PAGE
) -> Page[PortalInvoice]:
    """One page of ``org_id``'s issued invoices and credit notes, the newest first."""
    found = await paginate(
        db,
        Invoice,
        [Invoice.org_id == org_id, Invoice.status == InvoiceStatus.ISSUED],
        [Invoice.issued_on.desc(), Invoice.number.desc()],
        page,
        per_page,
    )
    balances = await states(db, [invoice.id for invoice in found.items])
    items = []
    for invoice in found.items:
        assert invoice.number is not None and invoice.issued_on and invoice.due_on  # issued
        balance = balances[invoice.id]
        items.append(
            PortalInvoice(
                id=invoice.id,
                kind=invoice.kind,
                number=invoice.number,
                issued_on=invoice.issued_on,
                due_on=invoice.due_on,
                gross_cents=invoice.gross_cents,
                open_cents=max(0, balance.open_cents),
                state=balance.state,
            )
        )
    return Page(items, found.number, found.per_page, found.total)
