"""The ORM wall: every statement shape a session runs stays inside the session's tenant.

On SQLite this wall is the only one, so each test here runs on both backends and checks what
is stored through the schema owner, who sees every firm.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, insert, literal, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from luotsi.platform.db import (
    TENANT_KEY,
    USER_KEY,
    make_engine,
    make_sessionmaker,
    unscoped_memberships_of_user,
    unscoped_session,
)
from luotsi.platform.errors import RawSQLRefused, TenantNotSet
from luotsi.platform.members import Invitation
from luotsi.platform.tenancy import Membership, Role, Tenant
from tests.conftest import Backend
from tests.factories import Firms, make_user


@pytest.fixture
async def app_engine(clean_db: Backend) -> AsyncIterator[AsyncEngine]:
    """The app's connection (the runtime role: RLS applies on PostgreSQL)."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def firm_a(app_engine: AsyncEngine, firms: Firms) -> AsyncIterator[AsyncSession]:
    """Firm A's session, as a request has it once the firm is resolved."""
    async with make_sessionmaker(app_engine)() as db:
        db.info[TENANT_KEY] = firms.a.tenant.id
        yield db


async def stored_memberships(backend: Backend) -> dict[uuid.UUID, set[str]]:
    """Every membership as the schema owner sees it: tenant -> the roles in it."""
    async with backend.owner.connect() as conn:
        rows = await conn.execute(select(Membership.tenant_id, Membership.role))
        stored: dict[uuid.UUID, set[str]] = {}
        for tenant_id, role in rows:
            stored.setdefault(uuid.UUID(str(tenant_id)), set()).add(str(role))
        return stored


async def member_count(backend: Backend, tenant: Tenant) -> int:
    async with backend.owner.connect() as conn:
        query = (
            select(func.count()).select_from(Membership).where(Membership.tenant_id == tenant.id)
        )
        return int((await conn.execute(query)).scalar_one())


# --- raw SQL ------------------------------------------------------------------------------

RAW_STATEMENTS = {
    "text": lambda: text("select count(*) from memberships"),
    "text with columns": lambda: text("select id from memberships").columns(Membership.id),
    "select from text": lambda: select(literal_column("id")).select_from(text("memberships")),
    "text in where": lambda: select(Membership).where(text("1 = 1")),
    "literal column in where": lambda: select(Membership).where(literal_column("1 = 1")),
    "from_statement": lambda: select(Membership).from_statement(text("select * from memberships")),
}


@pytest.mark.parametrize("shape", RAW_STATEMENTS)
async def test_raw_sql_is_refused_in_a_scoped_session(firm_a: AsyncSession, shape: str) -> None:
    with pytest.raises(RawSQLRefused, match="unscoped_session"):
        await firm_a.execute(RAW_STATEMENTS[shape]())


async def test_raw_sql_is_refused_in_a_session_without_a_tenant(
    app_engine: AsyncEngine, firms: Firms
) -> None:
    async with make_sessionmaker(app_engine)() as db:  # a request's, before the firm is known
        with pytest.raises(RawSQLRefused):
            await db.execute(text("select count(*) from memberships"))


async def test_raw_sql_is_refused_on_the_scoped_sessions_connection(
    firm_a: AsyncSession,
) -> None:
    conn = await firm_a.connection()
    with pytest.raises(RawSQLRefused):
        await conn.exec_driver_sql("select count(*) from memberships")
    with pytest.raises(RawSQLRefused):
        await conn.execute(text("select count(*) from memberships"))


async def test_scoped_session_counts_rows_with_count_star(firm_a: AsyncSession) -> None:
    # func.count() renders count(*) from a literal column: the one literal that is allowed.
    assert await firm_a.scalar(select(func.count()).select_from(Membership)) == 4


async def test_raw_sql_runs_in_an_unscoped_session(app_engine: AsyncEngine, firms: Firms) -> None:
    async with unscoped_session(make_sessionmaker(app_engine)) as db:
        assert (await db.execute(text("select count(*) from tenants"))).scalar() == 2
        conn = await db.connection()
        assert (await conn.exec_driver_sql("select count(*) from tenants")).scalar() == 2


async def test_an_unscoped_session_scoped_to_a_tenant_refuses_raw_sql(
    app_engine: AsyncEngine, firms: Firms
) -> None:
    from luotsi.platform.db import scope_to_tenant

    async with unscoped_session(make_sessionmaker(app_engine)) as db, db.begin():
        await scope_to_tenant(db, firms.a.tenant.id)
        with pytest.raises(RawSQLRefused):
            await db.execute(text("select count(*) from memberships"))
        with pytest.raises(RawSQLRefused):
            await (await db.connection()).exec_driver_sql("select count(*) from memberships")


# --- insert ---------------------------------------------------------------------------------


async def test_insert_without_tenant_id_is_stamped_with_the_sessions_tenant(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    one = await make_user(clean_db.owner, "one@x.example", "Yksi")
    two = await make_user(clean_db.owner, "two@x.example", "Kaksi")
    three = await make_user(clean_db.owner, "three@x.example", "Kolme")
    four = await make_user(clean_db.owner, "four@x.example", "Neljä")
    async with firm_a.begin():
        await firm_a.execute(insert(Membership).values(user_id=one.id, role=Role.SUPERVISEE))
        await firm_a.execute(
            insert(Membership).values(
                [
                    {"user_id": two.id, "role": Role.SUPERVISEE},
                    {"user_id": three.id, "role": Role.SUPERVISEE, "tenant_id": firms.a.tenant.id},
                ]
            )
        )
        await firm_a.execute(
            insert(Membership), [{"user_id": four.id, "role": Role.CLIENT_CONTACT}]
        )
    assert await member_count(clean_db, firms.a.tenant) == 4 + 4
    assert await member_count(clean_db, firms.b.tenant) == 4


async def test_executemany_insert_is_stamped_row_by_row(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    users = [await make_user(clean_db.owner, f"u{i}@x.example", f"U {i}") for i in range(3)]
    async with firm_a.begin():
        await firm_a.execute(
            insert(Membership), [{"user_id": u.id, "role": Role.SUPERVISEE} for u in users]
        )
    assert await member_count(clean_db, firms.a.tenant) == 4 + 3
    assert await member_count(clean_db, firms.b.tenant) == 4


FOREIGN_INSERTS = {
    "values": lambda b, user: insert(Membership).values(tenant_id=b, user_id=user, role=Role.ADMIN),
    "one of many rows": lambda b, user: insert(Membership).values(
        [{"user_id": user, "role": Role.ADMIN}, {"tenant_id": b, "user_id": user, "role": "admin"}]
    ),
    "expression": lambda b, user: insert(Membership).values(
        tenant_id=select(Tenant.id).where(Tenant.id == b).scalar_subquery(),
        user_id=user,
        role=Role.ADMIN,
    ),
    "from select": lambda b, user: insert(Membership).from_select(
        ["tenant_id", "user_id", "role"],
        select(Tenant.id, literal(user), literal("admin")),
    ),
}


@pytest.mark.parametrize("shape", FOREIGN_INSERTS)
async def test_insert_into_another_tenant_is_refused(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession, shape: str
) -> None:
    user = await make_user(clean_db.owner, "new@x.example", "Uusi")
    before = await stored_memberships(clean_db)
    with pytest.raises(TenantNotSet):
        async with firm_a.begin():
            await firm_a.execute(FOREIGN_INSERTS[shape](firms.b.tenant.id, user.id))
    assert await stored_memberships(clean_db) == before


async def test_executemany_insert_with_another_tenants_row_is_refused(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    user = await make_user(clean_db.owner, "new@x.example", "Uusi")
    rows = [
        {"user_id": user.id, "role": Role.ADMIN},
        {"user_id": user.id, "role": Role.ADMIN, "tenant_id": firms.b.tenant.id},
    ]
    with pytest.raises(TenantNotSet, match="another tenant"):
        async with firm_a.begin():
            await firm_a.execute(insert(Membership), rows)
    assert await member_count(clean_db, firms.b.tenant) == 4


async def test_insert_into_a_tenant_table_without_a_tenant_is_refused(
    clean_db: Backend, app_engine: AsyncEngine, firms: Firms
) -> None:
    user = await make_user(clean_db.owner, "new@x.example", "Uusi")
    async with make_sessionmaker(app_engine)() as db:
        with pytest.raises(TenantNotSet):
            await db.execute(
                insert(Membership).values(
                    tenant_id=firms.a.tenant.id, user_id=user.id, role=Role.ADMIN
                )
            )


# --- update and delete ---------------------------------------------------------------------


async def test_bulk_update_and_delete_change_only_the_sessions_tenant(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    async with firm_a.begin():
        await firm_a.execute(
            update(Membership).where(Membership.role == Role.ADMIN).values(role=Role.SUPERVISOR)
        )
        await firm_a.execute(delete(Membership).where(Membership.user_id == firms.both.id))
    stored = await stored_memberships(clean_db)
    assert "admin" not in stored[firms.a.tenant.id]
    assert "admin" in stored[firms.b.tenant.id]
    assert await member_count(clean_db, firms.a.tenant) == 3
    assert await member_count(clean_db, firms.b.tenant) == 4


async def test_update_that_moves_rows_to_another_tenant_is_refused(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    with pytest.raises(TenantNotSet, match="another tenant"):
        async with firm_a.begin():
            await firm_a.execute(update(Membership).values(tenant_id=firms.b.tenant.id))
    assert await member_count(clean_db, firms.a.tenant) == 4


async def test_update_by_primary_key_of_another_tenants_row_is_refused(
    clean_db: Backend, firms: Firms, firm_a: AsyncSession
) -> None:
    b_admin = firms.b.admin
    with pytest.raises(TenantNotSet, match="another tenant"):
        async with firm_a.begin():
            await firm_a.execute(
                update(Membership),
                [{"tenant_id": b_admin.tenant_id, "id": b_admin.id, "role": Role.OWNER}],
            )
    assert "admin" in (await stored_memberships(clean_db))[firms.b.tenant.id]


async def test_core_update_of_a_tenant_table_is_refused(firm_a: AsyncSession) -> None:
    # A Table, not the mapped class: no entity the criterion could attach to.
    with pytest.raises(TenantNotSet, match="memberships"):
        await firm_a.execute(update(Membership.__table__).values(role="admin"))


# --- a user's own memberships across firms ------------------------------------------------


async def test_unscoped_memberships_of_user_reads_only_that_users_memberships(
    app_engine: AsyncEngine, firms: Firms
) -> None:
    async with make_sessionmaker(app_engine)() as db:
        db.info[USER_KEY] = firms.both.id
        # No filter on the user in the query: the escape hatch adds it.
        rows = list(
            await db.scalars(unscoped_memberships_of_user(select(Membership), firms.both.id))
        )
    assert {m.tenant_id for m in rows} == {firms.a.tenant.id, firms.b.tenant.id}
    assert {m.user_id for m in rows} == {firms.both.id}


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(lambda: select(Invitation), id="another table"),
        pytest.param(
            lambda: select(Membership).join(
                Invitation, Invitation.tenant_id == Membership.tenant_id
            ),
            id="joined to another table",
        ),
        pytest.param(
            lambda: select(Membership).where(
                Membership.tenant_id.in_(select(Invitation.tenant_id))
            ),
            id="another table in a subquery",
        ),
    ],
)
async def test_unscoped_memberships_of_user_refuses_other_tenant_tables(
    app_engine: AsyncEngine, firms: Firms, statement: object
) -> None:
    async with make_sessionmaker(app_engine)() as db:
        db.info[USER_KEY] = firms.both.id
        with pytest.raises(TenantNotSet, match="memberships only"):
            await db.execute(unscoped_memberships_of_user(statement(), firms.both.id))  # type: ignore[operator]
