"""Retention of operational tables: the job prunes only what is older than its setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from luotsi.platform.audit import AuditEvent
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
                UserSession(
                    id="valid", user_id=user, expires_at=now + timedelta(hours=1), last_seen_at=now
                ),
                # Not expired, but no request for longer than LUOTSI_SESSION_IDLE_MINUTES.
                UserSession(
                    id="idle",
                    user_id=user,
                    expires_at=now + timedelta(hours=1),
                    last_seen_at=now - timedelta(minutes=31),
                ),
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
    assert await _prune(clean_db, now) == 5  # a sent e-mail, two sessions, two rate events
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
    assert (
        await _prune(clean_db, now, Retention(sent_mail_days=7, rate_event_days=0)) == 7
    )  # two e-mails, two sessions, three rate events
    mail, _sessions, events = await _left(clean_db)
    assert mail == {"old-failed@example.fi", "old-pending@example.fi"}
    # Kept two days at least: a day-long limit's events are all still counted.
    assert events == {("login-account", now - timedelta(hours=25))}
    assert timedelta(hours=25) < RATE_EVENTS_KEPT_AT_LEAST


# --- the audit log -----------------------------------------------------------------------------


async def _audit_at(backend: Backend, *instants: datetime) -> None:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db, db.begin():
        db.add_all(
            AuditEvent(actor_user_id=None, action="login.failed", at=at, ip="192.0.2.9")
            for at in instants
        )


async def _audit_left(backend: Backend) -> list[datetime]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        return sorted(await db.scalars(select(AuditEvent.at)))


async def _months(backend: Backend) -> set[str]:
    """The audit log's monthly partitions (PostgreSQL)."""
    async with backend.owner.connect() as conn:
        found = await conn.scalars(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " WHERE i.inhparent = 'audit_events'::regclass"
            )
        )
        return set(found)


def _month(instant: datetime) -> str:
    return f"audit_events_y{instant:%Y}m{instant:%m}"


async def _keep_audit(backend: Backend, now: datetime, days: int) -> int:
    settings = replace(backend.settings, retention=Retention(audit_days=days))
    engine = make_engine(settings.runtime_database_url)  # the app's role, as the worker
    try:
        job = PLATFORM_JOBS["audit_retention"]
        return await job.run(PlatformJobContext(make_sessionmaker(engine), now, settings))
    finally:
        await engine.dispose()


async def test_the_audit_log_keeps_its_retention_and_the_months_ahead(clean_db: Backend) -> None:
    now = clock.now()
    old, kept = now - timedelta(days=400), now - timedelta(days=300)
    await _audit_at(clean_db, old, kept, now)
    if clean_db.is_postgres:
        # The old months exist (as the migration makes them for the rows it copies); a row
        # written before its month was created is moved into it from the default partition.
        await _audit_at(clean_db, old - timedelta(days=62))
        async with clean_db.owner.begin() as conn:
            made = await conn.scalar(
                text("SELECT luotsi_audit_partitions(:first, :last)"),
                {"first": (old - timedelta(days=62)).date(), "last": kept.date()},
            )
        assert made and made > 0
        async with clean_db.owner.connect() as conn:
            default = "SELECT count(*) FROM audit_partitions.audit_events_default"
            assert await conn.scalar(text(default)) == 0
        assert {_month(old), _month(kept)} <= await _months(clean_db)
    assert await _keep_audit(clean_db, now, 365) > 0
    assert await _audit_left(clean_db) == [kept, now]
    assert await _keep_audit(clean_db, now, 365) == 0
    if clean_db.is_postgres:
        months = await _months(clean_db)
        assert _month(old) not in months and _month(kept) in months
        ahead = [now + timedelta(days=31 * n) for n in range(3)]
        assert {_month(instant) for instant in ahead} <= months


async def test_the_app_role_reaches_the_audit_rows_only_through_the_log(
    clean_db: Backend,
) -> None:
    if not clean_db.is_postgres:
        pytest.skip("partitions and roles are PostgreSQL's")
    await _audit_at(clean_db, clock.now())
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        for sql in (
            "SELECT count(*) FROM audit_partitions.audit_events_default",
            f"SELECT count(*) FROM audit_partitions.{_month(clock.now())}",
            "DELETE FROM audit_events",
        ):
            async with engine.connect() as conn:
                with pytest.raises(DBAPIError, match="permission denied"):
                    await conn.execute(text(sql))
    finally:
        await engine.dispose()
