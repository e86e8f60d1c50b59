"""Graceful shutdown of the real processes: ``luotsi worker`` and ``luotsi serve`` on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from luotsi.platform.db import make_sessionmaker, unscoped_session
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import OutboxMessage, enqueue_email
from tests.backends import settings_env
from tests.conftest import Backend
from tests.factories import Firms
from tests.platform.test_cli import _free_port, _start

# Generous: starting an interpreter with the app takes seconds, more on a busy machine.
START_UP_SECONDS = 180


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` every 0.1 s while ``process`` runs, for at most START_UP_SECONDS."""
    for _ in range(START_UP_SECONDS * 10):
        if ready():
            return
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"not ready in time:\n{log.read_text()}")


def process_env(backend: Backend, **extra: str) -> dict[str, str]:
    """The shell of an operator running Luotsi on the backend's database, logging at info."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LUOTSI_")},
        **settings_env(backend.settings.var_dir, backend.settings.database_url),
        "LUOTSI_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def json_lines(log: Path) -> list[dict[str, Any]]:
    lines = log.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


async def test_the_worker_finishes_and_exits_zero_on_sigterm(
    clean_db: Backend, firms: Firms, tmp_path: Path
) -> None:
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db, db.begin():
        for n in range(3):
            message = render_email("reset_password", f"p{n}@a.example", "fi", name="P", link="x")
            enqueue_email(db, message, firms.a.tenant.id)
    log = tmp_path / "worker.log"
    worker = _start(process_env(clean_db), "worker", log)
    try:

        def all_sent() -> bool:
            return sum(line["event"] == "outbox.sent" for line in json_lines(log)) == 3

        _wait_for(all_sent, worker, log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    lines = json_lines(log)
    assert lines[0]["event"] == "worker.started" and lines[-1]["event"] == "worker.stopped"
    delivered = [line for line in lines if line["event"] == "outbox.sent"]
    assert {line["tenant_id"] for line in delivered} == {str(firms.a.tenant.id)}
    assert all(line["kind"] == "email" for line in delivered)
    assert "a.example" not in log.read_text()  # no recipient in the log
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        statuses = list(await db.scalars(select(OutboxMessage.status)))
    assert statuses == ["sent"] * 3


def _partial_post(port: int) -> tuple[socket.socket, bytes]:
    """A sign-in POST whose body is not all sent yet: the request is in flight. Returns the
    connection and the rest of the body."""
    page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = cookie.split("=", 1)[1]
    body = b"email=nobody%40example.fi&password=not+the+password"
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        "POST /login HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        "content-type: application/x-www-form-urlencoded\r\n"
        f"content-length: {len(body)}\r\ncookie: {cookie}\r\nx-csrftoken: {token}\r\n\r\n"
    )
    connection.sendall(head.encode() + body[:10])
    # A request on another connection, answered: the server has taken the first one (made
    # before it) from the listening socket and is reading its body.
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
    return connection, body[10:]


async def test_serve_finishes_a_request_in_flight_on_sigterm(
    clean_db: Backend, tmp_path: Path
) -> None:
    port = _free_port()
    env = process_env(clean_db, LUOTSI_PORT=str(port), LUOTSI_WORKER_IN_PROCESS="1")
    log = tmp_path / "serve.log"

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    server = _start(env, "serve", log)
    try:
        _wait_for(ready, server, log)
        connection, rest = _partial_post(port)
        server.send_signal(signal.SIGTERM)
        # uvicorn says so once it has stopped listening and waits for the connections left.
        _wait_for(lambda: "Waiting for connections to close" in log.read_text(), server, log)
        connection.sendall(rest)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        connection.close()
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    status = int(answer.split(b" ", 2)[1])
    assert 200 <= status < 500, answer[:300]  # the sign-in form again, with its error
    assert answer.rstrip().endswith(b"</html>")  # whole
    lines = json_lines(log)
    posted = max(i for i, line in enumerate(lines) if line.get("route") == "/login")
    assert lines[posted]["method"] == "POST" and lines[posted]["status"] == status
    # The lifespan ended too: the in-process worker stopped after the request was answered.
    assert [line["event"] for line in lines[posted:]].count("worker.stopped") == 1
    # uvicorn ends the process with the signal it received, as a SIGTERM's default would.
    assert server.returncode in (0, -signal.SIGTERM)
