"""Tenancy rules: the schema's shape, automatic scoping, and row-level security."""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKeyConstraint, select, text
from sqlalchemy.exc import DBAPIError

import luotsi.models
from luotsi.platform.db import (
    TENANT_KEY,
    Base,
    TenantScoped,
    make_engine,
    make_sessionmaker,
    tenant_tables,
    unscoped_session,
)
from luotsi.platform.errors import TenantNotSet
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import OutboxMessage, enqueue_email
from luotsi.platform.tenancy import Membership, Role
from tests.conftest import Backend, Outbox, postgres_only, scoped
from tests.factories import Firms

# Global tables that name a firm (the outbox and the audit log have their own policies; the
# subscriptions and Stripe events are read by webhooks before the firm is known). Any other
# table with tenant_id must be TenantScoped.
GLOBAL_TABLES_WITH_TENANT_REFERENCE = {
    "outbox",
    "auth_tokens",
    "audit_events",
    "subscriptions",
    "stripe_events",
    "job_schedule",
    "operator_actions",
}


def test_every_tenant_table_has_composite_keys() -> None:
    problems = []
    tenant_table_names = set(tenant_tables())
    assert {"memberships", "invitations"} <= tenant_table_names
    for table in Base.metadata.sorted_tables:
        if table.name in tenant_table_names:
            pk = [c.name for c in table.primary_key.columns]
            if pk != ["tenant_id", "id"]:
                problems.append(f"{table.name}: primary key {pk}, want ['tenant_id', 'id']")
            if table.c.tenant_id.nullable:
                problems.append(f"{table.name}: tenant_id is nullable")
            for fk in table.foreign_key_constraints:
                target = fk.referred_table.name
                cols = [c.name for c in fk.columns]
                if target in tenant_table_names and (cols[0] != "tenant_id" or len(cols) < 2):
                    problems.append(
                        f"{table.name}: foreign key to {target} is not (tenant_id, ...)"
                    )
            for constraint in table.constraints:
                if constraint.__class__.__name__ == "UniqueConstraint":
                    names = [c.name for c in constraint.columns]
                    if "tenant_id" not in names:
                        problems.append(f"{table.name}: unique {names} lacks tenant_id")
        elif "tenant_id" in table.c and table.name not in GLOBAL_TABLES_WITH_TENANT_REFERENCE:
            problems.append(f"{table.name}: has tenant_id but is not a TenantScoped table")
    assert problems == []


# Indexes for lookups that cross firms on purpose: a signed-in user's firms, the invitations
# waiting for an address (before a firm is chosen).
CROSS_TENANT_INDEXES = {"ix_memberships_user_id", "ix_invitations_email"}


def test_every_index_of_a_tenant_table_leads_with_tenant_id() -> None:
    """A firm's queries read only its own part of an index (and a distributed table's shard
    finds its rows by the distribution column); docs/performance.md has the plans."""
    tenant_table_names = set(tenant_tables())
    problems = [
        f"{table.name}: index {index.name} on {[c.name for c in index.columns]}"
        for table in Base.metadata.sorted_tables
        if table.name in tenant_table_names
        for index in table.indexes
        if index.name not in CROSS_TENANT_INDEXES and next(iter(index.columns)).name != "tenant_id"
    ]
    assert problems == []


def test_foreign_keys_between_tenant_tables_are_composite() -> None:
    # Guard the check above against a vacuous pass: a composite FK is recognised as such.
    fk = ForeignKeyConstraint(["tenant_id", "x_id"], ["memberships.tenant_id", "memberships.id"])
    assert [e.target_fullname for e in fk.elements] == ["memberships.tenant_id", "memberships.id"]


# The policies as PostgreSQL prints them back (pg_policies): a firm's rows, the signed-in
# user's own rows, and the outbox worker's setting.
TENANT_ROWS = "(tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"
USER_ROWS = "(user_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid)"
OWN_SIGN_INS = (
    "((tenant_id IS NULL) AND "
    "(actor_user_id = (NULLIF(current_setting('app.user_id'::text, true), ''::text))::uuid))"
)
FIRM_OR_PLATFORM_ROWS = f"((tenant_id IS NULL) OR {TENANT_ROWS})"
OUTBOX_WORKER = "(current_setting('app.outbox_worker'::text, true) = 'on'::text)"


def expected_policies() -> dict[tuple[str, str], tuple[str, str | None, str | None]]:
    """(table, policy) -> (command, USING, WITH CHECK): every policy the schema should have."""
    policies: dict[tuple[str, str], tuple[str, str | None, str | None]] = {
        (table, "tenant_isolation"): ("ALL", TENANT_ROWS, TENANT_ROWS) for table in tenant_tables()
    }
    policies[("memberships", "own_rows")] = ("SELECT", USER_ROWS, None)
    policies[("notifications", "own_rows")] = ("SELECT", USER_ROWS, None)
    # Migration 0009: a firm may only add to the outbox; the worker reads and updates it.
    policies[("outbox", "tenant_enqueue")] = ("INSERT", None, FIRM_OR_PLATFORM_ROWS)
    policies[("outbox", "worker")] = ("ALL", OUTBOX_WORKER, OUTBOX_WORKER)
    # Migrations 0006 and 0007: the audit log is appended to and read, never changed.
    policies[("audit_events", "tenant_read")] = ("SELECT", TENANT_ROWS, None)
    policies[("audit_events", "tenant_append")] = ("INSERT", None, FIRM_OR_PLATFORM_ROWS)
    policies[("audit_events", "own_sign_ins")] = ("SELECT", OWN_SIGN_INS, None)
    return policies


@postgres_only
async def test_every_policy_has_exactly_its_intended_expression(backend: Backend) -> None:
    async with backend.owner.connect() as conn:
        query = text(
            "select tablename, policyname, cmd, qual, with_check, permissive, roles "
            "from pg_policies where schemaname = 'public'"
        )
        rows = (await conn.execute(query)).all()
        found = {(t, p): (cmd, qual, check) for t, p, cmd, qual, check, _, _ in rows}
        kinds = {(permissive, tuple(roles)) for *_, permissive, roles in rows}
    assert found == expected_policies()
    # Permissive policies for every role: none narrows another, none exempts a role.
    assert kinds == {("PERMISSIVE", ("public",))}


@postgres_only
async def test_rls_enabled_and_forced_on_every_table_with_policies(backend: Backend) -> None:
    async with backend.owner.connect() as conn:
        rows = await conn.execute(
            text(
                "select c.relname, c.relrowsecurity, c.relforcerowsecurity from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'public' and c.relkind in ('r', 'p') "
                "and (c.relrowsecurity or c.relforcerowsecurity)"
            )
        )
        found = {name: (enabled, forced) for name, enabled, forced in rows}
    # FORCE: the policies bind the tables' owner too, not only the app's role.
    assert found == {table: (True, True) for table, _ in expected_policies()}


async def test_query_without_tenant_fails_closed(clean_db: Backend, firms: Firms) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            with pytest.raises(TenantNotSet):
                await db.scalars(select(Membership))
    finally:
        await engine.dispose()


async def test_scoped_session_sees_only_its_tenant(clean_db: Backend, firms: Firms) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            rows = list(await db.scalars(select(Membership)))
            # Even an explicit filter for the other firm finds nothing.
            other = list(
                await db.scalars(
                    select(Membership).where(Membership.tenant_id == firms.b.tenant.id)
                )
            )
    finally:
        await engine.dispose()
    assert {m.tenant_id for m in rows} == {firms.a.tenant.id}
    assert len(rows) == 4  # owner, admin, supervisor and the person in both firms
    assert other == []


async def test_writing_another_tenants_row_is_refused(clean_db: Backend, firms: Firms) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            db.add(Membership(tenant_id=firms.b.tenant.id, user_id=firms.both.id, role=Role.ADMIN))
            with pytest.raises(TenantNotSet):
                await db.flush()
    finally:
        await engine.dispose()


def test_tenant_scoped_mixin_marks_tables() -> None:
    assert issubclass(Membership, TenantScoped)


@postgres_only
async def test_rls_hides_other_tenant_rows_from_the_app_role(
    clean_db: Backend, firms: Firms
) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    a, b = str(firms.a.tenant.id), str(firms.b.tenant.id)
    try:
        async with engine.connect() as conn:
            who = (await conn.execute(text("select current_user"))).scalar()
            assert who == clean_db.settings.app_db_role
            # No tenant set: nothing at all is visible.
            none = (await conn.execute(text("select count(*) from memberships"))).scalar()
            assert none == 0
            await conn.execute(text("select set_config('app.tenant_id', :t, false)"), {"t": b})
            leaked = (
                await conn.execute(
                    text("select count(*) from memberships where tenant_id = :a"), {"a": a}
                )
            ).scalar()
            own = (await conn.execute(text("select count(*) from memberships"))).scalar()
            assert leaked == 0
            assert own == 4
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(
                    text(
                        "insert into memberships (tenant_id, id, user_id, role, created_at) "
                        "values (:a, gen_random_uuid(), :u, 'admin', now())"
                    ),
                    {"a": a, "u": str(firms.both.id)},
                )
    finally:
        await engine.dispose()


@postgres_only
async def test_app_role_cannot_bypass_rls(clean_db: Backend) -> None:
    async with clean_db.owner.connect() as conn:
        row = (
            await conn.execute(
                text("select rolsuper, rolbypassrls from pg_roles where rolname = :r"),
                {"r": clean_db.settings.app_db_role},
            )
        ).one()
    assert tuple(row) == (False, False)


@postgres_only
async def test_the_app_role_plans_each_statement_for_its_own_firm(clean_db: Backend) -> None:
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("show plan_cache_mode"))).scalar()
    finally:
        await engine.dispose()
    assert mode == "force_custom_plan"


async def test_count_without_entity_fails_closed_and_with_entity_is_scoped(
    clean_db: Backend, firms: Firms
) -> None:
    from sqlalchemy import func

    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            # The table appears only in WHERE: the criterion could not reach it.
            with pytest.raises(TenantNotSet):
                await db.scalar(select(func.count()).where(Membership.role == Role.ADMIN))
            admins = await db.scalar(
                select(func.count()).select_from(Membership).where(Membership.role == Role.ADMIN)
            )
            joined = await db.scalar(
                select(func.count())
                .select_from(luotsi.models.Tenant)
                .join(Membership, Membership.tenant_id == luotsi.models.Tenant.id)
            )
    finally:
        await engine.dispose()
    assert admins == 1  # firm A's admin only; firm B's admin and "both" are not counted
    assert joined == 4


async def test_subquery_entities_are_scoped_and_entityless_subqueries_refused(
    clean_db: Backend, firms: Firms
) -> None:
    from sqlalchemy import func

    from luotsi.tenants.directory.models import ServiceArea, StaffProfile

    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = firms.a.tenant.id
            # Both firms' supervisors work in Hyvinkää; the subquery is scoped to firm A.
            in_hyvinkaa = select(ServiceArea.profile_id).where(
                ServiceArea.municipality_code == "106"
            )
            found = list(
                await db.scalars(select(StaffProfile.id).where(StaffProfile.id.in_(in_hyvinkaa)))
            )
            with pytest.raises(TenantNotSet):
                entityless = select(func.max(ServiceArea.profile_id)).where(
                    ServiceArea.municipality_code == "106"
                )
                await db.scalars(select(StaffProfile.id).where(StaffProfile.id.in_(entityless)))
    finally:
        await engine.dispose()
    assert found == [firms.a.profile.id]


def _mail(to: str) -> dict[str, object]:
    return render_email("reset_password", to, "fi", name="Hanna", link="https://x/single-use")


@postgres_only
async def test_outbox_is_hidden_from_firms_and_delivered_by_the_worker(
    clean_db: Backend, firms: Firms, outbox: Outbox
) -> None:
    for firm in (firms.a, firms.b):
        async with scoped(clean_db, firm.tenant) as db:
            enqueue_email(db, _mail(f"hr@{firm.slug}.example"))
            await db.commit()
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            enqueue_email(db, _mail("signup@platform.example"))
        async with engine.connect() as conn:
            a, b = str(firms.a.tenant.id), str(firms.b.tenant.id)
            await conn.execute(text("select set_config('app.tenant_id', :t, false)"), {"t": a})
            visible = (await conn.execute(text("select tenant_id from outbox"))).all()
            changed = await conn.execute(
                text("update outbox set payload = '{}' where tenant_id = :b or tenant_id is null"),
                {"b": b},
            )
            assert visible == [] and changed.rowcount == 0
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(
                    text(
                        "insert into outbox (id, tenant_id, kind, payload, status, attempts,"
                        " next_attempt_at, created_at) values (gen_random_uuid(), :b, 'email',"
                        " '{}', 'pending', 0, now(), now())"
                    ),
                    {"b": b},
                )
    finally:
        await engine.dispose()
    async with scoped(clean_db, firms.a.tenant) as db:
        assert list(await db.scalars(select(OutboxMessage))) == []
    delivered = sorted(mail.to for mail in await outbox.deliver())
    assert delivered == ["hr@alfa.example", "hr@beeta.example", "signup@platform.example"]
