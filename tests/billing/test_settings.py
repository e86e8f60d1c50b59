"""The billing settings: each field checked, nothing saved when one is wrong, the series start
fixed once invoices are issued, and the logo re-encoded as PNG."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices
from luotsi.billing import settings as billing_settings
from luotsi.billing.profile import get_profile, missing_settings
from luotsi.billing.references import ReferenceType
from luotsi.billing.settings import ProfileInput
from luotsi.platform import audit
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import language
from luotsi.platform.storage import FileStore
from tests.billing.arrange import add_draft, complete_profile
from tests.conftest import both_stores
from tests.factories import Firms


def valid_input(**changes: Any) -> ProfileInput:
    """Firm A's settings as a careful office would type them."""
    typed = ProfileInput(
        legal_name="  Alfa   Työnohjaus Oy ",
        business_id="07375462",
        street="Hämeenkatu 1 A",
        postal_code="33 100",
        city="Tampere",
        email="Laskutus@Alfa.example",
        phone="040 555 1234",
        iban="fi21 1234 5600 0007 85",
        bic="",
        next_number="5000",
        payment_term_days="21",
        penalty_interest="Viivästyskorko korkolain mukaan.",
        reminder_fee="5,50",
        language="sv",
        reference_type="rf",
        vat_exemption_text="Arvonlisäverolain 34 §:n mukainen terveydenhoitopalvelu.",
        full_names_on_lines=True,
    )
    return replace(typed, **changes)


def _image(fmt: str, size: tuple[int, int] = (1600, 400), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    colour: Any = (30, 90, 160, 0) if mode == "RGBA" else (30, 90, 160)
    Image.new(mode, size, colour).save(out, format=fmt)
    return out.getvalue()


async def test_a_complete_profile_is_saved_in_its_printed_form(
    db: AsyncSession, firms: Firms
) -> None:
    await billing_settings.update_profile(db, firms.a.owner, valid_input())
    db.expire_all()
    profile = await get_profile(db)
    assert profile.legal_name == "Alfa Työnohjaus Oy"
    assert profile.business_id == "0737546-2"
    assert (profile.street, profile.postal_code, profile.city) == (
        "Hämeenkatu 1 A",
        "33100",
        "Tampere",
    )
    assert (profile.email, profile.phone) == ("laskutus@alfa.example", "+358405551234")
    assert (profile.iban, profile.bic) == ("FI21 1234 5600 0007 85", "NDEAFIHH")
    assert (profile.next_number, profile.payment_term_days) == (5000, 21)
    assert profile.reminder_fee_cents == 550
    assert (profile.language, profile.reference_type) == ("sv", ReferenceType.RF)
    assert profile.vat_exemption_text.startswith("Arvonlisäverolain 34 §")
    assert profile.full_names_on_lines is True
    assert missing_settings(profile) == []


async def test_a_change_is_audited_without_the_values(db: AsyncSession, firms: Firms) -> None:
    await billing_settings.update_profile(db, firms.a.admin, valid_input())
    events = list(await db.scalars(select(audit.AuditEvent)))
    assert [(e.action, e.object_type) for e in events] == [
        (audit.SETTINGS_CHANGED, billing_settings.PROFILE_OBJECT)
    ]


@pytest.mark.parametrize(
    ("text", "cents"),
    [("5,00", 500), ("5", 500), ("5.5", 550), ("0", 0), ("40,00 €", 4000), ("12,3", 1230)],
)
def test_the_reminder_fee_is_read_in_euros(text: str, cents: int) -> None:
    assert billing_settings.parse_euros(text) == cents


def test_the_reminder_fee_is_shown_the_readers_way() -> None:
    with language("fi"):
        assert billing_settings.euro_text(550) == "5,50"
    with language("en"):
        assert billing_settings.euro_text(500) == "5.00"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"legal_name": "   "}, "legal_name"),
        ({"legal_name": "x" * 201}, "legal_name"),
        ({"business_id": ""}, "business_id"),
        ({"business_id": "0737546-3"}, "business_id"),  # wrong check digit
        ({"business_id": "Alfa"}, "business_id"),
        ({"postal_code": "3310"}, "postal_code"),
        ({"postal_code": "FI-33100"}, "postal_code"),
        ({"street": "x" * 201}, "street"),
        ({"city": "x" * 101}, "city"),
        ({"email": "laskutus at alfa"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"iban": "FI21 1234 5600 0007 86"}, "iban"),  # wrong check digits
        ({"iban": "", "bic": "NDEAFIHH"}, "iban"),
        ({"bic": "NDEA"}, "bic"),
        ({"next_number": "99"}, "next_number"),
        ({"next_number": "1000000000"}, "next_number"),
        ({"next_number": "first"}, "next_number"),
        ({"payment_term_days": "0"}, "payment_term_days"),
        ({"payment_term_days": "121"}, "payment_term_days"),
        ({"payment_term_days": ""}, "payment_term_days"),
        ({"penalty_interest": ""}, "penalty_interest"),
        ({"penalty_interest": "x" * 201}, "penalty_interest"),
        ({"reminder_fee": "40,01"}, "reminder_fee"),
        ({"reminder_fee": "-5"}, "reminder_fee"),
        ({"reminder_fee": "five"}, "reminder_fee"),
        ({"reminder_fee": "5,005"}, "reminder_fee"),
        ({"language": "de"}, "language"),
        ({"reference_type": "iso"}, "reference_type"),
        ({"vat_exemption_text": "x" * 201}, "vat_exemption_text"),
    ],
)
async def test_each_field_is_checked_and_nothing_is_saved(
    db: AsyncSession, firms: Firms, changes: dict[str, Any], field: str
) -> None:
    before = ProfileInput.of(await get_profile(db))
    with language("en"), pytest.raises(Invalid) as caught:
        await billing_settings.update_profile(db, firms.a.owner, valid_input(**changes))
    assert set(caught.value.errors) == {field}
    assert caught.value.errors[field]  # a message, in words
    db.expire_all()
    assert ProfileInput.of(await get_profile(db)) == before


async def test_every_wrong_field_is_named_at_once(db: AsyncSession, firms: Firms) -> None:
    wrong = valid_input(legal_name="", iban="FI00", reminder_fee="50", language="")
    with pytest.raises(Invalid) as caught:
        await billing_settings.update_profile(db, firms.a.owner, wrong)
    assert set(caught.value.errors) == {"legal_name", "iban", "reminder_fee", "language"}


async def test_optional_contact_details_may_stay_empty(db: AsyncSession, firms: Firms) -> None:
    profile = await billing_settings.update_profile(
        db, firms.a.owner, valid_input(email="", phone="", street="", vat_exemption_text="")
    )
    assert (profile.email, profile.phone, profile.vat_exemption_text) == ("", "", "")
    with language("en"):
        assert missing_settings(profile) == ["Street address"]


async def test_the_series_start_is_fixed_once_an_invoice_is_issued(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db, next_number=2000)
    await billing_settings.update_profile(db, firms.a.owner, valid_input(next_number="3000"))
    assert not await billing_settings.series_started(db)
    issued = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
    assert issued.number == 3000
    assert await billing_settings.series_started(db)

    with language("en"), pytest.raises(Invalid) as caught:
        await billing_settings.update_profile(db, firms.a.owner, valid_input(next_number="100"))
    assert "issued" in caught.value.errors["next_number"]
    # The rest may still change; the counter stays where issuing left it.
    saved = await billing_settings.update_profile(
        db, firms.a.owner, valid_input(next_number="3001", payment_term_days="30")
    )
    assert (saved.next_number, saved.payment_term_days) == (3001, 30)
    second = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
    assert second.number == 3001


async def test_only_the_office_changes_billing_settings(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    with pytest.raises(Forbidden):
        await billing_settings.update_profile(db, firms.a.supervisor, valid_input())
    with pytest.raises(Forbidden):
        await billing_settings.set_logo(db, files, firms.a.supervisor, _image("PNG"))
    with pytest.raises(Forbidden):
        await billing_settings.get_settings(db, firms.a.supervisor)


@both_stores
async def test_a_logo_is_stored_as_a_shrunk_png(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    with pytest.raises(NotFound):
        await billing_settings.logo_png(db, files, firms.a.owner)
    profile = await billing_settings.set_logo(db, files, firms.a.owner, _image("JPEG"))
    assert profile.has_logo
    stored = await billing_settings.logo_png(db, files, firms.a.admin)
    with Image.open(io.BytesIO(stored)) as logo:
        assert logo.format == "PNG"
        assert logo.size == (billing_settings.LOGO_SIZE, billing_settings.LOGO_SIZE // 4)


async def test_a_transparent_logo_stays_transparent(
    db: AsyncSession, firms: Firms, files: FileStore
) -> None:
    await billing_settings.set_logo(db, files, firms.a.owner, _image("PNG", (200, 100), "RGBA"))
    with Image.open(io.BytesIO(await billing_settings.logo_png(db, files, firms.a.owner))) as logo:
        assert logo.mode == "RGBA" and logo.getpixel((0, 0))[3] == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose a logo"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "JPEG, PNG or WebP"),
        (_image("GIF", (10, 10)), "JPEG, PNG or WebP"),
        (_image("PNG")[:200], "damaged"),
        (b"\x89PNG" + b"\x00" * billing_settings.MAX_LOGO_BYTES, "2 MB"),
    ],
    ids=["empty", "svg", "gif", "truncated", "oversized"],
)
async def test_a_bad_logo_is_refused_with_a_reason(
    db: AsyncSession, firms: Firms, data: bytes, message: str, files: FileStore
) -> None:
    with language("en"), pytest.raises(Invalid) as caught:
        await billing_settings.set_logo(db, files, firms.a.owner, data)
    assert message in caught.value.errors["logo"]
    assert not (await get_profile(db)).has_logo


@both_stores
async def test_a_removed_logo_is_gone(db: AsyncSession, firms: Firms, files: FileStore) -> None:
    await billing_settings.set_logo(db, files, firms.a.owner, _image("PNG"))
    profile = await billing_settings.remove_logo(db, files, firms.a.owner)
    assert not profile.has_logo
    with pytest.raises(NotFound):
        await billing_settings.logo_png(db, files, firms.a.owner)
