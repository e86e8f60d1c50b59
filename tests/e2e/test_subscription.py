"""The demo firm's owner subscribes to Luotsi: monthly, with the test card typed into the card
field that localstripe's Stripe.js mock puts on the page (the direct path)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests import clock
from tests.e2e.conftest import sign_in


def test_the_owner_starts_a_subscription_with_a_card(page: Page, stripe_live_server: str) -> None:
    base = stripe_live_server
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    sign_in(page, base)
    expect(page).to_have_url(base + "/t/demo/")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Subscription").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscription")
    expect(page.locator("#plan .badge")).to_have_text("Trial")
    seats = page.locator("#seats .seat-count").inner_text()
    assert int(seats) >= 1

    page.get_by_label("Monthly").check()
    card = page.locator("[data-card-element]")
    # localstripe's card element: one field per part. The number goes in without spaces
    # (4242 4242 4242 4242), as the mock takes exactly 16 digits.
    card.locator("input[placeholder=number]").press_sequentially("4242424242424242")
    card.locator("input[placeholder=exp_month]").press_sequentially("12")
    card.locator("input[placeholder=exp_year]").press_sequentially(
        f"{(clock.today().year + 3) % 100:02d}"
    )
    card.locator("input[placeholder=cvc]").press_sequentially("123")
    card.locator("input[placeholder=postal_code]").press_sequentially("00100")
    page.get_by_role("button", name="Subscribe", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("subscription to Luotsi is running")
    expect(page.locator("#plan .badge")).to_have_text("Active")
    expect(page.locator("#seats .seat-count")).to_have_text(seats)
    expect(page.locator(".card-on-file")).to_have_text("Visa ending in 4242")
    expect(page.locator("#payments tbody tr")).to_have_count(1)
    # The typed card went to Stripe only: the form posted a PaymentMethod's id.
    assert not re.search(r"4242424242424242", page.content())
    assert errors == []
