"""Reading in a bank file and matching payments by hand, through the pages."""

from __future__ import annotations

import pytest
from litestar import Litestar

from luotsi.billing import invoices
from luotsi.billing.models import Invoice
from luotsi.billing.payments import UNMATCHED_PER_PAGE
from tests import clock
from tests.billing.arrange import add_draft, complete_profile
from tests.billing.statements import ENTITY_BOMB, Credit, camt054
from tests.conftest import Backend, Client
from tests.factories import Firms
from tests.web.billing.test_invoice_pages import firm_db, owner_of, text_of

BASE = "/t/alfa/billing/payments"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def issue_fixture_draft(backend: Backend, firms: Firms) -> Invoice:
    """Firm A's fixture draft issued: 45,00 + VAT 11,48 = 56,48 €."""
    async with firm_db(backend, firms.a) as db:
        await complete_profile(db, next_number=4000)
        return await invoices.issue(db, firms.a.owner, firms.a.invoice.id)


async def upload(client: Client, data: bytes, name: str = "camt.xml") -> object:
    return await client.post(BASE, files={"file": (name, data, "application/xml")})


async def test_a_bank_file_pays_an_invoice_and_again_adds_nothing(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await issue_fixture_draft(clean_db, firms)
    await owner_of(client, firms.a)
    page = await client.get(BASE)
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Every payment is matched to an invoice." in text_of(page)
    data = camt054(
        clock.today(),
        Credit(5648, invoice.reference, archive="A-1"),
        Credit(1200, "", archive="A-2", message="lasku 4000", payer="Hyvinvointialue"),
    )
    result = await upload(client, data)
    assert result.status_code == 200  # type: ignore[attr-defined]
    text = text_of(result)
    assert "2 payments added, 1 matched to an invoice, 1 to match by hand." in text
    assert "Paid in full" in text and "56,48 €" in text
    assert "No invoice with the reference" in text and "Hyvinvointialue" in text
    invoice_list = text_of(await client.get("/t/alfa/billing/invoices?status=issued"))
    assert "4000" in invoice_list

    again = await upload(client, data)
    assert "Nothing new: all 2 payments of the file were imported before." in text_of(again)


async def test_an_unreadable_or_hostile_file_is_refused_in_the_form(
    client: Client, firms: Firms
) -> None:
    await owner_of(client, firms.a)
    bomb = await upload(client, ENTITY_BOMB)
    assert bomb.status_code == 422  # type: ignore[attr-defined]
    assert "not a readable XML file" in text_of(bomb)
    other = await upload(client, b"<Document><Other/></Document>")
    assert other.status_code == 422 and "camt.053 or camt.054" in text_of(other)  # type: ignore[attr-defined]
    nothing = await client.post(BASE, {})
    assert nothing.status_code == 422 and "Choose a camt.053 or camt.054 file" in text_of(nothing)
    big = await upload(client, b"<" + b"x" * (5 * 1024 * 1024 + 10))
    assert big.status_code == 422 and "the limit is 5 MB" in text_of(big)  # type: ignore[attr-defined]


async def test_an_unmatched_payment_is_matched_by_hand(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await issue_fixture_draft(clean_db, firms)
    await owner_of(client, firms.a)
    await upload(client, camt054(clock.today(), Credit(5648, "", archive="M-1", message="4000")))
    page = await client.get(BASE)
    text = text_of(page)
    assert "Payments to match" in text and "4000 · Esimerkkikunta · 56,48 €" in text
    [match_path] = [
        part.split('"')[0] for part in page.text.split('action="')[1:] if "/match" in part
    ]
    refused = await client.post(match_path, {"invoice": ""})
    assert refused.status_code == 422 and "Choose the invoice" in text_of(refused)
    async with firm_db(clean_db, firms.a) as db:
        draft = await add_draft(db, firms.a.org)  # a draft is not an invoice to match to
    refused = await client.post(match_path, {"invoice": str(draft.id)})
    assert refused.status_code == 422 and "issued invoices only" in text_of(refused)
    matched = await client.post(match_path, {"invoice": str(invoice.id)})
    assert matched.status_code == 303 and matched.headers["location"] == BASE + "?matched=1"
    after = text_of(await client.get(matched.headers["location"]))
    assert "The payment has been matched to the invoice." in after
    assert "Every payment is matched to an invoice." in after


async def test_a_supervisor_is_refused_and_another_firm_finds_nothing(
    app: Litestar, client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await issue_fixture_draft(clean_db, firms)
    await owner_of(client, firms.a)
    await upload(client, camt054(clock.today(), Credit(5648, "", archive="S-1")))
    page = await client.get(BASE)
    [match_path] = [
        part.split('"')[0] for part in page.text.split('action="')[1:] if "/match" in part
    ]
    supervisor = Client(app)
    await supervisor.login(firms.a.supervisor.user.email)
    assert (await supervisor.get(BASE)).status_code == 403
    assert (await supervisor.post(match_path, {"invoice": str(invoice.id)})).status_code == 403
    other = Client(app)
    await other.login(firms.b.owner.user.email)
    foreign = match_path.replace("/alfa/", "/beeta/")
    assert (await other.post(foreign, {"invoice": str(invoice.id)})).status_code == 404
    assert (await other.post(foreign, {"invoice": str(firms.b.invoice.id)})).status_code == 404
    assert "Payments to match" in text_of(await client.get(BASE))
    assert "Every payment is matched" not in text_of(await client.get(BASE))


async def test_the_payments_to_match_are_paged_and_matched_from_any_page(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    invoice = await issue_fixture_draft(clean_db, firms)
    await owner_of(client, firms.a)
    waiting = [
        Credit(100 + n, "", archive=f"P-{n}", payer=f"Maksaja {n}")
        for n in range(UNMATCHED_PER_PAGE + 1)
    ]
    await upload(client, camt054(clock.today(), *waiting))

    first = await client.get(BASE)
    assert first.text.count('/match"') == UNMATCHED_PER_PAGE
    assert "Page 1 of 2" in text_of(first) and 'href="?page=2"' in first.text
    second = await client.get(f"{BASE}?page=2")
    assert "Page 2 of 2" in text_of(second)
    [match_path] = [
        part.split('"')[0] for part in second.text.split('action="')[1:] if "/match" in part
    ]
    assert match_path.endswith("/match?page=2")  # a refusal shows the same page again
    refused = await client.post(match_path, {"invoice": "nonsense"})
    assert refused.status_code == 422 and "Page 2 of 2" in text_of(refused)
    assert "Choose the invoice the payment is for." in text_of(refused)
    matched = await client.post(match_path, {"invoice": str(invoice.id)})
    assert matched.status_code == 303
    assert "Page 1 of" not in text_of(await client.get(BASE))  # one page left
