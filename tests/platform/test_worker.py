"""The worker on many nodes: the job schedule, leased e-mail, loops that do not wait on each
other, and what readiness and metrics read (heartbeat, job lag).

Workers here are real: each has its own engine (its own connections), and two of them run at
once as tasks of this process, as two processes would against the same database.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.jobs import (
    Job,
    JobContext,
    JobSchedule,
    PlatformJobContext,
    PlatformJobSpec,
    Registry,
    ensure_schedules,
    heartbeat,
    job_lag,
    run_due_jobs,
    worker_heartbeat_age,
    worker_stopped,
)
from luotsi.platform.mail import Mailer, read_mailbox, render_email
from luotsi.platform.outbox import OutboxMessage, enqueue_email, run_once
from luotsi.platform.settings import Settings, WorkerTuning
from luotsi.platform.tenancy import TenantStatus
from luotsi.platform.worker import run_worker
from tests import clock
from tests.conftest import Backend, postgres_only
from tests.factories import Firms, make_firm
from tests.platform.test_outbox import free_port

EVERY = 3600.0
WORKERS = 4  # at once, each with its own connections


@pytest.fixture
async def maker(clean_db: Backend) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A worker's sessions: through the app's database role, as ``luotsi worker`` connects."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def _other_worker(backend: Backend) -> tuple[async_sessionmaker[AsyncSession], Any]:
    engine = make_engine(backend.settings.runtime_database_url)
    return make_sessionmaker(engine), engine


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.worker.lease_seconds)


async def _schedule(backend: Backend) -> list[JobSchedule]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        return list(await db.scalars(select(JobSchedule)))


async def _outbox_rows(backend: Backend) -> list[OutboxMessage]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        return list(await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)))


async def _enqueue(maker: async_sessionmaker[AsyncSession], count: int) -> list[str]:
    """``count`` e-mails in the outbox; returns their Message-IDs."""
    ids = []
    async with unscoped_session(maker) as db, db.begin():
        for n in range(count):
            mail = render_email(
                "reset_password", f"person{n}@example.fi", "fi", name="Hanna", link="https://x/y"
            )
            enqueue_email(db, mail)
            ids.append(mail["message_id"])
    return ids


class Recorder:
    """A firm's job that records each run (and yields a few times meanwhile, as real jobs
    do while they wait for the database)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runs: list[tuple[str, uuid.UUID]] = []

    async def __call__(self, job: JobContext) -> int:
        self.runs.append((self.name, job.tenant.id))
        await asyncio.sleep(0)
        return 0


# --- the schedule -----------------------------------------------------------------------------


async def test_every_active_firm_gets_its_rows_once_and_firms_that_sign_up_later_too(
    clean_db: Backend, firms: Firms, maker: async_sessionmaker[AsyncSession]
) -> None:
    async def nothing(job: PlatformJobContext) -> int:
        return 0

    registry = Registry({"count": Job("count", EVERY, Recorder("count"))}, {})
    registry = Registry(registry.firm, {"tidy": PlatformJobSpec("tidy", EVERY, nothing)})
    pending = await make_firm(clean_db.owner, "odottaa", "Odottava Oy", "0737546-2")
    assert pending.status is TenantStatus.ACTIVE  # the factory's; made pending below
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db, db.begin():
        row = await db.get(type(pending), pending.id)
        assert row is not None
        row.status = TenantStatus.PENDING

    # The firms that exist when the worker first starts (as after the migration).
    assert await ensure_schedules(maker, clock.now(), registry) == 3
    assert await ensure_schedules(maker, clock.now(), registry) == 0
    rows = await _schedule(clean_db)
    assert sorted((r.job, r.tenant_id) for r in rows if r.tenant_id) == sorted(
        ("count", f.tenant.id) for f in (firms.a, firms.b)
    )
    assert [(r.job, r.tenant_id) for r in rows if r.tenant_id is None] == [("tidy", None)]

    later = await make_firm(clean_db.owner, "uusi", "Uusi Oy", "0737546-2")
    assert await ensure_schedules(maker, clock.now(), registry) == 1
    assert ("count", later.id) in {(r.job, r.tenant_id) for r in await _schedule(clean_db)}


@postgres_only
async def test_workers_at_once_never_run_the_same_firms_job_twice(clean_db: Backend) -> None:
    tenants = [
        (await make_firm(clean_db.owner, f"firma{n}", f"Firma {n} Oy", "0737546-2")).id
        for n in range(WORKERS * 5)
    ]
    jobs = {name: Recorder(name) for name in ("first", "second")}
    registry = Registry({name: Job(name, EVERY, fn) for name, fn in jobs.items()}, {})
    due = clock.now() + timedelta(minutes=1)
    ran_by: Counter[str] = Counter()

    async def work(name: str) -> None:
        sessions, engine = await _other_worker(clean_db)
        try:
            await ensure_schedules(sessions, clock.now(), registry)  # each at its start
            while ran := await run_due_jobs(
                sessions, clean_db.settings, name, now=due, registry=registry, batch=2
            ):
                ran_by[name] += ran
        finally:
            await engine.dispose()

    await asyncio.gather(*(work(f"worker-{n}") for n in range(WORKERS)))
    runs = [run for recorder in jobs.values() for run in recorder.runs]
    assert Counter(runs) == Counter((name, t) for name in jobs for t in tenants)  # each once
    assert len(ran_by) > 1  # the work was shared
    for row in await _schedule(clean_db):
        assert row.next_run_at == due + timedelta(seconds=EVERY)
        assert row.locked_by is None and row.last_run_at == due


async def test_a_job_whose_worker_died_runs_again_once_its_lease_expires(
    clean_db: Backend, firms: Firms, maker: async_sessionmaker[AsyncSession]
) -> None:
    started, never = asyncio.Event(), asyncio.Event()
    runs: list[uuid.UUID] = []

    async def hangs_the_first_time(job: JobContext) -> int:
        runs.append(job.tenant.id)
        if len(runs) == 1:
            started.set()
            await never.wait()  # the worker dies here
        return 0

    registry = Registry({"hangs": Job("hangs", EVERY, hangs_the_first_time)}, {})
    now = clock.now()
    await ensure_schedules(maker, now, registry)
    settings = clean_db.settings
    dying = asyncio.create_task(
        run_due_jobs(maker, settings, "dying", now=now, registry=registry, batch=1)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying
    [dead_firm] = runs

    # Its lease holds: another worker runs the other firm only.
    assert await run_due_jobs(maker, settings, "alive", now=now, registry=registry) == 1
    assert await run_due_jobs(maker, settings, "alive", now=now, registry=registry) == 0
    # Once the lease has run out, the other worker runs it again.
    after_lease = now + _lease(settings) + timedelta(seconds=1)
    assert await run_due_jobs(maker, settings, "alive", now=after_lease, registry=registry) == 1
    [other_firm] = {firms.a.tenant.id, firms.b.tenant.id} - {dead_firm}
    assert Counter(runs) == {dead_firm: 2, other_firm: 1}


async def test_a_failing_job_records_its_error_and_waits_its_interval(
    clean_db: Backend, firms: Firms, maker: async_sessionmaker[AsyncSession]
) -> None:
    async def fails(job: JobContext) -> int:
        raise RuntimeError("no")

    registry = Registry({"fails": Job("fails", EVERY, fails)}, {})
    now = clock.now()
    await ensure_schedules(maker, now, registry)
    assert await run_due_jobs(maker, clean_db.settings, "w", now=now, registry=registry) == 2
    rows = await _schedule(clean_db)
    assert {(r.last_error, r.failures, r.next_run_at) for r in rows} == {
        ("RuntimeError", 1, now + timedelta(seconds=EVERY))
    }


# --- e-mail ------------------------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that keeps every message's Message-ID; it can hold the first
    message until released (a send in flight)."""

    def __init__(self, hold_first: bool = False) -> None:
        self.ids: list[str] = []
        self.hold_first = hold_first
        self.holding = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._first = True

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            first, self._first = self._first, False
        if first and self.hold_first:
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 60)
        message_id = next(
            line.split(":", 1)[1].strip()
            for line in envelope.content.decode().splitlines()
            if line.lower().startswith("message-id:")
        )
        with self._lock:
            self.ids.append(message_id)
        return "250 OK"


async def _smtp(inbox: Inbox, settings: Settings) -> tuple[Controller, Settings]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, replace(settings, smtp_host="127.0.0.1", smtp_port=port)


@postgres_only
async def test_workers_at_once_never_send_an_email_twice(
    clean_db: Backend, maker: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _enqueue(maker, WORKERS * 10)
    inbox = Inbox()
    controller, settings = await _smtp(inbox, clean_db.settings)
    sent_by: Counter[str] = Counter()

    async def work(name: str) -> None:
        sessions, engine = await _other_worker(clean_db)
        try:
            while sent := await run_once(sessions, Mailer(settings), batch=2, worker=name):
                sent_by[name] += sent
        finally:
            await engine.dispose()

    try:
        await asyncio.gather(*(work(f"worker-{n}") for n in range(WORKERS)))
    finally:
        controller.stop()
    assert sorted(inbox.ids) == sorted(ids)  # every one, once
    assert len(sent_by) > 1  # the work was shared
    rows = await _outbox_rows(clean_db)
    assert {(r.status, r.attempts, r.claimed_by, r.lease_until) for r in rows} == {
        ("sent", 1, None, None)
    }


async def test_the_message_in_flight_when_its_worker_dies_is_sent_again_after_the_lease(
    clean_db: Backend, maker: async_sessionmaker[AsyncSession]
) -> None:
    ids = await _enqueue(maker, 3)
    inbox = Inbox(hold_first=True)
    controller, settings = await _smtp(inbox, clean_db.settings)
    try:
        dying = asyncio.create_task(run_once(maker, Mailer(settings), worker="dying"))
        assert await asyncio.to_thread(inbox.holding.wait, 30)  # the first is being sent
        dying.cancel()  # the worker dies with one message in flight
        with pytest.raises(asyncio.CancelledError):
            await dying
        rows = await _outbox_rows(clean_db)
        assert {(r.status, r.claimed_by) for r in rows} == {("sending", "dying")}

        # The lease holds: nothing is sent twice meanwhile.
        assert await run_once(maker, Mailer(settings), worker="alive") == 0
        lease_over = clock.now() + _lease(settings) + timedelta(minutes=1)
        with time_machine.travel(lease_over, tick=True):
            assert await run_once(maker, Mailer(settings), worker="alive") == 3
        # The dead worker's SMTP conversation ends after all (its process would have gone).
        inbox.release.set()
        for _ in range(600):
            if len(inbox.ids) == 4:
                break
            await asyncio.sleep(0.05)
    finally:
        inbox.release.set()
        controller.stop()
    counts = Counter(inbox.ids)
    assert set(counts) == set(ids)
    assert sorted(counts.values()) == [1, 1, 2]  # only the one in flight went twice
    assert counts[ids[0]] == 2
    rows = await _outbox_rows(clean_db)
    assert {(r.status, r.claimed_by) for r in rows} == {("sent", None)}


async def test_email_goes_out_while_a_long_job_runs(
    clean_db: Backend, firms: Firms, maker: async_sessionmaker[AsyncSession]
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[datetime] = []

    async def long_job(job: PlatformJobContext) -> int:
        started.set()
        await release.wait()
        finished.append(job.now)
        return 0

    registry = Registry({}, {"long": PlatformJobSpec("long", EVERY, long_job)})
    settings = replace(clean_db.settings, worker=WorkerTuning(poll_seconds=0.05))
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(maker, settings, stop, registry=registry))
    try:
        await asyncio.wait_for(started.wait(), timeout=30)
        await _enqueue(maker, 1)
        for _ in range(600):
            if read_mailbox(settings.outbox_dir):
                break
            await asyncio.sleep(0.05)
        assert [m.to for m in read_mailbox(settings.outbox_dir)] == ["person0@example.fi"]
        assert finished == []  # delivered while the job was still running
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(worker, timeout=30)
    assert len(finished) == 1


# --- what readiness and metrics read -------------------------------------------------------------


async def test_the_heartbeat_tells_how_long_ago_a_worker_was_seen(
    clean_db: Backend, maker: async_sessionmaker[AsyncSession]
) -> None:
    now = clock.now()
    async with unscoped_session(maker) as db:
        assert await worker_heartbeat_age(db, now) is None
    await heartbeat(maker, "worker-1", now - timedelta(seconds=40))
    await heartbeat(maker, "worker-2", now - timedelta(seconds=5))
    async with unscoped_session(maker) as db:
        assert await worker_heartbeat_age(db, now) == timedelta(seconds=5)
    await worker_stopped(maker, "worker-2")
    async with unscoped_session(maker) as db:
        assert await worker_heartbeat_age(db, now) == timedelta(seconds=40)
    await heartbeat(maker, "worker-3", now + timedelta(days=2))  # a day later: 1 is forgotten
    async with unscoped_session(maker) as db:
        assert await worker_heartbeat_age(db, now + timedelta(days=2)) == timedelta(0)


async def test_job_lag_is_how_late_each_jobs_most_overdue_run_is(
    clean_db: Backend, firms: Firms, maker: async_sessionmaker[AsyncSession]
) -> None:
    now = clock.now()
    await ensure_schedules(maker, now)
    async with unscoped_session(maker) as db:
        before = await job_lag(db, now - timedelta(seconds=1))
        late = await job_lag(db, now + timedelta(seconds=90))
    assert set(before) == set(Registry.registered().names)
    assert set(before.values()) == {timedelta(0)}
    assert set(late.values()) == {timedelta(seconds=90)}
