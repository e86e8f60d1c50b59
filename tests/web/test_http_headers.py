"""Headers every response carries: security headers (error pages too), HSTS outside debug,
no caching of private pages, and no published route map in production."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from litestar import Litestar, get
from litestar.routes import HTTPRoute

from luotsi.web.app import create_app
from luotsi.web.assets import static_url
from tests.conftest import BASE_URL, Backend, Client
from tests.factories import Content, Firms
from tests.web.test_isolation import (
    NOT_OPENABLE,
    Issued,
    a_content,
    a_issued,
    fill,
    sample_ids,
    sample_reader,
)

__all__ = ["a_content", "a_issued"]  # the fixtures, imported for the route walk below

PRIVATE_PREFIXES = ("/t/", "/account", "/accept/", "/join/")
# Handlers that chose their own caching: a staff photo may be kept for minutes.
OWN_CACHE_RULE = {"/t/{tenant_slug:str}/staff/{profile_id:uuid}/photo"}


def assert_security_headers(response: httpx.Response) -> None:
    assert "default-src 'self'" in response.headers.get("content-security-policy", "")
    assert response.headers.get("x-frame-options") == "DENY"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "same-origin"
    assert "max-age=" in response.headers.get("strict-transport-security", "")


async def test_error_pages_carry_the_security_headers(client: Client, firms: Firms) -> None:
    assert_security_headers(await client.get("/no/such/page"))  # 404 without a route
    assert_security_headers(await client.request("DELETE", "/login"))  # 405
    await client.login(firms.a.supervisor.user.email)
    forbidden = await client.get("/t/alfa/members/")
    assert forbidden.status_code in (403, 404)
    assert_security_headers(forbidden)


async def test_a_failure_page_carries_the_security_headers(clean_db: Backend) -> None:
    @get("/_test/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("boom")

    failing_app = create_app(clean_db.settings)
    failing_app.register(boom)
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=failing_app), base_url=BASE_URL
        ) as http,
        failing_app.lifespan(),
    ):
        response = await http.get("/_test/boom")
    assert response.status_code == 500
    assert_security_headers(response)


async def test_pages_and_static_files_carry_the_security_headers(client: Client) -> None:
    assert_security_headers(await client.get("/login"))
    assert_security_headers(await client.get("/static/luotsi.css"))


async def test_no_hsts_in_debug_mode_and_no_route_map_of_the_pages_in_either(
    client: Client, clean_db: Backend
) -> None:
    """Only the API's own document is published (docs/api.md), in both modes."""
    assert (await client.get("/schema")).status_code == 404
    assert (await client.get("/schema/openapi.json")).status_code == 404
    assert (await client.get("/api/v1/schema/openapi.json")).status_code == 200
    debug_app = create_app(replace(clean_db.settings, debug=True))
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=debug_app), base_url=BASE_URL) as debug,
        debug_app.lifespan(),
    ):
        page = await debug.get("/login")
        assert "strict-transport-security" not in page.headers
        assert (await debug.get("/schema/openapi.json")).status_code == 404
        document = (await debug.get("/api/v1/schema/openapi.json")).json()
        assert all(path.startswith("/api/v1/") for path in document["paths"])


def private_get_routes(app: Litestar) -> list[str]:
    return [
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute)
        and "GET" in route.methods
        and route.path.startswith(PRIVATE_PREFIXES)
    ]


async def test_private_pages_are_never_cached(
    app: Litestar, firms: Firms, a_content: Content, a_issued: Issued
) -> None:
    routes = private_get_routes(app)
    assert "/t/{tenant_slug:str}/members" in routes and "/account" in routes  # positive control
    ids = sample_ids(firms.a, a_content, a_issued) | {"token": "no-such-token"}
    clients: dict[str, Client] = {}
    cached = []
    for path in routes:
        if path in OWN_CACHE_RULE or path in NOT_OPENABLE:  # checked by their own tests
            continue
        email = sample_reader(path, firms.a, a_content)
        if email not in clients:
            clients[email] = Client(app)
            await clients[email].login(email)
        response = await clients[email].get(fill(path, firms.a.slug, ids))
        if path.startswith("/t/"):
            assert response.status_code == 200, path  # the real page, not an error
        if "no-store" not in response.headers.get("cache-control", ""):
            cached.append(f"{path} -> {response.headers.get('cache-control')}")
    assert cached == []


@pytest.mark.parametrize("path", ["/login", "/static/luotsi.css", "/f/alfa/"])
async def test_public_pages_and_static_files_may_be_cached(
    client: Client, firms: Firms, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")


async def test_the_site_has_an_icon(client: Client) -> None:
    page = await client.get("/login")
    assert f'<link rel="icon" href="{static_url("favicon.svg")}"' in page.text
    icon = await client.get("/favicon.ico", follow_redirects=True)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in icon.text
