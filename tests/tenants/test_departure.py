"""A member leaving the firm: what holds their removal, and what does not."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.sessions import departure
from luotsi.tenants.sessions.models import SessionStatus
from tests import clock
from tests.conftest import Backend
from tests.factories import Firms, add_agreement, add_member, add_session, make_user


async def _ville(clean_db: Backend, firms: Firms) -> Membership:
    user = await make_user(clean_db.owner, "ville@alfa.example", "Ville Ohjaaja")
    return await add_member(clean_db.owner, firms.a.tenant, user, Role.SUPERVISOR)


async def test_past_cancelled_and_ended_work_does_not_hold_a_member(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    ville = await _ville(clean_db, firms)
    ended = await add_agreement(
        clean_db.owner, firms.a.tenant, firms.a.org, ville, [], status=AgreementStatus.ENDED
    )
    await add_session(
        clean_db.owner, firms.a.tenant, ended, ville, starts_at=clock.at(clock.days(-20))
    )
    await add_session(
        clean_db.owner,
        firms.a.tenant,
        ended,
        ville,
        starts_at=clock.at(clock.working_day(10)),
        status=SessionStatus.CANCELLED_BY_CLIENT,
    )
    async with db.begin():
        work = await departure.open_work(db, firms.a.owner, ville)
        assert work.is_empty
        removed = await departure.remove_member(db, firms.a.owner, ville.id)
        assert removed.deactivated_at is not None


async def test_a_draft_and_a_planned_session_hold_a_member_until_handed_over(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    ville = await _ville(clean_db, firms)
    draft = await add_agreement(
        clean_db.owner, firms.a.tenant, firms.a.org, ville, [], status=AgreementStatus.DRAFT
    )
    session = await add_session(clean_db.owner, firms.a.tenant, firms.a.agreement, ville)
    async with db.begin():
        work = await departure.open_work(db, firms.a.owner, ville)
        assert [a.id for a in work.agreements] == [draft.id]
        assert [s.id for s in work.sessions] == [session.id]
        with pytest.raises(Invalid) as refused:
            await departure.remove_member(db, firms.a.owner, ville.id)
        assert set(refused.value.errors) == {"work"}
        successor, moved = await departure.hand_over_work(
            db, firms.a.admin, ville.id, str(firms.a.supervisor.id)
        )
        assert successor.id == firms.a.supervisor.id
        assert [s.id for s in moved.sessions] == [session.id]
    async with db.begin():
        held = await departure.open_work(db, firms.a.owner, ville)
        assert held.is_empty
        now_held = await departure.open_work(db, firms.a.owner, firms.a.supervisor)
        assert session.id in {s.id for s in now_held.sessions}
        assert draft.id in {a.id for a in now_held.agreements}
        await departure.remove_member(db, firms.a.owner, ville.id)
    async with db.begin():
        left = await db.scalar(select(Membership).where(Membership.id == ville.id))
        assert left is not None and not left.is_active


async def test_a_supervisor_cannot_hand_over_anyones_work(
    db: AsyncSession, firms: Firms, clean_db: Backend
) -> None:
    ville = await _ville(clean_db, firms)
    async with db.begin():
        with pytest.raises(Forbidden):
            await departure.hand_over_work(db, firms.a.supervisor, ville.id, str(firms.a.admin.id))
