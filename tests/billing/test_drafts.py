"""Drafting an organisation's invoice for a period: what is billed, once, and how lines read."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import invoices
from luotsi.billing.drafts import billable_org_ids, draft_for_org, initials
from luotsi.billing.models import Invoice
from luotsi.billing.profile import get_profile
from luotsi.platform.errors import Forbidden
from luotsi.tenants.agreements.models import Agreement, Pricing
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession
from tests import clock
from tests.billing.arrange import complete_profile
from tests.conftest import Backend, scoped
from tests.factories import Firm, Firms, add_agreement, add_client_org, add_person, add_session


def scoped_a(backend: Backend, firms: Firms) -> AbstractAsyncContextManager[AsyncSession]:
    """Firm A's scoped session, opened after the test has arranged its rows."""
    return scoped(backend, firms.a.tenant)


def last_month() -> tuple[date, date]:
    """The month before the suite's today, first and last day (after the fixture's start)."""
    first = clock.today() + relativedelta(months=-1, day=1)
    return first, first + relativedelta(day=31)


async def held(
    backend: Backend,
    firm: Firm,
    starts_at: datetime,
    agreement: Agreement | None = None,
    **fields: object,
) -> SupervisionSession:
    """A held (billable) session of ``agreement`` (the firm's fixture agreement by default)."""
    values: dict[str, object] = {
        "status": SessionStatus.HELD,
        "billable": True,
        "actual_minutes": 55,
        "starts_at": starts_at,
    }
    values.update(fields)
    return await add_session(
        backend.owner, firm.tenant, agreement or firm.agreement, firm.supervisor, **values
    )


async def test_initials_name_a_person_without_their_name() -> None:
    assert initials("Sanna Kivi") == "S. K."
    assert initials("anna-liisa  von Korhonen") == "A.-L. V. K."
    assert initials("Åke") == "Å."


async def test_a_draft_has_a_line_per_billable_session_of_the_period(
    clean_db: Backend, firms: Firms
) -> None:
    start, end = last_month()
    a = firms.a
    no_show = await held(
        clean_db, a, clock.at(start + timedelta(days=20)), status=SessionStatus.NO_SHOW
    )
    first = await held(clean_db, a, clock.at(start + timedelta(days=2)))
    late = await held(
        clean_db,
        a,
        clock.at(start + timedelta(days=9)),
        status=SessionStatus.CANCELLED_BY_CLIENT,
        late_cancellation=True,
        actual_minutes=None,
    )
    # Not billed: cancelled by the supervisor, an evaluation meeting, outside the period.
    for day, fields in (
        (start + timedelta(days=4), {"status": SessionStatus.CANCELLED_BY_SUPERVISOR}),
        (start + timedelta(days=5), {"kind": MeetingKind.EVALUATION}),
    ):
        await held(clean_db, a, clock.at(day), billable=False, **fields)
    await held(clean_db, a, clock.at(start - timedelta(days=3)))
    await held(clean_db, a, clock.at(end + timedelta(days=1)))
    # Firm B's session on the same day, same names: never on firm A's invoice.
    await held(clean_db, firms.b, clock.at(start + timedelta(days=2)))

    async with scoped_a(clean_db, firms) as db:
        invoice = await draft_for_org(db, a.owner, a.org.id, start, end)
        assert invoice is not None
        lines = (await invoices.get_invoice(db, a.owner, invoice.id)).lines

    assert [line.session_id for line in lines] == [first.id, late.id, no_show.id]
    assert [line.position for line in lines] == [0, 1, 2]
    assert lines[0].description == f"Työnohjaus {clock.fi(start + timedelta(days=2))}, S. S."
    assert all("Sanna" not in line.description for line in lines)
    assert [line.day for line in lines] == [
        start + timedelta(days=2),
        start + timedelta(days=9),
        start + timedelta(days=20),
    ]
    assert {(line.unit_cents, line.net_cents, line.vat_basis_points) for line in lines} == {
        (12000, 12000, 2550)
    }
    assert [line.minutes for line in lines] == [55, 60, 55]
    assert {line.agreement_id for line in lines} == {a.agreement.id}
    assert (invoice.period_start, invoice.period_end, invoice.language) == (start, end, "fi")


async def test_the_period_is_counted_in_helsinki_days(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    just_in = await held(clean_db, firms.a, clock.at(start, 0, 30))  # 22.30 UTC the day before
    await held(clean_db, firms.a, clock.at(end + timedelta(days=1), 0, 30))
    async with scoped_a(clean_db, firms) as db:
        invoice = await draft_for_org(db, None, firms.a.org.id, start, end)
        assert invoice is not None
        lines = (await invoices.get_invoice(db, firms.a.owner, invoice.id)).lines
    assert [line.session_id for line in lines] == [just_in.id]


async def test_lines_are_grouped_per_agreement_in_the_invoice_language(
    clean_db: Backend, firms: Firms
) -> None:
    start, end = last_month()
    a = firms.a
    org = await add_client_org(clean_db.owner, a.tenant, "Svenska kommunen", invoice_language="sv")
    people = [
        await add_person(clean_db.owner, a.tenant, org, PersonRole.SUPERVISEE, name)
        for name in ("Åsa Öberg", "Bo Ek")
    ]
    earlier = await add_agreement(
        clean_db.owner, a.tenant, org, a.supervisor, people, start_date=start - timedelta(days=200)
    )
    later = await add_agreement(clean_db.owner, a.tenant, org, a.supervisor, people[:1])
    on_later = await held(clean_db, a, clock.at(start + timedelta(days=1)), later)
    on_earlier = [
        await held(clean_db, a, clock.at(start + timedelta(days=n)), earlier) for n in (8, 3)
    ]
    async with scoped_a(clean_db, firms) as db:
        invoice = await draft_for_org(db, a.admin, org.id, start, end)
        assert invoice is not None
        lines = (await invoices.get_invoice(db, a.owner, invoice.id)).lines
    assert invoice.language == "sv"
    assert [line.session_id for line in lines] == [on_earlier[1].id, on_earlier[0].id, on_later.id]
    assert lines[0].description.startswith("Arbetshandledning ")
    assert lines[0].description.endswith(", B. E., Å. Ö.")
    assert lines[2].description.endswith(", Å. Ö.")


async def test_full_names_when_the_firm_chooses_them(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    await held(clean_db, firms.a, clock.at(start + timedelta(days=1)))
    async with scoped_a(clean_db, firms) as db:
        (await get_profile(db)).full_names_on_lines = True
        invoice = await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end)
        assert invoice is not None
        lines = (await invoices.get_invoice(db, firms.a.owner, invoice.id)).lines
    assert lines[0].description.endswith(", Sanna Supervisee")


async def test_a_billed_session_is_not_drafted_again(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    await held(clean_db, firms.a, clock.at(start + timedelta(days=1)))
    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        invoice = await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end)
        assert invoice is not None
        await invoices.issue(db, firms.a.owner, invoice.id)
        assert await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end) is None
        assert await billable_org_ids(db, start, end) == []


async def test_a_session_on_another_draft_is_not_drafted_again(
    clean_db: Backend, firms: Firms
) -> None:
    start, end = last_month()
    session = await held(clean_db, firms.a, clock.at(start + timedelta(days=1)))
    async with scoped_a(clean_db, firms) as db:
        first = await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end)
        assert first is not None
        assert await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end) is None
        await invoices.delete_draft(db, firms.a.owner, first.id)
        again = await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end)
        assert again is not None
        lines = (await invoices.get_invoice(db, firms.a.owner, again.id)).lines
    assert [line.session_id for line in lines] == [session.id]


async def test_a_process_price_is_drafted_once(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    a = firms.a
    org = await add_client_org(clean_db.owner, a.tenant, "Prosessikunta")
    process = await add_agreement(
        clean_db.owner,
        a.tenant,
        org,
        a.supervisor,
        [a.supervisee],
        pricing=Pricing.PER_PROCESS,
        price_cents=250000,
        vat_basis_points=0,
        start_date=start + timedelta(days=5),
    )
    # Its sessions are covered by the fixed price: no lines of their own.
    await held(clean_db, a, clock.at(start + timedelta(days=6)), process)
    # Starting after the period: its price waits for a later run.
    await add_agreement(
        clean_db.owner,
        a.tenant,
        org,
        a.supervisor,
        [a.supervisee],
        pricing=Pricing.PER_PROCESS,
        start_date=end + timedelta(days=1),
    )
    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        invoice = await draft_for_org(db, a.owner, org.id, start, end)
        assert invoice is not None
        lines = (await invoices.get_invoice(db, a.owner, invoice.id)).lines
        assert [(ln.agreement_id, ln.process, ln.session_id) for ln in lines] == [
            (process.id, True, None)
        ]
        assert (lines[0].net_cents, lines[0].vat_basis_points) == (250000, 0)
        assert lines[0].description.startswith("Yksilötyönohjaus ")
        assert "S. S." in lines[0].description
        await invoices.issue(db, a.owner, invoice.id)
        assert await draft_for_org(db, a.owner, org.id, start, end) is None


async def test_nothing_to_bill_drafts_nothing(db: AsyncSession, firms: Firms) -> None:
    start, end = last_month()
    assert await billable_org_ids(db, start, end) == []
    before = await db.scalar(select(func.count()).select_from(Invoice))
    assert await draft_for_org(db, firms.a.owner, firms.a.org.id, start, end) is None
    assert await db.scalar(select(func.count()).select_from(Invoice)) == before


async def test_billable_orgs_are_those_with_unbilled_work(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    a = firms.a
    await held(clean_db, a, clock.at(start + timedelta(days=1)))
    idle = await add_client_org(clean_db.owner, a.tenant, "Hiljainen kunta")
    await add_agreement(clean_db.owner, a.tenant, idle, a.supervisor, [])
    await held(clean_db, firms.b, clock.at(start + timedelta(days=1)))
    async with scoped_a(clean_db, firms) as db:
        assert await billable_org_ids(db, start, end) == [a.org.id]


async def test_only_the_office_drafts(db: AsyncSession, firms: Firms) -> None:
    start, end = last_month()
    with pytest.raises(Forbidden):
        await draft_for_org(db, firms.a.supervisor, firms.a.org.id, start, end)
