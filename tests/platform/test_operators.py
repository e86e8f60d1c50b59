"""The platform console's one way across firms: :func:`operator_reading_all_tenants`.

It reads every firm's rows and writes nothing; on PostgreSQL it runs as the read-only role
``luotsi_operator_read``, which bypasses row-level security but may read only the columns the
console shows (no content, no message of the outbox)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.migrate import OPERATOR_READ_ROLE
from luotsi.platform.operators import operator_reading_all_tenants
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.content import SessionNote
from tests.conftest import Backend, postgres_only
from tests.factories import Firms


@pytest.fixture
async def app_maker(clean_db: Backend) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions through the app's database role, as the console's requests use."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_the_operator_reads_every_firms_members(
    app_maker: async_sessionmaker[AsyncSession], firms: Firms
) -> None:
    async with operator_reading_all_tenants(app_maker) as db:
        found = set(await db.scalars(select(Membership.tenant_id).distinct()))
    assert found == {firms.a.tenant.id, firms.b.tenant.id}


async def test_the_operators_session_writes_nothing(
    app_maker: async_sessionmaker[AsyncSession], firms: Firms
) -> None:
    with pytest.raises((DBAPIError, OperationalError)):
        async with operator_reading_all_tenants(app_maker) as db:
            await db.execute(update(Tenant).values(name="Muutettu Oy"))
    async with operator_reading_all_tenants(app_maker) as db:
        names = set(await db.scalars(select(Tenant.name)))
    assert "Muutettu Oy" not in names and "Alfa Työnohjaus Oy" in names
    # The connection went back to the pool as it was: the app's sessions write again.
    async with app_maker() as db, db.begin():
        db.info["unscoped"] = True
        await db.execute(update(Tenant).where(Tenant.id == firms.a.tenant.id).values(name="Alfa"))


@postgres_only
async def test_on_postgres_it_is_the_read_only_role_and_it_reads_no_content(
    app_maker: async_sessionmaker[AsyncSession], firms: Firms
) -> None:
    async with operator_reading_all_tenants(app_maker) as db:
        assert await db.scalar(select(func.current_user())) == OPERATOR_READ_ROLE
    for forbidden in (select(SessionNote.id), select(OutboxMessage.payload)):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with operator_reading_all_tenants(app_maker) as db:
                await db.execute(forbidden)
    async with app_maker() as db:  # the app's own role again, under row-level security
        db.info["unscoped"] = True
        assert await db.scalar(select(func.current_user())) != OPERATOR_READ_ROLE
        assert list(await db.scalars(select(Membership.id))) == []
