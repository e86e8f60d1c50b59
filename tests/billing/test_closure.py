"""Closing a firm's account: the grace period, keeping it, the erasure and the kept invoices."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from luotsi.billing import invoices, payments
from luotsi.billing.models import Invoice, InvoiceLine, Payment
from luotsi.platform import audit
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import NotFound
from luotsi.platform.identity import User
from luotsi.platform.jobs import PLATFORM_JOBS, PlatformJobContext
from luotsi.platform.settings import Retention
from luotsi.platform.storage import FileStore
from luotsi.platform.tenancy import Membership, Tenant, TenantStatus
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.content.models import Goal, SessionNote
from luotsi.tenants.directory.models import StaffProfile
from luotsi.tenants.sessions.models import SupervisionSession
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, Outbox, scoped, start_app
from tests.factories import Firms, add_content, bind_supervisee_login

CLOSING = "The firm's account is being closed."
READ_ONLY = "The workspace is read-only"
ERASED_TABLES = (Membership, ClientPerson, Agreement, SupervisionSession, SessionNote, Goal)


async def _owner(client: Client, firms: Firms) -> Client:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    return client


async def _close(client: Client, confirmation: str = "alfa") -> Any:
    return await client.post("/t/alfa/settings/close/", {"confirmation": confirmation})


async def _count(backend: Backend, model: Any, tenant: Tenant) -> int:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        query = select(func.count()).select_from(model).where(model.tenant_id == tenant.id)
        return int(await db.scalar(query) or 0)


async def _tenant(backend: Backend, tenant_id: uuid.UUID) -> Tenant:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        found = await db.scalar(select(Tenant).where(Tenant.id == tenant_id))
        assert found is not None
        return found


async def _actions(backend: Backend, tenant: Tenant) -> list[str]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        query = (
            select(AuditEvent.action)
            .where(AuditEvent.tenant_id == tenant.id, AuditEvent.action.like("firm.%"))
            .order_by(AuditEvent.at)
        )
        return list(await db.scalars(query))


async def _run_job(backend: Backend, now: datetime, retention: Retention | None = None) -> int:
    settings = backend.settings
    if retention is not None:
        settings = replace(settings, retention=retention)
    engine = make_engine(settings.runtime_database_url)
    try:
        job = PLATFORM_JOBS["firm_closures"]
        return await job.run(PlatformJobContext(make_sessionmaker(engine), now, settings))
    finally:
        await engine.dispose()


async def _issued_invoice(backend: Backend, firms: Firms, credited: bool = False) -> uuid.UUID:
    """An issued invoice of firm A for its session, with a payment (and, ``credited``, an
    issued credit note of it); the fixture's draft is beside it."""
    a = firms.a
    async with scoped(backend, a.tenant) as db:
        await complete_profile(db)
        draft = await add_draft(
            db,
            a.org,
            Row("Työnohjaus", 10000, session_id=a.session.id, agreement_id=a.agreement.id),
        )
        invoice = await invoices.issue(db, a.owner, draft.id)
        await payments.record_payment(db, a.owner, invoice.id, clock.today(), 5000)
        if credited:
            note = await invoices.credit(db, a.owner, invoice.id)
            await invoices.issue(db, a.owner, note.id)
        await db.commit()
        return invoice.id


async def _closed_at(client: Client, backend: Backend, firms: Firms) -> datetime:
    assert (await _close(client)).status_code == 303
    requested = (await _tenant(backend, firms.a.tenant.id)).closure_requested_at
    assert requested is not None
    return requested


# --- the grace period -----------------------------------------------------------------------


async def test_closing_makes_the_workspace_read_only_with_a_banner_and_exports_still_work(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    owner = await _owner(client, firms)
    page = await owner.get("/t/alfa/settings/close/")
    assert page.status_code == 200 and "alfa" in page.text
    await _closed_at(owner, clean_db, firms)
    dashboard = await owner.get("/t/alfa/")
    assert CLOSING in dashboard.text and 'class="read-only"' in dashboard.text
    refused = await owner.post("/t/alfa/specialties/", {"name": "Uusi"})
    assert refused.status_code == 403 and READ_ONLY in refused.text
    assert "being closed" in refused.text
    exported = await owner.post("/t/alfa/exports/firm.zip")
    assert exported.status_code == 201 and exported.content[:2] == b"PK"
    assert await _actions(clean_db, firms.a.tenant) == [
        audit.FIRM_CLOSURE_REQUESTED,
        audit.FIRM_DATA_EXPORTED,
    ]
    # The other firm is untouched.
    assert (await _tenant(clean_db, firms.b.tenant.id)).closure_requested_at is None


async def test_a_supervisee_keeps_her_own_export_while_the_firm_closes(
    client: Client, client_factory: Any, clean_db: Backend, firms: Firms
) -> None:
    await bind_supervisee_login(clean_db, firms.a, firms.a.supervisee, "sanna.cl@example.fi")
    await _closed_at(await _owner(client, firms), clean_db, firms)
    sanna = client_factory()
    sanna.client.cookies.set("luotsi_lang", "en")
    await sanna.login("sanna.cl@example.fi")
    page = await sanna.get("/t/alfa/me/")
    assert CLOSING in page.text
    exported = await sanna.get("/t/alfa/me/export/download")
    assert exported.status_code == 200 and exported.content[:2] == b"PK"


async def test_members_are_emailed_when_closing_starts_and_when_it_is_cancelled(
    client: Client, clean_db: Backend, firms: Firms, outbox: Outbox
) -> None:
    owner = await _owner(client, firms)
    await _closed_at(owner, clean_db, firms)
    mails = await outbox.deliver()  # in each member's language: Finnish here
    closing = {m.to for m in mails if "lopettaa Luotsi-tilinsä" in m.subject}
    staff = {"owner@alfa.example", "admin@alfa.example", "supervisor@alfa.example"}
    assert closing == {*staff, firms.both.email}
    kept = await owner.post("/t/alfa/settings/close/keep")
    assert kept.status_code == 303
    mails = await outbox.deliver()
    cancelled = {m.to for m in mails if "jatkaa Luotsin käyttöä" in m.subject}
    assert cancelled == closing
    assert not any(m.to.endswith("@beeta.example") for m in mails)


async def test_keeping_the_account_opens_the_workspace_again(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    owner = await _owner(client, firms)
    await _closed_at(owner, clean_db, firms)
    assert (await owner.post("/t/alfa/settings/close/keep")).status_code == 303
    dashboard = await owner.get("/t/alfa/")
    assert CLOSING not in dashboard.text and 'class="read-only"' not in dashboard.text
    added = await owner.post("/t/alfa/specialties/", {"name": "Uusi erityisosaaminen"})
    assert added.status_code in (200, 303)
    tenant = await _tenant(clean_db, firms.a.tenant.id)
    assert tenant.closure_requested_at is None and tenant.closure_contact is None
    assert await _actions(clean_db, firms.a.tenant) == [
        audit.FIRM_CLOSURE_REQUESTED,
        audit.FIRM_CLOSURE_CANCELLED,
    ]
    # Kept: the job erases nothing, however much later it runs.
    assert await _run_job(clean_db, clock.now() + timedelta(days=400)) == 0
    assert await _count(clean_db, Membership, firms.a.tenant) > 0


async def test_a_wrong_confirmation_is_refused_with_a_reason(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    owner = await _owner(client, firms)
    refused = await _close(owner, "beeta")
    assert refused.status_code == 422
    assert "Type the firm&#39;s name or its address" in refused.text
    by_name = await _close(owner, "  alfa   työnohjaus OY ")
    assert by_name.status_code == 303  # the name, spaces and case aside, is as good


async def test_only_the_owner_may_close_the_firm(
    client_factory: Any, clean_db: Backend, firms: Firms
) -> None:
    for email in ("admin@alfa.example", "supervisor@alfa.example"):
        member = client_factory()
        await member.login(email)
        assert (await member.get("/t/alfa/settings/close/")).status_code == 403
        assert (await _close(member)).status_code == 403
    stranger = client_factory()
    await stranger.login(firms.b.owner.user.email)
    assert (await stranger.get("/t/alfa/settings/close/")).status_code == 404
    assert (await _close(stranger)).status_code == 404
    assert (await _tenant(clean_db, firms.a.tenant.id)).closure_requested_at is None


# --- the erasure ----------------------------------------------------------------------------


async def test_after_the_grace_period_the_job_erases_the_firm_and_keeps_its_invoices(
    client: Client, clean_db: Backend, firms: Firms, files: FileStore, outbox: Outbox
) -> None:
    await add_content(clean_db, firms.a)
    await add_content(clean_db, firms.b)
    invoice_id = await _issued_invoice(clean_db, firms)
    photo = firms.a.profile.photo_key
    assert photo is not None
    requested = await _closed_at(await _owner(client, firms), clean_db, firms)
    await outbox.deliver()
    grace = timedelta(days=30)

    assert await _run_job(clean_db, requested + grace - timedelta(minutes=1)) == 0
    assert await _count(clean_db, Membership, firms.a.tenant) > 0

    assert await _run_job(clean_db, requested + grace + timedelta(minutes=1)) == 1
    for model in (*ERASED_TABLES, StaffProfile):
        assert await _count(clean_db, model, firms.a.tenant) == 0, model.__name__
        assert await _count(clean_db, model, firms.b.tenant) > 0, model.__name__
    kept = await _count(clean_db, Invoice, firms.a.tenant)
    assert kept == 1  # the issued one; the fixture's draft went
    assert await _count(clean_db, InvoiceLine, firms.a.tenant) == 1
    assert await _count(clean_db, Payment, firms.a.tenant) == 1
    assert await _count(clean_db, ClientOrg, firms.a.tenant) == 1  # the buyer of the invoice
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        invoice = await db.scalar(select(Invoice).where(Invoice.id == invoice_id))
        assert invoice is not None and invoice.seller and invoice.seller.get("name")
        # Accounts are global: the owner's stays, and the person in both firms keeps firm B.
        assert await db.scalar(select(User).where(User.email == "owner@alfa.example"))
    assert await _count(clean_db, Membership, firms.b.tenant) >= 3
    with pytest.raises(NotFound):
        await files.get(firms.a.tenant.id, photo)

    tombstone = await _tenant(clean_db, firms.a.tenant.id)
    assert tombstone.status is TenantStatus.CLOSED and tombstone.slug == "alfa"
    assert (tombstone.name, tombstone.business_id, tombstone.closure_contact) == ("", "", None)
    assert audit.FIRM_ERASED in await _actions(clean_db, firms.a.tenant)
    erased = await outbox.last_to("owner@alfa.example")
    # In the owner's language (Finnish here), with the firm's name as it was.
    assert erased.subject == "Yrityksen Alfa Työnohjaus Oy tiedot on poistettu Luotsista"
    again = client.__class__(client.app)
    await again.login(firms.a.owner.user.email)
    assert (await again.get("/t/alfa/")).status_code == 404
    # Nothing more to do until the bookkeeping period is over.
    assert await _run_job(clean_db, requested + grace + timedelta(days=1)) == 0


async def test_invoices_go_once_the_bookkeeping_period_after_their_year_is_over(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await _issued_invoice(clean_db, firms, credited=True)
    requested = await _closed_at(await _owner(client, firms), clean_db, firms)
    await _run_job(clean_db, requested + timedelta(days=31))
    issued_year = clock.today().year
    # Late on the last day in Finland (a UTC time of day would be the next day there after 22).
    last_day = clock.at(date(issued_year + 10, 12, 31), 23, 30)
    assert await _run_job(clean_db, last_day) == 0
    assert await _count(clean_db, Invoice, firms.a.tenant) == 2  # the invoice and its credit
    assert await _count(clean_db, InvoiceLine, firms.a.tenant) == 2
    assert await _run_job(clean_db, last_day + timedelta(days=1)) >= 1
    for model in (Invoice, InvoiceLine, Payment, ClientOrg):
        assert await _count(clean_db, model, firms.a.tenant) == 0, model.__name__
    assert await _count(clean_db, Invoice, firms.b.tenant) == 1  # B's draft
    assert (await _actions(clean_db, firms.a.tenant))[-1] == audit.FIRM_RECORDS_ERASED


async def test_the_grace_period_and_bookkeeping_years_are_settings(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    requested = await _closed_at(await _owner(client, firms), clean_db, firms)
    short = Retention(closure_grace_days=2)
    assert await _run_job(clean_db, requested + timedelta(days=1), short) == 0
    assert await _run_job(clean_db, requested + timedelta(days=2, minutes=1), short) == 1
    assert (await _tenant(clean_db, firms.a.tenant.id)).status is TenantStatus.CLOSED


# --- the privacy page -----------------------------------------------------------------------


async def test_the_privacy_page_reads_the_retention_settings(
    clean_db: Backend, firms: Firms
) -> None:
    kept = Retention(audit_days=400, closure_grace_days=45, bookkeeping_years=7)
    app, end = await start_app(replace(clean_db.settings, retention=kept))
    try:
        admin = Client(app)
        admin.client.cookies.set("luotsi_lang", "en")
        await admin.login(firms.a.admin.user.email)
        page = await admin.get("/t/alfa/settings/privacy/")
        assert page.status_code == 200
        for words in ("400 days.", "erased 45 days after", "7 years after", "24 months after"):
            assert words in page.text, words
        assert 'href="/t/alfa/settings/privacy/"' in (await admin.get("/t/alfa/")).text
        supervisor = Client(app)
        await supervisor.login(firms.a.supervisor.user.email)
        assert (await supervisor.get("/t/alfa/settings/privacy/")).status_code == 403
        stranger = Client(app)
        await stranger.login(firms.b.admin.user.email)
        assert (await stranger.get("/t/alfa/settings/privacy/")).status_code == 404
    finally:
        await end()
