"""An issued invoice's outputs: its document, PDF, Finvoice file and e-mail, and what they
never carry."""

from __future__ import annotations

import base64
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import partial
from io import BytesIO

import defusedxml.ElementTree as SafeTree
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import delivery, invoices
from luotsi.billing import settings as billing_settings
from luotsi.billing.document import DocumentKind
from luotsi.billing.models import Delivery, DeliveryChannel, Invoice
from luotsi.billing.profile import get_profile
from luotsi.platform.db import make_sessionmaker, unscoped_session
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.storage import FileStore
from luotsi.tenants.clients.models import ClientOrg
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Outbox, both_stores
from tests.factories import Firms, add_content, portrait

INVOICING_ADDRESS = "laskut@esimerkkikunta.example"


def text_of(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def finnish(day: date) -> str:
    return f"{day.day}.{day.month}.{day.year}"


def cents(text: str | None) -> int:
    """Finvoice's ``-1234,50`` as cents."""
    assert text is not None
    euros, _, rest = text.lstrip("-").partition(",")
    value = int(euros) * 100 + int(rest)
    return -value if text.startswith("-") else value


def work(firms: Firms) -> Row:
    """The fixture session's line, as drafting writes it: the date and the initials."""
    return Row(
        "Työnohjaus, S. S.",
        15000,
        session_id=firms.a.session.id,
        agreement_id=firms.a.agreement.id,
        day=firms.a.session.starts_at.date(),
    )


async def issued(
    db: AsyncSession, firms: Firms, *, email: str = INVOICING_ADDRESS, language: str = "fi"
) -> Invoice:
    """Invoice 1042 of firm A: the session (150,00 €) and 42,5 km at 0,57 € (24,23 €), both at
    25,5 %: 174,23 € net, 44,43 € VAT, 218,66 € in all."""
    await complete_profile(db, next_number=1042)
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == firms.a.org.id))
    assert org is not None
    org.invoice_email, org.invoice_language = email, language
    draft = await add_draft(db, org, work(firms), Row("Matkakulut", 57, "42.5"))
    return await invoices.issue(db, firms.a.owner, draft.id)


async def outbox_rows(backend: Backend) -> list[OutboxMessage]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as session:
        return list(await session.scalars(select(OutboxMessage)))


def sent_mail(backend: Backend) -> list[EmailMessage]:
    """The e-mails the worker wrote to the local outbox folder, parsed."""
    parser = BytesParser(policy=policy.default)
    return [
        parser.parsebytes(path.read_bytes())  # type: ignore[misc]
        for path in sorted(backend.settings.outbox_dir.glob("*.eml"))
    ]


async def test_the_document_of_an_issued_invoice_is_its_frozen_snapshot(
    db: AsyncSession, firms: Firms
) -> None:
    invoice = await issued(db, firms)
    profile = await get_profile(db)
    profile.iban = "FI49 5000 9420 0287 30"  # changed after issuing: the invoice keeps its own
    doc = await delivery.load_document(db, firms.a.admin, invoice.id)
    assert (doc.kind, doc.number, doc.reference) == (DocumentKind.INVOICE, 1042, "10427")
    assert (doc.issued_on, doc.due_on) == (invoice.issued_on, invoice.due_on)
    assert doc.payment_terms_days == firms.a.org.payment_term_days
    assert doc.iban == "FI21 1234 5600 0007 85" and doc.bic == "NDEAFIHH"
    assert doc.seller.name == "Alfa Työnohjaus Oy" and doc.seller.vat_number == "FI07375462"
    assert doc.buyer.name == firms.a.org.name and doc.buyer.business_id == "0737546-2"
    assert [line.description for line in doc.lines] == ["Työnohjaus, S. S.", "Matkakulut"]
    assert [line.group for line in doc.lines] == ["Yksilötyönohjaus", ""]
    assert doc.totals.gross_cents == invoice.gross_cents == 21866
    assert doc.credited_number is None


async def test_a_credit_notes_document_is_negative_and_names_the_credited_invoice(
    db: AsyncSession, firms: Firms
) -> None:
    invoice = await issued(db, firms)
    note = await invoices.credit(db, firms.a.owner, invoice.id)
    note = await invoices.issue(db, firms.a.owner, note.id)
    doc = await delivery.load_document(db, firms.a.owner, note.id)
    assert (doc.kind, doc.number, doc.credited_number) == (DocumentKind.CREDIT_NOTE, 1043, 1042)
    assert [line.net_cents for line in doc.lines] == [-15000, -2423]
    assert doc.totals.gross_cents == -21866
    text = text_of(delivery.pdf_of(doc).data)
    assert "Hyvityslasku 1043" in text and "1042" in text and "-218,66 €" in text
    root = SafeTree.fromstring(
        delivery.finvoice_of(doc, message_id="x", sent_at=note.issued_at).data
    )  # type: ignore[arg-type]
    assert root.findtext("InvoiceDetails/InvoiceTypeCode") == "INV02"
    assert root.findtext("InvoiceDetails/OriginalInvoiceNumber") == "1042"
    assert cents(root.findtext("InvoiceDetails/InvoiceTotalVatIncludedAmount")) == -21866


async def test_the_pdf_shows_number_reference_iban_due_date_and_totals(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    invoice = await issued(db, firms)
    assert invoice.due_on is not None
    output = await delivery.invoice_pdf(db, files, firms.a.owner, invoice.id)
    assert output.filename == "Lasku-1042.pdf" and output.media_type == "application/pdf"
    text = text_of(output.data)
    for expected in [
        "Lasku 1042",
        "Viite 10427",
        "FI21 1234 5600 0007 85",
        f"Eräpäivä {finnish(invoice.due_on)}",
        "174,23 €",  # net
        "44,43 €",  # VAT
        "218,66 €",  # to pay
        "Yksilötyönohjaus",
        "Työnohjaus, S. S.",
    ]:
        assert expected in text, expected


async def test_the_finvoice_file_parses_its_sums_match_and_its_handover_is_recorded(
    db: AsyncSession, firms: Firms
) -> None:
    invoice = await issued(db, firms)
    output = await delivery.finvoice_download(db, firms.a.owner, invoice.id)
    assert output.filename == "finvoice-1042.xml"
    root = SafeTree.fromstring(output.data)
    details = root.find("InvoiceDetails")
    assert details is not None
    assert details.findtext("InvoiceNumber") == "1042"
    assert cents(details.findtext("InvoiceTotalVatExcludedAmount")) == invoice.net_cents == 17423
    assert cents(details.findtext("InvoiceTotalVatAmount")) == invoice.vat_cents == 4443
    assert cents(details.findtext("InvoiceTotalVatIncludedAmount")) == invoice.gross_cents
    rows = [cents(row.findtext("RowVatExcludedAmount")) for row in root.iter("InvoiceRow")]
    assert sum(rows) == invoice.net_cents
    assert cents(root.findtext("EpiDetails/EpiPaymentInstructionDetails/EpiInstructedAmount")) == (
        invoice.gross_cents
    )
    assert root.findtext("EpiDetails/EpiPaymentInstructionDetails/EpiRemittanceInfoIdentifier") == (
        "10427"
    )
    recorded = list(await db.scalars(select(Delivery).where(Delivery.invoice_id == invoice.id)))
    assert [(d.channel, d.sent_by) for d in recorded] == [
        (DeliveryChannel.FINVOICE, firms.a.owner.id)
    ]


async def test_a_draft_has_no_outputs_and_only_billing_staff_get_them(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    await complete_profile(db)
    draft = await add_draft(db, firms.a.org)
    for output in (
        delivery.load_document,
        partial(delivery.send_invoice, files=files),
        delivery.finvoice_download,
    ):
        with pytest.raises(Invalid) as refused:
            await output(db, actor=firms.a.owner, invoice_id=draft.id)
        assert (
            refused.value.errors["invoice"]
            == "Luonnoksesta ei vielä ole laskua: vahvista se ensin."
        )
    invoice = await invoices.issue(db, firms.a.owner, draft.id)
    for output in (
        partial(delivery.invoice_pdf, files=files),
        partial(delivery.send_invoice, files=files),
        delivery.finvoice_download,
    ):
        with pytest.raises(Forbidden):
            await output(db, actor=firms.a.supervisor, invoice_id=invoice.id)


async def test_sending_queues_one_email_with_the_pdf_and_records_the_delivery(
    db: AsyncSession, firms: Firms, clean_db: Backend, files: FileStore
) -> None:
    invoice = await issued(db, firms)
    sent = await delivery.send_invoice(db, files, firms.a.admin, invoice.id)
    await db.commit()
    assert (sent.channel, sent.sent_to, sent.sent_by) == (
        DeliveryChannel.EMAIL,
        INVOICING_ADDRESS,
        firms.a.admin.id,
    )
    [row] = await outbox_rows(clean_db)
    assert row.tenant_id == firms.a.tenant.id
    assert row.payload["to"] == INVOICING_ADDRESS
    assert row.payload["subject"] == "Lasku 1042 / Alfa Työnohjaus Oy"
    assert row.payload["reply_to"] == "laskutus@firm.example"
    [attachment] = row.payload["attachments"]
    assert attachment["filename"] == "Lasku-1042.pdf"
    assert "Lasku 1042" in text_of(base64.b64decode(attachment["base64"]))


@both_stores
async def test_the_worker_delivers_the_invoice_email_with_its_pdf(
    db: AsyncSession, firms: Firms, clean_db: Backend, outbox: Outbox, files: FileStore
) -> None:
    invoice = await issued(db, firms)
    assert invoice.due_on is not None
    await billing_settings.set_logo(db, files, firms.a.owner, portrait())
    await delivery.send_invoice(db, files, firms.a.owner, invoice.id)
    await db.commit()
    await outbox.deliver()
    [message] = sent_mail(clean_db)
    assert message["To"] == INVOICING_ADDRESS
    assert message["Subject"] == "Lasku 1042 / Alfa Työnohjaus Oy"
    assert message["Reply-To"] == "laskutus@firm.example"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content().replace("\xa0", " ")
    for expected in [
        "1042",
        finnish(invoice.due_on),
        "218,66 €",
        "10427",
        "FI21 1234 5600 0007 85",
    ]:
        assert expected in text, expected
    [pdf] = [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]
    assert pdf.get_filename() == "Lasku-1042.pdf"
    assert "Viite 10427" in text_of(pdf.get_content())
    assert len(PdfReader(BytesIO(pdf.get_content())).pages[0].images) == 1  # the firm's logo


async def test_the_email_is_written_in_the_invoices_language(
    db: AsyncSession, firms: Firms, clean_db: Backend, files: FileStore
) -> None:
    invoice = await issued(db, firms, language="sv")
    await delivery.send_invoice(db, files, firms.a.owner, invoice.id)
    await db.commit()
    [row] = await outbox_rows(clean_db)
    assert row.payload["subject"] == "Faktura 1042 / Alfa Työnohjaus Oy"
    assert row.payload["attachments"][0]["filename"] == "Faktura-1042.pdf"


async def test_sending_without_an_invoicing_address_is_refused(
    db: AsyncSession, firms: Firms, clean_db: Backend, files: FileStore
) -> None:
    invoice = await issued(db, firms, email="")
    with pytest.raises(Invalid) as refused:
        await delivery.send_invoice(db, files, firms.a.owner, invoice.id)
    assert firms.a.org.name in refused.value.errors["email"]
    await db.commit()
    assert await outbox_rows(clean_db) == []
    assert list(await db.scalars(select(Delivery))) == []


async def test_an_address_added_after_issuing_is_used_when_the_invoice_had_none(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    invoice = await issued(db, firms, email="")
    org = await db.scalar(select(ClientOrg).where(ClientOrg.id == firms.a.org.id))
    assert org is not None
    org.invoice_email = "uusi@esimerkkikunta.example"
    sent = await delivery.send_invoice(db, files, firms.a.owner, invoice.id)
    assert sent.sent_to == "uusi@esimerkkikunta.example"


async def test_no_output_carries_session_content_or_the_supervisees_name(
    clean_db: Backend, firms: Firms, db: AsyncSession, outbox: Outbox, files: FileStore
) -> None:
    content = await add_content(clean_db, firms.a)  # notes and more on the invoiced session
    invoice = await issued(db, firms)
    doc = await delivery.load_document(db, firms.a.owner, invoice.id)
    pdf = text_of(delivery.pdf_of(doc).data)
    xml = (await delivery.finvoice_download(db, firms.a.owner, invoice.id)).data.decode()
    await delivery.send_invoice(db, files, firms.a.owner, invoice.id)
    await db.commit()
    [row] = await outbox_rows(clean_db)
    queued = str(row.payload)
    await outbox.deliver()
    [message] = sent_mail(clean_db)
    parts = [message["Subject"]] + [
        part.get_content() for part in message.walk() if part.get_content_type().startswith("text/")
    ]
    attached = [text_of(part.get_content()) for part in message.iter_attachments()]
    assert "Työnohjaus, S. S." in pdf and "Työnohjaus, S. S." in xml  # the line is there
    for output in [pdf, xml, queued, *parts, *attached]:
        assert content.marker not in output
        assert firms.a.supervisee.name not in output
