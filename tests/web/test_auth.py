"""Signing in and out, password reset and change, sessions and CSRF."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from luotsi.platform.db import utcnow
from tests.conftest import Backend, Browser, Outbox, link_in
from tests.factories import PASSWORD, Firms


async def test_login_lands_in_the_only_firm(browser: Browser, firms: Firms) -> None:
    response = await browser.login(firms.a.supervisor.user.email)
    assert response.headers["location"] == "/t/alfa/"
    assert (await browser.get("/t/alfa/")).status_code == 200


async def test_person_in_two_firms_chooses_and_switches(browser: Browser, firms: Firms) -> None:
    response = await browser.login(firms.both.email)
    assert response.headers["location"] == "/account"
    account = await browser.get("/account")
    assert "/t/alfa/" in account.text and "/t/beeta/" in account.text
    assert (await browser.get("/t/alfa/")).status_code == 200
    assert (await browser.get("/t/beeta/")).status_code == 200


async def test_wrong_password_gives_a_form_error(browser: Browser, firms: Firms) -> None:
    response = await browser.post(
        "/login", {"email": firms.a.owner.user.email, "password": "nope nope nope"}
    )
    assert response.status_code == 422
    assert "luotsi_session" not in response.cookies


async def test_login_is_rate_limited_per_account(browser: Browser, firms: Firms) -> None:
    email = firms.a.owner.user.email
    for _ in range(5):
        await browser.post("/login", {"email": email, "password": "wrong password!"})
    blocked = await browser.post("/login", {"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "minutes" in blocked.text or "minuutin" in blocked.text


async def test_login_is_rate_limited_per_address(browser: Browser, firms: Firms) -> None:
    for i in range(20):
        await browser.post(
            "/login", {"email": f"nobody{i}@x.example", "password": "wrong password!"}
        )
    blocked = await browser.post(
        "/login", {"email": firms.a.owner.user.email, "password": PASSWORD}
    )
    assert blocked.status_code == 429


async def test_session_cookie_is_httponly_secure_and_rotated(
    browser: Browser, firms: Firms
) -> None:
    first = await browser.login(firms.a.owner.user.email)
    cookie = first.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    old = browser.client.cookies.get("luotsi_session")
    await browser.login(firms.a.owner.user.email)
    new = browser.client.cookies.get("luotsi_session")
    assert old != new
    # The old session no longer works.
    stale = Browser(browser.app)
    stale.client.cookies.set("luotsi_session", old)
    assert (await stale.get("/t/alfa/", follow_redirects=False)).status_code == 303


async def test_logout_ends_the_session(browser: Browser, firms: Firms) -> None:
    await browser.login(firms.a.owner.user.email)
    token = browser.client.cookies.get("luotsi_session")
    await browser.post("/logout")
    again = Browser(browser.app)
    again.client.cookies.set("luotsi_session", token)
    response = await again.get("/t/alfa/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_post_without_csrf_token_is_refused(browser: Browser, firms: Firms) -> None:
    await browser.get("/login")
    response = await browser.client.post(
        "/login", data={"email": firms.a.owner.user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "luotsi_session" not in response.cookies


async def test_forgot_password_link_works_once(
    browser: Browser, outbox: Outbox, firms: Firms
) -> None:
    email = firms.a.owner.user.email
    page = await browser.post("/password/forgot", {"email": email})
    assert page.status_code == 200
    link = link_in(await outbox.last_to(email))
    assert (await browser.get(link)).status_code == 200
    mismatch = await browser.post(
        link, {"new_password": "brand new password", "confirm_password": "other"}
    )
    assert mismatch.status_code == 422
    done = await browser.post(
        link, {"new_password": "brand new password", "confirm_password": "brand new password"}
    )
    assert done.status_code == 303
    await browser.login(email, "brand new password")
    assert (await browser.get(link)).status_code == 404


async def test_forgot_password_does_not_reveal_accounts(
    browser: Browser, outbox: Outbox, firms: Firms
) -> None:
    known = await browser.post("/password/forgot", {"email": firms.a.owner.user.email})
    unknown = await browser.post("/password/forgot", {"email": "stranger@nowhere.example"})
    assert known.status_code == unknown.status_code == 200
    assert [m.to for m in await outbox.deliver()] == [firms.a.owner.user.email]


async def test_reset_link_expires_after_an_hour(
    browser: Browser, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    email = firms.a.owner.user.email
    await browser.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update auth_tokens set expires_at = :t"), {"t": utcnow() - timedelta(seconds=1)}
        )
    assert (await browser.get(link)).status_code == 404
    response = await browser.post(
        link, {"new_password": "brand new password", "confirm_password": "brand new password"}
    )
    assert response.status_code == 404


async def test_change_password_needs_the_current_one(browser: Browser, firms: Firms) -> None:
    email = firms.a.admin.user.email
    await browser.login(email)
    wrong = await browser.post(
        "/account/password",
        {
            "current_password": "not it at all",
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert wrong.status_code == 422
    ok = await browser.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert ok.status_code == 303
    assert (await browser.get("/account")).status_code == 200  # this browser stays signed in
    await Browser(browser.app).login(email, "another password")


async def test_change_password_signs_out_other_sessions(browser_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    email = firms.a.admin.user.email
    laptop, phone = browser_factory(), browser_factory()
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


async def test_open_redirect_is_refused(browser: Browser, firms: Firms) -> None:
    response = await browser.post(
        "/login",
        {"email": firms.a.owner.user.email, "password": PASSWORD, "next": "//evil.example/"},
    )
    assert response.headers["location"] == "/t/alfa/"


async def test_language_switch_translates_pages(browser: Browser) -> None:
    await browser.post("/language", {"language": "en", "next": "/login"})
    assert "Forgot your password?" in (await browser.get("/login")).text
    await browser.post("/language", {"language": "fi", "next": "/login"})
    assert "Unohditko salasanasi?" in (await browser.get("/login")).text
    await browser.post("/language", {"language": "sv", "next": "/login"})
    assert 'lang="sv"' in (await browser.get("/login")).text
