"""What one agreement has earned and what of it is invoiced: the office's view, in money.

:func:`agreement_invoicing` counts, in SQL, the agreement's sessions on issued invoices that
stand (those a :class:`~luotsi.billing.models.BilledItem` holds: a credit note that gave the
work back removes it), their invoiced sum, the billable sessions no such invoice holds yet and
their value at the agreement's price, whether a per-process price is invoiced, and lists the
issued invoices and credit notes that carry the agreement's lines. Only the firm's owners and
admins see money.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import BilledItem, Invoice, InvoiceLine, InvoiceStatus
from luotsi.billing.money import line_net_cents
from luotsi.platform import permissions
from luotsi.platform.errors import NotFound
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement, Pricing
from luotsi.tenants.sessions.models import SupervisionSession


@dataclass(frozen=True)
class InvoiceLink:
    id: uuid.UUID
    number: int
    kind: DocumentKind
    issued_on: date
    gross_cents: int

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


@dataclass(frozen=True)
class AgreementInvoicing:
    pricing: Pricing
    invoiced_sessions: int  # sessions on issued invoices that stand
    invoiced_cents: int  # their lines' net sum, VAT excluded
    unbilled_sessions: int  # billable sessions no standing invoice holds
    unbilled_cents: int  # their value at the agreement's price, VAT excluded
    process_invoiced: bool  # for an agreement priced per process: its price is invoiced
    invoices: list[InvoiceLink]

    @property
    def per_process(self) -> bool:
        return self.pricing is Pricing.PER_PROCESS


async def agreement_invoicing(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> AgreementInvoicing:
    """The invoicing figures of the firm's agreement ``agreement_id`` (owners and admins)."""
    require(permissions.can_manage_billing(actor), "billing")
    agreement = await db.scalar(select(Agreement).where(Agreement.id == agreement_id))
    if agreement is None:
        raise NotFound("agreement")
    s = SupervisionSession
    invoiced = await db.execute(
        select(func.count(BilledItem.id), func.coalesce(func.sum(InvoiceLine.net_cents), 0))
        .select_from(BilledItem)
        .join(
            InvoiceLine,
            and_(
                InvoiceLine.invoice_id == BilledItem.invoice_id,
                InvoiceLine.session_id == BilledItem.session_id,
                InvoiceLine.credits_line_id.is_(None),
            ),
        )
        .where(InvoiceLine.agreement_id == agreement.id)
    )
    count, cents = invoiced.one()
    unbilled_count = await db.scalar(
        select(func.count(s.id))
        .select_from(s)
        .where(
            s.agreement_id == agreement.id,
            s.billable.is_(True),
            ~exists(select(BilledItem.id).where(BilledItem.session_id == s.id)),
        )
    )
    process_invoiced = await db.scalar(
        select(func.count(BilledItem.id)).where(BilledItem.process_agreement_id == agreement.id)
    )
    invoices = await db.execute(
        select(Invoice.id, Invoice.number, Invoice.kind, Invoice.issued_on, Invoice.gross_cents)
        .where(
            Invoice.status == InvoiceStatus.ISSUED,
            exists(
                select(InvoiceLine.id).where(
                    InvoiceLine.invoice_id == Invoice.id,
                    InvoiceLine.agreement_id == agreement.id,
                )
            ),
        )
        .order_by(Invoice.number)
    )
    unbilled_count = int(unbilled_count or 0)
    per_session = agreement.pricing is Pricing.PER_SESSION
    return AgreementInvoicing(
        pricing=agreement.pricing,
        invoiced_sessions=int(count or 0),
        invoiced_cents=int(cents or 0),
        unbilled_sessions=unbilled_count if per_session else 0,
        unbilled_cents=(
            line_net_cents(Decimal(unbilled_count), agreement.price_cents) if per_session else 0
        ),
        process_invoiced=bool(process_invoiced),
        invoices=[
            InvoiceLink(id_, number, DocumentKind(kind), issued_on, gross)
            for id_, number, kind, issued_on, gross in invoices.tuples()
            if number is not None and issued_on is not None  # issued
        ],
    )
