"""A real localstripe for the subscription tests, Settings pointed at it, and an app with them.

localstripe is a stateful Stripe server (PyPI), started once per test process on a free
loopback port. The tests play Stripe's part where localstripe cannot (webhooks): they sign
events with the endpoint secret as Stripe does (:mod:`tests.billing.subscription.stripe_side`).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from luotsi.platform.settings import Settings
from luotsi.web.app import create_app
from tests.billing.subscription.stripe_side import (
    CONNECT_CLIENT_ID,
    CONNECT_WEBHOOK_SECRET,
    SECRET_KEY,
    WEBHOOK_SECRET,
    LocalStripe,
)
from tests.conftest import BASE_URL, Backend


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """``localstripe --port N --from-scratch``, answering; terminated at the end."""
    folder = tmp_path_factory.mktemp("localstripe")
    port = _free_port()
    executable = Path(sys.executable).parent / "localstripe"
    log = folder / "localstripe.log"
    with log.open("wb") as out:
        # Its own temporary folder: localstripe pickles its state there after every request.
        process = subprocess.Popen(
            [str(executable), "--port", str(port), "--from-scratch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TMPDIR": str(folder)},
        )
    server = LocalStripe(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{server.base}/v1/products", headers=server.headers, timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"localstripe did not start: {log.read_text()}") from None
            time.sleep(0.1)
    yield server
    process.terminate()
    process.wait(timeout=10)


def stripe_settings(settings: Settings, localstripe: LocalStripe) -> Settings:
    return replace(
        settings,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key="pk_test_luotsi",
        stripe_api_base=localstripe.base,
        stripe_connect_client_id=CONNECT_CLIENT_ID,
        stripe_connect_webhook_secret=CONNECT_WEBHOOK_SECRET,
    )


@pytest.fixture
def stripe_db(clean_db: Backend, localstripe: LocalStripe) -> Backend:
    """The test's database, with Settings that reach localstripe."""
    return replace(clean_db, settings=stripe_settings(clean_db.settings, localstripe))


@pytest.fixture(scope="session")
async def stripe_app(backend: Backend, localstripe: LocalStripe) -> AsyncIterator[Litestar]:
    application = create_app(stripe_settings(backend.settings, localstripe))
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await started.wait()
    yield application
    stop.set()
    await task


@pytest.fixture
async def stripe_http(stripe_app: Litestar, clean_db: Backend) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with Stripe on: what Stripe's webhook deliveries come through."""
    transport = httpx.ASGITransport(app=stripe_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
