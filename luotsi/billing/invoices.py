"""Issuing invoices and crediting them.

:func:`issue` turns a draft (an invoice or a credit note) into a numbered document: the next
number of the firm's unbroken series is taken from the profile's counter by an ``UPDATE ...
RETURNING`` in the issuing transaction (the row lock makes concurrent issuers wait, so the
series has no gap and no duplicate: a rolled-back issue gives its number back), then the
reference, dates, the seller's and buyer's details and the totals are written, and the rows
become immutable (triggers of migration 0013). Each session and each process price of an
invoice is recorded in :class:`BilledItem`, whose unique keys keep work from being billed twice.

:func:`credit` drafts a credit note of chosen lines (all by default): the same lines negated,
each naming the line it credits (a line is credited once, a unique key). A credit note that
``restores_sessions`` gives its sessions back to billing when it is issued.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from luotsi.billing.document import DocumentKind
from luotsi.billing.models import BilledItem, BillingProfile, Invoice, InvoiceLine, InvoiceStatus
from luotsi.billing.money import totals
from luotsi.billing.payments import count_credited
from luotsi.billing.profile import ready_profile
from luotsi.billing.references import reference_for
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.platform.webhooks import WebhookEvent, emit
from luotsi.tenants.clients.models import ClientOrg


async def get_invoice(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> Invoice:
    """An invoice or credit note of the firm with its organisation and lines."""
    require(permissions.can_manage_billing(actor), "billing")
    invoice = await db.scalar(
        select(Invoice)
        .options(joinedload(Invoice.org), selectinload(Invoice.lines))
        .where(Invoice.id == invoice_id)
    )
    if invoice is None:
        raise NotFound("invoice")
    return invoice


def seller_of(profile: BillingProfile) -> dict[str, str]:
    """The seller's details as an issued invoice keeps them."""
    return {
        "name": profile.legal_name,
        "business_id": profile.business_id,
        "street": profile.street,
        "postal_code": profile.postal_code,
        "city": profile.city,
        "email": profile.email,
        "phone": profile.phone,
        "iban": profile.iban,
        "bic": profile.bic,
        "penalty_interest": profile.penalty_interest,
        "vat_exemption_text": profile.vat_exemption_text,
    }


def buyer_of(org: ClientOrg) -> dict[str, str]:
    """The buyer's details as an issued invoice keeps them."""
    return {
        "name": org.name,
        "business_id": org.business_id,
        "street": org.billing_street,
        "postal_code": org.billing_postal_code,
        "city": org.billing_city,
        "einvoice_address": org.einvoice_address,
        "einvoice_operator": org.einvoice_operator,
        "email": org.invoice_email,
    }


async def _next_number(db: AsyncSession) -> int:
    """The next number of the series, the counter row locked until the transaction ends."""
    taken = await db.scalar(
        update(BillingProfile)
        .values(next_number=BillingProfile.next_number + 1)
        .returning(BillingProfile.next_number)
    )
    assert taken is not None  # ready_profile() made the row
    return int(taken) - 1


async def _already_billed(db: AsyncSession, invoice: Invoice) -> list[str]:
    """What of ``invoice``'s work is on another invoice that stands, as readable lines."""
    sessions = [line.session_id for line in invoice.lines if line.session_id]
    processes = [line.agreement_id for line in invoice.lines if line.process and line.agreement_id]
    if not sessions and not processes:
        return []
    rows = await db.execute(
        select(Invoice.number, InvoiceLine.description)
        .join(BilledItem, BilledItem.invoice_id == Invoice.id)
        .join(
            InvoiceLine,
            (InvoiceLine.invoice_id == Invoice.id)
            & (
                (InvoiceLine.session_id == BilledItem.session_id)
                | (
                    InvoiceLine.process
                    & (InvoiceLine.agreement_id == BilledItem.process_agreement_id)
                )
            ),
        )
        .where(BilledItem.session_id.in_(sessions) | BilledItem.process_agreement_id.in_(processes))
        .order_by(Invoice.number)
    )
    return [f"{description} ({number})" for number, description in rows.tuples()]


async def issue(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID, *, issued_on: date | None = None
) -> Invoice:
    """Number, date and freeze a draft invoice or credit note.

    It is dated today; ``issued_on`` dates it earlier, for the demo's history only (the web
    and invoice runs never pass it).
    """
    invoice = await get_invoice(db, actor, invoice_id)
    if not invoice.is_draft:
        raise Invalid.field("invoice", _("This invoice has already been issued."))
    if not invoice.lines:
        raise Invalid.field("invoice", _("Add at least one line before issuing."))
    profile = await ready_profile(db)
    if invoice.is_credit_note:
        credited = (
            await get_invoice(db, actor, invoice.credited_id) if invoice.credited_id else None
        )
        if credited is None or credited.is_draft:
            raise Invalid.field("invoice", _("A credit note credits an issued invoice."))
    else:
        if invoice.org.archived_at is not None:
            raise Invalid.field("invoice", _("The organisation is archived."))
        billed = await _already_billed(db, invoice)
        if billed:
            raise Invalid.field(
                "invoice",
                _("Already invoiced: %(lines)s. Remove these lines from the draft.")
                % {"lines": "; ".join(billed)},
            )
    number = await _next_number(db)
    today = issued_on or clock.today()
    sums = totals((line.net_cents, line.vat_basis_points) for line in invoice.lines)
    invoice.status = InvoiceStatus.ISSUED
    invoice.number = number
    invoice.reference_type = profile.reference_type
    invoice.reference = reference_for(number, profile.reference_type)
    invoice.issued_on = today
    invoice.due_on = today + timedelta(days=invoice.org.payment_term_days)
    invoice.seller = seller_of(profile)
    invoice.buyer = buyer_of(invoice.org)
    invoice.net_cents, invoice.vat_cents = sums.net_cents, sums.vat_cents
    invoice.gross_cents = sums.gross_cents
    invoice.issued_by, invoice.issued_at = actor.id, clock.now()
    if invoice.is_credit_note:
        await count_credited(db, invoice)
    await emit(
        db,
        WebhookEvent.INVOICE_ISSUED,
        {
            "invoice_id": invoice.id,
            "org_id": invoice.org_id,
            "kind": invoice.kind.value,
            "number": number,
            "issued_on": invoice.issued_on,
            "due_on": invoice.due_on,
            "net_cents": invoice.net_cents,
            "vat_cents": invoice.vat_cents,
            "gross_cents": invoice.gross_cents,
            "credited_invoice_id": invoice.credited_id,
        },
    )
    if invoice.is_credit_note:
        if invoice.restores_sessions:
            await _give_back(db, invoice)
    else:
        db.add_all(
            BilledItem(
                invoice_id=invoice.id,
                session_id=None if line.process else line.session_id,
                process_agreement_id=line.agreement_id if line.process else None,
            )
            for line in invoice.lines
            if line.session_id or line.process
        )
    await db.flush()
    return invoice


async def _give_back(db: AsyncSession, credit_note: Invoice) -> None:
    """Make the credited sessions and process prices billable again."""
    sessions = [line.session_id for line in credit_note.lines if line.session_id]
    processes = [
        line.agreement_id for line in credit_note.lines if line.process and line.agreement_id
    ]
    await db.execute(
        delete(BilledItem).where(
            BilledItem.invoice_id == credit_note.credited_id,
            BilledItem.session_id.in_(sessions) | BilledItem.process_agreement_id.in_(processes),
        )
    )


async def credit(
    db: AsyncSession,
    actor: Membership,
    invoice_id: uuid.UUID,
    line_ids: Collection[uuid.UUID] | None = None,
    *,
    restores_sessions: bool = False,
) -> Invoice:
    """A draft credit note of ``invoice_id``'s lines ``line_ids`` (all when None)."""
    invoice = await get_invoice(db, actor, invoice_id)
    if invoice.is_draft or invoice.is_credit_note:
        raise Invalid.field("invoice", _("Only an issued invoice can be credited."))
    credited = set(
        await db.scalars(
            select(InvoiceLine.credits_line_id).where(
                InvoiceLine.credits_line_id.in_([line.id for line in invoice.lines])
            )
        )
    )
    chosen = [
        line
        for line in invoice.lines
        if (line_ids is None or line.id in line_ids) and line.id not in credited
    ]
    if not chosen:
        raise Invalid.field("lines", _("Choose lines that have not been credited yet."))
    note = Invoice(
        org_id=invoice.org_id,
        kind=DocumentKind.CREDIT_NOTE,
        language=invoice.language,
        buyer_reference=invoice.buyer_reference,
        credited_id=invoice.id,
        restores_sessions=restores_sessions,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        created_by=actor.id,
    )
    db.add(note)
    await db.flush()
    db.add_all(
        InvoiceLine(
            invoice_id=note.id,
            position=position,
            agreement_id=line.agreement_id,
            session_id=line.session_id,
            process=line.process,
            day=line.day,
            description=line.description,
            quantity=-line.quantity,
            unit=line.unit,
            unit_cents=line.unit_cents,
            net_cents=-line.net_cents,
            vat_basis_points=line.vat_basis_points,
            minutes=line.minutes,
            credits_line_id=line.id,
        )
        for position, line in enumerate(chosen)
    )
    await db.flush()
    return note


async def delete_draft(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> None:
    """Delete a draft invoice or credit note with its lines."""
    invoice = await get_invoice(db, actor, invoice_id)
    if not invoice.is_draft:
        raise Invalid.field("invoice", _("An issued invoice is corrected with a credit note."))
    await db.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    await db.execute(delete(Invoice).where(Invoice.id == invoice.id))
