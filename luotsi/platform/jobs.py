"""Scheduled jobs (reminders, review notices, retention), their schedule and who runs them.

A domain module registers a job with :func:`scheduled` (it runs for each active firm, in a
session scoped to that firm) or :func:`scheduled_platform` (it runs once for the platform, on
global tables). The schedule lives in ``job_schedule``: one row per (job, firm), or per job
with ``tenant_id`` NULL for a platform job, holding when it is due (``next_run_at``). The rows
are made lazily: every worker adds the missing ones when it starts and every minute after
(:func:`ensure_schedules`), which covers firms that signed up since and jobs added by a release.

Any number of workers run them (:func:`run_due_jobs`): a worker claims a few due rows in a
short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never claim the
same row) that takes a lease (``locked_until``, ``locked_by``) and commits; it runs each job in
a transaction of its own, then frees the row and sets when it is due next. A job that did
something is due again at once (there may be more: invoice runs go a chunk at a time); one that
did nothing or failed waits its interval. A worker that dies mid-job leaves the lease to
expire, and another worker runs the job again. So a job must be idempotent: it marks what it
did (``reminder_sent_at``) in the same transaction that enqueues its e-mail, and reads only the
rows that are due, locked with :func:`claimed` in case a lease expired under a slow run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import Base, tenant_session, unscoped_session
from luotsi.platform.logs import ids_bound
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Tenant, TenantStatus

log = structlog.get_logger(__name__)

CLAIM_BATCH = 10
# A worker not heard of for this long has stopped; its heartbeat row is removed.
FORGET_WORKER_AFTER = timedelta(days=1)


class JobSchedule(Base):
    """When a job is next due for a firm (or, ``tenant_id`` NULL, for the platform).

    Global table (ids and times, no content): workers read it before they know the firm.
    """

    __tablename__ = "job_schedule"
    __table_args__ = (
        UniqueConstraint("job", "tenant_id"),
        Index("ix_job_schedule_next_run_at", "next_run_at"),
        Index("ix_job_schedule_tenant_id", "tenant_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE")
    )
    next_run_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(default=0)  # in a row; 0 after a run that succeeds
    locked_by: Mapped[str | None] = mapped_column(String(100))  # a worker id (worker_id())
    locked_until: Mapped[datetime | None]


# NULLs are distinct in the unique constraint: this index allows one row per platform job.
Index(
    "uq_job_schedule_platform_job",
    JobSchedule.job,
    unique=True,
    postgresql_where=JobSchedule.tenant_id.is_(None),
    sqlite_where=JobSchedule.tenant_id.is_(None),
)


class WorkerHeartbeat(Base):
    """A running worker, seen at ``last_seen``: what readiness and metrics report."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen: Mapped[datetime] = mapped_column(default=clock.now)


# --- jobs and their registry ----------------------------------------------------------------


@dataclass(frozen=True)
class JobContext:
    """What a firm's job runs with: a session scoped to the firm (committed when the job
    returns), the firm, the moment the job runs for, and the settings (e.g. to build absolute
    links with ``settings.base_url``)."""

    db: AsyncSession
    tenant: Tenant
    now: datetime
    settings: Settings


@dataclass(frozen=True)
class PlatformJobContext:
    """What a platform job runs with: it opens the sessions it needs (global tables only),
    the moment it runs for, and the settings."""

    maker: async_sessionmaker[AsyncSession]
    now: datetime
    settings: Settings


# A job returns how many things it did; more than none makes it due again at once.
FirmJob = Callable[[JobContext], Awaitable[int]]
PlatformJob = Callable[[PlatformJobContext], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    """A firm's job: ``run`` for each active firm every ``every_seconds``."""

    name: str
    every_seconds: float
    run: FirmJob

    @property
    def every(self) -> timedelta:
        return timedelta(seconds=self.every_seconds)


@dataclass(frozen=True)
class PlatformJobSpec:
    """A platform job: ``run`` once (not per firm) every ``every_seconds``."""

    name: str
    every_seconds: float
    run: PlatformJob

    @property
    def every(self) -> timedelta:
        return timedelta(seconds=self.every_seconds)


JOBS: dict[str, Job] = {}
PLATFORM_JOBS: dict[str, PlatformJobSpec] = {}


def _check_name(name: str) -> None:
    if name in JOBS or name in PLATFORM_JOBS or len(name) > 40:
        raise ValueError(f"job {name!r} taken or too long")


def scheduled(name: str, every_seconds: float) -> Callable[[FirmJob], FirmJob]:
    """Register ``fn`` to run for every active firm every ``every_seconds``."""

    def register(fn: FirmJob) -> FirmJob:
        _check_name(name)
        JOBS[name] = Job(name, every_seconds, fn)
        return fn

    return register


def scheduled_platform(name: str, every_seconds: float) -> Callable[[PlatformJob], PlatformJob]:
    """Register ``fn`` to run once for the platform every ``every_seconds``."""

    def register(fn: PlatformJob) -> PlatformJob:
        _check_name(name)
        PLATFORM_JOBS[name] = PlatformJobSpec(name, every_seconds, fn)
        return fn

    return register


@dataclass(frozen=True)
class Registry:
    """The jobs a worker runs: the registered ones unless a test names its own."""

    firm: Mapping[str, Job]
    platform: Mapping[str, PlatformJobSpec]

    @classmethod
    def registered(cls) -> Registry:
        return cls(JOBS, PLATFORM_JOBS)

    @property
    def names(self) -> list[str]:
        return [*self.firm, *self.platform]

    def every(self, name: str) -> timedelta:
        spec = self.firm.get(name) or self.platform[name]
        return spec.every


def claimed(db: AsyncSession, query: Select[Any], entity: Any) -> Select[Any]:
    """``query`` with its ``entity`` rows locked for this worker: on PostgreSQL ``FOR UPDATE
    SKIP LOCKED``, so two workers never handle (and e-mail about) the same row; SQLite has one
    writer anyway."""
    if db.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=entity)
    return query


# --- running a job --------------------------------------------------------------------------


async def run_for_firm(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    job: Job,
    tenant: Tenant,
    now: datetime,
) -> int:
    """Run one firm's job in a transaction scoped to the firm; returns what it did."""
    async with tenant_session(maker, tenant.id) as db:
        return await job.run(JobContext(db, tenant, now, settings))


async def run_job(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    job: Job,
    now: datetime | None = None,
) -> int:
    """Run a firm's job now for every active firm, whatever the schedule says (tests, and
    whoever must not wait); one firm's failure does not stop the rest."""
    now = now or clock.now()
    async with unscoped_session(maker) as db:
        tenants = list(await db.scalars(select(Tenant).where(Tenant.status == TenantStatus.ACTIVE)))
    done = 0
    for tenant in tenants:
        try:
            done += await run_for_firm(maker, settings, job, tenant, now)
        except Exception:
            log.exception("job.failed", job=job.name, tenant=str(tenant.id))
    return done


# --- the schedule ---------------------------------------------------------------------------


def _insert_ignoring_duplicates(dialect: str, rows: list[dict[str, Any]]) -> Any:
    """One INSERT of ``rows`` into the schedule that skips rows another worker just added."""
    if dialect == "postgresql":
        return postgresql_insert(JobSchedule).values(rows).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(JobSchedule).values(rows).on_conflict_do_nothing()
    return insert(JobSchedule).values(rows)


async def ensure_schedules(
    maker: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
    registry: Registry | None = None,
) -> int:
    """Add the missing schedule rows, due now: one per active firm and firm job, one per
    platform job. Returns how many were added. Safe with several workers at once."""
    now = now or clock.now()
    registry = registry or Registry.registered()
    added = 0
    async with unscoped_session(maker) as db, db.begin():
        dialect = db.bind.dialect.name
        for name in registry.firm:
            has_row = (
                select(JobSchedule.id)
                .where(JobSchedule.job == name, JobSchedule.tenant_id == Tenant.id)
                .exists()
            )
            missing = await db.scalars(
                select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE, ~has_row)
            )
            rows = [{"job": name, "tenant_id": t, "next_run_at": now} for t in missing]
            if rows:
                await db.execute(_insert_ignoring_duplicates(dialect, rows))
                added += len(rows)
        present = set(
            await db.scalars(
                select(JobSchedule.job).where(
                    JobSchedule.tenant_id.is_(None), JobSchedule.job.in_(list(registry.platform))
                )
            )
        )
        rows = [
            {"job": name, "tenant_id": None, "next_run_at": now}
            for name in registry.platform
            if name not in present
        ]
        if rows:
            await db.execute(_insert_ignoring_duplicates(dialect, rows))
            added += len(rows)
    return added


async def wake_job(db: AsyncSession, name: str, tenant_id: uuid.UUID) -> None:
    """Make a firm's job due now, in the caller's transaction (starting an invoice run wakes
    the job that drafts it, instead of waiting for its interval)."""
    await db.execute(
        update(JobSchedule)
        .where(JobSchedule.job == name, JobSchedule.tenant_id == tenant_id)
        .values(next_run_at=clock.now())
    )


@dataclass(frozen=True)
class _Claim:
    schedule_id: int
    job: str
    tenant: Tenant | None


async def _claim(
    maker: async_sessionmaker[AsyncSession],
    worker: str,
    now: datetime,
    lease: timedelta,
    registry: Registry,
    batch: int,
) -> list[_Claim]:
    """Lease up to ``batch`` due rows to ``worker``, in a transaction of their own."""
    async with unscoped_session(maker) as db, db.begin():
        query = (
            select(JobSchedule, Tenant)
            .outerjoin(Tenant, Tenant.id == JobSchedule.tenant_id)
            .where(
                JobSchedule.next_run_at <= now,
                JobSchedule.job.in_(registry.names),
                or_(JobSchedule.locked_until.is_(None), JobSchedule.locked_until <= now),
                or_(
                    and_(JobSchedule.tenant_id.is_(None), JobSchedule.job.in_(registry.platform)),
                    and_(Tenant.status == TenantStatus.ACTIVE, JobSchedule.job.in_(registry.firm)),
                ),
            )
            .order_by(JobSchedule.next_run_at)
            .limit(batch)
        )
        rows = (await db.execute(claimed(db, query, JobSchedule))).tuples().all()
        for schedule, _tenant in rows:
            schedule.locked_by = worker
            schedule.locked_until = now + lease
        return [_Claim(schedule.id, schedule.job, tenant) for schedule, tenant in rows]


async def _run_claimed(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    registry: Registry,
    claim: _Claim,
    now: datetime,
) -> tuple[int, str | None]:
    """Run one claimed job; returns what it did and, if it failed, a short error."""
    try:
        if claim.tenant is None:
            spec = registry.platform[claim.job]
            return await spec.run(PlatformJobContext(maker, now, settings)), None
        job = registry.firm[claim.job]
        return await run_for_firm(maker, settings, job, claim.tenant, now), None
    except Exception as exc:
        log.exception("job.failed")  # the job and the firm are bound ids of the line
        return 0, type(exc).__name__[:200]


async def _finish(
    maker: async_sessionmaker[AsyncSession],
    worker: str,
    claim: _Claim,
    started: datetime,
    finished: datetime,
    every: timedelta,
    done: int,
    error: str | None,
) -> None:
    """Free the row and set when it is due next (unless the lease went to another worker)."""
    values: dict[str, Any] = {
        "next_run_at": finished if done and error is None else finished + every,
        "last_run_at": started,
        "last_error": error,
        "locked_by": None,
        "locked_until": None,
        "failures": JobSchedule.failures + 1 if error else 0,
    }
    async with unscoped_session(maker) as db, db.begin():
        await db.execute(
            update(JobSchedule)
            .where(JobSchedule.id == claim.schedule_id, JobSchedule.locked_by == worker)
            .values(**values)
        )


async def _give_back(
    maker: async_sessionmaker[AsyncSession], worker: str, claims: list[_Claim]
) -> None:
    """Free claimed rows that were not run (the worker is stopping)."""
    async with unscoped_session(maker) as db, db.begin():
        await db.execute(
            update(JobSchedule)
            .where(
                JobSchedule.id.in_([claim.schedule_id for claim in claims]),
                JobSchedule.locked_by == worker,
            )
            .values(locked_by=None, locked_until=None)
        )


async def run_due_jobs(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    worker: str,
    *,
    now: datetime | None = None,
    registry: Registry | None = None,
    batch: int = CLAIM_BATCH,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim the jobs due (a batch), run them one by one and reschedule them.

    ``now`` fixes the time for all of it (tests); by default each step reads the clock. Once
    ``stop`` is set the claims not yet run are given back, due as they were.
    Returns how many were run: more than none, and the caller comes back at once.
    """
    registry = registry or Registry.registered()

    def current() -> datetime:
        return now or clock.now()

    lease = timedelta(seconds=settings.worker.lease_seconds)
    claims = await _claim(maker, worker, current(), lease, registry, batch)
    for index, claim in enumerate(claims):
        if stop is not None and stop.is_set():
            await _give_back(maker, worker, claims[index:])
            return index
        started = current()
        tenant_id = claim.tenant.id if claim.tenant else None
        with ids_bound(job=claim.job, tenant_id=tenant_id):
            done, error = await _run_claimed(maker, settings, registry, claim, started)
            every = registry.every(claim.job)
            await _finish(maker, worker, claim, started, current(), every, done, error)
            # A run that did something is worth a line; the many that found nothing are not.
            (log.info if done else log.debug)("job.ran", done=done, failed=error is not None)
    return len(claims)


# --- what readiness and metrics report ------------------------------------------------------


def worker_id() -> str:
    """A name for this worker process, unique among the running ones."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def heartbeat(
    maker: async_sessionmaker[AsyncSession], worker: str, now: datetime | None = None
) -> None:
    """Record that ``worker`` is alive; forget workers not heard of for a day."""
    now = now or clock.now()
    async with unscoped_session(maker) as db, db.begin():
        updated = await db.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker).values(last_seen=now)
        )
        if not getattr(updated, "rowcount", 0):
            db.add(WorkerHeartbeat(worker_id=worker, started_at=now, last_seen=now))
        await db.execute(
            delete(WorkerHeartbeat).where(WorkerHeartbeat.last_seen < now - FORGET_WORKER_AFTER)
        )


async def worker_stopped(maker: async_sessionmaker[AsyncSession], worker: str) -> None:
    """A worker that stops cleanly says so (its heartbeat row goes)."""
    async with unscoped_session(maker) as db, db.begin():
        await db.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker))


async def worker_heartbeat_age(db: AsyncSession, now: datetime | None = None) -> timedelta | None:
    """How long ago the most recently seen worker was last heard of; None when no worker has
    run (or none for a day). For readiness: an old heartbeat means no e-mail goes out."""
    last = await db.scalar(select(func.max(WorkerHeartbeat.last_seen)))
    if last is None:
        return None
    return max((now or clock.now()) - last, timedelta(0))


async def job_lag(db: AsyncSession, now: datetime | None = None) -> dict[str, timedelta]:
    """Per registered job, how late its most overdue (firm's) run is: ``now`` minus the
    earliest ``next_run_at`` that has passed; zero for a job with nothing due. For metrics:
    a lag that keeps growing means the workers do not keep up."""
    now = now or clock.now()
    registry = Registry.registered()
    rows = await db.execute(
        select(JobSchedule.job, func.min(JobSchedule.next_run_at))
        .where(JobSchedule.next_run_at <= now, JobSchedule.job.in_(registry.names))
        .group_by(JobSchedule.job)
    )
    lag = dict.fromkeys(registry.names, timedelta(0))
    for name, earliest in rows.tuples():
        lag[name] = max(now - earliest, timedelta(0))
    return lag
