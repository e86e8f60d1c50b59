"""Counting recent events per key (an IP address, an e-mail address) to refuse floods.

Every limit in the app goes through a :class:`RateLimits` store: :meth:`~RateLimits.hit` (so
many per window: a client's sign-ins, password-reset and signup e-mails, inquiries, a
contact's agreement requests) or :meth:`~RateLimits.throttle` (a growing wait: an account's
failed sign-ins). The counters live in the database (:class:`DatabaseRateLimits`, the
default) or in Redis (:mod:`luotsi.platform.sharedstate`), whichever every node is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Index, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import Base
from luotsi.platform.errors import RateLimited

KEY_LENGTH = 100
CLEANUP_BATCH = 100


@dataclass(frozen=True)
class Counted:
    """One counted event, which :meth:`RateLimits.take_back` can drop again."""

    bucket: str
    key: str
    ref: str  # the event's id in its store


class RateLimits(Protocol):
    """Where the counters live. Every method takes the caller's database session: the
    database store counts inside the caller's transaction, another store ignores it."""

    async def hit(
        self, db: AsyncSession, bucket: str, key: str, limit: int, window: timedelta
    ) -> Counted:
        """Count one event for ``key``; raise :class:`RateLimited` when the window is full.

        Of N concurrent hits at most ``limit`` pass. A refused hit is not counted (the
        database store's goes with the caller's rollback, which an error response makes).
        """
        ...

    async def throttle(
        self,
        db: AsyncSession,
        bucket: str,
        key: str,
        *,
        free: int,
        first_wait: timedelta,
        longest_wait: timedelta,
        memory: timedelta,
    ) -> Counted:
        """Count one attempt for ``key``, which must wait once ``free`` attempts are on record.

        The attempt after the ``free`` ones waits ``first_wait`` from the last one, each
        further one twice as long as the one before, never more than ``longest_wait``;
        attempts are remembered for ``memory``. A refused attempt is not counted, so it does
        not push the wait further: whoever comes after the wait is let through (a lockout
        that an attacker can keep closed forever is a denial of service for the key's owner).
        """
        ...

    async def forget(self, db: AsyncSession, bucket: str, key: str) -> None:
        """Drop ``key``'s events in ``bucket`` (a sign-in that succeeded clears the failures)."""
        ...

    async def take_back(self, db: AsyncSession, counted: Counted) -> None:
        """Drop one counted event (a sign-in that succeeded does not count against its address)."""
        ...


class RateEvent(Base):
    """One counted event. Global: holds a bucket name, a key and a time, nothing else."""

    __tablename__ = "rate_events"
    __table_args__ = (
        Index("ix_rate_events_bucket_key_at", "bucket", "key", "at"),
        Index("ix_rate_events_at", "at"),  # retention prunes by age across buckets
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    at: Mapped[datetime] = mapped_column(default=clock.now)


class DatabaseRateLimits:
    """Counters as rows of ``rate_events``, counted in the caller's transaction (commit soon
    after a hit: the key stays locked until then). A refused hit is not kept once the caller
    rolls back (an error response does), and neither is an accepted one whose request fails
    later. Retention prunes old rows (:mod:`luotsi.platform.retention`)."""

    async def hit(
        self, db: AsyncSession, bucket: str, key: str, limit: int, window: timedelta
    ) -> Counted:
        event = await _record(db, bucket, key, window)
        count, oldest = (
            await db.execute(
                select(func.count(), func.min(RateEvent.at)).where(
                    RateEvent.bucket == bucket,
                    RateEvent.key == event.key,
                    RateEvent.at >= event.at - window,
                )
            )
        ).one()
        if count > limit:
            raise RateLimited(window - (event.at - oldest))
        return Counted(bucket, event.key, str(event.id))

    async def throttle(
        self,
        db: AsyncSession,
        bucket: str,
        key: str,
        *,
        free: int,
        first_wait: timedelta,
        longest_wait: timedelta,
        memory: timedelta,
    ) -> Counted:
        event = await _record(db, bucket, key, memory)
        earlier, last = (
            await db.execute(
                select(func.count(), func.max(RateEvent.at)).where(
                    RateEvent.bucket == bucket,
                    RateEvent.key == event.key,
                    RateEvent.at >= event.at - memory,
                    RateEvent.id != event.id,
                )
            )
        ).one()
        if earlier >= free:
            wait = min(first_wait * 2 ** min(earlier - free, 32), longest_wait)
            if event.at < last + wait:
                raise RateLimited(last + wait - event.at)
        return Counted(bucket, event.key, str(event.id))

    async def forget(self, db: AsyncSession, bucket: str, key: str) -> None:
        await db.execute(
            delete(RateEvent).where(RateEvent.bucket == bucket, RateEvent.key == key[:KEY_LENGTH])
        )

    async def take_back(self, db: AsyncSession, counted: Counted) -> None:
        await db.execute(delete(RateEvent).where(RateEvent.id == int(counted.ref)))


async def _record(db: AsyncSession, bucket: str, key: str, kept: timedelta) -> RateEvent:
    """Write one event for ``key`` and lock the key until the transaction ends.

    The event is written before the caller counts, and one key's events are serialised (on
    SQLite by its single writer, on PostgreSQL by an advisory lock), so concurrent callers see
    each other. Events of the bucket older than ``kept`` are dropped on the way, so the table
    stays small.
    """
    key = key[:KEY_LENGTH]
    now = clock.now()
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
        .where(RateEvent.bucket == bucket, RateEvent.at < now - kept)
        .limit(CLEANUP_BATCH)
        .with_for_update(skip_locked=True)
    )
    await db.execute(delete(RateEvent).where(RateEvent.id.in_(stale)))
    return event
