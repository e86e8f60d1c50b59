"""A firm signs up, verifies by e-mail, invites a supervisor who joins and signs in."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def open_latest_mail_link(page: Page, base: str, subject_part: str) -> str:
    """The link in the newest e-mail whose subject matches, once the worker has sent it."""
    link = page.get_by_role("link", name=re.compile(subject_part)).first
    for _ in range(60):  # the in-process worker polls the outbox every 2 s
        page.goto(base + "/_dev/mailbox")
        if link.count():
            break
        page.wait_for_timeout(250)
    link.click()
    text = page.locator("pre.mail-text").inner_text()
    match = re.search(re.escape(base) + r"/\S+", text)
    assert match, text
    return match.group(0)


def test_signup_verify_invite_accept_and_sign_in(page: Page, live_server: str) -> None:
    base = live_server
    page.goto(base + "/")
    assert page.evaluate("typeof htmx") == "object"  # htmx is served from our own origin
    page.get_by_role("button", name="EN").click()
    page.get_by_role("link", name="Start your firm's workspace").first.click()

    page.get_by_label("Firm name").fill("Selkeä Työnohjaus Oy")
    page.get_by_label("Business ID (Y-tunnus)").click()  # leaving the name field suggests a slug
    expect(page.locator("#slug")).to_have_value("selkea-tyonohjaus")
    page.get_by_label("Business ID (Y-tunnus)").fill("1234567-8")
    page.get_by_label("Your name").fill("Saara Selkeä")
    page.get_by_label("E-mail").fill("saara@selkea.example")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create the workspace").click()
    # A bad business ID keeps the form with a message (htmx swaps the 422).
    expect(page.locator("#business_id-error")).to_be_visible()
    page.get_by_label("Business ID (Y-tunnus)").fill("0737546-2")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create the workspace").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    # The firm in the subject: other browser tests sign firms up on the same server.
    page.goto(open_latest_mail_link(page, base, "Confirm your e-mail address for Selkeä"))
    expect(page.get_by_role("heading", name="Selkeä Työnohjaus Oy")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("confirmed")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="People and roles", exact=True).click()
    page.locator("#invite-form").get_by_label("E-mail").fill("olli@selkea.example")
    page.locator("#invite-form").get_by_label("Role").select_option("supervisor")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("invitation has been sent")
    expect(page.get_by_text("olli@selkea.example")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    page.goto(open_latest_mail_link(page, base, "invited you"))
    expect(page.get_by_role("heading", name="Join Selkeä Työnohjaus Oy")).to_be_visible()
    page.get_by_label("Your name").fill("Olli Ohjaaja")
    page.get_by_label("Choose a password").fill("olli's own password")
    page.get_by_role("button", name="Create account and join").click()
    expect(page.get_by_text("Welcome, Olli Ohjaaja.")).to_be_visible()
    expect(page.get_by_role("link", name="People", exact=True)).to_have_count(
        0
    )  # supervisors do not manage people
    page.get_by_role("button", name="Sign out").click()

    page.goto(base + "/login")
    page.get_by_label("E-mail").fill("olli@selkea.example")
    page.get_by_label("Password").fill("olli's own password")
    page.get_by_role("button", name="Sign in").last.click()
    expect(page).to_have_url(base + "/t/selkea-tyonohjaus/")
    expect(page.get_by_text("Welcome, Olli Ohjaaja.")).to_be_visible()
