"""The transactional outbox and the worker that delivers it.

Code that changes data enqueues the work (an e-mail, a Stripe call) in the same transaction;
``luotsi worker`` (or the in-process worker of ``luotsi serve``) delivers at least once, with
exponential backoff. On PostgreSQL several workers can run: rows are claimed with ``FOR UPDATE
SKIP LOCKED``. Each kind of row has a handler in :data:`OUTBOX_KINDS`; a module above the
platform registers its own kinds with :func:`outbox_kind` (billing its Stripe calls), so the
platform never imports them.

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
from sqlalchemy import JSON, Integer, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, Base, unscoped_session
from luotsi.platform.errors import TenantNotSet
from luotsi.platform.jobs import run_due_jobs
from luotsi.platform.logs import ids_bound
from luotsi.platform.mail import Mailer
from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(seconds=30)
# The transaction setting the outbox's worker policy admits (see migration 0009).
WORKER_SETTING = "app.outbox_worker"


class OutboxMessage(Base):
    """One unit of work to deliver. Global table; ``tenant_id`` says whose work it is."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    done_at: Mapped[datetime | None]


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


async def _claim(db: AsyncSession, batch: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= clock.now())
        .order_by(OutboxMessage.next_attempt_at)
        .limit(batch)
    )
    if db.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await db.scalars(query))


async def deliver(row: OutboxMessage, worker: Worker) -> None:
    handler = OUTBOX_KINDS.get(row.kind)
    if handler is None:
        raise ValueError(f"unknown outbox kind {row.kind!r}")
    # The handler's log lines name the message, its kind and its firm.
    with ids_bound(job=f"outbox.{row.kind}", outbox_id=row.id, tenant_id=row.tenant_id):
        kept = await handler(row, worker)
    if kept is not None:
        row.payload = kept


async def run_once(maker: async_sessionmaker[AsyncSession], mailer: Mailer, batch: int = 20) -> int:
    """Deliver what is due; returns how many rows were handled (sent or rescheduled)."""
    handled = 0
    worker = Worker(maker, mailer)
    async with outbox_worker_session(maker) as db:
        for row in await _claim(db, batch):
            handled += 1
            row.attempts += 1
            try:
                await deliver(row, worker)
            except Exception as exc:
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                    # The error's type only: an SMTP error names its recipients.
                    log.error(
                        "outbox.failed",
                        outbox_id=str(row.id),
                        kind=row.kind,
                        tenant_id=row.tenant_id and str(row.tenant_id),
                        error=type(exc).__name__,
                    )
                else:
                    row.next_attempt_at = clock.now() + backoff(row.attempts)
                    log.warning(
                        "outbox.retry",
                        outbox_id=str(row.id),
                        kind=row.kind,
                        tenant_id=row.tenant_id and str(row.tenant_id),
                        attempt=row.attempts,
                        error=type(exc).__name__,
                    )
                continue
            row.status = "sent"
            row.done_at = clock.now()
            log.info(
                "outbox.sent",
                outbox_id=str(row.id),
                kind=row.kind,
                tenant_id=row.tenant_id and str(row.tenant_id),
            )
    return handled


async def run_forever(
    maker: async_sessionmaker[AsyncSession],
    mailer: Mailer,
    interval: float = 2.0,
    stop: asyncio.Event | None = None,
) -> None:
    """The worker loop: deliver what is due, then sleep a little."""
    stop = stop or asyncio.Event()
    log.info("worker.started")
    while not stop.is_set():
        try:
            handled = await run_due_jobs(maker)
            handled += await run_once(maker, mailer)
        except Exception:
            log.exception("worker.error")
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    log.info("worker.stopped")
