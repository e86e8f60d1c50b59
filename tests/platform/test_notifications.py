"""Notifications as services: each event notifies the right members only, once; e-mail only
for those who chose it; the session reminder job honours the firm's and a supervisor's hours."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import i18n, notifications
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.notifications import Notification, NotificationKind
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.ratelimit import DatabaseRateLimits
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants import content
from luotsi.tenants.agreements import acceptance
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.directory import inquiries
from luotsi.tenants.directory.inquiries import InquiryInput
from luotsi.tenants.portal import supervisee as supervisee_portal
from luotsi.tenants.sessions.models import SupervisionSession
from luotsi.tenants.sessions.service import Mailing
from tests import clock
from tests.conftest import Backend
from tests.factories import Firm, Firms, bind_supervisee_login

BASE_URL = "https://luotsi.example"
MAILING = Mailing(BASE_URL, "Luotsi <no-reply@luotsi.example>")


@pytest.fixture
async def app_db(clean_db: Backend) -> AsyncIterator[Any]:
    """Opens a transaction of the app's role (RLS applies on PostgreSQL) in one firm."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)

    async def call(firm: Firm, fn: Any, *args: Any, **kw: Any) -> Any:
        async with maker() as db, db.begin():
            db.info[TENANT_KEY] = firm.tenant.id
            return await fn(db, *args, **kw)

    yield call
    await engine.dispose()


async def _notified(
    backend: Backend, firms: Firms, kind: NotificationKind
) -> dict[uuid.UUID, list[str]]:
    """Every firm's notifications of ``kind`` but the fixture's samples: recipient membership
    -> their lines (English)."""
    samples = (firms.a.notification.id, firms.b.notification.id)
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(
            select(Notification)
            .where(Notification.kind == kind.value, Notification.id.not_in(samples))
            .order_by(Notification.id)
        )
        found: dict[uuid.UUID, list[str]] = {}
        with i18n.language("en"):
            for row in rows:
                found.setdefault(row.recipient_id, []).append(row.line)
        return found


async def _mail_to(backend: Backend) -> list[str]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email"))
        return sorted(row.payload["to"] for row in rows)


async def _member(db: AsyncSession, member_id: uuid.UUID) -> Membership:
    return await db.get_one(
        Membership, (db.info[TENANT_KEY], member_id), options=[joinedload(Membership.user)]
    )


def _inquiry() -> InquiryInput:
    return InquiryInput(
        organisation="Tuusulan kunta",
        name="Tiina Tilaaja",
        email="tiina@tuusula.example",
        phone="040 123 4567",
        municipality="Tuusula",
        kind="individual",
        message="Haluaisimme työnohjausta.",
        consent="yes",
    )


# --- each event, the right people -----------------------------------------------------------


async def test_a_new_inquiry_notifies_the_owner_and_admin_of_its_firm_only(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a

    async def submit(db: AsyncSession) -> Any:
        tenant = await db.get_one(Tenant, a.tenant.id)
        return await inquiries.submit_inquiry(
            db,
            DatabaseRateLimits(),
            tenant,
            _inquiry(),
            language="fi",
            sender_ip="192.0.2.1",
            base_url=BASE_URL,
        )

    await app_db(a, submit)
    notified = await _notified(clean_db, firms, NotificationKind.INQUIRY)
    assert set(notified) == {a.owner.id, a.admin.id}
    assert notified[a.owner.id] == ["New inquiry from Tiina Tilaaja, Tuusulan kunta"]
    # Both chose nothing, so the default (e-mail on for inquiries) holds.
    mails = await _mail_to(clean_db)
    assert a.owner.user.email in mails and a.admin.user.email in mails
    assert a.supervisor.user.email not in mails


async def test_e_mail_goes_only_to_those_who_chose_it(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a

    async def owner_opts_out(db: AsyncSession) -> Any:
        owner = await _member(db, a.owner.id)
        return await notifications.save_choices(db, owner, ["session_cancelled"], "")

    async def admin_opts_in_overdue(db: AsyncSession) -> Any:
        admin = await _member(db, a.admin.id)
        return await notifications.save_choices(db, admin, ["invoice_overdue"], "")

    await app_db(a, owner_opts_out)
    await app_db(a, admin_opts_in_overdue)

    async def request(db: AsyncSession) -> Any:
        tenant = await db.get_one(Tenant, a.tenant.id)
        return await inquiries.submit_inquiry(
            db,
            DatabaseRateLimits(),
            tenant,
            _inquiry(),
            language="fi",
            sender_ip="192.0.2.1",
            base_url=BASE_URL,
        )

    await app_db(a, request)
    assert set(await _notified(clean_db, firms, NotificationKind.INQUIRY)) == {
        a.owner.id,
        a.admin.id,
    }
    # Neither chose inquiries by e-mail now: only the sender's confirmation went out.
    assert await _mail_to(clean_db) == ["tiina@tuusula.example"]


async def test_unknown_kinds_and_bad_hours_are_refused(app_db: Any, firms: Firms) -> None:
    async def choose(db: AsyncSession, kinds: list[str], hours: str) -> Any:
        owner = await _member(db, firms.a.owner.id)
        return await notifications.save_choices(db, owner, kinds, hours)

    with pytest.raises(Invalid) as caught:
        await app_db(firms.a, choose, ["nonsense"], "")
    assert "email_kinds" in caught.value.errors
    for hours in ("0", "169", "abc", "-3", "1.5"):
        with pytest.raises(Invalid) as caught:
            await app_db(firms.a, choose, [], hours)
        assert "reminder_hours" in caught.value.errors


async def test_an_agreement_accepted_notifies_its_supervisors_and_the_office(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        await db.execute(
            update(Agreement)
            .where(Agreement.id == a.agreement.id)
            .values(status=AgreementStatus.DRAFT)
        )

    async def accept(db: AsyncSession) -> Any:
        owner = await _member(db, a.owner.id)
        files = clean_db.files
        return await acceptance.mark_accepted_on_paper(
            db, files, owner, a.agreement.id, confirmed=True, base_url=BASE_URL
        )

    await app_db(a, accept)
    notified = await _notified(clean_db, firms, NotificationKind.AGREEMENT_ACCEPTED)
    assert set(notified) == {a.supervisor.id, a.owner.id, a.admin.id}
    assert notified[a.supervisor.id] == [
        f"The agreement with {a.org.name} was accepted by every party"
    ]


async def test_a_session_cancelled_by_the_supervisee_notifies_its_supervisor_only(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    login = await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.notify@example.fi")

    async def cancel(db: AsyncSession) -> Any:
        member = await _member(db, login.id)
        return await supervisee_portal.cancel_own_session(db, member, a.session.id, MAILING)

    await app_db(a, cancel)
    notified = await _notified(clean_db, firms, NotificationKind.SESSION_CANCELLED)
    assert set(notified) == {a.supervisor.id}
    assert notified[a.supervisor.id][0].startswith(f"{a.supervisee.name} cancelled the session")


async def test_an_erasure_request_notifies_the_owner_only(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    login = await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.erase@example.fi")

    async def request(db: AsyncSession) -> Any:
        member = await _member(db, login.id)
        return await content.request_erasure(db, member, base_url=BASE_URL)

    await app_db(a, request)
    notified = await _notified(clean_db, firms, NotificationKind.ERASURE_REQUEST)
    assert set(notified) == {a.owner.id}
    # E-mail for erasure requests is off unless chosen.
    assert a.owner.user.email not in await _mail_to(clean_db)


async def test_a_review_coming_due_notifies_the_supervisors_once(
    firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    due = clock.today() + timedelta(days=5)
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        await db.execute(update(Agreement).values(review_due_on=due, review_reminder_for=None))
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        maker = make_sessionmaker(engine)
        job = JOBS["review_reminders"]
        now = clock.at(clock.today(), 12)
        await run_job(maker, clean_db.settings, job, now=now)
        await run_job(maker, clean_db.settings, job, now=now + timedelta(hours=2))
    finally:
        await engine.dispose()
    notified = await _notified(clean_db, firms, NotificationKind.REVIEW_DUE)
    # Each firm's supervisor of the agreement, once; never the office.
    assert set(notified) == {a.supervisor.id, firms.b.supervisor.id}
    assert len(notified[a.supervisor.id]) == 1
    assert a.org.name in notified[a.supervisor.id][0]


# --- session reminders ----------------------------------------------------------------------


async def _remind(backend: Backend, now: datetime) -> int:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        return await run_job(
            make_sessionmaker(engine), backend.settings, JOBS["session_reminders"], now=now
        )
    finally:
        await engine.dispose()


async def _reminded(backend: Backend, firm: Firm) -> datetime | None:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        return await db.scalar(
            select(SupervisionSession.reminder_sent_at).where(
                SupervisionSession.id == firm.session.id
            )
        )


async def test_reminders_follow_the_firms_hours_and_a_supervisors_own(
    app_db: Any, firms: Firms, clean_db: Backend
) -> None:
    a, b = firms.a, firms.b
    start = a.session.starts_at  # both firms have a session at this time

    async def firm_hours(db: AsyncSession) -> Any:
        owner = await _member(db, b.owner.id)
        return await notifications.set_firm_reminder_hours(db, owner, "24")

    async def own_hours(db: AsyncSession) -> Any:
        supervisor = await _member(db, a.supervisor.id)
        return await notifications.save_choices(db, supervisor, [], "72")

    await app_db(b, firm_hours)  # firm B: 24 hours ahead
    await app_db(a, own_hours)  # firm A's supervisor: 72 hours ahead (the firm says 48)
    assert await _remind(clean_db, start - timedelta(hours=73)) == 0
    assert await _remind(clean_db, start - timedelta(hours=71)) == 1  # A's only
    assert await _reminded(clean_db, a) == start - timedelta(hours=71)
    assert await _remind(clean_db, start - timedelta(hours=25)) == 0
    assert await _remind(clean_db, start - timedelta(hours=23)) == 1  # B's
    assert await _reminded(clean_db, b) == start - timedelta(hours=23)


async def test_only_the_owner_sets_the_firms_reminder_hours(app_db: Any, firms: Firms) -> None:
    async def as_admin(db: AsyncSession) -> Any:
        admin = await _member(db, firms.a.admin.id)
        return await notifications.set_firm_reminder_hours(db, admin, "24")

    with pytest.raises(NotFound):
        await app_db(firms.a, as_admin)
