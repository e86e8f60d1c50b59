"""Bad input gets a page with the reason, never a 500 or a stack trace."""

from __future__ import annotations

from dataclasses import replace

import httpx
from litestar import Litestar

from luotsi.web.app import create_app
from tests.conftest import BASE_URL, Backend, Client
from tests.factories import Firms


async def test_unknown_page_is_a_404_in_the_layout(client: Client) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "<html" in response.text and "Traceback" not in response.text


async def test_malformed_object_id_is_not_a_server_error(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.get("/t/alfa/members/not-a-uuid/remove")
    assert response.status_code in (400, 404)
    assert "<html" in response.text


async def test_unknown_object_is_a_404(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.get("/t/alfa/members/00000000-0000-0000-0000-000000000000/remove")
    assert response.status_code == 404


async def test_wrong_method_is_a_405_page(client: Client) -> None:
    response = await client.request("DELETE", "/login")
    assert response.status_code == 405
    assert "<html" in response.text


async def test_oversized_and_odd_form_input_is_handled(client: Client, firms: Firms) -> None:
    huge = "x" * 200_000
    response = await client.post("/login", {"email": huge, "password": huge})
    assert response.status_code == 400 and "10\u00a0000" in response.text  # the limit, named
    odd = await client.post(
        "/signup/", {"firm_name": "\ufffd", "business_id": "'; drop table tenants; --"}
    )
    assert odd.status_code == 422


async def test_revoking_an_unknown_invitation_is_a_404(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post(
        "/t/alfa/members/invitations/00000000-0000-0000-0000-000000000000/revoke"
    )
    assert response.status_code == 404


async def test_security_headers_are_set(client: Client) -> None:
    response = await client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


async def test_dev_mailbox_exists_only_in_debug_mode(
    app: Litestar, client: Client, clean_db: Backend
) -> None:
    assert (await client.get("/_dev/mailbox")).status_code == 404
    debug_app = create_app(replace(clean_db.settings, debug=True))
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=debug_app), base_url=BASE_URL) as debug,
        debug_app.lifespan(),
    ):
        assert (await debug.get("/_dev/mailbox")).status_code == 200


async def test_unexpected_failure_is_a_500_page_without_details(
    app: Litestar, clean_db: Backend
) -> None:
    from litestar import get

    @get("/_test/boom", sync_to_thread=False)
    def boom() -> None:
        raise RuntimeError("secret internal detail")

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
    assert "<html" in response.text
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
