"""Sign-in sessions: idle timeout, absolute lifetime, last seen, the list of devices and
signing them out. Every test runs with sessions in the database and in Redis."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from litestar import Litestar

from luotsi.platform import clock
from luotsi.platform.db import unscoped_session
from luotsi.platform.identity import LAST_SEEN_PRECISION, SessionInfo, User, get_user_by_email
from tests.conftest import Client
from tests.factories import Firms

IDLE = timedelta(minutes=30)  # the defaults: LUOTSI_SESSION_IDLE_MINUTES
LIFETIME = timedelta(hours=12)  # and LUOTSI_SESSION_LIFETIME_HOURS
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture(scope="session")
def app(store_app: Litestar) -> Litestar:
    return store_app


pytestmark = pytest.mark.usefixtures("clean_store")


async def _signed_in(client: Client) -> bool:
    """Whether the client's session still opens the account page."""
    response = await client.get("/account", follow_redirects=False)
    return response.status_code == 200


async def _sessions_of(app: Litestar, email: str) -> list[SessionInfo]:
    async with unscoped_session(app.state["sessionmaker"]) as db:
        user = await get_user_by_email(db, email)
        assert isinstance(user, User)
        found: list[SessionInfo] = await app.state["shared_state"].sessions.active_of(db, user.id)
        await db.commit()
        return found


async def test_a_session_ends_after_thirty_idle_minutes(client: Client, firms: Firms) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(firms.a.owner.user.email)
        traveller.shift(IDLE - timedelta(minutes=1))
        assert await _signed_in(client)  # a request: the idle time starts again
        traveller.shift(IDLE - timedelta(minutes=1))
        assert await _signed_in(client)
        traveller.shift(IDLE)
        assert not await _signed_in(client)


async def test_a_used_session_ends_twelve_hours_after_the_sign_in(
    client: Client, firms: Firms
) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(firms.a.owner.user.email)
        for _step in range(int(LIFETIME / timedelta(minutes=20)) - 1):
            traveller.shift(timedelta(minutes=20))
            assert await _signed_in(client)
        traveller.shift(timedelta(minutes=19))
        assert await _signed_in(client)  # 11 h 59 min after the sign-in
        traveller.shift(timedelta(minutes=1))
        assert not await _signed_in(client)


async def test_last_seen_is_written_at_most_once_a_minute(client: Client, firms: Firms) -> None:
    email = firms.a.owner.user.email
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(email)
        (signed_in,) = await _sessions_of(client.app, email)
        traveller.shift(LAST_SEEN_PRECISION - timedelta(seconds=1))
        assert await _signed_in(client)
        (early,) = await _sessions_of(client.app, email)
        assert early.last_seen_at == signed_in.last_seen_at == signed_in.created_at
        traveller.shift(timedelta(seconds=1))
        assert await _signed_in(client)
        (later,) = await _sessions_of(client.app, email)
        assert later.last_seen_at == signed_in.created_at + LAST_SEEN_PRECISION


async def test_the_account_page_lists_own_sessions_with_the_address_range_only(
    client_factory, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    laptop, phone = client_factory("192.0.2.77"), client_factory("2001:db8:abcd:12::1")
    stranger = client_factory("198.51.100.9")
    laptop.client.headers["user-agent"] = FIREFOX
    await laptop.login(firms.a.owner.user.email)
    await phone.login(firms.a.owner.user.email)
    await stranger.login(firms.b.owner.user.email)
    laptop.client.cookies.set("luotsi_lang", "en")
    page = (await laptop.get("/account")).text
    # The devices' section (the sign-in history below it is the audit log's, with addresses).
    page = page[page.index('id="sessions"') : page.index('id="sign-ins"')]
    assert "192.0.2.0/24" in page and "2001:db8:abcd::/48" in page
    assert "192.0.2.77" not in page and "2001:db8:abcd:12::1" not in page
    assert "198.51.100" not in page  # another account's session
    assert "Firefox on Windows" in page
    assert page.count('class="session-row"') == 2
    assert page.count("This device") == 1


def _handles(page: str) -> list[str]:
    return re.findall(r'action="/account/sessions/([0-9a-f]+)/end"', page)


async def test_signing_out_one_other_device(client_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    email = firms.a.owner.user.email
    laptop, phone = client_factory(), client_factory()
    await laptop.login(email)
    await phone.login(email)
    phone.client.cookies.set("luotsi_lang", "en")
    phone_page = (await phone.get("/account")).text
    # The phone's own row: the handle that follows its "This device" badge.
    phone_handle = _handles(phone_page.split("This device", 1)[1])[0]
    laptop_handles = _handles((await laptop.get("/account")).text)
    assert phone_handle in laptop_handles and len(laptop_handles) == 2
    response = await laptop.post(f"/account/sessions/{phone_handle}/end")
    assert response.status_code == 303 and response.headers["location"] == "/account#sessions"
    assert not await _signed_in(phone)
    assert await _signed_in(laptop)


async def test_a_session_of_another_account_cannot_be_signed_out(
    client_factory, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = client_factory(), client_factory()
    await mine.login(firms.a.owner.user.email)
    await theirs.login(firms.b.owner.user.email)
    (handle,) = _handles((await theirs.get("/account")).text)
    refused = await mine.post(f"/account/sessions/{handle}/end")
    assert refused.status_code == 404
    assert await _signed_in(theirs)


async def test_signing_out_the_other_devices_keeps_this_one(client_factory, firms: Firms) -> None:  # type: ignore[no-untyped-def]
    email = firms.a.admin.user.email
    laptop, phone, tablet = client_factory(), client_factory(), client_factory()
    for device in (laptop, phone, tablet):
        await device.login(email)
    response = await laptop.post("/account/sessions/end-others")
    assert response.status_code == 303
    assert await _signed_in(laptop)
    assert not await _signed_in(phone) and not await _signed_in(tablet)
    assert len(await _sessions_of(laptop.app, email)) == 1


async def test_signing_out_everywhere_asks_first_then_ends_every_session(
    client_factory, firms: Firms
) -> None:  # type: ignore[no-untyped-def]
    email = firms.a.admin.user.email
    laptop, phone = client_factory(), client_factory()
    await laptop.login(email)
    await phone.login(email)
    confirm = await laptop.get("/account/sessions/end-all")
    assert confirm.status_code == 200 and 'action="/account/sessions/end-all"' in confirm.text
    assert await _signed_in(phone)  # asking changed nothing
    response = await laptop.post("/account/sessions/end-all")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert not await _signed_in(laptop) and not await _signed_in(phone)
    assert await _sessions_of(laptop.app, email) == []
