"""Two app nodes built from the same settings share sign-ins and rate limits, whether they
live in the database or in Redis; with Redis nothing of them is written to the database, every
key expires by itself, and ``/readyz`` tells whether Redis answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy import text

from luotsi.platform.identity import FREE_FAILURES_PER_ACCOUNT
from luotsi.platform.settings import Settings
from luotsi.web.app import create_app
from tests.conftest import BASE_URL, Backend, Client, start_app
from tests.factories import PASSWORD, Firms

redis_only = pytest.mark.parametrize("store_settings", ["redis"], indirect=True)


@pytest.fixture
async def nodes(
    store_settings: Settings, clean_store: None, firms: Firms
) -> AsyncIterator[tuple[Litestar, Litestar]]:
    one, end_one = await start_app(store_settings)
    two, end_two = await start_app(store_settings)
    yield one, two
    await end_two()
    await end_one()


async def test_a_sign_in_on_one_node_holds_on_another_until_signed_out_there(
    nodes: tuple[Litestar, Litestar], firms: Firms
) -> None:
    one, two = nodes
    on_one = Client(one)
    await on_one.login(firms.a.owner.user.email)
    on_two = Client(two)  # the same browser, sent to the other node by the load balancer
    on_two.client.cookies.set(
        "__Host-luotsi_session", on_one.client.cookies["__Host-luotsi_session"]
    )
    assert (await on_two.get("/account")).status_code == 200
    assert (await on_two.post("/logout")).status_code == 303
    assert (await on_one.get("/account", follow_redirects=False)).status_code == 303


async def test_a_password_changed_on_one_node_ends_the_sessions_on_the_other(
    nodes: tuple[Litestar, Litestar], firms: Firms
) -> None:
    one, two = nodes
    email = firms.a.admin.user.email
    laptop, phone = Client(one), Client(two)
    await laptop.login(email)
    await phone.login(email)
    new = "another password"
    changed = await laptop.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert changed.status_code == 303
    assert (await phone.get("/account", follow_redirects=False)).status_code == 303
    assert (await laptop.get("/account")).status_code == 200


async def test_failed_sign_ins_on_both_nodes_count_against_one_limit(
    nodes: tuple[Litestar, Litestar], firms: Firms
) -> None:
    email = firms.a.owner.user.email
    clients = [Client(node) for node in nodes]
    for attempt in range(FREE_FAILURES_PER_ACCOUNT):
        wrong = {"email": email, "password": "wrong password!"}
        assert (await clients[attempt % 2].post("/login", wrong)).status_code == 422
    for client in clients:
        right = await client.post("/login", {"email": email, "password": PASSWORD})
        assert right.status_code == 429


async def _rows(backend: Backend, table: str) -> int:
    async with backend.owner.connect() as conn:
        return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


@redis_only
async def test_with_redis_sessions_and_limits_stay_out_of_the_database_and_expire(
    nodes: tuple[Litestar, Litestar], firms: Firms, clean_db: Backend, store_settings: Settings
) -> None:
    client = Client(nodes[0])
    await client.post("/login", {"email": firms.a.owner.user.email, "password": "wrong!"})
    await client.login(firms.a.owner.user.email)
    await client.post("/password/forgot", {"email": firms.a.admin.user.email})
    assert await _rows(clean_db, "user_sessions") == 0
    assert await _rows(clean_db, "rate_events") == 0
    prefix = store_settings.redis_prefix
    redis = Redis.from_url(store_settings.redis_url, decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
        kinds = {key.removeprefix(prefix).split(":")[0] for key in keys}
        assert kinds == {"session", "sessions-of", "rate"}
        assert all([await redis.pttl(key) > 0 for key in keys])  # nothing to prune
    finally:
        await redis.aclose()


async def _readiness(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        return await http.get("/readyz")


@redis_only
async def test_readyz_checks_redis_when_it_is_configured(
    store_settings: Settings, clean_db: Backend
) -> None:
    ready = await _readiness(store_settings)
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"] == "ok"
    nowhere = replace(store_settings, redis_url="redis://:pw-marker@127.0.0.1:9/0")
    down = await _readiness(nowhere)
    assert down.status_code == 503
    assert down.json()["checks"]["redis"] not in ("ok", "")
    assert "pw-marker" not in down.text and "127.0.0.1" not in down.text
