"""Prometheus metrics: what the app counts as it serves, and what is read at scrape time.

Counted in the process: requests and their latency per route template, method and status
class (:data:`HTTP_REQUESTS`, :data:`HTTP_LATENCY`; the web app's middleware observes them).
Read when Prometheus scrapes (``GET /metrics``): a collector registered with
:func:`scrape_collector` gets the :class:`~luotsi.platform.health.Probe` and returns metric
families. The platform's own read the outbox's backlog and the database pool; the worker's
scheduling adds the lag of its jobs the same way. A collector that fails is skipped for that
scrape, and ``luotsi_scrape_collector_success`` says so.

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (by whatever starts the processes,
to a fresh directory), prometheus_client keeps the counted metrics in files there and a scrape
adds up every process's (see docs/decisions.md). Scrape-time metrics come from the database
and need no such thing; the pool is the answering process's own.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from luotsi.platform import clock
from luotsi.platform.health import Probe
from luotsi.platform.outbox import OutboxMessage, outbox_worker_session

log = structlog.get_logger(__name__)

# No "_created" series beside each counter and histogram: noise for Prometheus here.
disable_created_metrics()
# The process's own metrics live here, not in prometheus_client's global registry (which
# would refuse a second app in one process, as in the tests).
REGISTRY = CollectorRegistry(auto_describe=True)
HTTP_REQUESTS = Counter(
    "luotsi_http_requests",
    "Requests answered, by route template, method and status class.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "luotsi_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response.",
    ["route", "method", "status"],
    registry=REGISTRY,
)

ScrapeCollector = Callable[[Probe], Awaitable[Iterable[Metric]]]
SCRAPE_COLLECTORS: dict[str, ScrapeCollector] = {}


def scrape_collector(name: str) -> Callable[[ScrapeCollector], ScrapeCollector]:
    """Register ``collector`` to run at every scrape: an async function of the probe that
    returns metric families (``prometheus_client.core.GaugeMetricFamily`` and the like)."""

    def register(collector: ScrapeCollector) -> ScrapeCollector:
        if name in SCRAPE_COLLECTORS:
            raise ValueError(f"scrape collector {name!r} taken")
        SCRAPE_COLLECTORS[name] = collector
        return collector

    return register


class _Collected(Collector):
    """Metric families already read, handed to a registry for one exposition."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def exposition(probe: Probe) -> bytes:
    """The metrics in Prometheus' text format, scrape-time collectors run now."""
    families: list[Metric] = []
    success = GaugeMetricFamily(
        "luotsi_scrape_collector_success",
        "Whether a scrape-time collector answered in this scrape (1) or failed (0).",
        labels=["collector"],
    )
    for name, collector in SCRAPE_COLLECTORS.items():
        try:
            families.extend(await collector(probe))
        except Exception as exc:
            log.warning("metrics.collector_failed", collector=name, error=type(exc).__name__)
            success.add_metric([name], 0)
        else:
            success.add_metric([name], 1)
    families.append(success)
    registry = CollectorRegistry(auto_describe=False)
    multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess_dir:
        MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_Collected(list(REGISTRY.collect())))
    registry.register(_Collected(families))
    return generate_latest(registry)


@scrape_collector("outbox")
async def outbox_backlog(probe: Probe) -> list[Metric]:
    """How much is waiting to be delivered, and for how long the oldest has waited.

    Read as the worker reads the outbox (its session, which the table's row-level security
    admits), counting rows and their age only."""
    async with outbox_worker_session(probe.maker) as db:
        rows = (
            await db.execute(
                select(OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
                .where(OutboxMessage.status.in_(("pending", "failed")))
                .group_by(OutboxMessage.status)
            )
        ).all()
    found: dict[str, tuple[int, datetime | None]] = {status: (n, t) for status, n, t in rows}
    pending, oldest = found.get("pending", (0, None))
    age = max(0.0, (clock.now() - oldest).total_seconds()) if oldest else 0.0
    return [
        GaugeMetricFamily(
            "luotsi_outbox_pending", "Outbox messages waiting to be delivered.", value=pending
        ),
        GaugeMetricFamily(
            "luotsi_outbox_oldest_pending_age_seconds",
            "How long the oldest message waiting to be delivered has waited (0: none waits).",
            value=age,
        ),
        GaugeMetricFamily(
            "luotsi_outbox_failed",
            "Outbox messages given up after their last attempt.",
            value=found.get("failed", (0, None))[0],
        ),
    ]


@scrape_collector("db_pool")
async def database_pool(probe: Probe) -> list[Metric]:
    """The connection pool of this process (PostgreSQL's; SQLite's where it has a size)."""
    pool = probe.engine.pool
    size = getattr(pool, "size", None)
    checked_out = getattr(pool, "checkedout", None)
    if size is None or checked_out is None:
        return []
    overflow = getattr(pool, "overflow", lambda: 0)()
    return [
        GaugeMetricFamily(
            "luotsi_db_pool_size", "Connections the pool keeps (its size).", value=size()
        ),
        GaugeMetricFamily(
            "luotsi_db_pool_checked_out",
            "Connections in use by requests or the worker right now.",
            value=checked_out(),
        ),
        GaugeMetricFamily(
            "luotsi_db_pool_overflow",
            "Connections open beyond the pool's size (negative: fewer than the size are open).",
            value=overflow,
        ),
    ]
