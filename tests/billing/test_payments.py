"""Payments: an invoice's state derived from them, recording by hand, bank statements."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices, overview, payments
from luotsi.billing.models import Invoice, Payment
from luotsi.billing.payments import InvoiceState
from luotsi.billing.profile import get_profile
from luotsi.billing.references import ReferenceType, formatted
from luotsi.platform import clock, i18n
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.paging import Sort
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.billing.statements import ENTITY_BOMB, Credit, camt054
from tests.conftest import Backend, scoped
from tests.factories import Firms


async def issued(db: AsyncSession, firms: Firms, *rows: Row) -> Invoice:
    """A new issued invoice of firm A (120.00 + 25.5 % VAT = 150.60 unless ``rows`` say)."""
    draft = await add_draft(db, firms.a.org, *rows)
    return await invoices.issue(db, firms.a.owner, draft.id)


async def test_states_of_draft_open_partly_paid_paid_and_overdue(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    draft = await add_draft(db, firms.a.org)
    unpaid, partly, whole = [await issued(db, firms) for _ in range(3)]
    assert unpaid.gross_cents == 15060
    await payments.record_payment(db, firms.a.owner, partly.id, clock.today(), 5000)
    await payments.record_payment(db, firms.a.admin, whole.id, clock.today(), 10000)
    await payments.record_payment(db, firms.a.admin, whole.id, clock.today(), 5060)
    ids = [draft.id, unpaid.id, partly.id, whole.id]

    today = await payments.states(db, ids)
    assert [today[i].state for i in ids] == [
        InvoiceState.DRAFT,
        InvoiceState.OPEN,
        InvoiceState.PARTLY_PAID,
        InvoiceState.PAID,
    ]
    assert (today[partly.id].paid_cents, today[partly.id].open_cents) == (5000, 10060)
    assert today[whole.id].open_cents == 0

    assert unpaid.due_on is not None
    on_due_day = await payments.states(db, ids, today=unpaid.due_on)
    assert on_due_day[unpaid.id].state is InvoiceState.OPEN
    day_after = await payments.states(db, ids, today=unpaid.due_on + timedelta(days=1))
    assert [day_after[i].state for i in ids] == [
        InvoiceState.DRAFT,
        InvoiceState.OVERDUE,
        InvoiceState.OVERDUE,  # partly paid and past due: still overdue
        InvoiceState.PAID,
    ]
    with i18n.language("fi"):
        assert InvoiceState.PARTLY_PAID.label == "Osittain maksettu"


async def test_a_credited_invoice_and_its_credit_note(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db)
    whole = await issued(db, firms)
    two_lines = await issued(db, firms, Row("Työnohjaus", 10000), Row("Matkakulut", 2000))
    note = await invoices.credit(db, firms.a.owner, whole.id)
    draft_state = await payments.states(db, [whole.id])
    assert draft_state[whole.id].state is InvoiceState.OPEN  # a draft credit note counts not
    note = await invoices.issue(db, firms.a.owner, note.id)
    travel = next(
        line
        for line in (await invoices.get_invoice(db, firms.a.owner, two_lines.id)).lines
        if line.description == "Matkakulut"
    )
    part = await invoices.credit(db, firms.a.owner, two_lines.id, [travel.id])
    await invoices.issue(db, firms.a.owner, part.id)

    found = await payments.states(db, [whole.id, note.id, two_lines.id])
    assert found[whole.id].state is InvoiceState.CREDITED
    assert (found[whole.id].credited_cents, found[whole.id].open_cents) == (15060, 0)
    assert found[note.id].state is InvoiceState.CREDIT_NOTE and found[note.id].open_cents == 0
    assert found[two_lines.id].state is InvoiceState.OPEN
    assert found[two_lines.id].open_cents == 12550  # 100.00 + 25.5 % VAT left to pay


async def test_state_filter_and_balance_columns_work_in_sql(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db)
    unpaid, paid = await issued(db, firms), await issued(db, firms)
    await payments.record_payment(db, firms.a.owner, paid.id, clock.today(), paid.gross_cents)
    assert unpaid.due_on is not None
    later = unpaid.due_on + timedelta(days=3)

    def numbers(*wanted: InvoiceState) -> object:
        query = payments.state_filter(
            select(Invoice.number).order_by(Invoice.number), *wanted, today=later
        )
        return db.scalars(query)

    assert list(await numbers(InvoiceState.OVERDUE)) == [unpaid.number]
    assert list(await numbers(InvoiceState.PAID, InvoiceState.OVERDUE)) == [
        unpaid.number,
        paid.number,
    ]
    balance = payments.balance_columns(today=later)
    rows = await db.execute(
        select(Invoice.number, balance.open_cents)
        .where(Invoice.number.is_not(None))
        .order_by(Invoice.number)
    )
    assert rows.tuples().all() == [(unpaid.number, 15060), (paid.number, 0)]


async def test_a_payment_needs_an_issued_invoice_a_sum_and_a_past_day(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    invoice = await issued(db, firms)
    draft = await add_draft(db, firms.a.org)
    note = await invoices.credit(db, firms.a.owner, invoice.id)
    note = await invoices.issue(db, firms.a.owner, note.id)
    with i18n.language("en"):
        with pytest.raises(Invalid) as refused:
            await payments.record_payment(
                db, firms.a.owner, invoice.id, clock.today() + timedelta(days=1), 0, "x" * 301
            )
        assert "future" in refused.value.errors["paid_on"]
        assert "zero" in refused.value.errors["amount"]
        assert "300" in refused.value.errors["note"]
        with pytest.raises(Invalid) as refused:
            await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), None)
        assert "in euros" in refused.value.errors["amount"]
        for not_payable in (draft.id, note.id):
            with pytest.raises(Invalid, match="issued invoices only"):
                await payments.record_payment(db, firms.a.owner, not_payable, clock.today(), 100)
    with pytest.raises(Forbidden):
        await payments.record_payment(db, firms.a.supervisor, invoice.id, clock.today(), 100)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("125,50", 12550), (" 5 ", 500), ("-5", -500), ("\u221212,3", -1230), ("1 000 €", 100000)],
)
def test_a_payment_amount_is_read_in_euros_with_its_sign(text: str, cents: int) -> None:
    assert payments.parse_payment_amount(text) == cents


@pytest.mark.parametrize("text", ["", "-", "abc", "12,345", "--5", "1 000 000"])
def test_what_is_not_a_payment_amount_is_none(text: str) -> None:
    assert payments.parse_payment_amount(text) is None


async def test_an_over_payment_and_a_correction_are_recorded_and_shown(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    invoice = await issued(db, firms)
    yesterday = clock.today() - timedelta(days=1)
    await payments.record_payment(db, firms.a.owner, invoice.id, yesterday, 20000, "tuplana")
    balance = await payments.balance_of(db, invoice.id)
    assert balance.state is InvoiceState.PAID and balance.overpaid_cents == 20000 - 15060
    refund = await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), -4940)
    assert (await payments.balance_of(db, invoice.id)).open_cents == 0
    await payments.delete_payment(db, firms.a.owner, refund.id)
    listed = await payments.payments_of(db, firms.a.owner, invoice.id)
    assert [(p.amount_cents, p.note) for p in listed] == [(20000, "tuplana")]


async def test_a_statement_matches_national_and_rf_references(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    national = await issued(db, firms)
    (await get_profile(db)).reference_type = ReferenceType.RF
    rf = await issued(db, firms)
    assert rf.reference.startswith("RF")
    rf_national_part = rf.reference[4:]  # the payer typed the national reference inside it
    data = camt054(
        clock.today(),
        Credit(15060, formatted(national.reference), archive="A-1"),
        Credit(15060, rf_national_part, archive="A-2", payer="Hyvinvointialue"),
    )
    result = await payments.import_statement(db, firms.a.owner, data)
    assert [p.invoice_id for p in result.paid] == [national.id, rf.id]
    assert not (result.partial or result.overpaid or result.unmatched or result.duplicates)
    found = await payments.states(db, [national.id, rf.id])
    assert {b.state for b in found.values()} == {InvoiceState.PAID}
    bank = await payments.payments_of(db, firms.a.owner, rf.id)
    assert [(p.payer, p.archive_ref, p.paid_on) for p in bank] == [
        ("Hyvinvointialue", "A-2", clock.today())
    ]


async def test_a_statement_sorts_partial_over_and_unmatched_payments(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    first, second = await issued(db, firms), await issued(db, firms)
    data = camt054(
        clock.today(),
        Credit(5000, first.reference, archive="P-1"),
        Credit(10060, first.reference, archive="P-2"),  # the rest: now paid
        Credit(20000, second.reference, archive="P-3"),
        Credit(777, "", archive="P-4", message="lasku 1000"),
        Credit(800, "RF18 5390 0754 7034", archive="P-5"),  # a reference of nobody's invoice
    )
    result = await payments.import_statement(db, firms.a.owner, data)
    assert [p.archive_ref for p in result.partial] == ["P-1"]
    assert [p.archive_ref for p in result.paid] == ["P-2"]
    assert [p.archive_ref for p in result.overpaid] == ["P-3"]
    assert [p.archive_ref for p in result.unmatched] == ["P-4", "P-5"]
    with i18n.language("en"):
        assert result.summary() == "5 payments added, 3 matched to invoices, 2 to match by hand."
    overpaid = await payments.balance_of(db, second.id)
    assert overpaid.state is InvoiceState.PAID and overpaid.overpaid_cents == 20000 - 15060


async def test_an_unmatched_payment_is_matched_by_hand(db: AsyncSession, firms: Firms) -> None:
    await complete_profile(db)
    invoice = await issued(db, firms)
    data = camt054(
        clock.today(), Credit(15060, "", archive="U-1", message=f"lasku {invoice.number}")
    )
    await payments.import_statement(db, firms.a.owner, data)
    [waiting] = (await payments.unmatched_payments(db, firms.a.owner)).items
    assert waiting.note == f"lasku {invoice.number}"
    with pytest.raises(Forbidden):
        await payments.match_payment(db, firms.a.supervisor, waiting.id, invoice.id)
    draft = await add_draft(db, firms.a.org)
    with pytest.raises(Invalid):
        await payments.match_payment(db, firms.a.owner, waiting.id, draft.id)
    await payments.match_payment(db, firms.a.owner, waiting.id, invoice.id)
    assert (await payments.unmatched_payments(db, firms.a.owner)).items == []
    assert (await payments.balance_of(db, invoice.id)).state is InvoiceState.PAID
    with pytest.raises(Invalid, match="Tiliotteelta"):
        await payments.delete_payment(db, firms.a.owner, waiting.id)


async def test_a_payment_matched_elsewhere_leaves_one_invoice_and_pays_the_other(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    first, second = await issued(db, firms), await issued(db, firms)
    data = camt054(clock.today(), Credit(15060, formatted(first.reference), archive="M-1"))
    [payment] = (await payments.import_statement(db, firms.a.owner, data)).matched

    async def paid() -> tuple[int, int]:
        found = await payments.states(db, [first.id, second.id])
        return found[first.id].paid_cents, found[second.id].paid_cents

    assert await paid() == (15060, 0)
    await payments.match_payment(db, firms.a.owner, payment.id, second.id)
    assert await paid() == (0, 15060)
    assert (await payments.balance_of(db, first.id)).state is InvoiceState.OPEN
    await payments.match_payment(db, firms.a.owner, payment.id, second.id)  # no change
    assert await paid() == (0, 15060)
    await payments.match_payment(db, firms.a.owner, payment.id, None)
    assert await paid() == (0, 0)
    assert [p.id for p in (await payments.unmatched_payments(db, firms.a.owner)).items] == [
        payment.id
    ]


async def test_payments_recorded_at_once_on_one_invoice_all_count(
    clean_db: Backend, firms: Firms
) -> None:
    """Each request adds its payment to the invoice's sum under the row's lock, so none is
    lost when several land at the same moment (through separate connections)."""
    if not clean_db.is_postgres:
        pytest.skip(
            "SQLite lets one connection write at a time: concurrent writes are PostgreSQL's"
        )
    async with scoped(clean_db, firms.a.tenant) as db:
        await complete_profile(db)
        invoice = await issued(db, firms)
        await db.commit()
    start = asyncio.Event()

    async def pay(cents: int) -> None:
        async with scoped(clean_db, firms.a.tenant) as db:
            await db.connection()
            await start.wait()
            await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), cents)
            await db.commit()

    tasks = [asyncio.ensure_future(pay(cents)) for cents in (1000, 2000, 3000, 4000, 5000)]
    start.set()
    await asyncio.gather(*tasks)
    async with scoped(clean_db, firms.a.tenant) as db:
        balance = await payments.balance_of(db, invoice.id)
        recorded = await db.scalar(select(func.sum(Payment.amount_cents)))
    assert balance.paid_cents == recorded == 15000
    assert balance.open_cents == 60 and balance.state is InvoiceState.PARTLY_PAID


async def test_importing_the_same_file_again_adds_nothing_and_says_so(
    db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    invoice = await issued(db, firms)
    data = camt054(
        clock.today(),
        Credit(5000, invoice.reference, archive="R-1"),
        Credit(300, ""),  # no archive reference from this bank: still imported once
        Credit(300, ""),  # ... and a second identical entry is its own payment
    )
    first = await payments.import_statement(db, firms.a.owner, data)
    await db.commit()
    assert first.added == 3
    again = await payments.import_statement(db, firms.a.owner, data)
    await db.commit()
    assert again.added == 0 and len(again.duplicates) == 3
    with i18n.language("en"):
        assert again.summary() == "Nothing new: all 3 payments of the file were imported before."
    assert await db.scalar(select(func.count()).select_from(Payment)) == 3
    assert (await payments.balance_of(db, invoice.id)).paid_cents == 5000


async def test_a_hostile_or_broken_file_is_refused_with_the_reason(
    db: AsyncSession, firms: Firms
) -> None:
    with i18n.language("en"):
        with pytest.raises(Invalid) as refused:
            await payments.import_statement(db, firms.a.owner, ENTITY_BOMB)
        assert "not a readable XML file" in refused.value.errors["file"]
        with pytest.raises(Invalid) as refused:
            await payments.import_statement(db, firms.a.owner, b"<Document><Other/></Document>")
        assert "camt.053 or camt.054" in refused.value.errors["file"]
    with pytest.raises(Forbidden):
        await payments.import_statement(db, firms.a.supervisor, camt054(clock.today()))
    assert await db.scalar(select(func.count()).select_from(Payment)) == 0


async def test_another_firms_invoice_with_the_same_reference_is_not_paid(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    await complete_profile(db)
    ours = await issued(db, firms)
    await db.commit()
    async with scoped(clean_db, firms.b.tenant) as other:
        await complete_profile(other)
        theirs = await invoices.issue(
            other, firms.b.owner, (await add_draft(other, firms.b.org)).id
        )
        await other.commit()
        assert theirs.reference == ours.reference  # both series start at 1000
        result = await payments.import_statement(
            other, firms.b.owner, camt054(clock.today(), Credit(100, ours.reference, archive="X"))
        )
        await other.commit()
        assert [p.invoice_id for p in result.partial] == [theirs.id]
    assert (await payments.balance_of(db, ours.id)).paid_cents == 0
    # The same archive reference in another firm's books is no duplicate of ours.
    mine = await payments.import_statement(
        db, firms.a.owner, camt054(clock.today(), Credit(100, ours.reference, archive="X"))
    )
    assert [p.invoice_id for p in mine.partial] == [ours.id]


async def test_each_page_of_the_invoice_list_shows_its_own_invoices_balances(
    db: AsyncSession, firms: Firms
) -> None:
    """A page is chosen first and only its invoices' payments and credit notes are summed:
    every page, in every order, still shows each invoice's own state and open amount."""
    await complete_profile(db)
    draft = await add_draft(db, firms.a.org)
    unpaid, partly, whole, credited = [await issued(db, firms) for _ in range(4)]
    await payments.record_payment(db, firms.a.owner, partly.id, clock.today(), 5000)
    await payments.record_payment(db, firms.a.owner, whole.id, clock.today(), 15060)
    note = await invoices.issue(
        db, firms.a.owner, (await invoices.credit(db, firms.a.owner, credited.id)).id
    )
    expected = {
        draft.id: (InvoiceState.DRAFT, 0),
        unpaid.id: (InvoiceState.OPEN, 15060),
        partly.id: (InvoiceState.PARTLY_PAID, 10060),
        whole.id: (InvoiceState.PAID, 0),
        credited.id: (InvoiceState.CREDITED, 0),
        note.id: (InvoiceState.CREDIT_NOTE, 0),
    }
    for sort in (overview.INVOICE_DEFAULT_SORT, *(Sort(k) for k in overview.INVOICE_SORTS)):
        seen = []
        page, pages = 1, 1
        while page <= pages:
            listed = await overview.list_invoices(
                db, firms.a.owner, overview.InvoiceFilter(), page, 1, sort
            )
            [row] = listed.page.items
            # Other drafts (the firm's fixture data) are drafts with nothing open.
            wanted = expected.get(row.invoice.id, (InvoiceState.DRAFT, 0))
            assert (row.state, row.open_cents) == wanted, (sort, page)
            seen.append(row.invoice.id)
            page, pages = page + 1, listed.page.pages
        assert len(seen) == len(set(seen)) and set(expected) <= set(seen), sort
        assert listed.open_cents == 15060 + 10060
