"""API tokens: made and revoked by the owner on a page, shown once, kept hashed, scoped,
rate-limited, and every change through them audited as the token."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
import time_machine
from litestar import Litestar
from sqlalchemy import select, text

from luotsi.platform import apitokens, clock
from luotsi.platform.apitokens import ApiToken
from luotsi.platform.audit import AuditEvent
from tests.conftest import Backend, Client, start_app
from tests.factories import Firms
from tests.web.api.conftest import api_client, is_problem, make_token

TOKEN = re.compile(r"luotsi_[0-9a-f]{32}_[A-Za-z0-9_-]{43}")


async def test_the_owner_makes_a_token_seen_once_and_kept_only_as_a_hash(
    app: Litestar, client: Client, clean_db: Backend, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    made = await client.post(
        "/t/alfa/settings/api-tokens/",
        {"name": "Palkkahallinto", "scopes": "clients_read"},
    )
    assert made.status_code == 200
    found = TOKEN.search(made.text)
    assert found is not None
    token = found.group(0)
    again = await client.get("/t/alfa/settings/api-tokens/")
    assert "Palkkahallinto" in again.text and token not in again.text
    async with clean_db.owner.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM api_tokens"))).mappings().all()
    assert [row["secret_hash"] for row in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert not any(token[-20:] in str(value) for row in rows for value in row.values())
    async with api_client(app, token) as api:
        assert (await api.get("/api/v1/client-orgs")).status_code == 200


async def test_a_revoked_token_is_refused_at_once_and_both_steps_are_audited(
    app: Litestar, client: Client, clean_db: Backend, firms: Firms
) -> None:
    token = await make_token(clean_db, firms.a)
    async with clean_db.owner.connect() as conn:
        token_id = (await conn.execute(select(ApiToken.id))).scalar_one()
    await client.login(firms.a.owner.user.email)
    confirm = await client.get(f"/t/alfa/settings/api-tokens/{token_id}/revoke")
    assert confirm.status_code == 200 and "HR-järjestelmä" in confirm.text
    revoked = await client.post(f"/t/alfa/settings/api-tokens/{token_id}/revoke")
    assert revoked.status_code == 303
    async with api_client(app, token) as api:
        assert is_problem(await api.get("/api/v1/client-orgs"), 401)
    async with clean_db.owner.connect() as conn:
        actions = set((await conn.execute(select(AuditEvent.action))).scalars())
    assert {apitokens.TOKEN_CREATED, apitokens.TOKEN_REVOKED} <= actions


async def test_only_the_owner_manages_tokens(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    assert (await client.get("/t/alfa/settings/api-tokens/")).status_code == 403


async def test_a_token_needs_a_name_and_a_permission(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    refused = await client.post("/t/alfa/settings/api-tokens/", {"name": ""})
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text and 'id="scopes-error"' in refused.text


async def test_a_read_only_token_cannot_write(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    token = await make_token(clean_db, firms.a, ("clients_read",))
    async with api_client(app, token) as api:
        assert (await api.get("/api/v1/client-orgs")).status_code == 200
        write = await api.post("/api/v1/client-orgs", json={"name": "Uusi Oy"})
        assert is_problem(write, 403) and "clients_write" in write.json()["detail"]
        other_area = await api.get("/api/v1/sessions")
        assert is_problem(other_area, 403)


async def test_a_write_is_audited_as_the_token(api_a: httpx.AsyncClient, clean_db: Backend) -> None:
    made = await api_a.post("/api/v1/client-orgs", json={"name": "Tuusulan kunta"})
    assert made.status_code == 201
    async with clean_db.owner.connect() as conn:
        row = (
            await conn.execute(
                select(AuditEvent.actor_name, AuditEvent.object_id).where(
                    AuditEvent.action == apitokens.API_WRITE
                )
            )
        ).one()
    assert "HR-järjestelmä" in row.actor_name
    assert str(row.object_id) == made.json()["id"]


async def test_last_use_is_written_at_most_once_a_minute(
    api_a: httpx.AsyncClient, clean_db: Backend
) -> None:
    async def last_used() -> object:
        async with clean_db.owner.connect() as conn:
            return (await conn.execute(select(ApiToken.last_used_at))).scalar_one()

    with time_machine.travel(clock.now(), tick=False) as traveller:
        await api_a.get("/api/v1/client-orgs")
        first = await last_used()
        assert first is not None
        traveller.shift(timedelta(seconds=30))
        await api_a.get("/api/v1/client-orgs")
        assert await last_used() == first
        traveller.shift(timedelta(seconds=31))
        await api_a.get("/api/v1/client-orgs")
        assert await last_used() != first


@pytest.fixture
async def limited_app(backend: Backend) -> AsyncIterator[Litestar]:
    """The app with a limit of three calls a minute per token."""
    application, end = await start_app(replace(backend.settings, api_requests_per_minute=3))
    yield application
    await end()


async def test_too_many_calls_are_answered_429_with_retry_after(
    limited_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    token = await make_token(clean_db, firms.a)
    other = await make_token(clean_db, firms.a, name="Kirjanpito")
    with time_machine.travel(clock.now(), tick=False) as traveller:
        async with api_client(limited_app, token) as api, api_client(limited_app, other) as api2:
            for _ in range(3):
                assert (await api.get("/api/v1/client-orgs")).status_code == 200
            refused = await api.get("/api/v1/client-orgs")
            assert is_problem(refused, 429)
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            assert (await api2.get("/api/v1/client-orgs")).status_code == 200  # per token
            traveller.shift(timedelta(seconds=61))
            assert (await api.get("/api/v1/client-orgs")).status_code == 200
