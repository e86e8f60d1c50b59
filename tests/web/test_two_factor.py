"""Two-factor authentication through the pages: enrolment with the QR code and the secret,
the second step of a sign-in, replayed codes, recovery codes, limits, the firm's requirement
for its staff, and turning it off. Codes are computed by pyotp from the secret the page shows,
at the app clock's time (moved with time-machine)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from luotsi.platform import audit, twofactor
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import make_sessionmaker
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import PASSWORD, Firms, bind_supervisee_login

STEP = timedelta(seconds=twofactor.STEP_SECONDS)
SETUP = "/account/two-factor/"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    """The clock stands still at the start of a time step; tests move it on."""
    start = clock.now()
    start -= timedelta(seconds=start.timestamp() % twofactor.STEP_SECONDS)
    with time_machine.travel(start, tick=False) as moved:
        yield moved


def code(secret: str) -> str:
    """The authenticator app's code now (the app clock's now)."""
    return pyotp.TOTP(secret).at(clock.now())


def secret_on(page: str) -> str:
    found = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page)
    assert found, "the page shows no secret"
    return found.group(1).replace(" ", "")


def codes_on(page: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z2-7-]+)</code></li>", page)


async def enrol(client: Client) -> tuple[str, list[str]]:
    """Turn two-factor on through the pages; returns the secret and the recovery codes."""
    assert (await client.post(SETUP + "setup")).status_code == 303
    page = await client.get(SETUP + "setup")
    assert page.status_code == 200
    secret = secret_on(page.text)
    done = await client.post(SETUP + "setup/confirm", {"code": code(secret)})
    assert done.status_code == 200, done.text
    codes = codes_on(done.text)
    assert len(codes) == twofactor.RECOVERY_CODES
    return secret, codes


async def password_step(client: Client, email: str) -> None:
    response = await client.post("/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login/two-factor")


async def actions(backend: Backend, action: str) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        return list(await db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_enrolment_shows_the_qr_code_and_turns_on_with_a_code(
    client: Client, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    await client.login(firms.a.supervisor.user.email)
    assert "Two-factor authentication is off" in (await client.get(SETUP)).text
    await client.post(SETUP + "setup")
    page = await client.get(SETUP + "setup")
    assert "<svg" in page.text and "<path" in page.text  # drawn on the server, inline
    secret = secret_on(page.text)
    wrong = await client.post(SETUP + "setup/confirm", {"code": "000000"})
    assert wrong.status_code == 422
    assert "The code is not right" in html.unescape(wrong.text)
    done = await client.post(SETUP + "setup/confirm", {"code": code(secret)})
    assert len(codes_on(done.text)) == 10
    assert "shown only this once" in done.text
    status = await client.get(SETUP)
    assert "Two-factor authentication is on" in status.text
    assert "10 unused recovery codes" in status.text
    assert "totp-secret" not in status.text  # the secret is never shown again
    [enabled] = await actions(clean_db, audit.TWO_FACTOR_ENABLED)
    assert enabled.actor_user_id == firms.a.supervisor.user_id


async def test_sign_in_asks_for_a_code_after_the_password(
    client_factory: object, firms: Firms, traveller: time_machine.Traveller
) -> None:
    email = firms.a.supervisor.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    secret, _codes = await enrol(first)
    traveller.shift(STEP)
    browser = client_factory()  # type: ignore[operator]
    browser.client.cookies.set("luotsi_lang", "en")
    await password_step(browser, email)
    # Not signed in yet: the workspace sends the browser to sign in.
    assert (await browser.get("/t/alfa/staff/")).headers["location"].startswith("/login")
    page = await browser.get("/login/two-factor")
    assert "Enter a code" in page.text
    done = await browser.post("/login/two-factor", {"code": code(secret), "next": "/t/alfa/staff/"})
    assert done.status_code == 303
    assert done.headers["location"] == "/t/alfa/staff/"
    assert (await browser.get("/t/alfa/staff/")).status_code == 200


async def test_a_code_is_accepted_once(
    client_factory: object, firms: Firms, traveller: time_machine.Traveller
) -> None:
    email = firms.a.supervisor.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    secret, _codes = await enrol(first)
    traveller.shift(STEP)
    used = code(secret)
    one = client_factory()  # type: ignore[operator]
    await password_step(one, email)
    assert (await one.post("/login/two-factor", {"code": used})).status_code == 303
    # Someone who saw the code tries it again within its 30 seconds: refused.
    two = client_factory()  # type: ignore[operator]
    two.client.cookies.set("luotsi_lang", "en")
    await password_step(two, email)
    replay = await two.post("/login/two-factor", {"code": used})
    assert replay.status_code == 422
    assert "used already" in html.unescape(replay.text)
    traveller.shift(STEP)
    assert (await two.post("/login/two-factor", {"code": code(secret)})).status_code == 303


async def test_a_recovery_code_signs_in_once(
    client_factory: object, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    email = firms.a.owner.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    _secret, codes = await enrol(first)
    one = client_factory()  # type: ignore[operator]
    one.client.cookies.set("luotsi_lang", "en")
    await password_step(one, email)
    typed = codes[3].lower().replace("-", " ")  # typed loosely
    assert (await one.post("/login/two-factor", {"code": typed})).status_code == 303
    [used] = await actions(clean_db, audit.TWO_FACTOR_RECOVERY_USED)
    assert used.actor_user_id == firms.a.owner.user_id
    two = client_factory()  # type: ignore[operator]
    await password_step(two, email)
    assert (await two.post("/login/two-factor", {"code": codes[3]})).status_code == 422
    assert "9 unused recovery codes" in (await one.get(SETUP)).text


async def test_wrong_codes_are_limited_per_account(
    client_factory: object, firms: Firms, traveller: time_machine.Traveller
) -> None:
    email = firms.a.supervisor.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    secret, _codes = await enrol(first)
    traveller.shift(STEP)
    browser = client_factory()  # type: ignore[operator]
    browser.client.cookies.set("luotsi_lang", "en")
    await password_step(browser, email)
    for _ in range(twofactor.CODES_PER_ACCOUNT):
        assert (await browser.post("/login/two-factor", {"code": "123456"})).status_code == 422
    # Another client with the password is limited too: the count is the account's.
    other = client_factory("10.0.0.9")  # type: ignore[operator]
    other.client.cookies.set("luotsi_lang", "en")
    await password_step(other, email)
    refused = await other.post("/login/two-factor", {"code": code(secret)})
    assert refused.status_code == 429
    assert "Too many wrong codes. Try again in 15 minutes." in refused.text
    assert int(refused.headers["retry-after"]) > 0
    traveller.shift(twofactor.CODE_WINDOW + STEP)
    await password_step(other, email)
    assert (await other.post("/login/two-factor", {"code": code(secret)})).status_code == 303


async def test_the_second_step_expires(
    client_factory: object, firms: Firms, traveller: time_machine.Traveller
) -> None:
    email = firms.a.supervisor.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    secret, _codes = await enrol(first)
    browser = client_factory()  # type: ignore[operator]
    await password_step(browser, email)
    traveller.shift(twofactor.PENDING_LIFETIME)
    late = await browser.post("/login/two-factor", {"code": code(secret)})
    assert late.status_code == 303 and late.headers["location"] == "/login"
    assert (await browser.get("/t/alfa/staff/")).headers["location"].startswith("/login")


async def test_a_forged_second_step_signs_nobody_in(client: Client, firms: Firms) -> None:
    forged = f"{firms.a.owner.user_id.hex}.{int(clock.now().timestamp())}.{'0' * 64}"
    client.client.cookies.set("luotsi_2fa", forged, path="/login/two-factor")
    response = await client.post("/login/two-factor", {"code": "123456"})
    assert response.headers["location"] == "/login"


async def test_staff_of_a_firm_that_requires_it_enrol_before_working(
    client_factory: object, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    owner = client_factory()  # type: ignore[operator]
    owner.client.cookies.set("luotsi_lang", "en")
    await owner.login(firms.a.owner.user.email)
    # The owner turns the requirement on only with it on for themselves.
    early = await owner.post("/t/alfa/settings/security/", {"two_factor_required": "on"})
    assert early.status_code == 422
    assert "for your own account first" in early.text
    await enrol(owner)
    saved = await owner.post("/t/alfa/settings/security/", {"two_factor_required": "on"})
    assert saved.status_code == 303
    [changed] = await actions(clean_db, audit.SETTINGS_CHANGED)
    assert changed.tenant_id == firms.a.tenant.id

    supervisor = client_factory()  # type: ignore[operator]
    supervisor.client.cookies.set("luotsi_lang", "en")
    signed_in = await supervisor.login(firms.a.supervisor.user.email)
    assert signed_in.headers["location"] == SETUP
    notice = await supervisor.get(SETUP)
    assert "Alfa" in notice.text and "requires two-factor authentication" in notice.text
    refused = await supervisor.get("/t/alfa/staff/")
    assert refused.status_code == 303 and refused.headers["location"] == SETUP
    write = await supervisor.post("/t/alfa/notifications/read")
    assert write.status_code == 303 and write.headers["location"] == SETUP
    # Firm B does not require it: the person who is staff in both works there.
    both = client_factory()  # type: ignore[operator]
    await both.login(firms.both.email)
    assert (await both.get("/t/beeta/staff/")).status_code == 200
    assert (await both.get("/t/alfa/staff/")).headers["location"] == SETUP

    traveller.shift(STEP)
    await enrol(supervisor)
    assert (await supervisor.get("/t/alfa/staff/")).status_code == 200


async def test_a_supervisee_is_not_made_to_but_may_turn_it_on(
    client_factory: object, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        tenant = await db.get(type(firms.a.tenant), firms.a.tenant.id)
        assert tenant is not None
        tenant.two_factor_required = True
    email = "sanna.tf@alfa-client.example"
    await bind_supervisee_login(clean_db, firms.a, firms.a.supervisee, email)
    sanna = client_factory()  # type: ignore[operator]
    await sanna.login(email)
    assert (await sanna.get("/t/alfa/me/")).status_code == 200
    secret, _codes = await enrol(sanna)
    traveller.shift(STEP)
    again = client_factory()  # type: ignore[operator]
    await password_step(again, email)
    assert (await again.post("/login/two-factor", {"code": code(secret)})).status_code == 303
    assert (await again.get("/t/alfa/me/")).status_code == 200


async def test_turning_it_off_needs_the_password_or_a_code(
    client: Client, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    await client.login(firms.a.supervisor.user.email)
    await enrol(client)
    wrong = await client.post(SETUP + "disable", {"secret": "not my password"})
    assert wrong.status_code == 422
    assert "current password or a code" in wrong.text
    assert (await client.post(SETUP + "disable", {"secret": PASSWORD})).status_code == 303
    assert "Two-factor authentication is off" in (await client.get(SETUP)).text
    traveller.shift(STEP)
    secret, _codes = await enrol(client)
    traveller.shift(STEP)
    assert (await client.post(SETUP + "disable", {"secret": code(secret)})).status_code == 303
    assert len(await actions(clean_db, audit.TWO_FACTOR_DISABLED)) == 2


async def test_staff_cannot_turn_it_off_while_the_firm_requires_it(
    client: Client, firms: Firms, traveller: time_machine.Traveller
) -> None:
    await client.login(firms.a.owner.user.email)
    await enrol(client)
    await client.post("/t/alfa/settings/security/", {"two_factor_required": "on"})
    refused = await client.post(SETUP + "disable", {"secret": PASSWORD})
    assert refused.status_code == 422
    assert "requires two-factor authentication of its staff" in refused.text


async def test_new_recovery_codes_replace_the_old(
    client_factory: object, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    email = firms.a.supervisor.user.email
    first = client_factory()  # type: ignore[operator]
    await first.login(email)
    _secret, old = await enrol(first)
    renewed = await first.post(SETUP + "recovery-codes", {"secret": PASSWORD})
    new = codes_on(renewed.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert len(await actions(clean_db, audit.TWO_FACTOR_CODES_RENEWED)) == 1
    browser = client_factory()  # type: ignore[operator]
    await password_step(browser, email)
    assert (await browser.post("/login/two-factor", {"code": old[0]})).status_code == 422
    assert (await browser.post("/login/two-factor", {"code": new[0]})).status_code == 303


async def test_only_the_owner_sets_the_requirement(client: Client, firms: Firms) -> None:
    await client.login(firms.a.admin.user.email)
    assert (await client.get("/t/alfa/settings/security/")).status_code == 403
    assert "settings/security/" not in (await client.get("/t/alfa/settings/")).text


async def test_confirm_identity_takes_the_password_or_an_unused_code(
    client: Client, firms: Firms, clean_db: Backend, traveller: time_machine.Traveller
) -> None:
    await client.login(firms.a.supervisor.user.email)
    secret, _codes = await enrol(client)
    traveller.shift(STEP)
    now_code = code(secret)
    async with make_sessionmaker(clean_db.owner)() as db:
        user = firms.a.supervisor.user
        assert await twofactor.confirm_identity(db, user, PASSWORD)
        assert not await twofactor.confirm_identity(db, user, "wrong password")
        assert await twofactor.confirm_identity(db, user, now_code)
        assert not await twofactor.confirm_identity(db, user, now_code)  # used up
