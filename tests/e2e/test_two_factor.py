"""In a browser: a supervisor turns two-factor authentication on with the QR page's key, keeps
the recovery codes, and signs in again with a code from the "app" (pyotp on the key shown).

A server of its own: the demo's people that other browser tests sign in as keep signing in
with a password alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect

from luotsi.platform import twofactor
from tests import clock
from tests.e2e.conftest import serving, sign_in

SUPERVISOR = "ville.ohjaaja@demo.luotsi.localhost"


@pytest.fixture(scope="module")
def two_factor_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(tmp_path_factory.mktemp("two-factor-e2e")) as base:
        yield base


def test_enrol_then_sign_in_with_a_code(page: Page, two_factor_server: str) -> None:
    base = two_factor_server
    sign_in(page, base, SUPERVISOR)
    page.goto(base + "/account")
    page.get_by_role("link", name=re.compile("authenticator app")).click()
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(secret)
    # The code of the step before: the sign-in below uses the current one, which is later
    # (each step's code is accepted once), without waiting for the clock.
    step = timedelta(seconds=twofactor.STEP_SECONDS)
    page.get_by_label("Six-digit code").fill(app.at(clock.now() - step))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("they are shown only this once")).to_be_visible()
    expect(page.locator(".recovery-codes li")).to_have_count(twofactor.RECOVERY_CODES)
    page.get_by_role("link", name="I have saved the codes").click()
    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto(base + "/login")
    page.get_by_label("E-mail").fill(SUPERVISOR)
    page.get_by_label("Password").fill("demo-salasana")
    page.get_by_role("button", name="Sign in").last.click()
    page.wait_for_url(re.compile(r"/login/two-factor"))
    page.get_by_label("Code").fill(app.at(clock.now()))
    page.get_by_role("button", name="Sign in").last.click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
