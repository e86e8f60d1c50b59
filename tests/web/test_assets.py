"""Static files under hashed names with long caching, and which responses are compressed."""

from __future__ import annotations

import pytest

from luotsi.web.assets import IMMUTABLE, STATIC, static_url
from tests.conftest import Client
from tests.factories import Firms

GZIP = {"accept-encoding": "gzip"}


async def test_pages_link_static_files_by_a_name_that_changes_with_their_content(
    client: Client,
) -> None:
    page = await client.get("/login")
    css, htmx = static_url("luotsi.css"), static_url("vendor/htmx.min.js")
    assert f'href="{css}"' in page.text and f'src="{htmx}"' in page.text
    assert (
        css.startswith("/static/luotsi.") and css.endswith(".css") and css != "/static/luotsi.css"
    )
    response = await client.get(css)
    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-type"].startswith("text/css")
    assert response.content == (STATIC / "luotsi.css").read_bytes()


async def test_the_plain_name_answers_and_is_revalidated(client: Client) -> None:
    first = await client.get("/static/luotsi.css")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = await client.get("/static/luotsi.css", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    changed = await client.get("/static/luotsi.css", headers={"if-none-match": '"other"'})
    assert changed.status_code == 200 and changed.content == first.content


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.css",
        "/static/luotsi.000000000000.css",  # a hash that is not the file's
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/vendor/",
    ],
)
async def test_only_shipped_files_are_served(client: Client, path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_static_files_and_public_pages_are_compressed(client: Client) -> None:
    htmx = await client.get(static_url("vendor/htmx.min.js"), headers=GZIP)
    assert htmx.headers["content-encoding"] == "gzip"
    assert htmx.content == (STATIC / "vendor/htmx.min.js").read_bytes()  # httpx decodes
    assert int(htmx.headers["content-length"]) < len(htmx.content) / 2
    page = await client.get("/login", headers=GZIP)
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    plain = await client.get("/login", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == page.text


async def test_signed_in_pages_are_not_compressed_but_their_static_files_are(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get("/t/alfa/clients/", headers=GZIP)
    assert page.status_code == 200
    assert "content-encoding" not in page.headers  # BREACH: see luotsi.web.middleware
    css = await client.get(static_url("luotsi.css"), headers=GZIP)
    assert css.headers["content-encoding"] == "gzip"
    assert css.content == (STATIC / "luotsi.css").read_bytes()
