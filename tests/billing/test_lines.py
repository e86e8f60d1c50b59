"""Editing drafts: hand-added lines, work lines' descriptions, the buyer reference and notes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, lines
from luotsi.billing.lines import LineInput
from luotsi.billing.models import InvoiceLine
from luotsi.platform import i18n
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.factories import Firms


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages are asserted in English."""
    with i18n.language("en"):
        yield


async def _lines_of(db: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    found = await db.scalars(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice_id)
        .order_by(InvoiceLine.position)
        .execution_options(populate_existing=True)
    )
    return list(found)


async def test_a_hand_line_reads_decimal_commas_and_rounds_once(
    db: AsyncSession, firms: Firms
) -> None:
    draft = await add_draft(db, firms.a.org)
    line = await lines.add_line(
        db,
        firms.a.owner,
        draft.id,
        LineInput("Kilometrikorvaus", "12,5", "km", "0,59", "2550"),
    )
    assert line.quantity == Decimal("12.5") and line.unit == "km"
    assert line.unit_cents == 59
    assert line.net_cents == 738  # 12.5 x 0.59 = 7.375 -> 7.38
    assert line.vat_basis_points == 2550
    assert [saved.description for saved in await _lines_of(db, draft.id)] == [
        "Matkakulut",
        "Kilometrikorvaus",
    ]


async def test_every_wrong_field_of_a_line_is_named(db: AsyncSession, firms: Firms) -> None:
    draft = await add_draft(db, firms.a.org)
    with pytest.raises(Invalid) as refused:
        await lines.add_line(db, firms.a.owner, draft.id, LineInput(" ", "0", "l", "abc", "2400"))
    assert set(refused.value.errors) == {
        "description",
        "quantity",
        "unit",
        "unit_price",
        "vat_rate",
    }
    assert "greater than zero" in refused.value.errors["quantity"]


@pytest.mark.parametrize("quantity", ["-1", "1,234", "1e3", "100000"])
async def test_odd_quantities_are_refused_on_an_invoice(
    db: AsyncSession, firms: Firms, quantity: str
) -> None:
    draft = await add_draft(db, firms.a.org)
    with pytest.raises(Invalid) as refused:
        await lines.add_line(
            db, firms.a.owner, draft.id, LineInput("Aineisto", quantity, "kpl", "10")
        )
    assert set(refused.value.errors) == {"quantity"}


async def test_a_hand_line_is_changed_and_removed(db: AsyncSession, firms: Firms) -> None:
    draft = await add_draft(db, firms.a.org, Row("Matkakulut"), Row("Aineisto", 1000))
    first, second = await _lines_of(db, draft.id)
    await lines.update_line(
        db, firms.a.admin, first.id, LineInput("Matkat 3.11.", "2", "kpl", "45,00", "0")
    )
    await lines.remove_line(db, firms.a.owner, second.id)
    (changed,) = await _lines_of(db, draft.id)
    assert (changed.description, changed.quantity, changed.unit_cents) == (
        "Matkat 3.11.",
        Decimal(2),
        4500,
    )
    assert (changed.net_cents, changed.vat_basis_points) == (9000, 0)


async def test_a_session_line_keeps_its_amounts_and_takes_a_new_description(
    db: AsyncSession, firms: Firms
) -> None:
    work = Row(
        "Työnohjaus", 15000, session_id=firms.a.session.id, agreement_id=firms.a.agreement.id
    )
    draft = await add_draft(db, firms.a.org, work)
    (line,) = await _lines_of(db, draft.id)
    await lines.update_line(
        db, firms.a.owner, line.id, LineInput("Työnohjaus 3.11., S. S.", "9", "h", "1", "0")
    )
    (saved,) = await _lines_of(db, draft.id)
    assert saved.description == "Työnohjaus 3.11., S. S."
    assert (saved.quantity, saved.unit_cents, saved.net_cents) == (Decimal(1), 15000, 15000)
    with pytest.raises(Invalid) as refused:
        await lines.update_line(db, firms.a.owner, line.id, LineInput(""))
    assert set(refused.value.errors) == {"description"}
    await lines.remove_line(db, firms.a.owner, line.id)
    assert await _lines_of(db, draft.id) == []


async def test_buyer_reference_and_notes_are_kept_within_their_limits(
    db: AsyncSession, firms: Firms
) -> None:
    draft = await add_draft(db, firms.a.org)
    saved = await lines.update_draft(
        db, firms.a.owner, draft.id, "  PO 4711 ", "Kiitos tilauksesta."
    )
    assert (saved.buyer_reference, saved.notes) == ("PO 4711", "Kiitos tilauksesta.")
    with pytest.raises(Invalid) as refused:
        await lines.update_draft(db, firms.a.owner, draft.id, "x" * 71, "y" * 2001)
    assert set(refused.value.errors) == {"buyer_reference", "notes"}


async def test_nothing_of_an_issued_invoice_is_edited(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db)
    issued = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
    (line,) = await _lines_of(db, issued.id)
    attempts = [
        lines.add_line(db, firms.a.owner, issued.id, LineInput("Lisä", "1", "kpl", "10")),
        lines.update_line(db, firms.a.owner, line.id, LineInput("Muutettu", "1", "kpl", "10")),
        lines.remove_line(db, firms.a.owner, line.id),
        lines.update_draft(db, firms.a.owner, issued.id, "PO", ""),
    ]
    for attempt in attempts:
        with pytest.raises(Invalid) as refused:
            await attempt
        assert "credit note" in refused.value.errors["invoice"]
    assert [saved.description for saved in await _lines_of(db, issued.id)] == ["Matkakulut"]


async def test_a_credit_note_takes_negative_hand_lines(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db)
    issued = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
    note = await invoices.credit(db, firms.a.owner, issued.id)
    with pytest.raises(Invalid) as refused:
        await lines.add_line(db, firms.a.owner, note.id, LineInput("Hyvitys", "1", "kpl", "10"))
    assert "negative" in refused.value.errors["quantity"]
    line = await lines.add_line(db, firms.a.owner, note.id, LineInput("Hyvitys", "-1", "kpl", "10"))
    assert line.net_cents == -1000


async def test_only_owners_and_admins_edit_and_only_their_firms_drafts(
    db: AsyncSession, firms: Firms
) -> None:
    draft = await add_draft(db, firms.a.org)
    (line,) = await _lines_of(db, draft.id)
    with pytest.raises(Forbidden):
        await lines.add_line(db, firms.a.supervisor, draft.id, LineInput("X", "1", "kpl", "1"))
    with pytest.raises(Forbidden):
        await lines.remove_line(db, firms.a.supervisor, line.id)
    # Firm B's draft and line are not found through firm A's session.
    others = [
        lines.add_line(db, firms.a.owner, firms.b.invoice.id, LineInput("X", "1", "kpl", "1")),
        lines.update_line(db, firms.a.owner, firms.b.invoice_line.id, LineInput("X")),
        lines.remove_line(db, firms.a.owner, firms.b.invoice_line.id),
        lines.update_draft(db, firms.a.owner, firms.b.invoice.id, "", ""),
    ]
    for attempt in others:
        with pytest.raises(NotFound):
            await attempt
