"""Readiness: named checks of what a node needs before it takes traffic.

``GET /readyz`` runs every check in :data:`READINESS_CHECKS` and answers 503 with the reasons
when one that gates fails. The platform's own are the database (it answers) and the schema
(the migrations are at the code's head). Another module adds its own with
:func:`readiness_check`; a check raises :class:`NotReady` with a short reason (it is shown to
whoever asks, so it names no host, user or value), and any other exception fails it too. A
check of something this node is not configured to use (Redis) raises :class:`NotUsed` and is
left out of the answer.

A check registered with ``gates=False`` is reported, never gating: the node still serves
("degraded", 200). The worker's heartbeat is one: without a worker, pages still work and
e-mail waits in the outbox, and taking every app node out of the load balancer because the
worker stopped would turn a delay into an outage. Its failure shows in ``/readyz`` and in the
metrics (``luotsi_worker_heartbeat_age_seconds``) for alerting.
Liveness (``/healthz``) checks nothing here: the process answers, that is all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache

import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from luotsi.platform.db import unscoped_session
from luotsi.platform.migrate import alembic_config
from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

# How long one check may take before it counts as failed (a database that does not answer).
CHECK_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Probe:
    """What a readiness check or a scrape-time metrics collector may use: the node's
    sessions (for global tables; cross-tenant reads go through their named sessions) and its
    settings."""

    maker: async_sessionmaker[AsyncSession]
    settings: Settings

    @property
    def engine(self) -> AsyncEngine:
        bind = self.maker.kw["bind"]
        assert isinstance(bind, AsyncEngine)
        return bind


class NotReady(Exception):
    """A readiness check failed; the message is the reason shown."""


class NotUsed(Exception):
    """What a readiness check looks at is not configured here: the check is not shown."""


ReadinessCheck = Callable[[Probe], Awaitable[None]]
READINESS_CHECKS: dict[str, ReadinessCheck] = {}
REPORTED_ONLY: set[str] = set()  # the names of checks that do not gate readiness


def readiness_check(name: str, *, gates: bool = True) -> Callable[[ReadinessCheck], ReadinessCheck]:
    """Register a check that ``/readyz`` runs under ``name``; with ``gates=False`` its failure
    is reported but the node stays ready (degraded)."""

    def register(check: ReadinessCheck) -> ReadinessCheck:
        if name in READINESS_CHECKS:
            raise ValueError(f"readiness check {name!r} taken")
        READINESS_CHECKS[name] = check
        if not gates:
            REPORTED_ONLY.add(name)
        return check

    return register


def forget_readiness_check(name: str) -> None:
    """Unregister ``name`` (for a check that was registered for a while, as tests do)."""
    del READINESS_CHECKS[name]
    REPORTED_ONLY.discard(name)


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]  # name -> "ok" or the reason it failed
    reported_only: frozenset[str] = frozenset()

    @property
    def ready(self) -> bool:
        return all(
            result == "ok" for name, result in self.checks.items() if name not in self.reported_only
        )

    @property
    def status(self) -> str:
        if not self.ready:
            return "not ready"
        return "ready" if all(result == "ok" for result in self.checks.values()) else "degraded"


async def check_readiness(probe: Probe) -> Readiness:
    """Run every registered check (at once), each within :data:`CHECK_TIMEOUT_SECONDS`."""
    names = list(READINESS_CHECKS)
    results = await asyncio.gather(*(_run(name, probe) for name in names))
    checks = {
        name: result for name, result in zip(names, results, strict=True) if result is not None
    }
    return Readiness(checks, frozenset(REPORTED_ONLY))


async def _run(name: str, probe: Probe) -> str | None:
    try:
        await asyncio.wait_for(READINESS_CHECKS[name](probe), CHECK_TIMEOUT_SECONDS)
    except NotUsed:
        return None
    except NotReady as exc:
        return str(exc)
    except TimeoutError:
        return "no answer in time"
    except Exception as exc:
        log.warning("readiness.failed", check=name, error=type(exc).__name__)
        return f"failed ({type(exc).__name__})"
    return "ok"


@readiness_check("database")
async def database_answers(probe: Probe) -> None:
    async with unscoped_session(probe.maker) as db:
        await db.scalar(select(literal(1)))


@cache
def code_heads() -> frozenset[str]:
    """The revisions the code's migrations end at (one, unless branches await a merge)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


@readiness_check("migrations")
async def migrations_at_head(probe: Probe) -> None:
    async with unscoped_session(probe.maker) as db:
        if db.bind.dialect.name == "postgresql":
            exists = text("select to_regclass('alembic_version') is not null")
        else:
            exists = text("select count(*) > 0 from sqlite_master where name = 'alembic_version'")
        if not await db.scalar(exists):
            raise NotReady("not migrated")
        found = set(await db.scalars(text("select version_num from alembic_version")))
    expected = code_heads()
    if found != expected:
        at = ", ".join(sorted(found)) or "none"
        raise NotReady(f"database at {at}, code at {', '.join(sorted(expected))}")
