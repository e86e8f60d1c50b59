"""Schema migrations (Alembic is the only way the schema is built) and the app's database role."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from alembic import command, op
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from luotsi.platform.db import make_engine
from luotsi.platform.settings import Settings
from luotsi.platform.storage import FileStore, make_file_store

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
TENANT_POLICY = "tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid"
USER_POLICY = "user_id = nullif(current_setting('app.user_id', true), '')::uuid"
# Tables the app may add to and read, never change: the blanket grant below is taken back.
APPEND_ONLY_TABLES = ("audit_events",)
# The owner's functions the app's role runs (the audit log's months: migration 0016).
APP_FUNCTIONS = ("luotsi_audit_partitions(date, date)", "luotsi_audit_drop_before(timestamptz)")
# The platform console's one way across firms (migration 0030): a role without login that
# bypasses row-level security and may only SELECT what the console shows. The app's role is
# made a member so that :func:`luotsi.platform.operators.operator_reading_all_tenants` can
# switch to it (SET LOCAL ROLE) inside a read-only transaction.
OPERATOR_READ_ROLE = "luotsi_operator_read"
# What the console reads: whole global tables of ids, states and times, and of the firms'
# tables only the columns its counts need (no content, no payload of a message, no person's
# details beyond the owner's name and e-mail, which billing needs).
OPERATOR_READABLE: dict[str, tuple[str, ...]] = {
    "alembic_version": (),
    "tenants": (),
    "subscriptions": (),
    "subscription_payments": (),
    "operator_actions": (),
    "job_schedule": (),
    "worker_heartbeats": (),
    "users": ("id", "name", "email"),
    "memberships": ("tenant_id", "id", "user_id", "role", "deactivated_at"),
    "supervision_sessions": ("tenant_id", "id", "supervisor_id", "starts_at", "status"),
    "outbox": ("id", "tenant_id", "status", "created_at"),
}


def enable_tenant_rls(table: str) -> None:
    """Row-level security for a tenant table, failing closed when no tenant is set.

    Call it in the migration that creates the table; a test fails for any tenant table
    without it.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_POLICY}) WITH CHECK ({TENANT_POLICY})"
    )


def enable_own_rows_policy(table: str) -> None:
    """A second, read-only policy: the signed-in user sees their own rows in every tenant."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE POLICY own_rows ON {table} FOR SELECT USING ({USER_POLICY})")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _run(connection: Connection, revision: str, files: FileStore) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    cfg.attributes["files"] = files
    command.upgrade(cfg, revision)


def migration_files() -> FileStore:
    """In a migration: the store the settings name, for moving file bytes in or out of it."""
    files: FileStore = op.get_context().config.attributes["files"]  # type: ignore[union-attr]
    return files


async def upgrade(settings: Settings, revision: str = "head") -> None:
    """Apply migrations as the schema owner; on PostgreSQL also set up the app's role."""
    if not settings.is_postgres:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.owner_database_url, pgbouncer=settings.pgbouncer)
    try:
        async with engine.begin() as conn:
            if not settings.is_postgres:
                await conn.run_sync(_sqlite_foreign_keys_off)
            await conn.run_sync(_run, revision, make_file_store(settings))
            if settings.is_postgres:
                await ensure_app_role(conn, settings)
            else:
                await conn.run_sync(_check_sqlite_foreign_keys)
        if settings.is_postgres:
            await _plan_each_statement(engine, settings.app_db_role)
    finally:
        await engine.dispose()


_PLAN = "force_custom_plan"
_PLAN_SETTING = f"plan_cache_mode={_PLAN}"  # as pg_db_role_setting keeps it


async def _plan_each_statement(engine: AsyncEngine, role: str) -> None:
    """Have PostgreSQL plan every statement of the app's role for its own values: after five
    runs it may keep a prepared statement's generic plan, one plan for every firm, which fits
    the largest firm's data or the smallest's but not both (docs/decisions.md, "Custom plans
    for a firm's own data").

    A role's settings are one row for the whole cluster, which PostgreSQL refuses to change
    from two transactions at once ("tuple concurrently updated"): so it is written only when
    missing, in a transaction of its own (not the migrations' long one), and an upgrade that
    met another's write looks again."""
    is_set = text(
        "select 1 from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
        "where r.rolname = :r and s.setdatabase = 0 and :setting = any(s.setconfig)"
    )
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                found = await conn.execute(is_set, {"r": role, "setting": _PLAN_SETTING})
                if not found.scalar():
                    await conn.execute(text(f"ALTER ROLE {role} SET plan_cache_mode TO {_PLAN}"))
            return
        except DBAPIError as exc:
            if "tuple concurrently updated" not in str(exc) or attempt == 4:
                raise
        await asyncio.sleep(0.2 * (attempt + 1))


def _sqlite_foreign_keys_off(connection: Connection) -> None:
    """SQLite adds a constraint by rebuilding the table (Alembic's batch mode), and dropping the
    old copy of a table would cascade into the tables that point at it. SQLite's documented
    procedure: foreign keys off before the transaction, checked before it commits. (Python's
    sqlite3 has not begun a transaction yet: the pragma is the first statement.)"""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        found = ", ".join(sorted({f"{row[0]} -> {row[2]}" for row in broken}))
        raise RuntimeError(f"migration left rows pointing at nothing: {found}")


ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def ensure_app_role(conn: object, settings: Settings) -> None:
    """Create the login role the app uses: owns nothing, no BYPASSRLS, DML only.

    On :data:`APPEND_ONLY_TABLES` it may only INSERT and SELECT; it runs :data:`APP_FUNCTIONS`.
    """
    role = settings.app_db_role
    if not ROLE_RE.match(role):
        raise ValueError(f"invalid role name {role!r}")
    run = conn.execute  # type: ignore[attr-defined]
    exists = (await run(text("select 1 from pg_roles where rolname = :r"), {"r": role})).scalar()
    if not exists:
        await run(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"))
    if settings.app_db_password:
        quoted = settings.app_db_password.replace("'", "''")
        await run(text(f"ALTER ROLE {role} PASSWORD '{quoted}'"))
    db_name = (await run(text("select current_database()"))).scalar()
    await run(text(f'GRANT CONNECT ON DATABASE "{db_name}" TO {role}'))
    await run(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    await run(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    )
    await run(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    await run(text(f"REVOKE ALL ON alembic_version FROM {role}"))
    # Read only: /readyz compares the schema's revision with the code's.
    await run(text(f"GRANT SELECT ON alembic_version TO {role}"))
    for table in APPEND_ONLY_TABLES:
        if (await run(text("select to_regclass(:t)"), {"t": table})).scalar() is not None:
            await run(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role}"))
    for function in APP_FUNCTIONS:
        if (await run(text("select to_regprocedure(:f)"), {"f": function})).scalar() is not None:
            await run(text(f"GRANT EXECUTE ON FUNCTION {function} TO {role}"))
    found = text("select 1 from pg_roles where rolname = :r")
    if (await run(found, {"r": OPERATOR_READ_ROLE})).scalar():
        await run(text(f"GRANT {OPERATOR_READ_ROLE} TO {role}"))


def grant_operator_reads() -> None:
    """In a migration: the operator's read-only role exists and may read what the console
    shows (:data:`OPERATOR_READABLE`), and nothing else. Creating a role with BYPASSRLS takes
    a superuser: where the schema owner is not one, an administrator creates the role first
    (``CREATE ROLE luotsi_operator_read NOLOGIN NOINHERIT BYPASSRLS``) and this only grants."""
    if op.get_bind().dialect.name != "postgresql":
        return
    role = OPERATOR_READ_ROLE
    exists = op.get_bind().execute(text("select 1 from pg_roles where rolname = :r"), {"r": role})
    if exists.scalar() is None:
        op.execute(f"CREATE ROLE {role} NOLOGIN NOINHERIT BYPASSRLS")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    for table, columns in OPERATOR_READABLE.items():
        listed = f" ({', '.join(columns)})" if columns else ""
        op.execute(f"GRANT SELECT{listed} ON {table} TO {role}")
