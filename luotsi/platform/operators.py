"""Platform operators: a flag on a global user. They manage firms and see no tenant content.

The console reads across firms through ONE door, :func:`operator_reading_all_tenants`: a
read-only transaction that, on PostgreSQL, switches to the role ``luotsi_operator_read``
(BYPASSRLS, SELECT on the columns the console shows only: see
:data:`luotsi.platform.migrate.OPERATOR_READABLE`). What support changes (a firm's status,
its plan) is written in a session scoped to that firm, with an :class:`OperatorAction` (the
reason, for operators) and a row in the firm's own audit log ("Luotsi support did X").
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import audit, clock, health
from luotsi.platform.db import (
    Base,
    make_engine,
    make_sessionmaker,
    tenant_session,
    unscoped_session,
)
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import too_long
from luotsi.platform.identity import (
    User,
    check_email,
    check_password_rules,
    configure_password_hashing,
    get_user_by_email,
    hash_password,
)
from luotsi.platform.jobs import WorkerHeartbeat, job_lag, worker_heartbeat_age
from luotsi.platform.migrate import OPERATOR_READ_ROLE
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import TENANT_OBJECT, Tenant, TenantStatus

# The name a firm sees in its audit log for what support did (the operator is not named).
SUPPORT_ACTOR_NAME = "Luotsi support"
REASON_LENGTH = 500


async def create_operator(settings: Settings, email: str, name: str, password: str) -> User:
    """Create an operator account, or flag an existing account as one."""
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            try:
                email = check_email(email)
                user = await get_user_by_email(db, email)
                if user is None or password:
                    check_password_rules(password, email=email, name=name)
            except Invalid as exc:
                raise ValueError("; ".join(exc.errors.values())) from None
            if user is None:
                user = User(email=email, name=name.strip() or email, email_verified_at=clock.now())
                db.add(user)
            if password:
                user.password_hash = hash_password(password)
            user.is_operator = True
            await db.flush()
            return user
    finally:
        await engine.dispose()


# --- the one way across firms -------------------------------------------------------------


@asynccontextmanager
async def operator_reading_all_tenants(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A read-only session over every firm's rows, for the platform console's counts.

    On PostgreSQL the transaction is READ ONLY and runs as ``luotsi_operator_read`` (SET
    LOCAL ROLE): row-level security does not apply, and the role may read only the columns
    the console shows (no content, no message payloads). On SQLite it is an unscoped session
    with ``query_only`` on. Nothing is ever committed. Callers select columns, not whole
    models, of the firms' tables (the role has no right to the others).
    """
    async with unscoped_session(maker) as db:
        conn = await db.connection()
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            await conn.exec_driver_sql(f"SET LOCAL ROLE {OPERATOR_READ_ROLE}")
        else:
            await conn.exec_driver_sql("PRAGMA query_only = ON")
        try:
            yield db
        finally:
            if not postgres:
                await conn.exec_driver_sql("PRAGMA query_only = OFF")
        # Leaving the block closes the session: its transaction rolls back (the role and the
        # read-only mode end with it) and what it loaded stays readable, detached.


# --- what support does to a firm ------------------------------------------------------------


class OperatorAction(Base):
    """What Luotsi support did to a firm, by whom and why. Global table; no content."""

    __tablename__ = "operator_actions"
    __table_args__ = (Index("ix_operator_actions_tenant_id_at", "tenant_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    operator_user_id: Mapped[uuid.UUID | None]  # an id, not a key: the log outlives accounts
    operator_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(40), default="")  # "30" days, "complimentary"
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH), default="")


def check_reason(text_: str, *, required: bool = True) -> str:
    """The operator's reason for an action: said, and short enough to keep whole."""
    reason = " ".join(text_.split())
    if required and not reason:
        raise Invalid.field("reason", _("Write the reason: it is kept with the action."))
    if len(reason) > REASON_LENGTH:
        raise Invalid.field("reason", too_long(REASON_LENGTH))
    return reason


async def record_support_action(
    db: AsyncSession,
    operator: User,
    tenant_id: uuid.UUID,
    action: str,
    *,
    detail: str = "",
    reason: str = "",
) -> None:
    """Keep what support did: for operators with its reason, and in the firm's own audit log
    as "Luotsi support" (no reason there: it may be internal). ``db`` is scoped to the firm."""
    db.add(
        OperatorAction(
            tenant_id=tenant_id,
            at=clock.now(),
            operator_user_id=operator.id,
            operator_name=operator.name,
            action=action,
            detail=detail,
            reason=reason,
        )
    )
    await audit.record(
        db,
        action,
        actor_user_id=operator.id,
        actor_name=SUPPORT_ACTOR_NAME,
        tenant_id=tenant_id,
        object_type=TENANT_OBJECT,
        object_id=tenant_id,
    )


@asynccontextmanager
async def supporting_firm(
    maker: async_sessionmaker[AsyncSession], slug: str
) -> AsyncIterator[tuple[AsyncSession, Tenant]]:
    """The firm ``slug`` and a session scoped to it, committed when the block ends."""
    async with unscoped_session(maker) as lookup:
        tenant_id = await lookup.scalar(select(Tenant.id).where(Tenant.slug == slug))
    if tenant_id is None:
        raise NotFound(slug)
    async with tenant_session(maker, tenant_id) as db:
        tenant = await db.get(Tenant, tenant_id, with_for_update=True)
        if tenant is None:
            raise NotFound(slug)
        yield db, tenant


async def suspend_firm(
    maker: async_sessionmaker[AsyncSession], operator: User, slug: str, reason: str
) -> Tenant:
    """Suspend an active firm: its members can no longer open its workspace (supervisees
    can still export their own data)."""
    reason = check_reason(reason)
    async with supporting_firm(maker, slug) as (db, tenant):
        if tenant.status is not TenantStatus.ACTIVE:
            raise Invalid.field("reason", _("Only an active firm can be suspended."))
        tenant.status = TenantStatus.SUSPENDED
        await record_support_action(db, operator, tenant.id, audit.FIRM_SUSPENDED, reason=reason)
        return tenant


async def reactivate_firm(
    maker: async_sessionmaker[AsyncSession], operator: User, slug: str, reason: str
) -> Tenant:
    """Open a suspended firm's workspace to its members again."""
    reason = check_reason(reason)
    async with supporting_firm(maker, slug) as (db, tenant):
        if tenant.status is not TenantStatus.SUSPENDED:
            raise Invalid.field("reason", _("The firm is not suspended."))
        tenant.status = TenantStatus.ACTIVE
        await record_support_action(db, operator, tenant.id, audit.FIRM_REACTIVATED, reason=reason)
        return tenant


async def support_actions_all_tenants(
    db: AsyncSession, tenant_id: uuid.UUID, limit: int = 50
) -> list[OperatorAction]:
    """The latest support actions on one firm, newest first (``db``: the operator's)."""
    rows = await db.scalars(
        select(OperatorAction)
        .where(OperatorAction.tenant_id == tenant_id)
        .order_by(OperatorAction.at.desc(), OperatorAction.id.desc())
        .limit(limit)
    )
    return list(rows)


# --- the platform's health ------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformHealth:
    """What the console's health page shows; a check's text is "ok" or why it failed."""

    database: str
    migrations: str
    workers: int = 0
    heartbeat_age: timedelta | None = None
    job_lag: dict[str, timedelta] | None = None
    outbox_waiting: int = 0
    oldest_waiting_age: timedelta | None = None
    failed_deliveries: int = 0

    @property
    def healthy(self) -> bool:
        return self.database == "ok" and self.migrations == "ok"


async def _check(check: health.ReadinessCheck, probe: health.Probe) -> str:
    try:
        await check(probe)
    except health.NotReady as exc:
        return str(exc)
    except Exception as exc:
        return f"failed ({type(exc).__name__})"
    return "ok"


async def platform_health(
    maker: async_sessionmaker[AsyncSession], settings: Settings
) -> PlatformHealth:
    """The database, the schema, the workers and jobs, and the outbox, as of now."""
    probe = health.Probe(maker, settings)
    database = await _check(health.database_answers, probe)
    if database != "ok":
        return PlatformHealth(database=database, migrations="–")
    migrations = await _check(health.migrations_at_head, probe)
    now = clock.now()
    async with operator_reading_all_tenants(maker) as db:
        workers = int(await db.scalar(select(func.count(WorkerHeartbeat.worker_id))) or 0)
        heartbeat = await worker_heartbeat_age(db, now)
        lag = await job_lag(db, now)
        waiting, oldest = (
            await db.execute(
                select(func.count(OutboxMessage.id), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status.in_(("pending", "sending"))
                )
            )
        ).one()
        failed = await db.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "failed")
        )
    return PlatformHealth(
        database=database,
        migrations=migrations,
        workers=workers,
        heartbeat_age=heartbeat,
        job_lag=lag,
        outbox_waiting=int(waiting),
        oldest_waiting_age=max(now - oldest, timedelta(0)) if oldest else None,
        failed_deliveries=int(failed or 0),
    )
