"""The worker: outbox delivery, scheduled jobs and a heartbeat, each in a loop of its own.

``luotsi worker`` runs :func:`run_worker` (as many processes as wanted, on any nodes), and so
does ``luotsi serve`` in-process in the embedded mode. The loops share nothing but the stop
event: e-mail goes out while a long job runs (:mod:`luotsi.platform.outbox`), due jobs are
claimed from the schedule table (:mod:`luotsi.platform.jobs`), and the heartbeat tells
readiness and metrics that the worker lives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.platform import clock
from luotsi.platform.db import unscoped_session
from luotsi.platform.health import NotReady, Probe, readiness_check
from luotsi.platform.jobs import (
    Registry,
    ensure_schedules,
    heartbeat,
    job_lag,
    run_due_jobs,
    worker_heartbeat_age,
    worker_id,
    worker_stopped,
)
from luotsi.platform.mail import Mailer
from luotsi.platform.metrics import scrape_collector
from luotsi.platform.outbox import deliver_forever
from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0
# A heartbeat older than this means no worker runs (a few missed beats: a busy loop or a restart).
STALE_HEARTBEAT_SECONDS = 4 * HEARTBEAT_SECONDS
SCHEDULE_SYNC_SECONDS = 60.0  # how often firms that signed up since get their schedule rows


async def _every(
    seconds: float, stop: asyncio.Event, step: Callable[[], Awaitable[object]], what: str
) -> None:
    """Run ``step`` now and then every ``seconds`` until ``stop``; an error is logged."""
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception(f"{what}.error")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def jobs_forever(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    worker: str,
    stop: asyncio.Event,
    interval: float = 2.0,
    registry: Registry | None = None,
) -> None:
    """The jobs loop: keep the schedule complete, run what is due, wait when nothing is."""
    last_sync: datetime | None = None
    while not stop.is_set():
        ran = 0
        try:
            now = clock.now()
            if last_sync is None or (now - last_sync).total_seconds() >= SCHEDULE_SYNC_SECONDS:
                await ensure_schedules(maker, now, registry)
                last_sync = now
            ran = await run_due_jobs(maker, settings, worker, registry=registry, stop=stop)
        except Exception:
            log.exception("jobs.error")
        if ran == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


async def run_worker(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    stop: asyncio.Event,
    registry: Registry | None = None,
) -> None:
    """Deliver the outbox and run the scheduled jobs until ``stop`` is set."""
    name = worker_id()
    interval = settings.worker.poll_seconds
    log.info("worker.started", worker=name)
    loops = [
        _every(HEARTBEAT_SECONDS, stop, lambda: heartbeat(maker, name), "heartbeat"),
        deliver_forever(maker, Mailer(settings), name, stop, interval),
        jobs_forever(maker, settings, name, stop, interval, registry),
    ]
    try:
        await asyncio.gather(*loops)
    finally:
        with contextlib.suppress(Exception):
            await worker_stopped(maker, name)
        log.info("worker.stopped", worker=name)


@readiness_check("worker", gates=False)
async def worker_heard_of(probe: Probe) -> None:
    """Some worker beat lately (reported, not gating: see :mod:`luotsi.platform.health`)."""
    async with unscoped_session(probe.maker) as db:
        age = await worker_heartbeat_age(db)
    if age is None:
        raise NotReady("no worker running")
    if age.total_seconds() > STALE_HEARTBEAT_SECONDS:
        raise NotReady(f"no worker heartbeat for {int(age.total_seconds())} s")


@scrape_collector("worker")
async def worker_metrics(probe: Probe) -> list[Metric]:
    """How late each job's most overdue run is, and how long ago a worker was last heard of
    (-1: no worker has run for a day)."""
    async with unscoped_session(probe.maker) as db:
        age = await worker_heartbeat_age(db)
        lags = await job_lag(db)
    lag = GaugeMetricFamily(
        "luotsi_job_lag_seconds",
        "How late the most overdue run of each job is (0: nothing overdue).",
        labels=["job"],
    )
    for name, late in sorted(lags.items()):
        lag.add_metric([name], late.total_seconds())
    return [
        lag,
        GaugeMetricFamily(
            "luotsi_worker_heartbeat_age_seconds",
            "How long ago a worker was last heard of (-1: none for a day).",
            value=-1.0 if age is None else age.total_seconds(),
        ),
    ]
