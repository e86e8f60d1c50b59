"""An issued invoice's outputs and their delivery: the PDF, the Finvoice file, the e-mail.

:func:`document_of` reads an issued invoice's frozen rows (its number, reference, dates, the
seller's and buyer's details as they stood the day it was issued, its lines) into the
:class:`~luotsi.billing.document.InvoiceDocument` that the renderers lay out; nothing else is
read, so an output never carries more than the invoice itself: no session content, and no
supervisee's name beyond what the frozen lines say. :func:`send_invoice` e-mails the PDF to
the buyer's invoicing address through the outbox, with a body that states only the payment
facts, and records a :class:`~luotsi.billing.models.Delivery`; :func:`finvoice_download` hands
the e-invoice file over and records that too. Drafts have no outputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from stdnum.fi import ytunnus

from luotsi.billing import pdf
from luotsi.billing.document import DocumentKind, InvoiceDocument, Line, Party
from luotsi.billing.finvoice import finvoice_xml
from luotsi.billing.invoices import get_invoice
from luotsi.billing.models import (
    BillingProfile,
    Delivery,
    DeliveryChannel,
    Invoice,
    InvoiceStatus,
)
from luotsi.billing.references import ReferenceType, formatted
from luotsi.billing.subscription import connect
from luotsi.platform import clock, i18n
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.mail import file_attachment, render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.settings import Settings
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement


@dataclass(frozen=True)
class Output:
    """A file to hand over: its bytes, its name and its media type."""

    data: bytes
    filename: str
    media_type: str


def vat_number_of(business_id: str) -> str:
    """The Finnish VAT number of a business ID: ``0737546-2`` -> ``FI07375462``."""
    return "FI" + ytunnus.compact(business_id) if ytunnus.is_valid(business_id) else ""


def _seller(snapshot: Mapping[str, str], charges_vat: bool) -> Party:
    # A seller that charges VAT is registered for it and must print its VAT number; one that
    # sells only exempt services may not be registered (the profile does not say), so not then.
    return Party(
        name=snapshot.get("name", ""),
        business_id=snapshot.get("business_id", ""),
        street=snapshot.get("street", ""),
        postal_code=snapshot.get("postal_code", ""),
        city=snapshot.get("city", ""),
        vat_number=vat_number_of(snapshot.get("business_id", "")) if charges_vat else "",
    )


def _buyer(snapshot: Mapping[str, str]) -> Party:
    return Party(
        name=snapshot.get("name", ""),
        business_id=snapshot.get("business_id", ""),
        street=snapshot.get("street", ""),
        postal_code=snapshot.get("postal_code", ""),
        city=snapshot.get("city", ""),
        e_invoice_address=snapshot.get("einvoice_address", ""),
        e_invoice_operator=snapshot.get("einvoice_operator", ""),
    )


def document_of(
    invoice: Invoice,
    *,
    credited_number: int | None = None,
    groups: Mapping[uuid.UUID, str] | None = None,
) -> InvoiceDocument:
    """The document of an issued invoice or credit note (its ``lines`` loaded).

    ``credited_number`` is the number of the invoice a credit note credits (the caller loads
    it: :func:`load_document`); ``groups`` names the agreements the lines are printed under.
    """
    if invoice.is_draft:
        raise Invalid.field("invoice", _("A draft has no invoice document yet: issue it first."))
    assert invoice.number is not None and invoice.issued_on and invoice.due_on  # issued
    assert invoice.seller is not None and invoice.buyer is not None
    if invoice.is_credit_note and credited_number is None:
        raise ValueError("a credit note's document names the invoice it credits")
    groups = groups or {}
    return InvoiceDocument(
        kind=invoice.kind,
        number=invoice.number,
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        language=invoice.language,
        seller=_seller(invoice.seller, any(line.vat_basis_points for line in invoice.lines)),
        iban=invoice.seller.get("iban", ""),
        bic=invoice.seller.get("bic", ""),
        buyer=_buyer(invoice.buyer),
        reference=invoice.reference,
        reference_type=invoice.reference_type or ReferenceType.NATIONAL,
        lines=tuple(
            Line(
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_cents=line.unit_cents,
                net_cents=line.net_cents,
                vat_basis_points=line.vat_basis_points,
                day=line.day,
                group=groups.get(line.agreement_id, "") if line.agreement_id else "",
            )
            for line in invoice.lines
        ),
        buyer_reference=invoice.buyer_reference,
        penalty_interest=invoice.seller.get("penalty_interest", ""),
        payment_terms_days=(invoice.due_on - invoice.issued_on).days,
        credited_number=credited_number if invoice.is_credit_note else None,
        vat_exemption_text=invoice.seller.get("vat_exemption_text", ""),
        notes=invoice.notes,
    )


async def _groups(db: AsyncSession, invoice: Invoice) -> dict[uuid.UUID, str]:
    """The heading of each agreement on ``invoice``, in the invoice's language."""
    ids = {line.agreement_id for line in invoice.lines if line.agreement_id}
    if not ids:
        return {}
    rows = await db.execute(
        select(Agreement.id, Agreement.kind, Agreement.title).where(Agreement.id.in_(ids))
    )
    with i18n.language(invoice.language):
        return {
            agreement_id: f"{kind.label}: {title}" if title else kind.label
            for agreement_id, kind, title in rows.tuples()
        }


async def _issued(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> Invoice:
    invoice = await get_invoice(db, actor, invoice_id)
    if invoice.is_draft:
        raise Invalid.field("invoice", _("A draft has no invoice document yet: issue it first."))
    return invoice


async def _document(db: AsyncSession, invoice: Invoice) -> InvoiceDocument:
    credited_number = None
    if invoice.is_credit_note and invoice.credited_id is not None:
        credited_number = await db.scalar(
            select(Invoice.number).where(Invoice.id == invoice.credited_id)
        )
    return document_of(invoice, credited_number=credited_number, groups=await _groups(db, invoice))


async def load_document(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID
) -> InvoiceDocument:
    """The document of the firm's issued invoice or credit note ``invoice_id``."""
    return await _document(db, await _issued(db, actor, invoice_id))


async def _logo(db: AsyncSession, files: FileStore) -> bytes | None:
    profile = (await db.execute(select(BillingProfile.tenant_id, BillingProfile.logo_key))).first()
    if profile is None or profile.logo_key is None:
        return None
    return await files.get(profile.tenant_id, profile.logo_key)


def pdf_filename(doc: InvoiceDocument) -> str:
    """``Lasku-1042.pdf`` in the invoice's language."""
    with i18n.language(doc.language):
        return pdf.title_of(doc).replace(" ", "-") + ".pdf"


def pdf_of(doc: InvoiceDocument, logo: bytes | None = None) -> Output:
    """The PDF of ``doc`` (``logo``: the firm's PNG, if it has one)."""
    return Output(pdf.render_invoice_pdf(doc, logo), pdf_filename(doc), "application/pdf")


def finvoice_of(doc: InvoiceDocument, *, message_id: str, sent_at: datetime) -> Output:
    """The Finvoice 3.0 file of ``doc``; ``message_id`` unique per firm, ``sent_at`` its time."""
    data = finvoice_xml(doc, message_id=message_id, sent_at=sent_at.astimezone(clock.HELSINKI))
    return Output(data, f"finvoice-{doc.number}.xml", "application/xml")


async def invoice_pdf(
    db: AsyncSession, files: FileStore, actor: Membership, invoice_id: uuid.UUID
) -> Output:
    """The PDF of the firm's issued invoice or credit note, for download."""
    doc = await load_document(db, actor, invoice_id)
    return pdf_of(doc, await _logo(db, files))


async def pdf_for_org(
    db: AsyncSession, files: FileStore, org_id: uuid.UUID, invoice_id: uuid.UUID
) -> Output:
    """The PDF of an issued invoice or credit note to organisation ``org_id``, for its HR
    contacts: a draft, or another organisation's invoice, is :class:`NotFound`."""
    invoice = await db.scalar(
        select(Invoice)
        .options(selectinload(Invoice.lines))
        .where(
            Invoice.id == invoice_id,
            Invoice.org_id == org_id,
            Invoice.status == InvoiceStatus.ISSUED,
        )
    )
    if invoice is None:
        raise NotFound("invoice")
    return pdf_of(await _document(db, invoice), await _logo(db, files))


async def finvoice_download(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> Output:
    """The Finvoice file of the firm's issued invoice, recorded as handed over."""
    invoice = await _issued(db, actor, invoice_id)
    output = finvoice_of(
        await _document(db, invoice), message_id=invoice.id.hex, sent_at=clock.now()
    )
    db.add(
        Delivery(
            invoice_id=invoice.id,
            channel=DeliveryChannel.FINVOICE,
            sent_to=(invoice.buyer or {}).get("einvoice_address", ""),
            sent_by=actor.id,
        )
    )
    await db.flush()
    return output


def _email_facts(doc: InvoiceDocument) -> dict[str, str]:
    """What the e-mail states, formatted in the invoice's language: payment facts only."""
    with i18n.language(doc.language):
        return {
            "title": pdf.title_of(doc),
            "seller": doc.seller.name,
            "number": str(doc.number),
            "credited_number": str(doc.credited_number or ""),
            "due_on": i18n.format_date(doc.due_on),
            "amount": i18n.format_money(doc.totals.gross_cents),
            "reference": formatted(doc.reference),
            "iban": doc.iban,
            "bic": doc.bic,
        }


async def send_invoice(
    db: AsyncSession,
    files: FileStore,
    actor: Membership,
    invoice_id: uuid.UUID,
    settings: Settings | None = None,
) -> Delivery:
    """E-mail the PDF of an issued invoice or credit note to the buyer's invoicing address.

    The address is the one the invoice was issued to, or the organisation's current one when
    that was empty. The message goes through the outbox in this transaction. With the app's
    ``settings``, an invoice with something open, of a firm whose clients can pay by card,
    carries a "Pay by card" link (:mod:`luotsi.billing.subscription.connect`).
    """
    invoice = await _issued(db, actor, invoice_id)
    to = (invoice.buyer or {}).get("email", "") or invoice.org.invoice_email
    if not to:
        raise Invalid.field(
            "email",
            _(
                "%(organisation)s has no invoicing e-mail address. Add it to the "
                "organisation's billing details, or send the invoice another way."
            )
            % {"organisation": invoice.org.name},
        )
    doc = await _document(db, invoice)
    attachment = pdf_of(doc, await _logo(db, files))
    template = "invoice_credit_note" if doc.kind is DocumentKind.CREDIT_NOTE else "invoice_sent"
    pay_link = ""
    if settings is not None and doc.kind is DocumentKind.INVOICE:
        pay_link = await connect.email_pay_link(db, settings, actor.tenant_id, invoice.id)
    payload = render_email(template, to, doc.language, pay_link=pay_link, **_email_facts(doc))
    payload["attachments"] = [
        file_attachment(attachment.data, attachment.filename, attachment.media_type)
    ]
    reply_to = (invoice.seller or {}).get("email", "")
    if reply_to:
        payload["reply_to"] = reply_to  # the client's questions reach the firm, not Luotsi
    enqueue_email(db, payload)
    delivery = Delivery(
        invoice_id=invoice.id, channel=DeliveryChannel.EMAIL, sent_to=to, sent_by=actor.id
    )
    db.add(delivery)
    await db.flush()
    return delivery
