"""Calling the JSON API as an integration does: with a firm's bearer token, no cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from luotsi.platform import apitokens, audit
from luotsi.platform.apitokens import SCOPES, TokenInput
from luotsi.platform.tenancy import Membership
from tests.conftest import BASE_URL, Backend, scoped
from tests.factories import Firm, Firms

NO_ORIGIN = audit.Origin(ip="", user_agent="")


async def make_token(
    backend: Backend, firm: Firm, scopes: tuple[str, ...] = SCOPES, name: str = "HR-järjestelmä"
) -> str:
    """A token of ``firm`` made by its owner, as its text."""
    owner: Membership = firm.owner
    async with scoped(backend, firm.tenant) as db:
        _token, text = await apitokens.create_token(
            db, owner, TokenInput(name=name, scopes=list(scopes)), NO_ORIGIN
        )
        await db.commit()
    return text


def api_client(app: Litestar, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
        base_url=BASE_URL,
        headers=headers,
    )


@pytest.fixture
async def token_a(clean_db: Backend, firms: Firms) -> str:
    return await make_token(clean_db, firms.a)


@pytest.fixture
async def api_a(app: Litestar, token_a: str) -> AsyncIterator[httpx.AsyncClient]:
    """Firm A's integration, with every scope."""
    async with api_client(app, token_a) as client:
        yield client


def is_problem(response: httpx.Response, status: int) -> bool:
    """The response is problem details (RFC 9457) with ``status``."""
    body = response.json()
    return (
        response.status_code == status
        and response.headers["content-type"].startswith("application/problem+json")
        and body["status"] == status
        and bool(body["title"])
    )
