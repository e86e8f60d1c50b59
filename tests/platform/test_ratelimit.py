"""Rate limits at the store level, each test on both stores (the database and Redis): a window
opens again when its oldest event is older than the window, a refused hit is not counted, and
an event taken back or a key forgotten no longer counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.errors import RateLimited
from luotsi.platform.sharedstate import SharedState
from tests.conftest import Backend

WINDOW = timedelta(hours=1)


@pytest.fixture
async def db(clean_db: Backend) -> AsyncIterator[AsyncSession]:
    """A session of the app's role; each hit is committed, as a request would."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    async with unscoped_session(make_sessionmaker(engine)) as session:
        yield session
    await engine.dispose()


async def _hit(
    db: AsyncSession, shared: SharedState, key: str = "192.0.2.1", limit: int = 2
) -> int:
    """1 when the hit passes, else the seconds it is told to wait."""
    try:
        await shared.limits.hit(db, "test", key, limit, WINDOW)
    except RateLimited as exc:
        await db.rollback()
        return exc.retry_after_seconds
    await db.commit()
    return 1


async def test_a_full_window_opens_when_its_oldest_event_leaves_it(
    db: AsyncSession, shared: SharedState
) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        assert await _hit(db, shared) == 1
        traveller.shift(timedelta(minutes=10))
        assert await _hit(db, shared) == 1
        for _ in range(3):  # refused hits do not count, nor push the wait further
            assert await _hit(db, shared) == 50 * 60
        assert await _hit(db, shared, key="192.0.2.2") == 1  # another key has its own window
        traveller.shift(timedelta(minutes=50, seconds=1))
        assert await _hit(db, shared) == 1
        assert await _hit(db, shared) == 10 * 60 - 1


async def test_an_event_taken_back_or_a_forgotten_key_no_longer_counts(
    db: AsyncSession, shared: SharedState
) -> None:
    first = await shared.limits.hit(db, "test", "a@example.fi", 1, WINDOW)
    await shared.limits.take_back(db, first)
    await db.commit()
    assert await _hit(db, shared, key="a@example.fi", limit=1) == 1
    assert await _hit(db, shared, key="a@example.fi", limit=1) > 1
    await shared.limits.forget(db, "test", "a@example.fi")
    await db.commit()
    assert await _hit(db, shared, key="a@example.fi", limit=1) == 1


async def test_a_throttled_key_waits_twice_as_long_after_each_further_attempt(
    db: AsyncSession, shared: SharedState
) -> None:
    async def attempt() -> int:
        try:
            await shared.limits.throttle(
                db,
                "test",
                "a@example.fi",
                free=2,
                first_wait=timedelta(seconds=30),
                longest_wait=timedelta(minutes=1),
                memory=timedelta(hours=1),
            )
        except RateLimited as exc:
            await db.rollback()
            return exc.retry_after_seconds
        await db.commit()
        return 0

    with time_machine.travel(clock.now(), tick=False) as traveller:
        assert [await attempt() for _ in range(2)] == [0, 0]
        assert await attempt() == 30
        traveller.shift(timedelta(seconds=30))
        assert await attempt() == 0
        assert await attempt() == 60
        traveller.shift(timedelta(seconds=60))
        assert await attempt() == 0
        assert await attempt() == 60  # never longer than the longest wait
