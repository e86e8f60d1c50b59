"""Luotsi on many nodes, as deployed: three ``luotsi serve`` and two ``luotsi worker``
processes on one PostgreSQL (sessions and rate limits in it, or in Redis), e-mail to a real
SMTP server, and each person's requests spread over the nodes (a load balancer without sticky
sessions).

What must hold: a sign-in is valid on every node and a sign-out ends it on every node, sign-in
throttling counts the attempts made on all nodes, content written through one node is read
through another, every e-mail goes out once, every session reminder once (no firm's job runs
twice), and a worker killed in the middle of its work loses nothing.
"""

from __future__ import annotations

import asyncio
import email
import html
import itertools
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.policy import default as default_policy
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from luotsi.platform import clock, i18n
from luotsi.platform.db import make_sessionmaker, unscoped_session
from luotsi.platform.identity import FREE_FAILURES_PER_ACCOUNT, UserSession
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.settings import Settings
from luotsi.tenants.sessions.models import SupervisionSession
from tests.conftest import Backend, postgres_only
from tests.factories import PASSWORD, Firm, Firms, add_session
from tests.platform.test_cli import _free_port, _start
from tests.platform.test_shutdown import START_UP_SECONDS, json_lines, process_env

pytestmark = postgres_only

NODES, WORKERS = 3, 2
LEASE_SECONDS = 4  # a killed worker's claims go to the other one after this


class Inbox:
    """An aiosmtpd handler that keeps each message's recipient, subject and Message-ID; it
    takes ``delay`` seconds per message, as a remote server does (so a batch takes a while)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.messages: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self._lock:
            self.messages.append((message["To"], message["Subject"], message["Message-ID"]))
        return "250 OK"

    @property
    def ids(self) -> list[str]:
        with self._lock:
            return [message_id for _, _, message_id in self.messages]


@dataclass
class Cluster:
    nodes: list[str]  # the serve processes' base URLs
    workers: list[subprocess.Popen[bytes]]
    worker_logs: list[Path]
    inbox: Inbox
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def job_runs(self) -> Counter[tuple[str, str]]:
        """How many times each (job, firm) run did something, over every worker's log."""
        return Counter(
            (line["job"], line.get("tenant_id", ""))
            for log in self.worker_logs
            for line in json_lines(log)
            if line["event"] == "job.ran"
        )


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (at most START_UP_SECONDS) until ``check`` holds: processes on a busy machine."""
    deadline = time.monotonic() + START_UP_SECONDS
    while not await check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
def start_cluster(clean_db: Backend, tmp_path: Path) -> Iterator[Callable[..., Awaitable[Cluster]]]:
    """Start the nodes and workers (after the test has put its data in place)."""
    started: list[Cluster] = []
    controllers: list[Controller] = []

    async def start(smtp_delay: float = 0.0, store: Settings | None = None) -> Cluster:
        inbox = Inbox(smtp_delay)
        smtp_port = _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        controllers.append(controller)
        env = process_env(
            clean_db,
            LUOTSI_SMTP_HOST="127.0.0.1",
            LUOTSI_SMTP_PORT=str(smtp_port),
            LUOTSI_WORKER_POLL_SECONDS="0.2",
            LUOTSI_WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        if store is not None and store.redis_url:  # sessions and rate limits in Redis
            env |= {"LUOTSI_REDIS_URL": store.redis_url, "LUOTSI_REDIS_PREFIX": store.redis_prefix}
        cluster = Cluster(nodes=[], workers=[], worker_logs=[], inbox=inbox)
        started.append(cluster)
        for n in range(NODES):
            port = _free_port()
            log = tmp_path / f"serve-{n}.log"
            cluster.processes.append(_start({**env, "LUOTSI_PORT": str(port)}, "serve", log))
            cluster.nodes.append(f"http://127.0.0.1:{port}")
        for n in range(WORKERS):
            log = tmp_path / f"worker-{n}.log"
            worker = _start(env, "worker", log)
            cluster.processes.append(worker)
            cluster.workers.append(worker)
            cluster.worker_logs.append(log)
        async with httpx.AsyncClient(timeout=5) as http:

            async def all_answer() -> bool:
                for process in cluster.processes:
                    assert process.poll() is None, "a node or worker stopped while starting"
                try:
                    answers = [await http.get(f"{node}/healthz") for node in cluster.nodes]
                except httpx.HTTPError:
                    return False
                return all(answer.status_code == 200 for answer in answers)

            await eventually(all_answer, "every node answers")
        return cluster

    yield start
    for cluster in started:
        for process in cluster.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in cluster.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    for controller in controllers:
        controller.stop()


class Browser:
    """One person's browser behind a round-robin load balancer: each request goes to the next
    node. Its cookies are kept here and sent to every node (they are the site's, whichever
    node set them; kept by hand because they are Secure and the nodes speak plain HTTP)."""

    def __init__(self, http: httpx.AsyncClient, nodes: list[str]) -> None:
        self.http = http
        self.nodes = itertools.cycle(nodes)
        self.cookies: dict[str, str] = {}

    async def request(
        self, method: str, path: str, node: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "accept-language": "en"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            headers["x-csrftoken"] = self.cookies["__Host-luotsi_csrf"]
        self.http.cookies.clear()  # only the cookies above
        url = (node or next(self.nodes)) + path
        response = await self.http.request(method, url, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response

    async def get(self, path: str, node: str | None = None) -> httpx.Response:
        return await self.request("GET", path, node)

    async def post(
        self, path: str, data: dict[str, str], node: str | None = None
    ) -> httpx.Response:
        return await self.request("POST", path, node, data=data)

    async def sign_in(self, user_email: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        return await self.post("/login", {"email": user_email, "password": password})


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


async def test_sign_ins_throttling_and_content_are_the_same_on_every_node(
    start_cluster: Callable[..., Awaitable[Cluster]],
    firms: Firms,
    http: httpx.AsyncClient,
    store_settings: Settings,
    clean_store: None,
    clean_db: Backend,
) -> None:
    cluster = await start_cluster(store=store_settings)
    a = firms.a
    browser = Browser(http, cluster.nodes)
    assert (await browser.sign_in(a.supervisor.user.email)).status_code == 303
    for node in cluster.nodes:
        account = await browser.get("/account", node)
        assert account.status_code == 200 and a.supervisor.user.name in account.text
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        in_database = await db.scalar(select(func.count()).select_from(UserSession))
    assert in_database == (0 if store_settings.redis_url else 1)  # the store the nodes share

    marker = "MONISOLMU-MUISTIINPANO-5e1f"
    session_page = f"/t/{a.slug}/sessions/{a.session.id}"
    written = await browser.post(f"{session_page}/notes", {"text": marker}, cluster.nodes[0])
    assert written.status_code in (200, 303), written.text
    for node in cluster.nodes[1:]:  # written by one node, read through each of the others
        page = await browser.get(session_page, node)
        assert page.status_code == 200 and marker in html.unescape(page.text)

    token = browser.cookies["__Host-luotsi_session"]
    assert (await browser.post("/logout", {}, cluster.nodes[1])).status_code == 303
    browser.cookies["__Host-luotsi_session"] = (
        token  # a copy kept after signing out is worth nothing
    )
    for node in cluster.nodes:
        gone = await browser.get("/account", node)
        assert gone.status_code in (302, 303) and "/login" in gone.headers["location"]

    # Failed sign-ins spread over the nodes (round robin) count together: after the free ones,
    # every node makes the next attempt wait.
    owner = a.owner.user.email
    for _ in range(FREE_FAILURES_PER_ACCOUNT):
        refused = await browser.post("/login", {"email": owner, "password": "wrong guess"})
        assert refused.status_code == 422
    for node in cluster.nodes:
        waiting = await browser.post("/login", {"email": owner, "password": PASSWORD}, node)
        assert waiting.status_code == 429 and int(waiting.headers["retry-after"]) > 0
    other = Browser(http, cluster.nodes)  # another account is not held up by it
    assert (await other.sign_in(firms.b.owner.user.email)).status_code == 303


async def test_every_email_goes_out_once_and_a_killed_worker_loses_nothing(
    start_cluster: Callable[..., Awaitable[Cluster]], firms: Firms, clean_db: Backend
) -> None:
    maker = make_sessionmaker(clean_db.owner)
    async with unscoped_session(maker) as db, db.begin():
        messages = [
            render_email("reset_password", f"p{n}@a.example", "fi", name="P", link="x")
            for n in range(60)
        ]
        for message in messages:
            enqueue_email(db, message, firms.a.tenant.id)
    expected = {message["message_id"] for message in messages}
    cluster = await start_cluster(smtp_delay=0.05)

    async def some_sent() -> bool:
        return len(cluster.inbox.ids) >= 10

    await eventually(some_sent, "the first e-mails")
    cluster.workers[0].kill()  # SIGKILL: no clean stop, its claims stay leased to it

    async def all_sent() -> bool:
        return expected <= set(cluster.inbox.ids)

    await eventually(all_sent, "every e-mail, the killed worker's claims too")
    await asyncio.sleep(LEASE_SECONDS + 1)  # nothing more comes after the last lease
    counts = Counter(cluster.inbox.ids)
    assert set(counts) == expected
    # At most the message in flight when the worker died went twice (the documented cost).
    assert sum(counts.values()) - len(expected) <= 1


async def test_session_reminders_go_once_with_two_workers(
    start_cluster: Callable[..., Awaitable[Cluster]], firms: Firms, clean_db: Backend
) -> None:
    soon = clock.now() + timedelta(hours=3)
    planned: dict[str, int] = {}
    for firm in (firms.a, firms.b):
        for n in range(6):
            await _planned_soon(clean_db, firm, soon + timedelta(minutes=30 * n))
        planned[firm.supervisee.email or ""] = 6
    cluster = await start_cluster()
    prefixes = []
    for language in i18n.LANGUAGES:
        with i18n.language(language):
            subject = i18n.gettext("Reminder: %(kind)s on %(day)s at %(start)s")
            prefixes.append(subject.split("%")[0])

    def reminders() -> list[tuple[str, str]]:
        return [
            (to, subject)
            for to, subject, _ in cluster.inbox.messages
            if subject.startswith(tuple(prefixes))
        ]

    async def all_reminded() -> bool:
        return len(reminders()) >= sum(planned.values())

    await eventually(all_reminded, "every reminder")
    await asyncio.sleep(3)  # several more polls of both workers: nothing more comes
    sent = reminders()
    assert len(sent) == len(set(sent)) == sum(planned.values())  # one per session, none twice
    assert Counter(to for to, _ in sent) == planned
    runs = cluster.job_runs()
    for firm in (firms.a, firms.b):
        assert runs[("session_reminders", str(firm.tenant.id))] == 1
    async with unscoped_session(make_sessionmaker(clean_db.owner)) as db:
        unreminded = await db.scalars(
            select(SupervisionSession.id).where(
                SupervisionSession.starts_at.between(soon, soon + timedelta(hours=3)),
                SupervisionSession.reminder_sent_at.is_(None),
            )
        )
        assert list(unreminded) == []


async def _planned_soon(backend: Backend, firm: Firm, starts: Any) -> None:
    await add_session(backend.owner, firm.tenant, firm.agreement, firm.supervisor, starts_at=starts)
