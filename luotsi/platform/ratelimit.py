"""Counting recent events per key (an IP address, an e-mail address) to refuse floods.

Every limit in the app goes through :func:`hit`: sign-in attempts, password-reset and signup
e-mails, inquiries, a contact's agreement requests.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import Base
from luotsi.platform.errors import RateLimited

KEY_LENGTH = 100
CLEANUP_BATCH = 100


class RateEvent(Base):
    """One counted event. Global: holds a bucket name, a key and a time, nothing else."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    at: Mapped[datetime] = mapped_column(default=clock.now)


async def hit(db: AsyncSession, bucket: str, key: str, limit: int, window: timedelta) -> RateEvent:
    """Count one event for ``key``; raise :class:`RateLimited` when the window is full.

    The event is written before the window is counted, and one key's hits are serialised until
    the transaction ends (on SQLite by its single writer, on PostgreSQL by an advisory lock), so
    of N concurrent hits at most ``limit`` pass. Commit soon after: the key stays locked until
    then. The refused hit is not kept once the caller rolls back (an error response does).
    Events older than the window are dropped on the way, so the table stays small.
    """
    key = key[:KEY_LENGTH]
    now = clock.now()
    since = now - window
    if db.bind.dialect.name == "postgresql":
        await db.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{bucket}\n{key}", 0)))
        )
    event = RateEvent(bucket=bucket, key=key, at=now)
    db.add(event)
    await db.flush()
    # Old rows another transaction is deleting are skipped, not waited for (no deadlock).
    stale = (
        select(RateEvent.id)
        .where(RateEvent.bucket == bucket, RateEvent.at < since)
        .limit(CLEANUP_BATCH)
        .with_for_update(skip_locked=True)
    )
    await db.execute(delete(RateEvent).where(RateEvent.id.in_(stale)))
    window_events = (
        await db.execute(
            select(func.count(), func.min(RateEvent.at)).where(
                RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.at >= since
            )
        )
    ).one()
    if window_events[0] > limit:
        raise RateLimited(window - (now - window_events[1]))
    return event


async def forget(db: AsyncSession, bucket: str, key: str) -> None:
    """Drop ``key``'s events in ``bucket`` (a sign-in that succeeded clears the failures)."""
    await db.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key))


async def take_back(db: AsyncSession, event_id: int) -> None:
    """Drop one counted event (a sign-in that succeeded does not count against its address)."""
    await db.execute(delete(RateEvent).where(RateEvent.id == event_id))
