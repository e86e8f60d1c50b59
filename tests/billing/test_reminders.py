"""Payment reminders: a week past due, again two weeks later, at most twice; by hand too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.billing import invoices, payments, reminders
from luotsi.billing.models import Invoice, Reminder
from luotsi.billing.references import formatted
from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.settings import Settings
from luotsi.tenants.clients.models import ClientOrg
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.clock import fi
from tests.conftest import Backend, Outbox
from tests.factories import Firms, add_client_org

ADDRESS = "laskut@esimerkkikunta.example"
WORK = Row("Työnohjaus Sanna Supervisee", 12000)


@dataclass(frozen=True)
class Worker:
    maker: async_sessionmaker[AsyncSession]
    settings: Settings


@pytest.fixture
async def worker(clean_db: Backend) -> AsyncIterator[Worker]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield Worker(make_sessionmaker(engine), clean_db.settings)
    await engine.dispose()


async def run(worker: Worker, day: date) -> int:
    """Run the reminder job for every firm as the worker would at noon on ``day``."""
    return await run_job(
        worker.maker, worker.settings, JOBS["payment_reminders"], now=clock.at(day, 12)
    )


async def invoice_to(
    db: AsyncSession, firms: Firms, org: ClientOrg | None = None, *, language: str = "fi"
) -> Invoice:
    """An issued invoice of firm A (150.60 €), committed."""
    draft = await add_draft(db, org or firms.a.org, WORK)
    draft.language = language
    issued = await invoices.issue(db, firms.a.owner, draft.id)
    await db.commit()
    return issued


async def invoicing_address(db: AsyncSession, org: ClientOrg, address: str = ADDRESS) -> None:
    await db.execute(update(ClientOrg).where(ClientOrg.id == org.id).values(invoice_email=address))


async def sent(db: AsyncSession, invoice: Invoice) -> list[tuple[date, int, str]]:
    rows = await db.scalars(
        select(Reminder).where(Reminder.invoice_id == invoice.id).order_by(Reminder.sent_on)
    )
    return [(r.sent_on, r.fee_cents, r.sent_to) for r in rows]


async def test_the_worker_reminds_a_week_after_due_again_two_weeks_later_then_stops(
    db: AsyncSession, firms: Firms, worker: Worker, outbox: Outbox
) -> None:
    await complete_profile(db)
    await invoicing_address(db, firms.a.org)
    invoice = await invoice_to(db, firms)
    assert invoice.due_on is not None
    due = invoice.due_on

    assert await run(worker, due + timedelta(days=6)) == 0
    assert await run(worker, due + timedelta(days=7)) == 1
    assert await run(worker, due + timedelta(days=8)) == 0
    assert await run(worker, due + timedelta(days=20)) == 0  # 13 days after the first
    assert await run(worker, due + timedelta(days=21)) == 1
    assert await run(worker, due + timedelta(days=60)) == 0  # two is the most
    assert await sent(db, invoice) == [
        (due + timedelta(days=7), 500, ADDRESS),
        (due + timedelta(days=21), 500, ADDRESS),
    ]
    assert [m.to for m in await outbox.deliver()] == [ADDRESS, ADDRESS]


async def test_paid_credited_and_unaddressed_invoices_are_not_reminded_of(
    clean_db: Backend,
    db: AsyncSession,
    firms: Firms,
    worker: Worker,
) -> None:
    await complete_profile(db)
    await invoicing_address(db, firms.a.org)
    paid = await invoice_to(db, firms)
    credited = await invoice_to(db, firms)
    partly = await invoice_to(db, firms)  # committed: the owner's connection may write
    unaddressed = await invoice_to(db, firms, await add_client_org(clean_db.owner, firms.a.tenant))
    await payments.record_payment(db, firms.a.owner, paid.id, clock.today(), paid.gross_cents)
    await payments.record_payment(db, firms.a.owner, partly.id, clock.today(), 100)
    note = await invoices.credit(db, firms.a.owner, credited.id)
    await invoices.issue(db, firms.a.owner, note.id)
    await db.commit()
    assert paid.due_on is not None

    assert await run(worker, paid.due_on + timedelta(days=7)) == 1
    reminded = [r.invoice_id for r in await db.scalars(select(Reminder))]
    assert reminded == [partly.id]
    assert unaddressed.id not in reminded


async def test_the_reminder_has_the_sums_and_no_lines_in_the_invoices_language(
    db: AsyncSession, firms: Firms, worker: Worker, outbox: Outbox
) -> None:
    await complete_profile(db)
    await invoicing_address(db, firms.a.org)
    invoice = await invoice_to(db, firms)
    svenska = await invoice_to(db, firms, language="sv")
    await payments.record_payment(db, firms.a.owner, invoice.id, clock.today(), 5060)
    await db.commit()
    assert invoice.due_on is not None and invoice.number is not None
    assert await run(worker, invoice.due_on + timedelta(days=7)) == 2

    mails = {m.subject: m for m in await outbox.deliver()}
    finnish = mails[f"Maksumuistutus: lasku {invoice.number}, Alfa Työnohjaus Oy"]
    for body in (finnish.text, finnish.html):
        assert fi(invoice.due_on) in body
        assert "100,00\xa0€" in body  # open: 150.60 less 50.60 paid
        assert "5,00\xa0€" in body and "105,00\xa0€" in body  # the fee and the total
        assert formatted(invoice.reference) in body and "FI21 1234 5600 0007 85" in body
        assert "Sanna" not in body and "Työnohjaus Sanna" not in body
    assert f"Betalningspåminnelse: faktura {svenska.number}, Alfa Työnohjaus Oy" in mails


async def test_a_reminder_by_hand_for_an_overdue_invoice(
    db: AsyncSession, firms: Firms, worker: Worker, outbox: Outbox
) -> None:
    await complete_profile(db)
    await invoicing_address(db, firms.a.org)
    not_yet_due = await invoice_to(db, firms)
    with time_machine.travel(clock.at(clock.today() - timedelta(days=30)), tick=True):
        overdue = await invoice_to(db, firms)  # issued a month ago, due two weeks ago
    with pytest.raises(Invalid, match="erääntyneestä"):
        await reminders.send_reminder(db, firms.a.owner, not_yet_due.id, worker.settings)
    with pytest.raises(Forbidden):
        await reminders.send_reminder(db, firms.a.supervisor, overdue.id, worker.settings)

    reminder = await reminders.send_reminder(db, firms.a.admin, overdue.id, worker.settings)
    await db.commit()
    assert (reminder.sent_on, reminder.fee_cents, reminder.sent_to) == (clock.today(), 500, ADDRESS)
    with pytest.raises(Invalid, match="jo lähetetty"):
        await reminders.send_reminder(db, firms.a.owner, overdue.id, worker.settings)
    assert [m.to for m in await outbox.deliver()] == [ADDRESS]
    # The worker counts it: the next one two weeks later, then no more.
    assert await run(worker, clock.today()) == 0
    assert await run(worker, clock.today() + timedelta(days=14)) == 1
    await run(worker, clock.today() + timedelta(days=28))  # the other one's first, by now
    listed = await reminders.reminders_of(db, firms.a.owner, overdue.id)
    assert [r.sent_on for r in listed] == [clock.today(), clock.today() + timedelta(days=14)]


async def test_a_reminder_by_hand_needs_an_address(
    clean_db: Backend, db: AsyncSession, firms: Firms
) -> None:
    org = await add_client_org(clean_db.owner, firms.a.tenant, "Osoitteeton ry")
    await complete_profile(db)
    with time_machine.travel(clock.at(clock.today() - timedelta(days=30)), tick=True):
        overdue = await invoice_to(db, firms, org)
    with pytest.raises(Invalid, match="sähköpostiosoitetta"):
        await reminders.send_reminder(db, firms.a.owner, overdue.id, clean_db.settings)
