"""The audit log at the service level, and its protection in PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from luotsi.platform import audit, clock
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, TenantNotSet
from luotsi.platform.migrate import upgrade
from tests.conftest import Backend, postgres_only
from tests.factories import Firms


async def _rows(backend: Backend) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        return list(await db.scalars(select(AuditEvent).order_by(AuditEvent.at)))


async def _add_rows(
    backend: Backend, tenant_id: uuid.UUID | None, count: int, **values: object
) -> None:
    """``count`` rows a second apart, all later than any added before (within the hour)."""
    start = clock.now() - timedelta(hours=1) + timedelta(minutes=len(await _rows(backend)))
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "at": start + timedelta(seconds=i),
            "actor_user_id": values.get("actor_user_id"),
            "actor_name": values.get("actor_name", "Maija Owner"),
            "action": values.get("action", audit.MEMBER_INVITED),
            "object_type": "invitation",
            "object_id": uuid.uuid4(),
            "ip": "192.0.2.1",
            "user_agent": "test",
        }
        for i in range(count)
    ]
    async with backend.owner.begin() as conn:
        await conn.execute(insert(AuditEvent), rows)


async def test_row_commits_and_rolls_back_with_the_callers_transaction(
    clean_db: Backend, firms: Firms
) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    owner = firms.a.owner
    try:
        maker = make_sessionmaker(engine)
        async with maker() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            await audit.record(
                db, audit.MEMBER_REMOVED, actor_user_id=owner.user_id, actor_name="Maija Owner"
            )
            await db.rollback()
        async with maker() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            await audit.record(
                db,
                audit.MEMBER_ROLE_CHANGED,
                actor_user_id=owner.user_id,
                actor_name="Maija Owner",
                object_type="membership",
                object_id=firms.a.supervisor.id,
                ip="198.51.100.7",
                user_agent="Mozilla/5.0 " + "x" * 500,
            )
            await db.commit()
    finally:
        await engine.dispose()
    [row] = await _rows(clean_db)
    assert row.action == audit.MEMBER_ROLE_CHANGED
    # Without an explicit tenant the row belongs to the tenant the session is scoped to.
    assert row.tenant_id == firms.a.tenant.id
    assert (row.object_type, row.object_id) == ("membership", firms.a.supervisor.id)
    assert row.ip == "198.51.100.7"
    assert row.user_agent.startswith("Mozilla/5.0 ") and len(row.user_agent) == 200


async def test_event_of_another_tenant_and_bad_codes_are_refused(
    clean_db: Backend, firms: Firms
) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            with pytest.raises(TenantNotSet):
                await audit.record(
                    db,
                    audit.MEMBER_REMOVED,
                    actor_user_id=None,
                    actor_name="",
                    tenant_id=firms.b.tenant.id,
                )
            for bad in ("removed", "Member.Removed", "member.removed; drop", "a." + "b" * 40):
                with pytest.raises(ValueError):
                    await audit.record(db, bad, actor_user_id=None, actor_name="")
    finally:
        await engine.dispose()
    assert await _rows(clean_db) == []


async def test_listing_is_the_firms_own_newest_first_filtered_and_paged(
    clean_db: Backend, firms: Firms
) -> None:
    someone = uuid.uuid4()
    await _add_rows(clean_db, firms.a.tenant.id, 55, actor_user_id=firms.a.owner.user_id)
    await _add_rows(
        clean_db,
        firms.a.tenant.id,
        3,
        actor_user_id=someone,
        actor_name="Left Already",
        action=audit.MEMBER_REMOVED,
    )
    await _add_rows(clean_db, firms.b.tenant.id, 7, actor_user_id=firms.b.owner.user_id)
    await _add_rows(clean_db, None, 2, action=audit.LOGIN_FAILED)
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            first = await audit.list_audit_events(db, firms.a.owner, per_page=50)
            second = await audit.list_audit_events(db, firms.a.owner, page=2, per_page=50)
            beyond = await audit.list_audit_events(db, firms.a.owner, page=9, per_page=50)
            removals = await audit.list_audit_events(db, firms.a.owner, action="member.removed")
            by_person = await audit.list_audit_events(db, firms.a.owner, actor_user_id=someone)
            actions, people = await audit.audit_filter_choices(db, firms.a.owner)
            with pytest.raises(Forbidden):
                await audit.list_audit_events(db, firms.a.admin)
    finally:
        await engine.dispose()
    assert (first.total, len(first.items), len(second.items)) == (58, 50, 8)
    assert {row.tenant_id for row in first.items + second.items} == {firms.a.tenant.id}
    times = [row.at for row in first.items + second.items]
    assert times == sorted(times, reverse=True)
    assert first.items[0].action == audit.MEMBER_REMOVED  # the newest rows come first
    assert beyond.number == 2
    assert removals.total == 3 and by_person.total == 3
    assert actions == [audit.MEMBER_INVITED, audit.MEMBER_REMOVED]
    assert people == [(someone, "Left Already"), (firms.a.owner.user_id, "Maija Owner")]


@postgres_only
async def test_app_role_cannot_update_or_delete_audit_rows(clean_db: Backend, firms: Firms) -> None:
    await _add_rows(clean_db, firms.a.tenant.id, 1)
    # `luotsi db upgrade` again: its grant step must not give the rights back.
    await upgrade(clean_db.settings)
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        for statement in (
            "update audit_events set action = 'login.succeeded'",
            "delete from audit_events",
            "truncate audit_events",
        ):
            async with engine.connect() as conn:
                await conn.execute(
                    text("select set_config('app.tenant_id', :t, false)"),
                    {"t": str(firms.a.tenant.id)},
                )
                with pytest.raises(DBAPIError, match="permission denied"):
                    await conn.execute(text(statement))
    finally:
        await engine.dispose()
    [row] = await _rows(clean_db)
    assert row.action == audit.MEMBER_INVITED


@postgres_only
async def test_rls_shows_a_firm_only_its_own_audit_rows(clean_db: Backend, firms: Firms) -> None:
    await _add_rows(clean_db, firms.a.tenant.id, 3)
    await _add_rows(clean_db, firms.b.tenant.id, 2)
    await _add_rows(clean_db, None, 1, action=audit.LOGIN_FAILED)
    a, b = str(firms.a.tenant.id), str(firms.b.tenant.id)
    insert_row = (
        "insert into audit_events (id, tenant_id, at, actor_name, action, object_type, ip, "
        "user_agent) values (gen_random_uuid(), :t, now(), '', 'member.invited', '', '', '')"
    )
    count = "select count(*) from audit_events"
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text(count))).scalar() == 0  # no tenant: nothing
            await conn.execute(text("select set_config('app.tenant_id', :t, false)"), {"t": b})
            assert (await conn.execute(text(count))).scalar() == 2
            leaked = await conn.execute(
                text("select count(*) from audit_events where tenant_id = :a"), {"a": a}
            )
            assert leaked.scalar() == 0
            # Platform events may be added from any scope; another firm's rows may not.
            await conn.execute(text(insert_row), {"t": None})
            await conn.execute(text(insert_row), {"t": b})
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(text(insert_row), {"t": a})
            await conn.rollback()
    finally:
        await engine.dispose()
