"""Control characters (a NUL byte above all) are refused with a reason at one place, and a
failure after a failed flush still gets the error page in the layout."""

from __future__ import annotations

import httpx
import pytest
from litestar import get

from luotsi.platform.identity import User
from luotsi.web.app import create_app
from luotsi.web.deps import DB
from tests.conftest import Backend, Client
from tests.factories import Firms
from tests.web.clients.test_clients import GOOD_ORG

REASON = "control characters"


async def in_english(client: Client) -> None:
    await client.post("/language", {"language": "en", "next": "/"})


def assert_refused(response: httpx.Response, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert REASON in response.text and "<html" in response.text


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/login", {"email": "a\x00b@example.fi", "password": "x"}),
        ("/password/forgot", {"email": "a\x00b@example.fi"}),
        ("/signup/", {"firm_name": "Firma\x00", "name": "Nimi", "email": "new@example.fi"}),
        ("/f/alfa/inquiry/", {"organisation": "Org\x00", "name": "N", "email": "n@example.fi"}),
    ],
)
async def test_nul_in_a_public_form_is_refused_with_a_reason(
    client: Client, firms: Firms, path: str, form: dict[str, str]
) -> None:
    await in_english(client)
    assert_refused(await client.post(path, form))


@pytest.mark.parametrize(
    "url",
    [
        "/t/alfa/clients/?q=a%00b",
        "/t/alfa/agreements/?q=%00",
        "/t/alfa/staff/?q=%00",
        "/t/alfa/sessions/?q=%00",
        "/t/al%00fa/",
        "/f/alfa/?place=%1b",
    ],
)
async def test_nul_in_a_search_or_path_is_refused_with_a_reason(
    client: Client, firms: Firms, url: str
) -> None:
    await client.login(firms.a.owner.user.email)
    await in_english(client)
    assert_refused(await client.get(url), status=400)


async def test_nul_in_a_workspace_form_is_refused(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    await in_english(client)
    client_form = {"name": "Acme\x00 Oy", "org_type": "municipality", "payment_term_days": "14"}
    assert_refused(await client.post("/t/alfa/clients/new", client_form))
    assert_refused(await client.post("/t/alfa/areas/new", {"name": "Alue\x00", "region": "01"}))
    clients = await client.get("/t/alfa/clients/")
    assert "Acme" not in clients.text


async def test_tabs_and_line_breaks_in_a_form_are_accepted(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    form = {**GOOD_ORG, "internal_notes": "first line\r\n\tsecond line"}
    response = await client.post("/t/alfa/clients/new", form, follow_redirects=False)
    assert response.status_code == 303


async def test_a_failed_flush_still_gets_the_error_page_in_the_layout(
    clean_db: Backend, firms: Firms
) -> None:
    @get("/_test/duplicate-user")
    async def duplicate(db: DB) -> None:
        db.add(User(email=firms.a.owner.user.email, name="Copy", password_hash="x"))
        await db.flush()  # a unique e-mail: the flush fails and rolls the session back

    failing_app = create_app(clean_db.settings)
    failing_app.register(duplicate)
    async with failing_app.lifespan():
        signed_in = Client(failing_app)
        await signed_in.login(firms.a.owner.user.email)
        response = await signed_in.get("/_test/duplicate-user")
    assert response.status_code == 500
    assert "<html" in response.text and firms.a.owner.user.name in response.text
