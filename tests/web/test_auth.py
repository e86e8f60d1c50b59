"""Signing in and out, password reset and change, sessions and CSRF."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from luotsi.platform.db import utcnow
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import PASSWORD, Firms


async def test_login_lands_in_the_only_firm(client: Client, firms: Firms) -> None:
    response = await client.login(firms.a.supervisor.user.email)
    assert response.headers["location"] == "/t/alfa/"
    assert (await client.get("/t/alfa/")).status_code == 200


async def test_person_in_two_firms_chooses_and_switches(client: Client, firms: Firms) -> None:
    response = await client.login(firms.both.email)
    assert response.headers["location"] == "/account"
    account = await client.get("/account")
    assert "/t/alfa/" in account.text and "/t/beeta/" in account.text
    assert (await client.get("/t/alfa/")).status_code == 200
    assert (await client.get("/t/beeta/")).status_code == 200


async def test_wrong_password_gives_a_form_error(client: Client, firms: Firms) -> None:
    response = await client.post(
        "/login", {"email": firms.a.owner.user.email, "password": "nope nope nope"}
    )
    assert response.status_code == 422
    assert "luotsi_session" not in response.cookies


async def test_login_is_rate_limited_per_account(client: Client, firms: Firms) -> None:
    email = firms.a.owner.user.email
    for _ in range(5):
        await client.post("/login", {"email": email, "password": "wrong password!"})
    blocked = await client.post("/login", {"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "minutes" in blocked.text or "minuutin" in blocked.text


async def test_login_is_rate_limited_per_address(client: Client, firms: Firms) -> None:
    for i in range(20):
        await client.post(
            "/login", {"email": f"nobody{i}@x.example", "password": "wrong password!"}
        )
    blocked = await client.post("/login", {"email": firms.a.owner.user.email, "password": PASSWORD})
    assert blocked.status_code == 429


async def test_session_cookie_is_httponly_secure_and_rotated(client: Client, firms: Firms) -> None:
    first = await client.login(firms.a.owner.user.email)
    cookie = first.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    old = client.client.cookies.get("luotsi_session")
    await client.login(firms.a.owner.user.email)
    new = client.client.cookies.get("luotsi_session")
    assert old != new
    # The old session no longer works.
    stale = Client(client.app)
    stale.client.cookies.set("luotsi_session", old)
    assert (await stale.get("/t/alfa/", follow_redirects=False)).status_code == 303


async def test_logout_ends_the_session(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    token = client.client.cookies.get("luotsi_session")
    await client.post("/logout")
    again = Client(client.app)
    again.client.cookies.set("luotsi_session", token)
    response = await again.get("/t/alfa/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_post_without_csrf_token_is_refused(client: Client, firms: Firms) -> None:
    await client.get("/login")
    response = await client.client.post(
        "/login", data={"email": firms.a.owner.user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "luotsi_session" not in response.cookies


async def test_forgot_password_link_works_once(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    email = firms.a.owner.user.email
    page = await client.post("/password/forgot", {"email": email})
    assert page.status_code == 200
    link = link_in(await outbox.last_to(email))
    assert (await client.get(link)).status_code == 200
    mismatch = await client.post(
        link, {"new_password": "brand new password", "confirm_password": "other"}
    )
    assert mismatch.status_code == 422
    done = await client.post(
        link, {"new_password": "brand new password", "confirm_password": "brand new password"}
    )
    assert done.status_code == 303
    await client.login(email, "brand new password")
    assert (await client.get(link)).status_code == 404


async def test_forgot_password_does_not_reveal_accounts(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    known = await client.post("/password/forgot", {"email": firms.a.owner.user.email})
    unknown = await client.post("/password/forgot", {"email": "stranger@nowhere.example"})
    assert known.status_code == unknown.status_code == 200
    assert [m.to for m in await outbox.deliver()] == [firms.a.owner.user.email]


async def test_reset_link_expires_after_an_hour(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    email = firms.a.owner.user.email
    await client.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update auth_tokens set expires_at = :t"), {"t": utcnow() - timedelta(seconds=1)}
        )
    assert (await client.get(link)).status_code == 404
    response = await client.post(
        link, {"new_password": "brand new password", "confirm_password": "brand new password"}
    )
    assert response.status_code == 404


async def test_change_password_needs_the_current_one(client: Client, firms: Firms) -> None:
    email = firms.a.admin.user.email
    await client.login(email)
    wrong = await client.post(
        "/account/password",
        {
            "current_password": "not it at all",
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert wrong.status_code == 422
    ok = await client.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert ok.status_code == 303
    assert (await client.get("/account")).status_code == 200  # this client stays signed in
    await Client(client.app).login(email, "another password")


async def test_change_password_signs_out_other_sessions(client_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    email = firms.a.admin.user.email
    laptop, phone = client_factory(), client_factory()
    await laptop.login(email)
    await phone.login(email)
    await laptop.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert (await phone.get("/account", follow_redirects=False)).status_code == 303


async def test_open_redirect_is_refused(client: Client, firms: Firms) -> None:
    response = await client.post(
        "/login",
        {"email": firms.a.owner.user.email, "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/t/alfa/"


async def test_language_switch_translates_pages(client: Client) -> None:
    await client.post("/language", {"language": "en", "next": "/login"})
    assert "Forgot your password?" in (await client.get("/login")).text
    await client.post("/language", {"language": "fi", "next": "/login"})
    assert "Unohditko salasanasi?" in (await client.get("/login")).text
    await client.post("/language", {"language": "sv", "next": "/login"})
    assert 'lang="sv"' in (await client.get("/login")).text


async def test_pages_are_html(client: Client) -> None:
    for path in ("/", "/login", "/signup/", "/no-such-page"):
        response = await client.get(path)
        assert response.headers["content-type"].startswith("text/html"), path


async def test_the_front_page_leads_a_signed_in_member_to_their_firms(
    client: Client, firms: Firms
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login("both@shared.example")
    page = await client.get("/")
    assert 'href="/t/alfa/"' in page.text and 'href="/t/beeta/"' in page.text
    assert 'href="/login"' not in page.text.split("<main")[1]
