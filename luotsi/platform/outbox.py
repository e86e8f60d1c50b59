"""The transactional outbox and its delivery.

Code that changes data enqueues the work (an e-mail, a Stripe call) in the same transaction;
the worker (``luotsi worker``, or the in-process one of ``luotsi serve``) delivers at least
once, with exponential backoff, in a loop of its own (:func:`deliver_forever`) that scheduled
jobs never hold up. Each kind of row has a handler in :data:`OUTBOX_KINDS`; a module above the
platform registers its own kinds with :func:`outbox_kind` (billing its Stripe calls), so the
platform never imports them.

Several workers can deliver at once. A worker claims a few due rows with a lease: in a short
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) it marks them ``sending``, names
itself (``claimed_by``) and sets ``lease_until``, and commits. It then delivers each row
outside any transaction (no row lock is held while SMTP or Stripe answers) and marks it sent,
or back to pending with a backoff, in a short transaction of its own. A worker that dies leaves
its rows ``sending`` until the lease expires; another worker then claims them again, so a crash
delivers at most the one message that was in flight twice (e-mails keep their Message-ID,
Stripe calls their idempotency keys). Partial indexes keep the claim cheap however many rows
were sent before.

Pending rows hold recipients, subjects and single-use links. On PostgreSQL the table is under
row-level security (migration 0009): a request may add rows, for its own firm or as platform
mail (``tenant_id`` NULL), and read none; only :func:`outbox_worker_session` reads and updates
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import JSON, Index, Integer, Select, String, Text, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, Base, inline, unscoped_session
from luotsi.platform.errors import TenantNotSet
from luotsi.platform.logs import ids_bound
from luotsi.platform.mail import Mailer
from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
CLAIM_BATCH = 10
PRUNE_BATCH = 1000
# The transaction setting the outbox's worker policy admits (see migration 0009).
WORKER_SETTING = "app.outbox_worker"


class OutboxMessage(Base):
    """One unit of work to deliver. Global table; ``tenant_id`` says whose work it is."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> sending (claimed, leased) -> sent; back to pending to retry; failed at last.
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # counted when claimed
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    done_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))  # the worker sending it
    lease_until: Mapped[datetime | None]  # sending: claimable again after this


# Partial indexes: each covers only the rows one query looks for, so a claim, a reclaim or a
# pruning reads what it needs however many messages were sent before.
Index(
    "ix_outbox_pending",
    OutboxMessage.next_attempt_at,
    postgresql_where=OutboxMessage.status == "pending",
    sqlite_where=OutboxMessage.status == "pending",
)
Index(
    "ix_outbox_sending",
    OutboxMessage.lease_until,
    postgresql_where=OutboxMessage.status == "sending",
    sqlite_where=OutboxMessage.status == "sending",
)
Index(
    "ix_outbox_sent",
    OutboxMessage.done_at,
    postgresql_where=OutboxMessage.status == "sent",
    sqlite_where=OutboxMessage.status == "sent",
)


def backoff(attempts: int) -> timedelta:
    return BASE_BACKOFF * (2 ** max(0, attempts - 1))


@dataclass(frozen=True)
class Worker:
    """What a handler may use: sessions (it opens its own), the mailer and the settings."""

    maker: async_sessionmaker[AsyncSession]
    mailer: Mailer

    @property
    def settings(self) -> Settings:
        return self.mailer.settings


# A handler delivers one row; it returns the payload to keep once delivered (None: as it is).
OutboxHandler = Callable[[OutboxMessage, Worker], Awaitable[dict[str, Any] | None]]
OUTBOX_KINDS: dict[str, OutboxHandler] = {}


def outbox_kind(kind: str) -> Callable[[OutboxHandler], OutboxHandler]:
    """Register the handler of the outbox rows of ``kind`` (at most 40 characters)."""

    def register(handler: OutboxHandler) -> OutboxHandler:
        if kind in OUTBOX_KINDS or len(kind) > 40:
            raise ValueError(f"outbox kind {kind!r} taken or too long")
        OUTBOX_KINDS[kind] = handler
        return handler

    return register


def enqueue(
    db: AsyncSession, kind: str, payload: dict[str, Any], tenant_id: uuid.UUID | None = None
) -> OutboxMessage:
    """Queue work of a registered ``kind``, delivered after this transaction commits.

    Without ``tenant_id`` the row is the scoped session's firm's, or the platform's in an
    unscoped session.
    """
    scoped = db.info.get(TENANT_KEY)
    if tenant_id is None:
        tenant_id = scoped
    elif scoped is not None and tenant_id != scoped:
        raise TenantNotSet("outbox row of another tenant in this session")
    row = OutboxMessage(kind=kind, payload=payload, tenant_id=tenant_id)
    db.add(row)
    return row


def enqueue_email(
    db: AsyncSession, message: dict[str, Any], tenant_id: uuid.UUID | None = None
) -> OutboxMessage:
    """Queue a rendered e-mail (see :func:`luotsi.platform.mail.render_email`)."""
    return enqueue(db, "email", message, tenant_id)


@outbox_kind("email")
async def _send_email(row: OutboxMessage, worker: Worker) -> dict[str, Any]:
    await worker.mailer.send(row.payload)
    # The body may hold a single-use link: keep only what is needed to audit delivery.
    return {"to": row.payload.get("to"), "subject": row.payload.get("subject")}


@asynccontextmanager
async def outbox_worker_session(
    maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """The one way to read and update the outbox: every firm's rows and platform mail.

    A transaction, committed when the block ends without error; on PostgreSQL it names itself
    the worker, which the outbox's row-level security admits.
    """
    async with unscoped_session(maker) as db, db.begin():
        if db.bind.dialect.name == "postgresql":
            await db.execute(select(func.set_config(WORKER_SETTING, "on", True)))
        yield db


async def _claim(
    maker: async_sessionmaker[AsyncSession],
    worker: str,
    now: datetime,
    lease: timedelta,
    batch: int,
) -> list[OutboxMessage]:
    """Lease up to ``batch`` due rows to ``worker`` and commit: rows whose lease expired (a
    worker died sending them) first, then pending ones, the longest waiting first."""
    async with outbox_worker_session(maker) as db:

        def locked(query: Select[tuple[OutboxMessage]]) -> Select[tuple[OutboxMessage]]:
            if db.bind.dialect.name == "postgresql":
                return query.with_for_update(skip_locked=True)
            return query

        expired = (
            select(OutboxMessage)
            .where(OutboxMessage.status == inline("sending"), OutboxMessage.lease_until <= now)
            .order_by(OutboxMessage.lease_until)
            .limit(batch)
        )
        rows = list(await db.scalars(locked(expired)))
        if len(rows) < batch:
            pending = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == inline("pending"),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(batch - len(rows))
            )
            rows += await db.scalars(locked(pending))
        for row in rows:
            if row.status == "sending":
                log.warning("outbox.lease_expired", id=str(row.id), worker=row.claimed_by)
            row.status, row.claimed_by, row.lease_until = "sending", worker, now + lease
            row.attempts += 1
        return rows


async def deliver(row: OutboxMessage, worker: Worker) -> dict[str, Any] | None:
    """Run the row's handler; returns the payload to keep (None: as it is)."""
    handler = OUTBOX_KINDS.get(row.kind)
    if handler is None:
        raise ValueError(f"unknown outbox kind {row.kind!r}")
    # The handler's log lines name the message, its kind and its firm.
    with ids_bound(job=f"outbox.{row.kind}", outbox_id=row.id, tenant_id=row.tenant_id):
        return await handler(row, worker)


async def _settle(
    maker: async_sessionmaker[AsyncSession], row: OutboxMessage, worker: str, values: dict[str, Any]
) -> None:
    """Write the outcome of a delivery, unless the row's lease went to another worker."""
    async with outbox_worker_session(maker) as db:
        await db.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row.id,
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_by == worker,
            )
            .values(claimed_by=None, lease_until=None, **values)
        )


async def _deliver_claimed(
    maker: async_sessionmaker[AsyncSession], row: OutboxMessage, worker: Worker, name: str
) -> None:
    try:
        kept = await deliver(row, worker)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            # The error's type only: an SMTP error names its recipients.
            log.error(
                "outbox.failed",
                outbox_id=str(row.id),
                kind=row.kind,
                tenant_id=row.tenant_id and str(row.tenant_id),
                error=type(exc).__name__,
            )
            await _settle(maker, row, name, {"status": "failed", "last_error": error})
        else:
            log.warning(
                "outbox.retry",
                outbox_id=str(row.id),
                kind=row.kind,
                tenant_id=row.tenant_id and str(row.tenant_id),
                attempt=row.attempts,
                error=type(exc).__name__,
            )
            retry_at = clock.now() + backoff(row.attempts)
            await _settle(
                maker,
                row,
                name,
                {"status": "pending", "last_error": error, "next_attempt_at": retry_at},
            )
        return
    sent: dict[str, Any] = {"status": "sent", "done_at": clock.now()}
    if kept is not None:
        sent["payload"] = kept
    await _settle(maker, row, name, sent)
    log.info(
        "outbox.sent",
        outbox_id=str(row.id),
        kind=row.kind,
        tenant_id=row.tenant_id and str(row.tenant_id),
    )


async def run_once(
    maker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    batch: int = CLAIM_BATCH,
    worker: str | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Claim what is due and deliver it; returns how many rows were handled (sent, or
    rescheduled after a failure). Once ``stop`` is set the rows not yet tried are given back
    as they were."""
    name = worker or f"once:{uuid.uuid4().hex[:8]}"
    # The lease (LUOTSI_WORKER_LEASE_SECONDS, ten minutes) outlasts a batch: SMTP answers
    # within its 30-second timeout.
    lease = timedelta(seconds=mailer.settings.worker.lease_seconds)
    rows = await _claim(maker, name, clock.now(), lease, batch)
    handling = Worker(maker, mailer)
    for index, row in enumerate(rows):
        if stop is not None and stop.is_set():
            for left in rows[index:]:
                back = {"status": "pending", "attempts": OutboxMessage.attempts - 1}
                await _settle(maker, left, name, back)
            return index
        await _deliver_claimed(maker, row, handling, name)
    return len(rows)


async def deliver_forever(
    maker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    worker: str,
    stop: asyncio.Event,
    interval: float = 2.0,
) -> None:
    """The delivery loop: deliver what is due, then wait a little (not while there is more)."""
    while not stop.is_set():
        try:
            handled = await run_once(maker, mailer, worker=worker, stop=stop)
        except Exception:
            log.exception("outbox.error")
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)


# --- what metrics report, and retention -----------------------------------------------------


@dataclass(frozen=True)
class Backlog:
    """Rows waiting to be delivered (pending or being sent) and how long the oldest waits."""

    waiting: int
    oldest_age: timedelta | None


async def outbox_backlog(
    maker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> Backlog:
    """The outbox's backlog, read as the worker (a request's session may not read the outbox)."""
    now = now or clock.now()
    async with outbox_worker_session(maker) as db:
        count, oldest = (
            await db.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status.in_(("pending", "sending"))
                )
            )
        ).one()
    return Backlog(int(count), max(now - oldest, timedelta(0)) if oldest else None)


async def prune_sent(maker: async_sessionmaker[AsyncSession], before: datetime) -> int:
    """Delete the rows delivered before ``before``, a batch per transaction; returns how
    many went. Failed rows stay, for someone to look at."""
    pruned = 0
    while True:
        async with outbox_worker_session(maker) as db:
            batch = (
                select(OutboxMessage.id)
                .where(OutboxMessage.status == inline("sent"), OutboxMessage.done_at < before)
                .limit(PRUNE_BATCH)
            )
            result = await db.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(batch)))
            deleted = int(getattr(result, "rowcount", 0) or 0)
        pruned += deleted
        if deleted < PRUNE_BATCH:
            return pruned
