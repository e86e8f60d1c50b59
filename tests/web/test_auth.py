"""Signing in and out, password reset and change, sessions and CSRF."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from litestar import Litestar
from sqlalchemy import insert, text

from luotsi.platform import audit, clock, i18n
from luotsi.platform.audit import AuditEvent
from luotsi.platform.identity import (
    ACCOUNT_FIRST_WAIT,
    ACCOUNT_LONGEST_WAIT,
    FREE_FAILURES_PER_ACCOUNT,
    MAIL_REQUEST_WINDOW,
    MAIL_REQUESTS_PER_ADDRESS,
    MAIL_REQUESTS_PER_IP,
    MAX_FAILURES_PER_IP,
)
from luotsi.platform.useragent import browser_summary
from tests.conftest import Backend, Client, Outbox, link_in
from tests.factories import PASSWORD, Firms


@pytest.fixture(scope="session")
def app(store_app: Litestar) -> Litestar:
    """Every test here runs with sessions and rate limits in the database and in Redis."""
    return store_app


pytestmark = pytest.mark.usefixtures("clean_store")


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
    assert "__Host-luotsi_session" not in response.cookies


async def test_login_is_rate_limited_per_account(client: Client, firms: Firms) -> None:
    email = firms.a.owner.user.email
    for _ in range(FREE_FAILURES_PER_ACCOUNT):
        await client.post("/login", {"email": email, "password": "wrong password!"})
    blocked = await client.post("/login", {"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "seconds" in blocked.text or "sekunnin" in blocked.text


async def test_login_is_rate_limited_per_address(client: Client, firms: Firms) -> None:
    for i in range(MAX_FAILURES_PER_IP):
        await client.post(
            "/login", {"email": f"nobody{i}@x.example", "password": "wrong password!"}
        )
    blocked = await client.post("/login", {"email": firms.a.owner.user.email, "password": PASSWORD})
    assert blocked.status_code == 429


async def _wrong(client: Client, email: str) -> int:
    response = await client.post("/login", {"email": email, "password": "wrong password!"})
    return int(response.status_code)


async def test_an_attacker_hammering_an_account_does_not_lock_its_owner_out(
    client_factory: Callable[[str], Client], firms: Firms
) -> None:
    email = firms.a.owner.user.email
    attacker, owner = client_factory("203.0.113.66"), client_factory("198.51.100.7")
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert [await _wrong(attacker, email) for _ in range(FREE_FAILURES_PER_ACCOUNT)] == [
            422
        ] * FREE_FAILURES_PER_ACCOUNT
        # The attacker keeps hammering: every attempt is refused unchecked, none of them
        # pushes the wait further.
        assert {await _wrong(attacker, email) for _ in range(30)} == {429}
        blocked = await owner.post("/login", {"email": email, "password": PASSWORD})
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) == ACCOUNT_FIRST_WAIT.total_seconds()

        traveller.shift(ACCOUNT_FIRST_WAIT)
        await owner.login(email)  # after the wait, the right password signs in


async def test_each_further_failure_of_an_account_waits_twice_as_long_up_to_a_limit(
    client: Client, firms: Firms
) -> None:
    email = firms.a.owner.user.email
    with time_machine.travel(clock.now(), tick=False) as traveller:
        for _ in range(FREE_FAILURES_PER_ACCOUNT):
            assert await _wrong(client, email) == 422
        waits, wait = [], ACCOUNT_FIRST_WAIT
        while wait < ACCOUNT_LONGEST_WAIT:  # 30 s, 1 min, 2 min, ... doubling
            waits.append(wait)
            wait *= 2
        waits += [ACCOUNT_LONGEST_WAIT, ACCOUNT_LONGEST_WAIT]  # then never longer
        for wait in waits:
            traveller.shift(wait - timedelta(seconds=1))
            assert await _wrong(client, email) == 429
            traveller.shift(timedelta(seconds=1))
            assert await _wrong(client, email) == 422  # checked: the wait is over
        # A right password after the wait signs in and clears the account's failures.
        traveller.shift(ACCOUNT_LONGEST_WAIT)
        await client.login(email)
        other = Client(client.app)
        assert [await _wrong(other, email) for _ in range(FREE_FAILURES_PER_ACCOUNT)] == [
            422
        ] * FREE_FAILURES_PER_ACCOUNT


async def test_a_password_reset_clears_the_accounts_failures(
    client: Client, firms: Firms, outbox: Outbox
) -> None:
    email = firms.a.owner.user.email
    for _ in range(FREE_FAILURES_PER_ACCOUNT):
        await _wrong(client, email)
    await client.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    new = "a brand new passphrase"
    reset = await client.post(link, {"new_password": new, "confirm_password": new})
    assert reset.status_code == 303
    await client.login(email, new)


async def test_parallel_wrong_passwords_are_checked_no_more_than_the_account_limit(
    client: Client, firms: Firms
) -> None:
    email = firms.a.owner.user.email
    await client.get("/login")  # the CSRF cookie, once for the whole burst
    burst = await asyncio.gather(
        *(client.post("/login", {"email": email, "password": "wrong password!"}) for _ in range(10))
    )
    checked = [r.status_code for r in burst].count(422)
    assert sorted(r.status_code for r in burst) == [422] * checked + [429] * (10 - checked)
    assert checked == FREE_FAILURES_PER_ACCOUNT
    blocked = await client.post("/login", {"email": email, "password": PASSWORD})
    assert blocked.status_code == 429


async def test_parallel_sign_ins_from_one_address_are_checked_no_more_than_its_limit(
    client: Client, firms: Firms
) -> None:
    await client.get("/login")
    burst = await asyncio.gather(
        *(
            client.post("/login", {"email": f"nobody{i}@x.example", "password": "wrong password!"})
            for i in range(MAX_FAILURES_PER_IP + 5)
        )
    )
    assert [r.status_code for r in burst].count(422) == MAX_FAILURES_PER_IP
    assert [r.status_code for r in burst].count(429) == 5


async def test_sign_ins_refused_by_the_address_limit_do_not_count_against_the_account(
    client_factory: Callable[[str], Client], firms: Firms
) -> None:
    flooded, owner = client_factory("203.0.113.8"), client_factory("198.51.100.9")
    email = firms.a.owner.user.email
    for i in range(MAX_FAILURES_PER_IP):
        await _wrong(flooded, f"nobody{i}@x.example")
    assert {await _wrong(flooded, email) for _ in range(FREE_FAILURES_PER_ACCOUNT + 1)} == {429}
    await owner.login(email)  # the account has no failures on record


async def test_successful_sign_ins_do_not_count_against_the_address(
    client: Client, firms: Firms
) -> None:
    for _ in range(MAX_FAILURES_PER_IP + 1):
        await client.login(firms.a.owner.user.email)


async def test_refused_sign_in_says_when_to_retry(client: Client, firms: Firms) -> None:
    email = firms.a.owner.user.email
    for _ in range(FREE_FAILURES_PER_ACCOUNT):
        await client.post("/login", {"email": email, "password": "wrong password!"})
    blocked = await client.post("/login", {"email": email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["retry-after"]) <= ACCOUNT_FIRST_WAIT.total_seconds()


async def test_session_cookie_is_httponly_secure_and_rotated(client: Client, firms: Firms) -> None:
    first = await client.login(firms.a.owner.user.email)
    cookie = first.headers["set-cookie"]
    assert (
        "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    old = client.client.cookies.get("__Host-luotsi_session")
    await client.login(firms.a.owner.user.email)
    new = client.client.cookies.get("__Host-luotsi_session")
    assert old != new
    # The old session no longer works.
    stale = Client(client.app)
    stale.client.cookies.set("__Host-luotsi_session", old)
    assert (await stale.get("/t/alfa/", follow_redirects=False)).status_code == 303


async def test_logout_ends_the_session(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    token = client.client.cookies.get("__Host-luotsi_session")
    await client.post("/logout")
    again = Client(client.app)
    again.client.cookies.set("__Host-luotsi_session", token)
    response = await again.get("/t/alfa/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_an_htmx_request_without_a_session_sends_the_page_to_sign_in_and_back(
    client: Client, firms: Firms
) -> None:
    page = "https://testserver.local/t/alfa/agreements/?status=current&q=kunta"
    headers = {"HX-Request": "true", "HX-Current-URL": page}
    response = await client.get("/t/alfa/agreements/?q=kunt", headers=headers)
    assert response.status_code == 401 and response.content == b""
    login = "/login?next=/t/alfa/agreements/%3Fstatus%3Dcurrent%26q%3Dkunta"
    assert response.headers["hx-redirect"] == login  # the page it was on, not the fragment
    back = "/t/alfa/agreements/?status=current&amp;q=kunta"
    assert f'value="{back}"' in (await client.get(login)).text  # the form carries the way back
    form = {"email": firms.a.owner.user.email, "password": PASSWORD, "next": html.unescape(back)}
    signed_in = await client.post("/login", form)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/t/alfa/agreements/?status=current&q=kunta"
    # Without htmx, the visitor is redirected as before.
    plain = Client(client.app)
    direct = await plain.get("/t/alfa/agreements/?q=kunt", follow_redirects=False)
    assert direct.status_code == 303
    assert direct.headers["location"] == "/login?next=/t/alfa/agreements%3Fq%3Dkunt"


async def test_post_without_csrf_token_is_refused(client: Client, firms: Firms) -> None:
    await client.get("/login")
    response = await client.client.post(
        "/login", data={"email": firms.a.owner.user.email, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "__Host-luotsi_session" not in response.cookies


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


async def test_using_a_reset_link_voids_the_older_ones(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    email = firms.a.owner.user.email
    await client.post("/password/forgot", {"email": email})
    first = link_in(await outbox.last_to(email))
    await client.post("/password/forgot", {"email": email})
    second = next(link_in(m) for m in await outbox.deliver() if link_in(m) != first)
    new = {"new_password": "brand new password", "confirm_password": "brand new password"}
    assert (await client.post(second, new)).status_code == 303
    assert (await client.get(first)).status_code == 404
    again = {"new_password": "attacker's password", "confirm_password": "attacker's password"}
    assert (await client.post(first, again)).status_code == 404
    await client.login(email, "brand new password")


async def test_changing_the_password_voids_reset_links(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    email = firms.a.admin.user.email
    await client.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    await client.login(email)
    changed = await client.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another password",
            "confirm_password": "another password",
        },
    )
    assert changed.status_code == 303
    assert (await client.get(link)).status_code == 404
    new = {"new_password": "brand new password", "confirm_password": "brand new password"}
    assert (await client.post(link, new)).status_code == 404


async def test_reset_mails_to_one_address_are_limited_alike_for_unknown_addresses(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    await client.post("/language", {"language": "en", "next": "/"})
    known, unknown = firms.a.owner.user.email, "stranger@nowhere.example"
    answers = {
        email: [
            await client.post("/password/forgot", {"email": email})
            for _ in range(MAIL_REQUESTS_PER_ADDRESS + 1)
        ]
        for email in (known, unknown)
    }
    for email in (known, unknown):
        statuses = [a.status_code for a in answers[email]]
        assert statuses == [200] * MAIL_REQUESTS_PER_ADDRESS + [429]
        refused = answers[email][-1]
        assert 0 < int(refused.headers["retry-after"]) <= MAIL_REQUEST_WINDOW.total_seconds()
        assert "Try again in" in refused.text
    sent = [m.to for m in await outbox.deliver()]
    assert sent == [known] * MAIL_REQUESTS_PER_ADDRESS


async def test_reset_mails_from_one_client_are_limited(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    for i in range(MAIL_REQUESTS_PER_IP):
        answer = await client.post("/password/forgot", {"email": f"someone{i}@x.example"})
        assert answer.status_code == 200
    refused = await client.post("/password/forgot", {"email": firms.a.owner.user.email})
    assert refused.status_code == 429
    assert refused.headers["retry-after"]
    assert await outbox.deliver() == []


async def test_reset_link_expires_after_an_hour(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    email = firms.a.owner.user.email
    await client.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            text("update auth_tokens set expires_at = :t"),
            {"t": clock.now() - timedelta(seconds=1)},
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


async def test_language_switch_comes_back_to_the_list_with_its_filters(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get("/t/alfa/clients/?q=esim&archived=1")
    next_field = re.search(r'name="next" value="([^"]*)"', page.text)
    assert next_field is not None
    assert next_field.group(1).endswith("?q=esim&amp;archived=1")  # the filters come along
    switched = await client.post(
        "/language", {"language": "sv", "next": "/t/alfa/clients/?q=esim&archived=1"}
    )
    assert switched.headers["location"] == "/t/alfa/clients/?q=esim&archived=1"


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


# --- the user's own sign-in history on the account page -----------------------------------


def _sign_in_rows(page: str) -> list[str]:
    return page.split('id="sign-ins"')[1].split("</section>")[0].split('class="sign-in-row"')[1:]


async def test_account_lists_own_sign_ins_and_failed_attempts(
    client_factory,
    clean_db: Backend,
    firms: Firms,  # type: ignore[no-untyped-def]
) -> None:
    # Someone else's failed attempts and sign-in: never on this account's page.
    other = client_factory()
    await other.post("/login", {"email": firms.a.admin.user.email, "password": "wrong one!!"})
    await other.login(firms.a.admin.user.email)
    me = client_factory()
    me.client.cookies.set("luotsi_lang", "en")
    failed = await me.post("/login", {"email": firms.a.owner.user.email, "password": "wrong!!!"})
    assert failed.status_code == 422
    await me.login(firms.a.owner.user.email)
    page = await me.get("/account")
    assert page.status_code == 200
    rows = _sign_in_rows(page.text)
    assert len(rows) == 2
    assert "Signed in" in rows[0] and "Failed" in rows[1]  # newest first
    assert all("127.0.0.1" in row and "python-httpx/" in row for row in rows)
    # The admin sees their own two, not the owner's.
    assert len(_sign_in_rows((await other.get("/account")).text)) == 2


async def test_account_shows_the_last_twenty_sign_ins_in_helsinki_time(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    user = firms.a.owner.user
    # 1 June of last year, 12.00 in Helsinki (summer time): always before this sign-in.
    start = datetime(clock.today().year - 1, 6, 1, 9, 0, tzinfo=UTC)
    async with clean_db.owner.begin() as conn:
        await conn.execute(
            insert(AuditEvent),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": None,
                    "at": start - timedelta(days=i),
                    "actor_user_id": user.id,
                    "actor_name": user.name,
                    "action": audit.LOGIN_SUCCEEDED,
                    "object_type": "",
                    "ip": "192.0.2.7",
                    "user_agent": FIREFOX_ON_WINDOWS,
                }
                for i in range(25)
            ],
        )
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(user.email)
    rows = _sign_in_rows((await client.get("/account")).text)
    assert len(rows) == 20
    assert "127.0.0.1" in rows[0]  # this sign-in, the newest
    assert "12.00" in rows[1] or "12:00" in rows[1]
    assert "192.0.2.7" in rows[1] and "Firefox on Windows" in rows[1]


FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
)


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (FIREFOX_ON_WINDOWS, "Firefox on Windows"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on macOS",
        ),
        ("python-httpx/0.28.1", "python-httpx/0.28.1"),
        ("x" * 100, "x" * 39 + "…"),
    ],
)
def test_browser_is_summarised_from_the_user_agent(user_agent: str, shown: str) -> None:
    with i18n.language("en"):
        assert browser_summary(user_agent) == shown


async def test_a_reset_refuses_a_common_password(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    email = firms.a.owner.user.email
    await client.post("/password/forgot", {"email": email})
    link = link_in(await outbox.last_to(email))
    weak = await client.post(link, {"new_password": "password12", "confirm_password": "password12"})
    assert weak.status_code == 422
    assert "one of the most common passwords" in weak.text
    await client.login(email)  # the old password still works


async def test_a_password_change_refuses_the_users_own_address(
    client: Client, firms: Firms
) -> None:
    client.client.cookies.set("luotsi_lang", "en")
    user = firms.a.admin.user  # admin@alfa.example
    await client.login(user.email)
    own = "admin@alfa.example"
    changed = await client.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": own, "confirm_password": own},
    )
    assert changed.status_code == 422
    assert "your name or e-mail address" in changed.text
