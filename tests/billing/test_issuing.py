"""Issuing: the series, the reference, the frozen rows, and work billed once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Column, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices
from luotsi.billing.document import DocumentKind
from luotsi.billing.models import Invoice, InvoiceLine, InvoiceStatus
from luotsi.billing.references import ReferenceType, is_valid
from luotsi.platform import clock
from luotsi.platform.errors import Forbidden, Invalid
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.factories import Firms


async def test_issuing_numbers_dates_and_totals_a_draft(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db, next_number=2000)
    draft = await add_draft(
        db, firms.a.org, Row(unit_cents=12000), Row("Aineisto", 1999, "3", vat_basis_points=1400)
    )
    issued = await invoices.issue(db, firms.a.owner, draft.id)
    second = await invoices.issue(db, firms.a.admin, (await add_draft(db, firms.a.org)).id)
    assert (issued.number, second.number) == (2000, 2001)
    assert issued.reference == "20006" and is_valid(issued.reference)
    assert issued.issued_on == clock.today()
    assert (issued.due_on - issued.issued_on).days == firms.a.org.payment_term_days
    # 120.00 at 25.5 % = 30.60; 59.97 at 14 % = 8.3958 -> 8.40
    assert (issued.net_cents, issued.vat_cents) == (17997, 3060 + 840)
    assert issued.gross_cents == 17997 + 3900
    assert issued.seller is not None and issued.seller["iban"] == "FI21 1234 5600 0007 85"
    assert issued.buyer is not None and issued.buyer["name"] == firms.a.org.name


async def test_an_rf_firm_gets_rf_references(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db, reference_type=ReferenceType.RF)
    issued = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)
    assert issued.reference.startswith("RF") and is_valid(issued.reference)


async def test_issuing_is_refused_until_the_settings_are_complete(
    db: AsyncSession, firms: Firms
) -> None:
    draft = await add_draft(db, firms.a.org)
    with pytest.raises(Invalid) as refused:
        await invoices.issue(db, firms.a.owner, draft.id)
    assert "IBAN" in refused.value.errors["settings"]
    with pytest.raises(Forbidden):
        await invoices.issue(db, firms.a.supervisor, draft.id)


async def test_an_issued_invoice_and_its_lines_are_frozen_in_the_database(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    issued_id = (await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org)).id)).id
    await db.commit()
    # Every column of the invoice is the document, but the sums its payments and credit
    # notes keep (and the time of the change). The tenant wall refuses a new tenant_id
    # before the database sees it.
    kept = {"paid_cents", "credited_cents", "updated_at", "tenant_id"}
    attempts = [
        update(Invoice).where(Invoice.id == issued_id).values({column.name: _other(column)})
        for column in Invoice.__table__.columns
        if column.name not in kept
    ]
    attempts.append(
        update(InvoiceLine).where(InvoiceLine.invoice_id == issued_id).values(net_cents=1)
    )
    for attempt in attempts:
        with pytest.raises(DBAPIError, match="credit note"):
            await db.execute(attempt)
        await db.rollback()
    await db.execute(
        update(Invoice)
        .where(Invoice.id == issued_id)
        .values(paid_cents=Invoice.paid_cents + 5, credited_cents=Invoice.credited_cents + 7)
    )
    await db.commit()
    sums = select(Invoice.paid_cents, Invoice.credited_cents).where(Invoice.id == issued_id)
    stored = (await db.execute(sums)).one()
    assert tuple(stored) == (5, 7)
    with pytest.raises(Invalid):
        await invoices.delete_draft(db, firms.a.owner, issued_id)


def _other(column: Column[object]) -> object:
    """A value of ``column``'s type that no issued invoice holds."""
    if column.name == "kind":
        return DocumentKind.CREDIT_NOTE
    if column.name == "status":
        return InvoiceStatus.DRAFT
    if column.name == "reference_type":
        return ReferenceType.RF
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # a type of our own: its underlying type's
        python_type = column.type.impl_instance.python_type  # type: ignore[attr-defined]
    samples: dict[type, object] = {
        uuid.UUID: uuid.uuid4(),
        str: "x",
        int: 7,
        bool: True,
        date: date(2001, 2, 3),
        datetime: datetime(2001, 2, 3, tzinfo=UTC),
        dict: {"name": "x"},
    }
    return samples[python_type]


async def test_a_session_is_billed_once_until_a_credit_note_gives_it_back(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    work = Row("Työnohjaus", session_id=firms.a.session.id, agreement_id=firms.a.agreement.id)
    first = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org, work)).id)
    again = await add_draft(db, firms.a.org, work)
    with pytest.raises(Invalid) as refused:
        await invoices.issue(db, firms.a.owner, again.id)
    assert f"({first.number})" in refused.value.errors["invoice"]

    keep = await invoices.credit(db, firms.a.owner, first.id)
    await invoices.issue(db, firms.a.owner, keep.id)
    with pytest.raises(Invalid):  # credited without giving the session back
        await invoices.issue(db, firms.a.owner, again.id)
    with pytest.raises(Invalid):  # each line is credited once
        await invoices.credit(db, firms.a.owner, first.id)


async def test_a_credit_note_that_restores_makes_the_session_billable(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    work = Row("Työnohjaus", session_id=firms.a.session.id, agreement_id=firms.a.agreement.id)
    first = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org, work)).id)
    note = await invoices.credit(db, firms.a.owner, first.id, restores_sessions=True)
    note = await invoices.issue(db, firms.a.owner, note.id)
    assert note.number == first.number + 1 and note.gross_cents == -first.gross_cents
    again = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org, work)).id)
    assert again.number == note.number + 1


async def test_the_database_refuses_a_second_billing_of_a_session(
    db: AsyncSession, firms: Firms
) -> None:
    from luotsi.billing.models import BilledItem

    await complete_profile(db)
    work = Row("Työnohjaus", session_id=firms.a.session.id, agreement_id=firms.a.agreement.id)
    first = await invoices.issue(db, firms.a.owner, (await add_draft(db, firms.a.org, work)).id)
    await db.commit()
    db.add(BilledItem(invoice_id=first.id, session_id=firms.a.session.id))
    with pytest.raises(IntegrityError):
        await db.flush()
