"""Audit rows for sign-ins and member changes, and the owner's audit view."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from luotsi.platform import audit, clock
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import UNSCOPED_KEY, make_sessionmaker
from tests.conftest import Backend, Client
from tests.factories import PASSWORD, Firms

WRONG_PASSWORD = "not the right one 7f3a"


async def _rows(backend: Backend, action: str | None = None) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        query = select(AuditEvent).order_by(AuditEvent.at)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(await db.scalars(query))


def _columns(row: AuditEvent) -> list[str]:
    return [str(getattr(row, column.key)) for column in AuditEvent.__table__.columns]


def _assert_no_secret(rows: list[AuditEvent], *secrets: str) -> None:
    for row in rows:
        for value in _columns(row):
            for secret in secrets:
                assert secret not in value, (row.action, value)


async def test_sign_in_success_is_a_platform_event_without_the_password(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    [row] = await _rows(clean_db)
    assert row.action == audit.LOGIN_SUCCEEDED
    assert (row.actor_user_id, row.actor_name) == (firms.a.owner.user_id, "Maija Owner")
    assert row.tenant_id is None  # an account may belong to several firms
    assert row.ip == "127.0.0.1"
    assert row.user_agent.startswith("python-httpx/")
    _assert_no_secret([row], PASSWORD)


async def test_failed_sign_ins_are_kept_without_the_password(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    email = firms.a.supervisor.user.email
    wrong = await client.post("/login", {"email": email, "password": WRONG_PASSWORD})
    unknown = await client.post(
        "/login", {"email": "nobody@example.fi", "password": WRONG_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 422
    rows = await _rows(clean_db, audit.LOGIN_FAILED)
    assert [(r.actor_user_id, r.actor_name) for r in rows] == [
        (firms.a.supervisor.user_id, "Maija Supervisor"),
        (None, ""),
    ]
    assert {(r.tenant_id, r.ip) for r in rows} == {(None, "127.0.0.1")}
    # The attempted address is not kept either: people type passwords into it.
    _assert_no_secret(rows, WRONG_PASSWORD, "nobody@example.fi")


async def test_member_changes_are_audited_in_the_firm(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    supervisor = firms.a.supervisor.id
    changed = await client.post(f"/t/alfa/members/{supervisor}/role", {"role": "admin"})
    invited = await client.post(
        "/t/alfa/members/invite", {"email": "uusi@example.fi", "role": "supervisor"}
    )
    handed = await client.post(
        f"/t/alfa/members/{supervisor}/hand-over", {"successor": str(firms.a.owner.id)}
    )
    removed = await client.post(f"/t/alfa/members/{supervisor}/remove")
    assert changed.status_code == invited.status_code == handed.status_code == 303
    assert removed.status_code == 303
    rows = [r for r in await _rows(clean_db) if r.action != audit.LOGIN_SUCCEEDED]
    assert [(r.action, r.object_type) for r in rows] == [
        (audit.MEMBER_ROLE_CHANGED, "membership"),
        (audit.MEMBER_INVITED, "invitation"),
        (audit.MEMBER_WORK_HANDED_OVER, "membership"),
        (audit.MEMBER_REMOVED, "membership"),
    ]
    assert rows[0].object_id == rows[2].object_id == rows[3].object_id == supervisor
    for row in rows:
        assert row.tenant_id == firms.a.tenant.id
        assert (row.actor_user_id, row.actor_name) == (firms.a.owner.user_id, "Maija Owner")
        assert row.ip == "127.0.0.1" and row.user_agent.startswith("python-httpx/")
    _assert_no_secret(rows, PASSWORD, "uusi@example.fi")


async def test_refused_change_leaves_no_audit_row(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    refused = await client.post(f"/t/alfa/members/{firms.a.supervisor.id}/role", {"role": "x"})
    assert refused.status_code == 422
    assert [r.action for r in await _rows(clean_db)] == [audit.LOGIN_SUCCEEDED]


async def _add_rows(backend: Backend, tenant_id: uuid.UUID, count: int, **values: Any) -> None:
    start = clock.now() - timedelta(days=1) + timedelta(minutes=len(await _rows(backend)))
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
            "ip": values.get("ip", "192.0.2.1"),
            "user_agent": "Firefox",
        }
        for i in range(count)
    ]
    async with backend.owner.begin() as conn:
        await conn.execute(insert(AuditEvent), rows)


async def test_owner_sees_the_firms_log_newest_first_in_pages(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await _add_rows(clean_db, firms.a.tenant.id, 52, actor_user_id=firms.a.owner.user_id)
    await _add_rows(
        clean_db,
        firms.a.tenant.id,
        1,
        actor_user_id=firms.a.admin.user_id,
        actor_name="Maija Admin",
        action=audit.MEMBER_REMOVED,
        ip="203.0.113.9",
    )
    await _add_rows(clean_db, firms.b.tenant.id, 1, actor_name="Beeta Person", ip="198.51.100.66")
    await client.login(firms.a.owner.user.email)
    first = await client.get("/t/alfa/audit/")
    assert first.status_code == 200
    assert first.text.count('class="audit-row"') == 50
    # The newest row first, with who, what, which object and from where.
    newest = first.text.index('class="audit-row"')
    assert first.text.index("Maija Admin", newest) < first.text.index("Maija Owner", newest)
    assert "member.removed" in first.text and "203.0.113.9" in first.text
    assert "Firefox" in first.text and "invitation" in first.text
    assert "Beeta Person" not in first.text and "198.51.100.66" not in first.text
    assert 'rel="next"' in first.text
    second = await client.get("/t/alfa/audit/?page=2")
    assert second.text.count('class="audit-row"') == 3
    settings = await client.get("/t/alfa/settings/")
    assert 'href="/t/alfa/audit/"' in settings.text


async def test_owner_filters_by_event_and_by_person(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await _add_rows(clean_db, firms.a.tenant.id, 3, actor_user_id=firms.a.owner.user_id)
    await _add_rows(
        clean_db,
        firms.a.tenant.id,
        2,
        actor_user_id=firms.a.admin.user_id,
        actor_name="Maija Admin",
        action=audit.MEMBER_REMOVED,
    )
    await client.login(firms.a.owner.user.email)
    removed = await client.get("/t/alfa/audit/?action=member.removed")
    assert removed.text.count('class="audit-row"') == 2
    by_owner = await client.get(f"/t/alfa/audit/?person={firms.a.owner.user_id}")
    assert by_owner.text.count('class="audit-row"') == 3
    both = await client.get(
        f"/t/alfa/audit/?person={firms.a.owner.user_id}&action=member.removed",
        headers={"HX-Request": "true"},
    )
    assert both.status_code == 200 and 'class="audit-row"' not in both.text
    assert "<html" not in both.text  # htmx gets the list alone
    # Nonsense filters are ignored rather than failing.
    odd = await client.get("/t/alfa/audit/?person=not-a-uuid&action=drop.table&page=x")
    assert odd.text.count('class="audit-row"') == 5


async def test_only_the_owner_sees_the_audit_log(
    client_factory: Any, clean_db: Backend, firms: Firms
) -> None:
    for person, status in (
        (firms.a.admin, 403),
        (firms.a.supervisor, 403),
        (firms.b.owner, 404),
    ):
        visitor = client_factory()
        await visitor.login(person.user.email)
        assert (await visitor.get("/t/alfa/audit/")).status_code == status
    admin = client_factory()
    await admin.login(firms.a.admin.user.email)
    assert "/t/alfa/audit/" not in (await admin.get("/t/alfa/settings/")).text
