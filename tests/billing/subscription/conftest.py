"""A real localstripe for the subscription tests, Settings pointed at it, and an app with them.

localstripe is a stateful Stripe server (PyPI), started once per test process on a free
loopback port. The tests play Stripe's part where localstripe cannot (webhooks): they sign
events with the endpoint secret as Stripe does (:mod:`tests.billing.subscription.stripe_side`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar

from luotsi.platform.settings import Settings
from tests.billing.subscription.stripe_side import (
    CONNECT_CLIENT_ID,
    CONNECT_WEBHOOK_SECRET,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    WEBHOOK_SECRET,
    LocalStripe,
    running_localstripe,
)
from tests.conftest import BASE_URL, Backend, start_app


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStripe]:
    """localstripe for this test process."""
    with running_localstripe(tmp_path_factory.mktemp("localstripe")) as server:
        yield server


def stripe_settings(settings: Settings, localstripe: LocalStripe) -> Settings:
    return replace(
        settings,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_publishable_key=PUBLISHABLE_KEY,
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
    application, end = await start_app(stripe_settings(backend.settings, localstripe))
    yield application
    await end()


@pytest.fixture
async def stripe_http(stripe_app: Litestar, clean_db: Backend) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app with Stripe on: what Stripe's webhook deliveries come through."""
    transport = httpx.ASGITransport(app=stripe_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
