"""The invoice list, its CSV export and an invoice's page, through the browser's eyes."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, overview
from luotsi.billing.models import Invoice
from luotsi.tenants.clients.models import ClientOrg
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import Firm, Firms, add_client_org, add_draft_invoice
from tests.queries import count_queries

TRAVEL = Row("Matkakulut", 4500)  # the fixture draft's line: 45.00 + 25.5 % VAT 11.48


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


@asynccontextmanager
async def firm_db(backend: Backend, firm: Firm) -> AsyncIterator[AsyncSession]:
    """The firm's scoped session for arranging; committed at the end."""
    async with scoped(backend, firm.tenant) as db:
        yield db
        await db.commit()


async def issue(db: AsyncSession, firm: Firm, org: ClientOrg, *rows: Row) -> Invoice:
    return await invoices.issue(db, firm.owner, (await add_draft(db, org, *rows)).id)


def text_of(page: Any) -> str:
    """The page's text with tags dropped and entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


async def owner_of(client: Client, firm: Firm) -> Client:
    await client.login(firm.owner.user.email)
    return client


# --- the list --------------------------------------------------------------------------------


async def test_the_list_shows_drafts_first_then_the_newest_numbers_with_totals(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db, next_number=1000)
        await issue(db, firms.a, firms.a.org, Row("Työnohjaus", 10000))
        await issue(db, firms.a, firms.a.org, Row("Työnohjaus", 20000, vat_basis_points=0))
    await owner_of(client, firms.a)
    page = await client.get("/t/alfa/billing/invoices")
    assert page.status_code == 200
    text = text_of(page)
    assert text.index("Draft") < text.index("1001") < text.index("1000")
    # Drafts: 45,00 + 11,48; issued: 100,00 + 25,50 and 200,00 + 0 (euros as in Finland).
    assert "Drafts 1 45,00 € 11,48 € 56,48 €" in text
    assert "Issued 2 300,00 € 25,50 € 325,50 €" in text
    assert "3 invoices and credit notes" in text


async def test_the_list_is_filtered_by_status_organisation_period_and_text(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    other = await add_client_org(clean_db.owner, firms.a.tenant, "Järvenpään seurakunta")
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db, next_number=5000)
        await issue(db, firms.a, firms.a.org)  # 5000 to Esimerkkikunta
        await issue(db, firms.a, other)  # 5001
    await owner_of(client, firms.a)
    base = "/t/alfa/billing/invoices"

    async def numbers(query: str) -> list[str]:
        page = await client.get(f"{base}?{query}", headers={"HX-Request": "true"})
        assert page.status_code == 200 and "<html" not in page.text
        rows = re.findall(r'billing/invoices/[0-9a-f-]{36}">(.*?)</a>', page.text)
        return ["draft" if "Draft" in row else row for row in rows]

    today, tomorrow = clock.today(), clock.today() + timedelta(days=1)
    assert await numbers("") == ["draft", "5001", "5000"]
    assert await numbers("status=issued") == ["5001", "5000"]
    assert await numbers("status=draft") == ["draft"]
    assert await numbers(f"org={other.id}") == ["5001"]
    assert await numbers("q=järvenpää") == ["5001"]
    assert await numbers("q=5000") == ["5000"]
    assert await numbers(f"from={today.isoformat()}&to={today.isoformat()}") == ["5001", "5000"]
    assert await numbers(f"from={tomorrow.isoformat()}") == []
    assert await numbers("status=nonsense&org=nonsense&from=x") == ["draft", "5001", "5000"]
    # Sorted by a column (drafts first whatever it is), a filter kept; nonsense is the default.
    assert await numbers("sort=number") == ["draft", "5000", "5001"]
    assert await numbers("sort=org") == ["draft", "5000", "5001"]  # Esimerkkikunta, Järvenpää
    assert await numbers("sort=-org") == ["draft", "5001", "5000"]
    assert await numbers("sort=-org&status=issued") == ["5001", "5000"]
    assert await numbers("sort=nonsense") == ["draft", "5001", "5000"]
    header = await client.get(f"{base}?sort=org&status=issued", headers={"HX-Request": "true"})
    assert 'aria-sort="ascending"' in header.text and "status=issued&amp;sort=-org" in header.text


async def test_a_firm_with_more_organisations_than_a_list_offers_searches_them_by_name(
    client: Client, clean_db: Backend, firms: Firms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "MAX_ORG_CHOICES", 1)
    other = await add_client_org(clean_db.owner, firms.a.tenant, "Järvenpään seurakunta")
    await add_draft_invoice(clean_db.owner, firms.a.tenant, other)
    await owner_of(client, firms.a)
    base = "/t/alfa/billing/invoices"
    page = await client.get(base)
    assert page.status_code == 200
    assert "Too many to list: search by the organisation" in page.text
    assert f'<option value="{other.id}"' not in page.text
    assert f'<option value="{firms.a.org.id}"' not in page.text
    chosen = await client.get(f"{base}?org={other.id}")  # as the client page links it
    assert f'<option value="{other.id}" selected>Järvenpään seurakunta</option>' in chosen.text
    monkeypatch.setattr(overview, "MAX_ORG_CHOICES", 2)
    listed = await client.get(base)
    assert "Too many to list" not in listed.text
    assert f'<option value="{other.id}"' in listed.text
    assert f'<option value="{firms.a.org.id}"' in listed.text


async def test_the_csv_export_is_what_finnish_excel_reads(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db, next_number=12345)
        issued = await issue(db, firms.a, firms.a.org, Row("Työnohjaus", 123456))
        note = await invoices.credit(db, firms.a.owner, issued.id)
        await invoices.issue(db, firms.a.owner, note.id)
    await owner_of(client, firms.a)
    export = await client.get("/t/alfa/billing/invoices.csv?status=issued")
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["content-disposition"]
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    day = f"{clock.today().day}.{clock.today().month}.{clock.today().year}"
    due = issued.due_on
    assert due is not None
    assert rows[0] == [
        "Number",
        "Kind",
        "Organisation",
        "Business ID",
        "Issue date",
        "Due date",
        "Net",
        "VAT",
        "Total",
        "Reference",
        "State",
        "Open",
    ]
    # 1 234,56 at 25.5 % = 314,8128 -> 314,81
    assert rows[1][:3] == ["12346", "Credit note", "Esimerkkikunta"]
    assert rows[1][6:9] == ["-1234,56", "-314,81", "-1549,37"]
    assert rows[1][10:] == ["Credit note", "0,00"]
    assert rows[2] == [
        "12345",
        "Invoice",
        "Esimerkkikunta",
        "0737546-2",
        day,
        f"{due.day}.{due.month}.{due.year}",
        "1234,56",
        "314,81",
        "1549,37",
        "1 23453",
        "Credited",  # in full by the credit note
        "0,00",
    ]
    assert len(rows) == 3  # the draft is not issued


async def test_the_list_costs_as_many_statements_for_many_invoices_as_for_one(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
        await issue(db, firms.a, firms.a.org)
    await owner_of(client, firms.a)
    path = "/t/alfa/billing/invoices"

    async def measure() -> int:
        assert (await client.get(path)).status_code == 200
        async with count_queries(client.app) as counted:
            page = await client.get(path)
        assert page.status_code == 200
        return counted.statements

    one = await measure()
    async with firm_db(clean_db, firms.a) as db:
        for n in range(15):
            await issue(db, firms.a, firms.a.org, TRAVEL, Row("Aineisto", 1000 + n, "2", 1400))
            await add_draft(db, firms.a.org, Row(vat_basis_points=1000), Row(vat_basis_points=0))
    many = await measure()
    assert one > 0 and many == one


# --- an invoice's page -----------------------------------------------------------------------


async def test_a_drafts_page_shows_its_lines_totals_and_editing_forms(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    async with firm_db(clean_db, a) as db:
        work = Row(
            "Työnohjaus 3.11., S. S.", 15000, session_id=a.session.id, agreement_id=a.agreement.id
        )
        draft = await add_draft(db, a.org, work, Row("Aineisto", 1999, "3", 1400))
    await owner_of(client, a)
    page = await client.get(f"/t/alfa/billing/invoices/{draft.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Individual supervision" in text  # the agreement's group
    assert "Other lines" in text
    # 150.00 at 25.5 % = 38.25; 59.97 at 14 % = 8.3958 -> 8.40
    assert "25,5 % 150,00 € 38,25 € 188,25 €" in text
    assert "14 % 59,97 € 8,40 € 68,37 €" in text
    assert "Total 209,97 € 46,65 € 256,62 €" in text
    assert f"billing/invoices/{draft.id}/lines" in page.text  # add a line
    assert f"billing/invoices/{draft.id}/details" in page.text
    assert f"billing/invoices/{draft.id}/issue" in page.text
    assert f"billing/invoices/{draft.id}/delete" in page.text
    assert page.text.count("/remove") == 2 and page.text.count("/edit") == 2
    assert "Sanna Supervisee" not in page.text


async def test_lines_are_added_edited_and_removed_through_the_page(
    client: Client, firms: Firms
) -> None:
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    refused = await client.post(
        base + "/lines",
        {"description": "Kilometrit", "quantity": "0", "unit": "km", "unit_price": "x"},
    )
    assert refused.status_code == 422
    assert "Enter a quantity greater than zero." in refused.text
    assert "Enter the unit price in euros" in refused.text
    assert 'value="Kilometrit"' in refused.text  # the form keeps what was typed
    added = await client.post(
        base + "/lines",
        {
            "description": "Kilometrit",
            "quantity": "120",
            "unit": "km",
            "unit_price": "0,59",
            "vat_rate": "0",
        },
    )
    assert added.status_code == 303 and added.headers["location"] == base
    assert "70,80 €" in text_of(await client.get(base))
    line_path = f"/t/alfa/billing/lines/{firms.a.invoice_line.id}"
    form = await client.get(line_path + "/edit")
    assert form.status_code == 200 and 'value="Matkakulut"' in form.text
    saved = await client.post(
        line_path + "/edit",
        {
            "description": "Matkat",
            "quantity": "2",
            "unit": "kpl",
            "unit_price": "45",
            "vat_rate": "2550",
        },
    )
    assert saved.status_code == 303
    assert "Matkat 2 kpl 45,00 € 25,5 % 90,00 €" in text_of(await client.get(base))
    confirm = await client.get(line_path + "/remove")
    assert confirm.status_code == 200 and "Remove “Matkat” from the draft?" in confirm.text
    assert f'action="{line_path}/remove"' in confirm.text
    assert "Matkat" in text_of(await client.get(base))  # asking removed nothing
    removed = await client.post(line_path + "/remove")
    assert removed.status_code == 303
    page = text_of(await client.get(base))
    assert "Matkat" not in page and "Kilometrit" in page


async def test_buyer_reference_and_notes_are_saved_with_errors_shown_in_the_form(
    client: Client, firms: Firms
) -> None:
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    refused = await client.post(base + "/details", {"buyer_reference": "x" * 71, "notes": ""})
    assert refused.status_code == 422 and "Shorten this to 70 characters." in refused.text
    saved = await client.post(base + "/details", {"buyer_reference": "PO-77", "notes": "Kiitos!"})
    assert saved.status_code == 303
    page = await client.get(base)
    assert 'value="PO-77"' in page.text and "Kiitos!" in page.text


async def test_issuing_asks_first_and_then_numbers_the_invoice(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db, next_number=12345)
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    confirm = await client.get(base + "/issue")
    assert confirm.status_code == 200
    assert f'action="{base}/issue"' in confirm.text and "Issue now" in confirm.text
    assert "<h1>Issue the invoice to Esimerkkikunta?</h1>" in confirm.text
    assert "Draft" in text_of(await client.get(base))  # asking changed nothing
    issued = await client.post(base + "/issue")
    assert issued.status_code == 303 and issued.headers["location"] == base
    page = await client.get(base)
    text = text_of(page)
    assert "The invoice has been issued." in text
    assert "Invoice 12345" in text and "1 23453" in text  # the reference, grouped
    assert "/lines" not in page.text and "/delete" not in page.text
    assert 'id="credit-form"' in page.text


async def test_issuing_with_incomplete_settings_links_to_the_settings(
    client: Client, firms: Firms
) -> None:
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    confirm = await client.get(base + "/issue")
    assert confirm.status_code == 200 and "/t/alfa/billing/settings" in confirm.text
    refused = await client.post(base + "/issue")
    assert refused.status_code == 422
    assert "Complete the billing settings before invoicing" in refused.text
    assert 'href="/t/alfa/billing/settings"' in refused.text
    assert "IBAN" in refused.text


async def test_a_draft_is_deleted_after_a_confirmation(client: Client, firms: Firms) -> None:
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    confirm = await client.get(base + "/delete")
    assert confirm.status_code == 200 and f'action="{base}/delete"' in confirm.text
    assert "<h1>Delete the draft invoice to Esimerkkikunta?</h1>" in confirm.text
    assert (await client.get(base)).status_code == 200
    deleted = await client.post(base + "/delete")
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/t/alfa/billing/invoices"
    assert (await client.get(base)).status_code == 404


async def test_an_issued_invoice_is_not_deleted_or_edited_through_the_pages(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
        await invoices.issue(db, firms.a.owner, firms.a.invoice.id)
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    line = f"/t/alfa/billing/lines/{firms.a.invoice_line.id}"
    answers = [
        await client.post(base + "/delete"),
        await client.post(base + "/issue"),
        await client.post(
            base + "/lines", {"description": "X", "quantity": "1", "unit_price": "1"}
        ),
        await client.post(base + "/details", {"buyer_reference": "X"}),
        await client.post(line + "/edit", {"description": "X"}),
        await client.post(line + "/remove"),
    ]
    assert [answer.status_code for answer in answers] == [422] * 6
    assert all("credit note" in answer.text or "already" in answer.text for answer in answers)
    assert text_of(answers[1]).count("already been issued") == 1  # said once, not twice
    assert (await client.get(line + "/edit")).status_code == 303
    assert "Matkakulut" in text_of(await client.get(base))


async def test_crediting_chosen_lines_drafts_a_credit_note_and_opens_it(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    async with firm_db(clean_db, a) as db:
        await complete_profile(db, next_number=3000)
        work = Row(
            "Työnohjaus 3.11., S. S.", 15000, session_id=a.session.id, agreement_id=a.agreement.id
        )
        issued = await issue(db, a, a.org, work, Row("Aineisto", 2000))
    await owner_of(client, a)
    base = f"/t/alfa/billing/invoices/{issued.id}"
    page = await client.get(base)
    line_ids = re.findall(r'name="line" value="([0-9a-f-]{36})"', page.text)
    assert len(line_ids) == 2
    nothing = await client.post(base + "/credit", {})
    assert nothing.status_code == 422 and "Choose lines" in nothing.text
    credited = await client.post(base + "/credit", {"line": line_ids[0], "restores_sessions": "1"})
    assert credited.status_code == 303
    note_path = credited.headers["location"]
    assert re.fullmatch(r"/t/alfa/billing/invoices/[0-9a-f-]{36}", note_path) and note_path != base
    note = text_of(await client.get(note_path))
    assert "A draft credit note has been made." in note
    assert "Credits invoice 3000" in note
    assert "The credited sessions become billable again" in note
    assert "Total -150,00 € -38,25 € -188,25 €" in note
    original = await client.get(base)
    assert "Credited" in text_of(original)
    assert re.findall(r'name="line" value="([0-9a-f-]{36})"', original.text) == [line_ids[1]]
    everything = await client.post(base + "/credit", {"all": "1"})
    assert everything.status_code == 303
    assert 'id="credit-form"' not in (await client.get(base)).text  # nothing left to credit


# --- who may --------------------------------------------------------------------------------


def billing_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every method and path of the invoice pages, from the app's route table."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and re.search(r"/billing/(invoices|lines)", route.path):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                found.append((method, route.path))
    return found


def fill(path: str, slug: str, invoice_id: uuid.UUID, line_id: uuid.UUID) -> str:
    return (
        path.replace("{tenant_slug:str}", slug)
        .replace("{invoice_id:uuid}", str(invoice_id))
        .replace("{line_id:uuid}", str(line_id))
    )


async def _answers(
    client: Client, routes: Sequence[tuple[str, str]], slug: str, firm: Firm
) -> dict[str, int]:
    answers = {}
    for method, path in routes:
        url = fill(path, slug, firm.invoice.id, firm.invoice_line.id)
        data = {"description": "X", "quantity": "1", "unit_price": "1", "all": "1"}
        response = await client.request(method, url, data=data)
        answers[f"{method} {url}"] = response.status_code
    return answers


async def test_routes_are_found(app: Litestar) -> None:
    routes = billing_routes(app)
    assert ("GET", "/t/{tenant_slug:str}/billing/invoices") in routes
    assert ("POST", "/t/{tenant_slug:str}/billing/lines/{line_id:uuid}/remove") in routes
    assert len(routes) >= 13


async def test_a_supervisor_is_refused_every_invoice_page(
    app: Litestar, client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    answers = await _answers(client, billing_routes(app), "alfa", firms.a)
    assert set(answers.values()) == {403}, answers


async def test_another_firms_invoices_are_not_found_by_any_route(
    app: Litestar, client: Client, firms: Firms
) -> None:
    await client.login(firms.b.owner.user.email)
    routes = [
        (m, p) for m, p in billing_routes(app) if "{" in p.removeprefix("/t/{tenant_slug:str}")
    ]
    answers = await _answers(client, routes, "beeta", firms.a)
    assert set(answers.values()) == {404}, answers
    # A positive control: the same routes with firm B's own ids are B's.
    own = await client.get(f"/t/beeta/billing/invoices/{firms.b.invoice.id}")
    assert own.status_code == 200
    # And nothing of firm A's draft changed.
    owner_a = Client(app)
    owner_a.client.cookies.set("luotsi_lang", "en")
    await owner_a.login(firms.a.owner.user.email)
    page = await owner_a.get(f"/t/alfa/billing/invoices/{firms.a.invoice.id}")
    assert page.status_code == 200 and "Matkakulut" in page.text and "Draft" in page.text


async def test_issuing_is_not_called_sending_in_finnish_or_swedish(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    """Issuing numbers an invoice; sending e-mails it. The two are different buttons and must
    not read alike: in Finnish an invoice is "vahvistettu" (issued), "lähetetty" once sent."""
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)
    base = f"/t/alfa/billing/invoices/{firms.a.invoice.id}"
    client.client.cookies.set("luotsi_lang", "sv")
    assert "Utfärda fakturan till Esimerkkikunta?" in text_of(await client.get(base + "/issue"))
    client.client.cookies.set("luotsi_lang", "fi")
    confirm = text_of(await client.get(base + "/issue"))
    assert "Vahvistetaanko lasku organisaatiolle Esimerkkikunta?" in confirm
    assert "Vahvista nyt" in confirm and "Lähetä" not in confirm
    await client.post(base + "/issue")
    issued = text_of(await client.get(base))
    assert "Lasku on vahvistettu." in issued and "Ei vielä lähetetty." in issued


async def test_swedish_pages_name_a_credit_note_one_way(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
        await invoices.issue(db, firms.a.owner, firms.a.invoice.id)
    await owner_of(client, firms.a)
    client.client.cookies.set("luotsi_lang", "sv")
    page = text_of(await client.get(f"/t/alfa/billing/invoices/{firms.a.invoice.id}"))
    listed = text_of(await client.get("/t/alfa/billing/invoices"))
    assert "Gör ett utkast till kreditnota" in page and "1 faktura eller kreditnota" in listed
    assert "kreditfaktura" not in (page + listed).lower()


async def test_finnish_totals_count_invoices_not_quantities(client: Client, firms: Firms) -> None:
    """ "Määrä" is a line's quantity; the totals count invoices ("Lukumäärä")."""
    await owner_of(client, firms.a)
    client.client.cookies.set("luotsi_lang", "fi")
    listed = text_of(await client.get("/t/alfa/billing/invoices"))
    assert "Tila Lukumäärä Veroton ALV Yhteensä" in listed


async def test_the_client_page_links_the_organisations_invoices_for_billing_staff(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    link = f'href="/t/alfa/billing/invoices?org={a.org.id}"'
    await owner_of(client, a)
    page = await client.get(f"/t/alfa/clients/{a.org.id}")
    assert page.status_code == 200 and link in page.text
    listed = await client.get(f"/t/alfa/billing/invoices?org={a.org.id}")
    assert listed.status_code == 200 and f"/t/alfa/billing/invoices/{a.invoice.id}" in listed.text

    supervisor = Client(client.app)
    await supervisor.login(a.supervisor.user.email)
    theirs = await supervisor.get(f"/t/alfa/clients/{a.org.id}")
    assert theirs.status_code == 200 and a.org.name in theirs.text and link not in theirs.text
