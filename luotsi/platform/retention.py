"""Retention of operational tables: rows that only the running system needs, pruned by a job.

Delivered e-mail (the outbox keeps a sent row's recipient and subject), sign-in sessions
that have expired or gone idle, and rate-limit events (sign-in attempts among them) would
otherwise grow without bound. How long each is kept is a setting
(:class:`~luotsi.platform.settings.Retention`).
With ``LUOTSI_REDIS_URL`` new sessions and events go to Redis, where they expire by themselves;
the job still prunes what the tables hold. A firm's webhook delivery log is pruned by a job
per firm (``webhook_retention``). The audit log is not pruned here: it has a retention of
its own.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import unscoped_session
from luotsi.platform.identity import UserSession
from luotsi.platform.jobs import JobContext, PlatformJobContext, scheduled, scheduled_platform
from luotsi.platform.outbox import prune_sent
from luotsi.platform.ratelimit import RateEvent
from luotsi.platform.webhooks import WebhookDelivery

BATCH = 1000
# The audit log's months created ahead of the current one: an insert never waits for the job
# (and falls into the default partition if it ever had to).
AUDIT_MONTHS_AHEAD = 2
# Longer than any limit's window (a day at most): pruning never lets a limit forget early.
RATE_EVENTS_KEPT_AT_LEAST = timedelta(days=2)


async def _delete_in_batches(
    maker: async_sessionmaker[AsyncSession], key: Any, *conditions: Any
) -> int:
    """Delete the rows of ``key``'s table matching ``conditions``, a batch per transaction
    (no long lock, no huge transaction); returns how many went."""
    deleted = 0
    while True:
        async with unscoped_session(maker) as db, db.begin():
            batch = select(key).where(*conditions).limit(BATCH)
            result = await db.execute(delete(key.table).where(key.in_(batch)))
            count = int(getattr(result, "rowcount", 0) or 0)
        deleted += count
        if count < BATCH:
            return deleted


@scheduled_platform("operational_retention", 3600)
async def prune_operational_rows(job: PlatformJobContext) -> int:
    """Delete delivered e-mail and rate-limit events older than their retention, and
    sign-in sessions that have expired or gone idle; returns how many rows went."""
    kept = job.settings.retention
    mail = await prune_sent(job.maker, job.now - timedelta(days=kept.sent_mail_days))
    idle_since = job.now - timedelta(minutes=job.settings.session_idle_minutes)
    sessions = await _delete_in_batches(
        job.maker,
        UserSession.id,
        or_(UserSession.expires_at < job.now, UserSession.last_seen_at < idle_since),
    )
    events_kept = max(timedelta(days=kept.rate_event_days), RATE_EVENTS_KEPT_AT_LEAST)
    events = await _delete_in_batches(job.maker, RateEvent.id, RateEvent.at < job.now - events_kept)
    return mail + sessions + events


@scheduled("webhook_retention", 6 * 3600)
async def prune_webhook_deliveries(job: JobContext) -> int:
    """Delete the firm's webhook delivery attempts older than
    ``LUOTSI_RETENTION_WEBHOOK_DAYS``; returns how many went."""
    cutoff = job.now - timedelta(days=job.settings.retention.webhook_days)
    result = await job.db.execute(delete(WebhookDelivery).where(WebhookDelivery.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def _months_after(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


@scheduled_platform("audit_retention", 3600)
async def keep_audit_log(job: PlatformJobContext) -> int:
    """Create the audit log's coming months and drop (or delete) what is older than
    ``LUOTSI_AUDIT_RETENTION_DAYS``; returns how many months were dropped and rows deleted."""
    cutoff = job.now - timedelta(days=job.settings.retention.audit_days)
    async with unscoped_session(job.maker) as db:
        postgres = db.bind.dialect.name == "postgresql"
    if not postgres:
        return await _delete_in_batches(job.maker, AuditEvent.id, AuditEvent.at < cutoff)
    today = job.now.date()
    async with unscoped_session(job.maker) as db, db.begin():
        await db.execute(
            select(func.luotsi_audit_partitions(today, _months_after(today, AUDIT_MONTHS_AHEAD)))
        )
        return int(await db.scalar(select(func.luotsi_audit_drop_before(cutoff))) or 0)
