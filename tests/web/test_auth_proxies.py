"""Sign-ins behind a proxy, through the server `luotsi serve` runs (uvicorn, real HTTP).

With ``LUOTSI_TRUSTED_PROXIES`` the client is the one the proxy names in X-Forwarded-For: its
sign-ins are limited apart from the others behind the same proxy, and its address is audited.
Without it the header is a client's word and is ignored.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
import uvicorn
from litestar import Litestar
from sqlalchemy import text

from luotsi.cli import server_config
from luotsi.platform import audit
from luotsi.platform.identity import MAX_FAILURES_PER_IP
from tests.conftest import Backend
from tests.factories import PASSWORD, Firms


@pytest.fixture(scope="session")
def app(store_app: Litestar) -> Litestar:
    """Every test here runs with sessions and rate limits in the database and in Redis."""
    return store_app


pytestmark = pytest.mark.usefixtures("clean_store")

PROXY = "127.0.0.1"  # the test connects from here: it plays the load balancer


@asynccontextmanager
async def served(app: Litestar, backend: Backend, trusted_proxies: str) -> AsyncIterator[str]:
    """``app`` served as `luotsi serve` serves it, on a free port; yields the base URL."""
    settings = replace(backend.settings, trusted_proxies=trusted_proxies)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = server_config(app, settings, "127.0.0.1", sock.getsockname()[1])
    config.lifespan = "off"  # the fixture has entered the app's lifespan already
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


class Browser:
    """A browser behind the proxy: X-Forwarded-For names it (or whatever it forges)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def sign_in(self, email: str, password: str, forwarded_for: str) -> int:
        if not self.csrf:
            self.csrf = (await self.http.get("/login")).cookies["__Host-luotsi_csrf"]
        response = await self.http.post(
            "/login",
            data={"email": email, "password": password},
            # The cookie is Secure, so httpx keeps it from plain http: sent by hand.
            headers={
                "x-csrftoken": self.csrf,
                "cookie": f"__Host-luotsi_csrf={self.csrf}",
                "x-forwarded-for": forwarded_for,
            },
        )
        return response.status_code


async def _audited_ips(backend: Backend, action: str) -> set[str]:
    async with backend.owner.connect() as conn:
        found = await conn.execute(
            text("SELECT DISTINCT ip FROM audit_events WHERE action = :a"), {"a": action}
        )
        return {ip for (ip,) in found}


async def test_trusted_proxies_limit_each_forwarded_client_apart(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    async with served(app, clean_db, PROXY) as base, httpx.AsyncClient(base_url=base) as http:
        browser = Browser(http)
        flooder = "203.0.113.7"
        for i in range(MAX_FAILURES_PER_IP):
            assert await browser.sign_in(f"nobody{i}@x.example", "wrong password!", flooder) == 422
        owner = firms.a.owner.user.email
        assert await browser.sign_in(owner, PASSWORD, flooder) == 429
        # Another client behind the same proxy is not held back by the flooder.
        assert await browser.sign_in(owner, PASSWORD, "198.51.100.20") == 303
    assert await _audited_ips(clean_db, audit.LOGIN_FAILED) == {flooder}
    assert await _audited_ips(clean_db, audit.LOGIN_SUCCEEDED) == {"198.51.100.20"}


async def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    async with served(app, clean_db, "") as base, httpx.AsyncClient(base_url=base) as http:
        browser = Browser(http)
        for i in range(MAX_FAILURES_PER_IP):
            forged = f"198.51.100.{i % 250 + 1}"  # a fresh address every time, all forged
            assert await browser.sign_in(f"nobody{i}@x.example", "wrong password!", forged) == 422
        owner = firms.a.owner.user.email
        assert await browser.sign_in(owner, PASSWORD, "203.0.113.99") == 429
    assert await _audited_ips(clean_db, audit.LOGIN_FAILED) == {PROXY}
