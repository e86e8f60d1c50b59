"""The outbox worker: delivery to files and to a real SMTP server, retries with backoff."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from luotsi.platform import clock
from luotsi.platform.db import make_engine, make_sessionmaker, unscoped_session
from luotsi.platform.mail import Mailer, read_mailbox, render_email
from luotsi.platform.outbox import MAX_ATTEMPTS, OutboxMessage, backoff, enqueue_email, run_once
from luotsi.platform.settings import WorkerTuning
from tests.conftest import Backend


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _enqueue(backend: Backend, to: str = "hr@client.example") -> None:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        async with unscoped_session(make_sessionmaker(engine)) as db, db.begin():
            enqueue_email(
                db, render_email("reset_password", to, "fi", name="Hanna", link="https://x/y")
            )
    finally:
        await engine.dispose()


async def _rows(backend: Backend) -> list[OutboxMessage]:
    async with unscoped_session(make_sessionmaker(backend.owner)) as db:
        return list(await db.scalars(select(OutboxMessage)))


async def _run(backend: Backend, mailer: Mailer) -> int:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        return await run_once(make_sessionmaker(engine), mailer)
    finally:
        await engine.dispose()


async def test_email_is_delivered_over_smtp_as_multipart(clean_db: Backend) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = replace(clean_db.settings, smtp_host="127.0.0.1", smtp_port=port)
        await _enqueue(clean_db)
        assert await _run(clean_db, Mailer(settings)) == 1
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "hr@client.example"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert message["Content-Language"] == "fi"
    rows = await _rows(clean_db)
    assert [r.status for r in rows] == ["sent"]
    assert "text" not in rows[0].payload  # the delivered body (with its link) is not kept


async def test_unreachable_smtp_is_retried_with_backoff_then_delivered(clean_db: Backend) -> None:
    port = free_port()  # nothing listens here yet
    settings = replace(clean_db.settings, smtp_host="127.0.0.1", smtp_port=port)
    await _enqueue(clean_db)
    before = clock.now()
    assert await _run(clean_db, Mailer(settings)) == 1
    (row,) = await _rows(clean_db)
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at >= before + backoff(1)
    # Not due yet: the worker leaves it alone.
    assert await _run(clean_db, Mailer(settings)) == 0

    async with clean_db.owner.begin() as conn:
        await conn.execute(OutboxMessage.__table__.update().values(next_attempt_at=clock.now()))
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert await _run(clean_db, Mailer(settings)) == 1
    finally:
        controller.stop()
    (row,) = await _rows(clean_db)
    assert row.status == "sent" and row.attempts == 2
    assert len(inbox.messages) == 1


async def test_message_is_parked_after_max_attempts(clean_db: Backend) -> None:
    settings = replace(clean_db.settings, smtp_host="127.0.0.1", smtp_port=free_port())
    await _enqueue(clean_db)
    for _ in range(MAX_ATTEMPTS):
        async with clean_db.owner.begin() as conn:
            await conn.execute(OutboxMessage.__table__.update().values(next_attempt_at=clock.now()))
        await _run(clean_db, Mailer(settings))
    (row,) = await _rows(clean_db)
    assert row.status == "failed" and row.attempts == MAX_ATTEMPTS


async def test_file_delivery_is_idempotent_per_message_id(clean_db: Backend) -> None:
    mailer = Mailer(clean_db.settings)
    payload = render_email("reset_password", "a@b.example", "en", name="A", link="https://x/y")
    await mailer.send(payload)
    await mailer.send(payload)  # a retry after a crash between send and commit
    assert len(read_mailbox(clean_db.settings.outbox_dir)) == 1


def test_backoff_grows_exponentially() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


@pytest.mark.parametrize("language", ["fi", "sv", "en"])
def test_email_is_rendered_in_the_recipients_language(language: str) -> None:
    payload = render_email(
        "invitation", "x@y.example", language, inviter="Outi", firm="Firma", role="R", link="L"
    )
    english = render_email(
        "invitation", "x@y.example", "en", inviter="Outi", firm="Firma", role="R", link="L"
    )
    assert payload["subject"]
    assert (payload["subject"] == english["subject"]) == (language == "en")


async def test_worker_loop_stops_on_request(clean_db: Backend) -> None:
    from luotsi.platform.worker import run_worker

    engine = make_engine(clean_db.settings.runtime_database_url)
    stop = asyncio.Event()
    settings = replace(clean_db.settings, worker=WorkerTuning(poll_seconds=0.05))
    task = asyncio.create_task(run_worker(make_sessionmaker(engine), settings, stop=stop))
    await _enqueue(clean_db)
    for _ in range(100):
        if read_mailbox(clean_db.settings.outbox_dir):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    await engine.dispose()
    assert len(read_mailbox(clean_db.settings.outbox_dir)) == 1
