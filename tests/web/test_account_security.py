"""CSRF tokens bound to the session, cookie names, re-authentication before sensitive actions
and changing the e-mail address."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine
from litestar import Litestar
from sqlalchemy import select

from luotsi.platform import audit, clock
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.identity import TOKEN_LIFETIME, TokenPurpose
from luotsi.web.reauth import RECENT
from tests.conftest import Backend, Client, Outbox, link_in, start_app
from tests.factories import PASSWORD, Firms

CONFIRM = "/account/confirm?next="


async def test_a_csrf_token_from_before_the_sign_in_is_refused_after_it(
    client: Client, firms: Firms
) -> None:
    await client.get("/login")
    before = client.client.cookies["__Host-luotsi_csrf"]
    await client.login(firms.a.owner.user.email)
    after = client.client.cookies["__Host-luotsi_csrf"]
    assert after != before
    form = {"new_email": "uusi@example.fi"}
    stale = await client.client.post("/account/email", data=form, headers={"x-csrftoken": before})
    assert stale.status_code == 403
    stale_field = await client.client.post("/account/email", data={**form, "_csrf_token": before})
    assert stale_field.status_code == 403
    fresh = await client.client.post("/account/email", data=form, headers={"x-csrftoken": after})
    assert fresh.status_code == 303


async def test_the_csrf_token_of_an_ended_session_does_not_work_for_the_next(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    first = client.client.cookies["__Host-luotsi_csrf"]
    await client.post("/logout")
    await client.login(firms.a.owner.user.email)
    refused = await client.client.post(
        "/account/sessions/end-others", headers={"x-csrftoken": first}
    )
    assert refused.status_code == 403


async def test_cookies_carry_the_host_prefix_outside_debug(client: Client, firms: Firms) -> None:
    response = await client.login(firms.a.owner.user.email)
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-luotsi_session="))
    csrf = next(c for c in cookies if c.startswith("__Host-luotsi_csrf="))
    for cookie in (session, csrf):
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert not any(c.startswith("luotsi_session=") for c in cookies)
    # Signing out expires them with the same attributes, or a browser would keep them.
    gone = (await client.post("/logout")).headers.get_list("set-cookie")
    for name in ("__Host-luotsi_session=", "__Host-luotsi_csrf="):
        cookie = next(c for c in gone if c.startswith(name))
        assert "Max-Age=0" in cookie and "Secure" in cookie and "Path=/" in cookie


@pytest.fixture(scope="module")
async def debug_app(backend: Backend) -> Litestar:  # type: ignore[misc]
    application, end = await start_app(replace(backend.settings, debug=True))
    yield application
    await end()


async def test_in_debug_the_cookies_keep_their_plain_names(
    debug_app: Litestar, firms: Firms
) -> None:
    client = Client(debug_app)
    page = await client.client.get("/login")
    assert "luotsi_csrf" in page.cookies
    token = page.cookies["luotsi_csrf"]
    response = await client.client.post(
        "/login",
        data={"email": firms.a.owner.user.email, "password": PASSWORD},
        headers={"x-csrftoken": token},
    )
    assert response.status_code == 303
    assert "luotsi_session" in response.cookies
    assert not any(name.startswith("__Host-") for name in response.cookies)
    assert (await client.get("/account")).status_code == 200


async def _confirm(client: Client, next_path: str, password: str = PASSWORD) -> object:
    return await client.post("/account/confirm", {"password": password, "next": next_path})


async def test_changing_the_password_asks_for_it_again_after_a_while(
    client: Client, firms: Firms
) -> None:
    email = firms.a.admin.user.email
    form = {
        "current_password": PASSWORD,
        "new_password": "a brand new passphrase",
        "confirm_password": "a brand new passphrase",
    }
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(email)
        traveller.shift(RECENT + timedelta(minutes=1))
        asked = await client.post("/account/password", form)
        assert asked.status_code == 303
        assert asked.headers["location"] == CONFIRM + "/account"
        htmx = await client.post(
            "/account/password",
            form,
            htmx=True,
            headers={"HX-Current-URL": "https://testserver.local/account"},
        )
        assert htmx.headers["hx-redirect"] == CONFIRM + "/account"
        page = await client.get(asked.headers["location"])
        assert page.status_code == 200 and 'name="password"' in page.text
        wrong = await _confirm(client, "/account", "not my password at all")
        assert wrong.status_code == 422  # type: ignore[attr-defined]
        right = await _confirm(client, "/account")
        assert right.headers["location"] == "/account"  # type: ignore[attr-defined]
        changed = await client.post("/account/password", form)
        assert changed.status_code == 303 and changed.headers["location"] == "/account"
    await Client(client.app).login(email, "a brand new passphrase")


async def test_changing_a_role_asks_for_the_password_and_comes_back(
    client: Client, firms: Firms
) -> None:
    action = f"/t/alfa/members/{firms.a.supervisor.id}/role"
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(firms.a.owner.user.email)
        traveller.shift(RECENT + timedelta(minutes=1))
        asked = await client.post(action, {"role": "admin"})
        assert asked.headers["location"] == CONFIRM + quote("/t/alfa/members/", safe="/")
        back = await _confirm(client, "/t/alfa/members/")
        assert back.headers["location"] == "/t/alfa/members/"  # type: ignore[attr-defined]
        changed = await client.post(action, {"role": "admin"})
        assert changed.status_code == 303 and changed.headers["location"] == "/t/alfa/members/"


async def test_exporting_the_firm_asks_for_the_password_and_comes_back(
    client: Client, firms: Firms
) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(firms.a.owner.user.email)
        traveller.shift(RECENT + timedelta(minutes=1))
        page = await client.get("/t/alfa/exports/firm", follow_redirects=False)
        assert page.headers["location"] == CONFIRM + "/t/alfa/exports/firm"
        zipped = await client.post("/t/alfa/exports/firm.zip")
        assert zipped.headers["location"] == CONFIRM + "/t/alfa/exports/firm"
        htmx = await client.post(
            "/t/alfa/exports/firm.zip",
            htmx=True,
            headers={"HX-Current-URL": "https://testserver.local/t/alfa/exports/firm"},
        )
        assert htmx.headers["hx-redirect"] == CONFIRM + "/t/alfa/exports/firm"
        back = await _confirm(client, "/t/alfa/exports/firm")
        assert back.headers["location"] == "/t/alfa/exports/firm"  # type: ignore[attr-defined]
        assert (await client.get("/t/alfa/exports/firm")).status_code == 200
        archive = await client.post("/t/alfa/exports/firm.zip")
        assert archive.status_code in (200, 201)
        assert zipfile.ZipFile(io.BytesIO(archive.content)).namelist()


async def test_changing_the_email_asks_for_the_password_first(client: Client, firms: Firms) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(firms.a.admin.user.email)
        traveller.shift(RECENT + timedelta(minutes=1))
        asked = await client.post("/account/email", {"new_email": "uusi@example.fi"})
        assert asked.headers["location"] == CONFIRM + "/account"
        await _confirm(client, "/account")
        sent = await client.post("/account/email", {"new_email": "uusi@example.fi"})
        assert sent.status_code == 303 and sent.headers["location"] == "/account"


async def test_the_confirmation_page_refuses_an_open_redirect(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    response = await _confirm(client, "//evil.example/")
    assert response.headers["location"] == "/account"  # type: ignore[attr-defined]


async def test_an_email_change_happens_only_when_the_new_address_confirms(
    client: Client, outbox: Outbox, firms: Firms, clean_db: Backend
) -> None:
    old, new = firms.a.admin.user.email, "uusi.osoite@example.fi"
    await client.login(old)
    sent = await client.post("/account/email", {"new_email": new})
    assert sent.status_code == 303
    mails = await outbox.deliver()
    notice = next(m for m in mails if m.to == old)
    assert new in notice.text and "/account/email/" not in notice.text  # no link to the old
    confirm = next(m for m in mails if m.to == new)
    link = link_in(confirm)
    assert link.startswith("/account/email/")
    await Client(client.app).login(old)  # nothing changed yet
    stranger = Client(client.app)  # the link works without being signed in: it is the proof
    assert (await stranger.get(link)).status_code == 200
    assert (await stranger.post(link)).headers["location"] == "/login"
    await Client(client.app).login(new)
    refused = await Client(client.app).post("/login", {"email": old, "password": PASSWORD})
    assert refused.status_code == 422
    assert (await stranger.get(link)).status_code == 404  # used
    assert (await stranger.post(link)).status_code == 404
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        [event] = await db.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.EMAIL_CHANGED)
        )
    assert event.actor_user_id == firms.a.admin.user_id and event.tenant_id is None
    assert new not in repr(vars(event)) and old not in repr(vars(event))  # ids, not addresses


async def test_an_email_change_link_expires(client: Client, outbox: Outbox, firms: Firms) -> None:
    old = firms.a.admin.user.email
    with time_machine.travel(clock.now(), tick=False) as traveller:
        await client.login(old)
        await client.post("/account/email", {"new_email": "myohassa@example.fi"})
        link = link_in(await outbox.last_to("myohassa@example.fi"))
        traveller.shift(TOKEN_LIFETIME[TokenPurpose.CHANGE_EMAIL] + timedelta(seconds=1))
        assert (await client.get(link)).status_code == 404
        assert (await client.post(link)).status_code == 404
    await Client(client.app).login(old)


async def test_an_address_in_use_is_refused_without_telling_the_requester(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    taken = firms.b.owner.user.email
    await client.login(firms.a.admin.user.email)
    to_taken = await client.post("/account/email", {"new_email": taken})
    to_free = await client.post("/account/email", {"new_email": "vapaa@example.fi"})
    # The same answer whether or not the address has an account.
    assert to_taken.status_code == to_free.status_code == 303
    assert to_taken.headers["location"] == to_free.headers["location"]
    mail = await outbox.last_to(taken)
    assert "/account/email/" not in mail.text  # its mailbox is told; no link to follow
    await Client(client.app).login(taken)  # that account is untouched


async def test_a_new_address_taken_before_the_link_is_followed_is_refused(
    client: Client, outbox: Outbox, firms: Firms
) -> None:
    await client.login(firms.a.admin.user.email)
    await client.post("/account/email", {"new_email": "kiistelty@example.fi"})
    link = link_in(await outbox.last_to("kiistelty@example.fi"))
    other = Client(client.app)
    await other.login(firms.b.admin.user.email)
    await other.post("/account/email", {"new_email": "kiistelty@example.fi"})
    mails = await outbox.deliver()
    (other_link,) = {link_in(m) for m in mails if m.to == "kiistelty@example.fi"} - {link}
    assert (await other.post(other_link)).status_code == 303
    refused = await client.post(link)
    assert refused.status_code == 409
    await Client(client.app).login(firms.a.admin.user.email)


async def test_a_malformed_or_own_address_gives_a_form_error(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    bad = await client.post("/account/email", {"new_email": "ei osoite"}, htmx=True)
    assert bad.status_code == 422 and 'id="new_email-error"' in bad.text
    own = await client.post(
        "/account/email", {"new_email": firms.a.admin.user.email.upper()}, htmx=True
    )
    assert own.status_code == 422 and 'id="new_email-error"' in own.text
