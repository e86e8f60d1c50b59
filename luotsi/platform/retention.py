"""Retention of operational tables: rows that only the running system needs, pruned by a job.

Delivered e-mail (the outbox keeps a sent row's recipient and subject), sign-in sessions
that have expired, and rate-limit events (sign-in attempts among them) would otherwise grow
without bound. How long each is kept is a setting (:class:`~luotsi.platform.settings.Retention`).
With ``LUOTSI_REDIS_URL`` new sessions and events go to Redis, where they expire by themselves;
the job still prunes what the tables hold. The audit log is not pruned here: it has a
retention of its own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform.db import unscoped_session
from luotsi.platform.identity import UserSession
from luotsi.platform.jobs import PlatformJobContext, scheduled_platform
from luotsi.platform.outbox import prune_sent
from luotsi.platform.ratelimit import RateEvent

BATCH = 1000
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
    expired sign-in sessions; returns how many rows went."""
    kept = job.settings.retention
    mail = await prune_sent(job.maker, job.now - timedelta(days=kept.sent_mail_days))
    sessions = await _delete_in_batches(job.maker, UserSession.id, UserSession.expires_at < job.now)
    events_kept = max(timedelta(days=kept.rate_event_days), RATE_EVENTS_KEPT_AT_LEAST)
    events = await _delete_in_batches(job.maker, RateEvent.id, RateEvent.at < job.now - events_kept)
    return mail + sessions + events
