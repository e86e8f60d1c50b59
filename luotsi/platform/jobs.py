"""Scheduled jobs the worker runs (reminders, review notices), tenant by tenant.

A domain module registers a job with :func:`scheduled`; the worker loop calls
:func:`run_due_jobs` and each job runs at most once per its interval in that worker. A job must
be idempotent and safe with several workers: it marks what it has done on the rows it handled
(``reminder_sent_at``) in the same transaction that enqueues the e-mail.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform import clock
from luotsi.platform.db import tenant_session, unscoped_session
from luotsi.platform.tenancy import Tenant, TenantStatus

log = structlog.get_logger(__name__)

# A job gets a session scoped to one tenant (committed when it returns), the tenant and "now";
# it returns how many things it did.
TenantJob = Callable[[AsyncSession, Tenant, datetime], Awaitable[int]]


@dataclass
class Job:
    name: str
    every_seconds: float
    run: TenantJob
    last_run: float = field(default=-1e18)


JOBS: dict[str, Job] = {}


def scheduled(name: str, every_seconds: float) -> Callable[[TenantJob], TenantJob]:
    """Register ``fn`` to run for every active tenant every ``every_seconds``."""

    def register(fn: TenantJob) -> TenantJob:
        JOBS[name] = Job(name, every_seconds, fn)
        return fn

    return register


def claimed(db: AsyncSession, query: Select[Any], entity: Any) -> Select[Any]:
    """``query`` with its ``entity`` rows locked for this worker: on PostgreSQL ``FOR UPDATE
    SKIP LOCKED``, so two workers never handle (and e-mail about) the same row; SQLite has one
    writer anyway."""
    if db.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True, of=entity)
    return query


async def run_job(
    maker: async_sessionmaker[AsyncSession], job: Job, now: datetime | None = None
) -> int:
    """Run one job for every active tenant now; one tenant's failure does not stop the rest."""
    now = now or clock.now()
    async with unscoped_session(maker) as db:
        tenants = list(await db.scalars(select(Tenant).where(Tenant.status == TenantStatus.ACTIVE)))
    done = 0
    for tenant in tenants:
        try:
            async with tenant_session(maker, tenant.id) as db:
                done += await job.run(db, tenant, now)
        except Exception:
            log.exception("job.failed", job=job.name, tenant=str(tenant.id))
    return done


async def run_due_jobs(maker: async_sessionmaker[AsyncSession]) -> int:
    """Run the jobs whose interval has passed (called by the worker loop)."""
    done = 0
    for job in JOBS.values():
        if time.monotonic() - job.last_run >= job.every_seconds:
            job.last_run = time.monotonic()
            done += await run_job(maker, job)
    return done
