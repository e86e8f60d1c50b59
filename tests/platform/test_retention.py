"""Retention of operational tables: the job prunes only what is older than its setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.identity import UserSession
from luotsi.platform.jobs import PLATFORM_JOBS, PlatformJobContext
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import OutboxMessage, enqueue_email
from luotsi.platform.ratelimit import RateEvent
from luotsi.platform.retention import RATE_EVENTS_KEPT_AT_LEAST
from luotsi.platform.settings import Retention
from tests import clock
from tests.conftest import Backend
from tests.factories import Firms


async def _arrange(backend: Backend, firms: Firms, now: datetime) -> None:
    """Old and recent rows of each kind, as the owner (the outbox's rows as they end up)."""
    user = firms.both.id
    async with unscoped_session(make_sessionmaker(backend.owner)) as db, db.begin():
        for to, status, done in (
            ("old-sent@example.fi", "sent", now - timedelta(days=31)),
            ("new-sent@example.fi", "sent", now - timedelta(days=29)),
            ("old-failed@example.fi", "failed", now - timedelta(days=90)),
            ("old-pending@example.fi", "pending", None),
        ):
            row = enqueue_email(db, render_email("reset_password", to, "fi", name="A", link="L"))
            row.status, row.done_at = status, done
            row.created_at = now - timedelta(days=100)
        db.add_all(
            [
                UserSession(id="expired", user_id=user, expires_at=now - timedelta(minutes=1)),
                UserSession(id="valid", user_id=user, expires_at=now + timedelta(days=1)),
                RateEvent(bucket="login-ip", key="192.0.2.1", at=now - timedelta(days=31)),
                RateEvent(bucket="login-ip", key="192.0.2.1", at=now - timedelta(days=29)),
                RateEvent(bucket="inquiry", key="192.0.2.2", at=now - timedelta(days=40)),
            ]
        )


async def _left(backend: Backend) -> tuple[set[str], set[str], set[tuple[str, datetime]]]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        mail = {row.payload["to"] for row in await db.scalars(select(OutboxMessage))}
        sessions = set(await db.scalars(select(UserSession.id)))
        events = {(e.bucket, e.at) for e in await db.scalars(select(RateEvent))}
    return mail, sessions, events


async def _prune(backend: Backend, now: datetime, retention: Retention | None = None) -> int:
    settings = backend.settings
    if retention is not None:
        settings = replace(settings, retention=retention)
    engine = make_engine(settings.runtime_database_url)
    try:
        job = PLATFORM_JOBS["operational_retention"]
        return await job.run(PlatformJobContext(make_sessionmaker(engine), now, settings))
    finally:
        await engine.dispose()


async def test_retention_deletes_only_rows_older_than_their_setting(
    clean_db: Backend, firms: Firms
) -> None:
    now = clock.now()
    await _arrange(clean_db, firms, now)
    assert await _prune(clean_db, now) == 4  # a sent e-mail, a session, two rate events
    mail, sessions, events = await _left(clean_db)
    # Failed and pending e-mail stays whatever its age: someone has to look at it.
    assert mail == {"new-sent@example.fi", "old-failed@example.fi", "old-pending@example.fi"}
    assert sessions == {"valid"}
    assert events == {("login-ip", now - timedelta(days=29))}
    assert await _prune(clean_db, now) == 0


async def test_a_shorter_setting_prunes_more_but_rate_events_outlive_every_limits_window(
    clean_db: Backend, firms: Firms
) -> None:
    now = clock.now()
    await _arrange(clean_db, firms, now)
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db, db.begin():
        db.add(RateEvent(bucket="login-account", key="a@b.fi", at=now - timedelta(hours=25)))
        await db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sent")
            .values(done_at=now - timedelta(days=8))
        )
    assert await _prune(clean_db, now, Retention(sent_mail_days=7, rate_event_days=0)) == 6
    mail, _sessions, events = await _left(clean_db)
    assert mail == {"old-failed@example.fi", "old-pending@example.fi"}
    # Kept two days at least: a day-long limit's events are all still counted.
    assert events == {("login-account", now - timedelta(hours=25))}
    assert timedelta(hours=25) < RATE_EVENTS_KEPT_AT_LEAST
