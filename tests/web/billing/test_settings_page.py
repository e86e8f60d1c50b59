"""The billing settings page: the office edits the profile and the logo; nobody else sees it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from luotsi.billing import invoices
from tests.billing.arrange import add_draft, complete_profile
from tests.conftest import Backend, Client, both_stores, scoped
from tests.factories import Firms

URL = "/t/alfa/billing/settings"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def settings_form(**changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "legal_name": "Alfa Työnohjaus Oy",
        "business_id": "0737546-2",
        "street": "Hämeenkatu 1 A",
        "postal_code": "33100",
        "city": "Tampere",
        "email": "laskutus@alfa.example",
        "phone": "040 555 1234",
        "iban": "FI21 1234 5600 0007 85",
        "bic": "",
        "next_number": "1000",
        "payment_term_days": "14",
        "penalty_interest": "Viivästyskorko korkolain mukaan.",
        "reminder_fee": "5.00",
        "language": "fi",
        "reference_type": "national",
        "vat_exemption_text": "",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _png(size: tuple[int, int] = (1200, 300)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


async def test_a_new_profile_lists_what_invoices_still_need(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get(URL)
    assert page.status_code == 200
    banner = page.text.split('id="billing-missing"')[1].split("</div>")[0]
    for label in ("Street address", "Postal code", "City", "IBAN", "BIC"):
        assert f"<li>{label}</li>" in banner
    assert "<li>Legal name</li>" not in banner  # signup gave the firm's name and business ID
    assert 'value="Alfa Työnohjaus Oy"' in page.text
    assert 'value="FI07375462"' in page.text and "readonly" in page.text  # the VAT number
    assert 'name="full_names_on_lines" value="1" ' in page.text
    assert 'name="full_names_on_lines" value="1" aria-describedby' in page.text
    assert "checked" not in page.text.split('name="full_names_on_lines"')[1].split(">")[0]


async def test_the_admin_saves_the_settings_and_the_banner_goes(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.admin.user.email)
    saved = await client.post(URL, settings_form(full_names_on_lines="1", reminder_fee="7,50"))
    assert saved.status_code == 303 and saved.headers["location"] == URL
    page = await client.get(URL)
    assert "The billing settings have been saved." in page.text
    assert 'id="billing-missing"' not in page.text
    assert 'value="NDEAFIHH"' in page.text  # the BIC from the IBAN's bank
    assert 'value="7.50"' in page.text and 'value="040 5551234"' in page.text
    assert (
        'name="full_names_on_lines" value="1" aria-describedby="full_names_on_lines-help" checked'
        in page.text
    )


async def test_a_wrong_field_is_shown_and_nothing_is_saved(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    refused = await client.post(URL, settings_form(iban="FI21 1234", city="Turku"))
    assert refused.status_code == 422
    assert "Enter the account number as an IBAN" in refused.text
    assert 'value="Turku"' in refused.text  # what was typed stays in the form
    assert 'value="Turku"' not in (await client.get(URL)).text


async def test_htmx_gets_the_form_part_back(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    refused = await client.post(URL, settings_form(postal_code="331"), htmx=True)
    assert refused.status_code == 422
    assert "A postal code has five digits" in refused.text
    assert "<html" not in refused.text and 'id="billing-settings"' in refused.text
    saved = await client.post(URL, settings_form(), htmx=True)
    assert saved.headers["HX-Redirect"] == URL


async def test_the_series_start_is_read_only_once_invoices_are_issued(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    async with scoped(clean_db, firms.a.tenant) as db:
        await complete_profile(db, next_number=1000)
        await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
        await db.commit()
    await client.login(firms.a.owner.user.email)
    page = await client.get(URL)
    assert "Next invoice number" in page.text and "cannot be restarted" in page.text
    restarted = await client.post(URL, settings_form(next_number="100"))
    assert restarted.status_code == 422 and "can no longer change" in restarted.text
    kept = await client.post(URL, settings_form(next_number="1001"))
    assert kept.status_code == 303


async def test_the_office_finds_billing_in_the_navigation(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    dashboard = await client.get("/t/alfa/")
    assert 'href="/t/alfa/billing/invoices" >Billing' in dashboard.text.replace("\n", "")
    page = await client.get(URL)
    assert 'href="/t/alfa/billing/settings" aria-current="page"' in page.text


async def test_a_supervisor_has_no_billing(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert (await client.get(URL)).status_code == 403
    assert (await client.post(URL, settings_form(legal_name="Kaapattu Oy"))).status_code == 403
    logo = await client.post(f"{URL}/logo", files={"logo": ("logo.png", _png(), "image/png")})
    assert logo.status_code == 403
    assert (await client.get(f"{URL}/logo")).status_code == 403
    assert "/billing/" not in (await client.get("/t/alfa/")).text


async def test_another_firm_gets_404(client: Client, firms: Firms) -> None:
    await client.login(firms.b.owner.user.email)
    assert (await client.get(URL)).status_code == 404
    assert (await client.post(URL, settings_form(legal_name="Beeta Oy"))).status_code == 404
    assert (await client.get("/t/beeta/billing/settings")).status_code == 200  # their own


@both_stores
async def test_a_logo_is_uploaded_re_encoded_served_and_removed(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    assert (await client.get(f"{URL}/logo")).status_code == 404
    wrong = await client.post(f"{URL}/logo", files={"logo": ("logo.txt", b"hello", "text/plain")})
    assert wrong.status_code == 422 and "JPEG, PNG or WebP" in wrong.text

    uploaded = await client.post(f"{URL}/logo", files={"logo": ("logo.png", _png(), "image/png")})
    assert uploaded.status_code == 303
    page = await client.get(URL)
    assert "The logo has been saved." in page.text and f'src="{URL}/logo?v=' in page.text
    served = await client.get(f"{URL}/logo")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(served.content)) as logo:
        assert logo.format == "PNG" and logo.size == (800, 200)

    removed = await client.post(f"{URL}/logo/delete")
    assert removed.status_code == 303 and (await client.get(f"{URL}/logo")).status_code == 404
