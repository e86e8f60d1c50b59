"""The HR contact's invoices: their organisation's issued invoices and credit notes with their
state and PDF; never a draft, another organisation's invoice or another firm's. And the
agreement page's invoicing figures, for the office only."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, payments
from luotsi.billing.models import Invoice
from luotsi.platform.tenancy import Role
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import Firm, Firms, add_client_org, add_session, bind_supervisee_login
from tests.web.portal.test_portal import _contact

TRAVEL = Row("Matkakulut", 4500)


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


def text_of(page: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


async def _issue(db: AsyncSession, firm: Firm, org: ClientOrg, *rows: Row) -> Invoice:
    return await invoices.issue(db, firm.owner, (await add_draft(db, org, *rows)).id)


async def _held(backend: Backend, firm: Firm, days_ago: int) -> SupervisionSession:
    return await add_session(
        backend.owner,
        firm.tenant,
        firm.agreement,
        firm.supervisor,
        starts_at=clock.at(clock.days(-days_ago)),
        status=SessionStatus.HELD,
        billable=True,
    )


async def _arrange(backend: Backend, firm: Firm) -> dict[str, Invoice]:
    """Firm A's organisation: a paid invoice billing a held session, an open one, one credited
    by a credit note, a draft; another organisation of the firm: an invoice of its own."""
    session = await _held(backend, firm, 20)
    other = await add_client_org(backend.owner, firm.tenant, "Naapurikunta")
    async with scoped(backend, firm.tenant) as db:
        await complete_profile(db)
        paid = await _issue(
            db,
            firm,
            firm.org,
            Row(
                "Yksilötyönohjaus S. S.",
                12000,
                session_id=session.id,
                agreement_id=firm.agreement.id,
                day=clock.days(-20),
            ),
        )
        await payments.record_payment(db, firm.owner, paid.id, clock.today(), paid.gross_cents)
        open_ = await _issue(db, firm, firm.org, TRAVEL)
        credited = await _issue(db, firm, firm.org, TRAVEL)
        note = await invoices.credit(db, firm.owner, credited.id)
        note = await invoices.issue(db, firm.owner, note.id)
        draft = await add_draft(db, firm.org, TRAVEL)
        others = await _issue(db, firm, other, TRAVEL)
        await db.commit()
    return {
        "paid": paid,
        "open": open_,
        "credited": credited,
        "note": note,
        "draft": draft,
        "other": others,
    }


async def test_the_hr_contact_sees_their_organisations_issued_invoices_and_pdfs(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    made = await _arrange(clean_db, a)
    await _contact(clean_db, a, a.org, "helmi@asiakas.example")
    await client.login("helmi@asiakas.example")
    page = await client.get(f"/t/{a.slug}/portal/invoices")
    assert page.status_code == 200
    text = text_of(page)
    for key, state in (("paid", "Paid"), ("open", "Open"), ("credited", "Credited")):
        row = text.split(f" {made[key].number} ", 1)[1][:80]
        assert state in row, (key, row)
    assert f"Credit note {made['note'].number}" in text, text
    assert f" {made['other'].number} " not in text  # another organisation's
    assert "Yksilötyönohjaus" not in text  # lines stay in the PDF
    home = await client.get(f"/t/{a.slug}/portal/")
    assert f"/t/{a.slug}/portal/invoices" in home.text
    for key in ("paid", "note"):
        pdf = await client.get(f"/t/{a.slug}/portal/invoices/{made[key].id}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        assert "attachment" in pdf.headers["content-disposition"]
        assert "no-store" in pdf.headers["cache-control"]  # the route walk cannot open it
    for key in ("draft", "other"):
        refused = await client.get(f"/t/{a.slug}/portal/invoices/{made[key].id}/pdf")
        assert refused.status_code == 404, key


async def test_the_invoice_list_pages(client: Client, firms: Firms, clean_db: Backend) -> None:
    a = firms.a
    async with scoped(clean_db, a.tenant) as db:
        await complete_profile(db)
        numbers = [(await _issue(db, a, a.org, TRAVEL)).number for _ in range(23)]
        await db.commit()
    await _contact(clean_db, a, a.org, "helmi@asiakas.example")
    await client.login("helmi@asiakas.example")
    first = text_of(await client.get(f"/t/{a.slug}/portal/invoices"))
    second = text_of(await client.get(f"/t/{a.slug}/portal/invoices?page=2"))
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert f" {numbers[-1]} " in first and f" {numbers[-1]} " not in second  # newest first
    assert f" {numbers[0]} " in second and f" {numbers[0]} " not in first
    # The firm's preview pages too, its links keeping the organisation.
    await client.login(a.owner.user.email)
    preview = await client.get(f"/t/{a.slug}/portal/invoices?org={a.org.id}")
    assert preview.status_code == 200 and "Page 1 of 2" in text_of(preview)
    assert f"?org={a.org.id}&amp;page=2" in preview.text
    later = text_of(await client.get(f"/t/{a.slug}/portal/invoices?org={a.org.id}&page=2"))
    assert "Page 2 of 2" in later and f" {numbers[0]} " in later


async def test_others_get_no_invoices(client: Client, firms: Firms, clean_db: Backend) -> None:
    """Another organisation's HR contact sees only theirs; a supervisee, a supervisor and
    firm B's HR contact are refused or find nothing."""
    a, b = firms.a, firms.b
    made = await _arrange(clean_db, a)
    other_org = await add_client_org(clean_db.owner, a.tenant, "Kolmaskunta")
    await _contact(clean_db, a, other_org, "olli@kolmas.example", "Olli HR")
    await client.login("olli@kolmas.example")
    page = await client.get(f"/t/{a.slug}/portal/invoices")
    assert page.status_code == 200 and "No invoices yet." in page.text
    refused = await client.get(f"/t/{a.slug}/portal/invoices/{made['paid'].id}/pdf")
    assert refused.status_code == 404

    await bind_supervisee_login(clean_db, a, a.supervisee, "sanna@asiakas.example")
    for email in ("sanna@asiakas.example", a.supervisor.user.email):
        await client.login(email)
        for url in ("invoices", f"invoices/{made['paid'].id}/pdf"):
            response = await client.get(f"/t/{a.slug}/portal/{url}")
            assert response.status_code in (403, 404), (email, url)
            assert not response.content.startswith(b"%PDF")

    await _contact(clean_db, b, b.org, "bea@beta-asiakas.example", "Bea HR")
    await client.login("bea@beta-asiakas.example")
    assert (await client.get(f"/t/{b.slug}/portal/invoices")).status_code == 200
    other_firm = await client.get(f"/t/{b.slug}/portal/invoices/{made['paid'].id}/pdf")
    assert other_firm.status_code == 404
    assert (await client.get(f"/t/{a.slug}/portal/invoices")).status_code in (403, 404)


async def test_the_agreement_page_shows_invoicing_to_the_office_only(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    made = await _arrange(clean_db, a)  # one held session invoiced at 120.00
    await _held(clean_db, a, 10)
    await _held(clean_db, a, 5)  # two billable sessions not invoiced yet
    await client.login(a.owner.user.email)
    page = await client.get(f"/t/{a.slug}/agreements/{a.agreement.id}")
    assert page.status_code == 200
    section = text_of(page).split("Invoicing", 1)[1]
    price = a.agreement.price_cents
    assert "Sessions invoiced 1 session, €120.00" in section or "1 session, 120" in section
    unbilled = section.split("Billable, not yet invoiced", 1)[1][:60]
    expected_sessions = 2 + (1 if a.session.billable else 0)
    assert f"{expected_sessions} sessions" in unbilled, unbilled
    assert f"{price * expected_sessions // 100}" in unbilled.replace(",", "").replace(" ", "")
    assert f"/t/{a.slug}/billing/invoices/{made['paid'].id}" in page.text
    assert f"/billing/invoices/{made['open'].id}" not in page.text  # no line of the agreement

    await client.login(a.supervisor.user.email)
    supervisor_page = await client.get(f"/t/{a.slug}/agreements/{a.agreement.id}")
    assert supervisor_page.status_code == 200
    assert 'id="invoicing"' not in supervisor_page.text


async def test_credited_work_is_no_longer_invoiced(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    made = await _arrange(clean_db, a)
    async with scoped(clean_db, a.tenant) as db:
        note = await invoices.credit(db, a.owner, made["paid"].id, restores_sessions=True)
        await invoices.issue(db, a.owner, note.id)
        await db.commit()
    await client.login(a.admin.user.email)
    page = text_of(await client.get(f"/t/{a.slug}/agreements/{a.agreement.id}"))
    invoiced = page.split("Sessions invoiced", 1)[1][:40]
    assert invoiced.startswith(" 0 sessions"), invoiced
    assert Role.ADMIN  # the admin, as the owner, sees money


async def test_owners_preview_an_organisations_invoice_list(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    made = await _arrange(clean_db, a)
    await client.login(a.owner.user.email)
    page = await client.get(f"/t/{a.slug}/portal/invoices?org={a.org.id}")
    assert page.status_code == 200 and "Preview" in page.text
    assert f"/t/{a.slug}/billing/invoices/{made['paid'].id}" in page.text
    assert "Open in billing" in page.text and "Download PDF" not in page.text
    assert f" {made['other'].number} " not in text_of(page)
    assert (await client.get(f"/t/{a.slug}/portal/invoices")).status_code == 200  # how to
    await client.login(a.supervisor.user.email)
    refused = await client.get(f"/t/{a.slug}/portal/invoices?org={a.org.id}")
    assert refused.status_code == 403


async def test_the_portal_preview_links_to_the_invoice_preview(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    await client.login(a.owner.user.email)
    preview = await client.get(f"/t/{a.slug}/portal/?org={a.org.id}")
    assert preview.status_code == 200
    assert f'href="/t/{a.slug}/portal/invoices?org={a.org.id}"' in preview.text
