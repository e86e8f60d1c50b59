"""An issued invoice's page: its PDF and Finvoice downloads, sending by e-mail, payments
recorded and deleted, reminders, and the state the list shows and filters by."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, payments
from luotsi.billing.models import Invoice, Payment
from luotsi.platform.db import make_sessionmaker, unscoped_session
from luotsi.platform.outbox import OutboxMessage
from luotsi.tenants.clients.models import ClientOrg
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import Firm, Firms
from tests.web.billing.test_invoice_pages import firm_db, owner_of, text_of

ADDRESS = "laskut@esimerkkikunta.example"
WORK = Row("Työnohjaus", 10000)  # 100,00 + 25,5 % = 125,50


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def issued(db: AsyncSession, firm: Firm, *, email: str = ADDRESS) -> Invoice:
    await db.execute(
        update(ClientOrg).where(ClientOrg.id == firm.org.id).values(invoice_email=email)
    )
    draft = await add_draft(db, firm.org, WORK)
    return await invoices.issue(db, firm.owner, draft.id)


async def an_invoice(backend: Backend, firm: Firm, **kwargs: str) -> Invoice:
    async with firm_db(backend, firm) as db:
        await complete_profile(db, next_number=1042)
        return await issued(db, firm, **kwargs)


async def an_overdue_invoice(backend: Backend, firm: Firm) -> Invoice:
    """Issued a month ago: due two weeks ago (the profile's 14 days)."""
    async with firm_db(backend, firm) as db:
        await complete_profile(db, next_number=1042)
    with time_machine.travel(clock.at(clock.today() - timedelta(days=30)), tick=True):
        async with firm_db(backend, firm) as db:
            return await issued(db, firm)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


async def test_the_pdf_downloads_as_an_attachment(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    await owner_of(client, firms.a)
    page = await client.get(f"/t/alfa/billing/invoices/{invoice.id}")
    assert f"/billing/invoices/{invoice.id}/pdf" in page.text
    pdf = await client.get(f"/t/alfa/billing/invoices/{invoice.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert ".pdf" in pdf.headers["content-disposition"]
    assert "no-store" in pdf.headers["cache-control"]
    assert "1042" in pdf_text(pdf.content)


async def test_the_finvoice_downloads_and_is_logged(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    await owner_of(client, firms.a)
    xml = await client.get(f"/t/alfa/billing/invoices/{invoice.id}/finvoice")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith("application/xml")
    assert 'filename="finvoice-1042.xml"' in xml.headers["content-disposition"]
    assert "no-store" in xml.headers["cache-control"]
    assert xml.content.lstrip().startswith(b"<?xml")
    assert b"<Finvoice" in xml.content
    text = text_of(await client.get(f"/t/alfa/billing/invoices/{invoice.id}"))
    assert "E-invoice file" in text


async def test_a_draft_has_no_downloads(client: Client, clean_db: Backend, firms: Firms) -> None:
    await owner_of(client, firms.a)
    response = await client.get(f"/t/alfa/billing/invoices/{firms.a.invoice.id}/pdf")
    assert response.status_code == 422
    assert "issue it first" in text_of(response)


async def test_sending_by_email_queues_a_message_and_shows_the_delivery(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    await owner_of(client, firms.a)
    sent = await client.post(f"/t/alfa/billing/invoices/{invoice.id}/send")
    assert sent.status_code == 303
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as session:
        [message] = list(await session.scalars(select(OutboxMessage)))
    assert message.payload["to"] == ADDRESS
    assert message.payload["attachments"][0]["filename"].endswith(".pdf")
    text = text_of(await client.get(f"/t/alfa/billing/invoices/{invoice.id}"))
    assert "The invoice has been sent by e-mail." in text
    assert f"E-mail {ADDRESS}" in text


async def test_sending_without_an_address_is_a_form_error(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a, email="")
    await owner_of(client, firms.a)
    sent = await client.post(f"/t/alfa/billing/invoices/{invoice.id}/send")
    assert sent.status_code == 422
    assert "has no invoicing e-mail address" in text_of(sent)


async def test_payments_recorded_and_deleted_change_the_state(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    await owner_of(client, firms.a)
    url = f"/t/alfa/billing/invoices/{invoice.id}"
    page = await client.get(url)
    assert f'value="{clock.today().isoformat()}"' in page.text  # the day defaults to today
    assert "State Open" in text_of(page)

    refused = await client.post(f"{url}/payments", {"paid_on": "", "amount": "abc"})
    assert refused.status_code == 422
    text = text_of(refused)
    assert "Enter the amount in euros" in text and "Enter the day the payment" in text

    today = clock.today().isoformat()
    paid = await client.post(f"{url}/payments", {"paid_on": today, "amount": "50,25"})
    assert paid.status_code == 303
    text = text_of(await client.get(url))
    assert "State Partly paid" in text and "Paid 50,25 €" in text and "Open 75,25 €" in text

    await client.post(f"{url}/payments", {"paid_on": today, "amount": "75,25", "note": "loput"})
    assert "State Paid" in text_of(await client.get(url))

    async with scoped(clean_db, firms.a.tenant) as db:
        first = await db.scalar(select(Payment).where(Payment.amount_cents == 5025))
        assert first is not None
    confirm = await client.get(f"/t/alfa/billing/payments/{first.id}/delete")
    assert confirm.status_code == 200 and "Delete the payment" in text_of(confirm)
    deleted = await client.post(f"/t/alfa/billing/payments/{first.id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"].endswith(url)
    text = text_of(await client.get(url))
    assert "State Partly paid" in text and "Open 50,25 €" in text


async def test_a_bank_payment_is_not_deleted(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    async with firm_db(clean_db, firms.a) as db:
        payment = await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), 1000)
        await db.execute(update(Payment).where(Payment.id == payment.id).values(source="bank"))
    await owner_of(client, firms.a)
    refused = await client.post(f"/t/alfa/billing/payments/{payment.id}/delete")
    assert refused.status_code == 422
    assert "match it to the right invoice" in text_of(refused)


async def test_overdue_invoices_are_shown_and_filtered_in_the_list(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    overdue = await an_overdue_invoice(clean_db, firms.a)
    async with firm_db(clean_db, firms.a) as db:
        fresh = await issued(db, firms.a)
    await owner_of(client, firms.a)

    async def numbers(query: str) -> list[str]:
        page = await client.get(f"/t/alfa/billing/invoices?{query}")
        assert page.status_code == 200
        rows = re.findall(r'billing/invoices/[0-9a-f-]{36}">(.*?)</a>', page.text)
        return ["draft" if "Draft" in row else row for row in rows]

    assert await numbers("state=overdue") == [str(overdue.number)]
    assert await numbers("state=open") == [str(fresh.number)]
    assert await numbers("state=draft") == ["draft"]
    assert await numbers("state=paid") == []
    page = await client.get("/t/alfa/billing/invoices")
    assert re.search(r'<tr class="overdue">\s*<td><a[^>]*>' + str(overdue.number), page.text)
    text = text_of(page)
    assert "Overdue 1 125,50 € 125,50 €" in text and "Open in all 251,00 €" in text


async def test_reminders_are_sent_through_the_page(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    overdue = await an_overdue_invoice(clean_db, firms.a)
    await owner_of(client, firms.a)
    url = f"/t/alfa/billing/invoices/{overdue.id}"
    assert "Send a reminder" in text_of(await client.get(url))
    sent = await client.post(f"{url}/reminders")
    assert sent.status_code == 303
    text = text_of(await client.get(url))
    assert "The payment reminder has been sent." in text and ADDRESS in text
    again = await client.post(f"{url}/reminders")
    assert again.status_code == 422 and "already sent today" in text_of(again)


async def test_a_credit_note_links_to_the_invoice_it_credits(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    async with firm_db(clean_db, firms.a) as db:
        note = await invoices.credit(db, firms.a.owner, invoice.id)
        note = await invoices.issue(db, firms.a.owner, note.id)
    await owner_of(client, firms.a)
    page = await client.get(f"/t/alfa/billing/invoices/{note.id}")
    assert f'href="/t/alfa/billing/invoices/{invoice.id}">{invoice.number}</a>' in page.text
    assert "Credits invoice" in text_of(page)
    text = text_of(await client.get(f"/t/alfa/billing/invoices/{invoice.id}"))
    assert "State Credited" in text


async def test_a_supervisor_is_refused_and_another_firm_sees_nothing(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await an_invoice(clean_db, firms.a)
    async with firm_db(clean_db, firms.a) as db:
        payment = await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), 1000)
    base = "/t/alfa/billing"
    gets = [f"{base}/invoices/{invoice.id}/pdf", f"{base}/invoices/{invoice.id}/finvoice"]
    gets.append(f"{base}/payments/{payment.id}/delete")
    posts = [
        f"{base}/invoices/{invoice.id}/send",
        f"{base}/invoices/{invoice.id}/payments",
        f"{base}/invoices/{invoice.id}/reminders",
        f"{base}/payments/{payment.id}/delete",
    ]
    await client.login(firms.a.supervisor.user.email)
    for url in gets:
        assert (await client.get(url)).status_code == 403, url
    for url in posts:
        assert (await client.post(url, {"amount": "1", "paid_on": ""})).status_code == 403, url
    other = Client(client.app)
    await other.login(firms.b.owner.user.email)
    for url in gets:
        assert (await other.get(url.replace("/t/alfa/", "/t/beeta/"))).status_code == 404, url
    for url in posts:
        response = await other.post(url.replace("/t/alfa/", "/t/beeta/"), {"amount": "1"})
        assert response.status_code == 404, url
    async with scoped(clean_db, firms.a.tenant) as db:
        assert (await payments.balance_of(db, invoice.id)).paid_cents == 1000  # nothing changed
