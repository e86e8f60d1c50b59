"""Counting recent events per key (an IP address, say) to refuse floods."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform.db import Base, utcnow
from luotsi.platform.errors import RateLimited


class RateEvent(Base):
    """One counted event. Global: holds a bucket name, a key and a time, nothing else."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


async def hit(db: AsyncSession, bucket: str, key: str, limit: int, window: timedelta) -> None:
    """Count one event for ``key``; raise :class:`RateLimited` when the window is full.

    Events older than the window are dropped on the way, so the table stays small.
    """
    now = utcnow()
    since = now - window
    await db.execute(delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.at < since))
    recent = await db.scalar(
        select(func.count())
        .select_from(RateEvent)
        .where(RateEvent.bucket == bucket, RateEvent.key == key, RateEvent.at >= since)
    )
    if (recent or 0) >= limit:
        raise RateLimited(max(1, int(window.total_seconds() // 60)))
    db.add(RateEvent(bucket=bucket, key=key[:100], at=now))
    await db.flush()
