"""Inquiries as services: the form token, validation, who sees what, statuses and assigning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import clock, i18n
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid, NotFound, RateLimited
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.ratelimit import DatabaseRateLimits, RateLimits
from luotsi.platform.sharedstate import SharedState
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.directory import inquiries
from luotsi.tenants.directory.inquiries import (
    MAX_FORM_AGE,
    MIN_FILL_TIME,
    RATE_LIMIT,
    InquiryInput,
    check_form_token,
    issue_form_token,
)
from luotsi.tenants.directory.models import Inquiry, InquiryStatus
from luotsi.tenants.kinds import SupervisionKind
from tests.conftest import Backend
from tests.factories import Firm, Firms, add_inquiry

SECRET = "a-test-secret"
BASE_URL = "https://luotsi.example"


# --- the form token -------------------------------------------------------------------------


def test_a_token_old_enough_and_fresh_enough_passes() -> None:
    now = clock.now()
    check_form_token(SECRET, issue_form_token(SECRET, now - MIN_FILL_TIME), now)
    check_form_token(
        SECRET, issue_form_token(SECRET, now - MAX_FORM_AGE + timedelta(seconds=1)), now
    )


@pytest.mark.parametrize(
    ("age", "fragment"),
    [
        (timedelta(seconds=0), "very quickly"),
        (timedelta(seconds=2), "very quickly"),
        (-timedelta(minutes=5), "very quickly"),  # from the future
        (MAX_FORM_AGE + timedelta(seconds=2), "long time"),
    ],
)
def test_a_token_too_young_or_too_old_is_refused(age: timedelta, fragment: str) -> None:
    now = clock.now()
    with i18n.language("en"), pytest.raises(Invalid) as caught:
        check_form_token(SECRET, issue_form_token(SECRET, now - age), now)
    assert set(caught.value.errors) == {"form_token"}
    assert fragment in caught.value.errors["form_token"]


@pytest.mark.parametrize(
    "token",
    ["", "123", "abc.def", "1700000000.", "1700000000.ä", "99999999999999999999.00"],
)
def test_a_malformed_token_is_refused(token: str) -> None:
    with pytest.raises(Invalid):
        check_form_token(SECRET, token, clock.now())


def test_a_token_signed_with_another_secret_or_edited_is_refused() -> None:
    now = clock.now()
    token = issue_form_token("another-secret", now - timedelta(minutes=1))
    with pytest.raises(Invalid):
        check_form_token(SECRET, token, now)
    stamp, _dot, signature = issue_form_token(SECRET, now - timedelta(minutes=1)).partition(".")
    with pytest.raises(Invalid):
        check_form_token(SECRET, f"{int(stamp) - 60}.{signature}", now)


# --- services -------------------------------------------------------------------------------


@pytest.fixture
async def session(clean_db: Backend) -> AsyncIterator[Any]:
    """Opens app sessions (the runtime role, so RLS applies on PostgreSQL) for one firm."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)

    def open_for(firm: Firm) -> AsyncSession:
        db = maker()
        db.info[TENANT_KEY] = firm.tenant.id
        return db

    yield open_for
    await engine.dispose()


async def _member(db: AsyncSession, membership_id: uuid.UUID) -> Membership:
    # As the workspace loads the signed-in member: with their account.
    member = await db.scalar(
        select(Membership)
        .where(Membership.id == membership_id)
        .options(joinedload(Membership.user))
    )
    assert member is not None
    return member


async def _outbox(backend: Backend) -> list[dict[str, Any]]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        return [row.payload for row in await db.scalars(select(OutboxMessage))]


def _input(**changes: str) -> InquiryInput:
    data = InquiryInput(
        organisation="  Tuusulan   kunta ",
        name="Outi Ostaja",
        email="Outi.Ostaja@Tuusula.example",
        phone="+46 8 123 456 78",
        municipality="Tusby",
        kind="leadership",
        message="Esihenkilöiden työnohjausta kahdelle.",
        consent="yes",
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return data


DATABASE_LIMITS = DatabaseRateLimits()


async def _submit(
    db: AsyncSession,
    tenant: Tenant,
    data: InquiryInput,
    limits: RateLimits = DATABASE_LIMITS,
    **kw: Any,
) -> Inquiry:
    kw.setdefault("language", "fi")
    kw.setdefault("sender_ip", "192.0.2.1")
    async with db.begin():
        return await inquiries.submit_inquiry(db, limits, tenant, data, base_url=BASE_URL, **kw)


async def test_submit_cleans_and_stores_the_inquiry(
    session: Any, firms: Firms, clean_db: Backend
) -> None:
    db = session(firms.a)
    inquiry = await _submit(db, firms.a.tenant, _input(), language="en")
    await db.close()
    assert inquiry.organisation == "Tuusulan kunta"
    assert inquiry.email == "outi.ostaja@tuusula.example"
    assert inquiry.phone == "+46812345678"
    assert inquiry.municipality_code == "858"  # Tuusula, written in Swedish
    assert inquiry.kind == SupervisionKind.LEADERSHIP
    assert inquiry.language == "en"
    assert inquiry.consent_at is not None and inquiry.requested_profile_id is None
    mails = await _outbox(clean_db)
    confirmation = next(m for m in mails if m["to"] == inquiry.email)
    assert confirmation["language"] == "en" and "Tuusula" in confirmation["text"]


async def test_submit_reports_every_problem_at_once_and_stores_nothing(
    session: Any, firms: Firms, clean_db: Backend
) -> None:
    db = session(firms.a)
    bad = InquiryInput(email="no-at-sign", phone="abc", municipality="Uusimaa", kind="x")
    with pytest.raises(Invalid) as caught:
        await _submit(db, firms.a.tenant, bad)
    await db.close()
    assert set(caught.value.errors) == {
        "organisation",
        "name",
        "email",
        "phone",
        "municipality",
        "kind",
        "message",
        "consent",
    }
    assert await _outbox(clean_db) == []


async def test_an_unknown_language_falls_back_to_finnish(session: Any, firms: Firms) -> None:
    db = session(firms.a)
    inquiry = await _submit(db, firms.a.tenant, _input(), language="de")
    await db.close()
    assert inquiry.language == "fi"


async def test_the_rate_limit_counts_stored_inquiries_per_address(
    session: Any, firms: Firms, shared: SharedState
) -> None:
    db, limits = session(firms.a), shared.limits
    for _n in range(RATE_LIMIT):
        await _submit(db, firms.a.tenant, _input(), limits)
    with pytest.raises(Invalid):  # a refused form does not count
        await _submit(db, firms.a.tenant, _input(email=""), limits)
    with pytest.raises(RateLimited):
        await _submit(db, firms.a.tenant, _input(), limits)
    other_address = await _submit(db, firms.a.tenant, _input(), limits, sender_ip="192.0.2.2")
    await db.close()
    assert other_address.id


async def test_supervisor_sees_their_own_and_assigned_inquiries_only(
    session: Any, firms: Firms, clean_db: Backend
) -> None:
    firm_level = await add_inquiry(clean_db.owner, firms.a.tenant, organisation="Firmalle")
    db = session(firms.a)
    async with db.begin():
        owner = await _member(db, firms.a.owner.id)
        supervisor = await _member(db, firms.a.supervisor.id)
        seen_by_owner = await inquiries.list_inquiries(db, owner)
        seen_by_supervisor = await inquiries.list_inquiries(db, supervisor)
        assert {i.id for i in seen_by_owner.items} == {firms.a.inquiry.id, firm_level.id}
        assert {i.id for i in seen_by_supervisor.items} == {firms.a.inquiry.id}
        assert await inquiries.count_new_inquiries(db, owner) == 2
        assert await inquiries.count_new_inquiries(db, supervisor) == 1
        with pytest.raises(NotFound):
            await inquiries.get_inquiry(db, supervisor, firm_level.id)
        with pytest.raises(NotFound):  # another firm's inquiry does not exist here
            await inquiries.get_inquiry(db, owner, firms.b.inquiry.id)
        await inquiries.assign_inquiry(
            db, owner, firm_level.id, str(supervisor.id), base_url=BASE_URL
        )
        assert (await inquiries.get_inquiry(db, supervisor, firm_level.id)).id == firm_level.id
    await db.close()


async def test_status_filter_and_paging(session: Any, firms: Firms, clean_db: Backend) -> None:
    start = clock.now() - timedelta(days=1)
    for n in range(inquiries.PER_PAGE + 1):
        await add_inquiry(
            clean_db.owner,
            firms.a.tenant,
            created_at=start + timedelta(minutes=n),
            status=InquiryStatus.CLOSED if n % 2 else InquiryStatus.NEW,
        )
    db = session(firms.a)
    async with db.begin():
        owner = await _member(db, firms.a.owner.id)
        first = await inquiries.list_inquiries(db, owner)
        last = await inquiries.list_inquiries(db, owner, page=99)
        closed = await inquiries.list_inquiries(db, owner, "closed")
        unknown = await inquiries.list_inquiries(db, owner, "spam")
    await db.close()
    assert (first.total, len(first.items), first.pages) == (22, 20, 2)
    assert first.items[0].id == firms.a.inquiry.id  # newest first
    assert last.number == 2 and len(last.items) == 2
    assert closed.total == 10 and all(i.status == InquiryStatus.CLOSED for i in closed.items)
    assert unknown.total == 22


async def test_status_can_be_set_by_whoever_sees_the_inquiry(session: Any, firms: Firms) -> None:
    db = session(firms.a)
    async with db.begin():
        supervisor = await _member(db, firms.a.supervisor.id)
        changed = await inquiries.set_inquiry_status(
            db, supervisor, firms.a.inquiry.id, "contacted"
        )
        assert changed.status == InquiryStatus.CONTACTED
        with pytest.raises(Invalid):
            await inquiries.set_inquiry_status(db, supervisor, firms.a.inquiry.id, "lost")
    await db.close()


async def test_assigning_is_for_owners_and_admins_and_tells_the_assignee(
    session: Any, firms: Firms, clean_db: Backend
) -> None:
    db = session(firms.a)
    async with db.begin():
        admin = await _member(db, firms.a.admin.id)
        supervisor = await _member(db, firms.a.supervisor.id)
        with pytest.raises(Forbidden):
            await inquiries.assign_inquiry(
                db, supervisor, firms.a.inquiry.id, str(supervisor.id), base_url=BASE_URL
            )
        for wrong in (str(firms.b.owner.id), "nonsense"):
            with pytest.raises(Invalid):
                await inquiries.assign_inquiry(
                    db, admin, firms.a.inquiry.id, wrong, base_url=BASE_URL
                )
        await inquiries.assign_inquiry(
            db, admin, firms.a.inquiry.id, str(supervisor.id), base_url=BASE_URL
        )
        # Assigning again to the same person, or to oneself, sends nothing more.
        await inquiries.assign_inquiry(
            db, admin, firms.a.inquiry.id, str(supervisor.id), base_url=BASE_URL
        )
        await inquiries.assign_inquiry(
            db, admin, firms.a.inquiry.id, str(admin.id), base_url=BASE_URL
        )
        mine = await inquiries.get_inquiry(db, admin, firms.a.inquiry.id)
        assert mine.assigned_membership_id == admin.id
        unassigned = await inquiries.assign_inquiry(
            db, admin, firms.a.inquiry.id, "", base_url=BASE_URL
        )
        assert unassigned.assigned_membership_id is None
    await db.close()
    (mail,) = await _outbox(clean_db)
    assert mail["to"] == firms.a.supervisor.user.email
    assert "Esimerkkikunta" in mail["subject"]
    assert f"{BASE_URL}/t/alfa/inquiries/{firms.a.inquiry.id}" in mail["text"]


async def test_people_who_left_keep_their_names_but_are_no_choice(
    session: Any, firms: Firms, clean_db: Backend
) -> None:
    assigned = await add_inquiry(
        clean_db.owner,
        firms.a.tenant,
        requested_profile_id=firms.a.profile.id,
        assigned_membership_id=firms.a.supervisor.id,
    )
    db = session(firms.a)
    async with db.begin():
        names = await inquiries.staff_names(db)
        assert dict(names.choices)[firms.a.supervisor.id] == "Maija Supervisor"
        left = await db.scalar(select(Membership).where(Membership.id == firms.a.supervisor.id))
        assert left is not None
        left.deactivate()
    async with db.begin():
        names = await inquiries.staff_names(db)
        with pytest.raises(Invalid):
            await inquiries.assign_inquiry(
                db, firms.a.owner, firms.a.inquiry.id, str(left.id), base_url="https://x.example"
            )
    await db.close()
    assert names.requested(assigned) == names.assignee(assigned) == "Maija Supervisor"
    assert names.assignee(firms.a.inquiry) == ""
    assert firms.a.supervisor.id not in dict(names.choices)
    assert firms.b.owner.id not in names.by_membership
