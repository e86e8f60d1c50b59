"""The owner's subscription page against localstripe: the direct path, where the page takes
the card with Stripe.js, and every action through the page's forms.

What Stripe.js does in the browser (a PaymentMethod from the typed card) the tests do with
localstripe's API (:mod:`tests.billing.subscription.stripe_side`); the browser itself does it
in tests/e2e/test_subscription.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from litestar import Litestar

from luotsi.billing.subscription.models import PlanStatus, Subscription
from luotsi.billing.subscription.sync import refresh_from_stripe
from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.web.assets import static_url
from luotsi.web.middleware import CSP, CSP_DIRECTIVES
from tests import clock
from tests.billing.subscription.stripe_side import FAILING_CARD, PUBLISHABLE_KEY, LocalStripe
from tests.conftest import Backend, Client, scoped, start_app
from tests.factories import Firms, set_plan

PAGE = "/t/alfa/settings/subscription"
GRACE_DAYS = 14


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def owner_of(app: Litestar, firms: Firms) -> Client:
    client = Client(app)
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    return client


@pytest.fixture
async def owner(stripe_app: Litestar, clean_db: Backend, firms: Firms) -> Client:
    return await owner_of(stripe_app, firms)


async def stored(backend: Backend, firms: Firms) -> Subscription:
    async with scoped(backend, firms.a.tenant) as db:
        row = await db.get(Subscription, firms.a.tenant.id)
    assert row is not None
    return row


async def subscribe(owner: Client, localstripe: LocalStripe, interval: str = "month") -> Any:
    method = await localstripe.card()
    return await owner.post(PAGE + "/start", {"interval": interval, "payment_method": method})


async def page_text(owner: Client) -> str:
    page = await owner.get(PAGE)
    assert page.status_code == 200
    return text_of(page.text)


async def test_the_owner_subscribes_monthly_with_a_card_from_stripe_js(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    response = await subscribe(owner, localstripe)
    assert response.status_code == 303 and response.headers["location"] == PAGE
    page = await page_text(owner)
    assert "Thank you! The firm's subscription to Luotsi is running." in page
    assert "Active Monthly" in page
    assert "Seats 2 Price per seat 29,00 € a month Total 58,00 € a month" in page
    assert "Visa ending in 4242" in page
    assert "58,00 € Paid" in page  # the first month, charged at once
    row = await stored(stripe_db, firms)
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert (at_stripe["status"], at_stripe["quantity"]) == ("active", 2)


async def test_the_page_hands_stripe_js_a_setup_intent_that_turns_the_card_into_a_method(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    setup = await owner.post(PAGE + "/card-setup")
    assert setup.status_code == 200
    secret = setup.json()["client_secret"]
    # What Stripe.js does with it: the card's details go to Stripe with the publishable key.
    intent_id = secret.split("_secret_")[0]
    async with httpx.AsyncClient(base_url=localstripe.base) as browser:
        confirmed = await browser.post(
            f"/v1/setup_intents/{intent_id}/confirm",
            json={
                "key": PUBLISHABLE_KEY,
                "client_secret": secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": "12",
                        "exp_year": str(clock.today().year + 2),
                        "cvc": "123",
                    },
                },
            },
        )
    assert confirmed.status_code == 200, confirmed.text
    method = confirmed.json()["payment_method"]
    response = await owner.post(PAGE + "/start", {"interval": "year", "payment_method": method})
    assert response.status_code == 303
    page = await page_text(owner)
    assert "Active Yearly" in page and "Visa ending in 4242" in page
    # The intent was made for the firm's customer.
    row = await stored(stripe_db, firms)
    assert (await localstripe.get(f"/v1/setup_intents/{intent_id}"))["customer"] == row.customer_id


async def test_a_declined_card_is_a_form_error_and_nothing_is_subscribed(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    method = await localstripe.card(FAILING_CARD)
    response = await owner.post(PAGE + "/start", {"interval": "month", "payment_method": method})
    assert response.status_code == 422
    assert "The card was declined. Try another card." in response.text
    assert 'value="month" checked' in response.text  # the choice is kept
    assert "Trial" in text_of((await owner.get(PAGE)).text)


async def test_subscribing_without_a_card_asks_for_one(owner: Client) -> None:
    response = await owner.post(PAGE + "/start", {"interval": "month"})
    assert response.status_code == 422 and "Enter the card details." in response.text
    bad = await owner.post(PAGE + "/start", {"interval": "weekly", "payment_method": "pm_x"})
    assert bad.status_code == 422 and "Choose monthly or yearly billing." in bad.text


async def test_stripe_out_of_reach_is_a_form_error_not_a_server_error(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    nowhere = replace(stripe_db.settings, stripe_api_base="http://127.0.0.1:9")  # discard port
    application, end = await start_app(nowhere)
    try:
        owner = await owner_of(application, firms)
        response = await owner.post(
            PAGE + "/start", {"interval": "month", "payment_method": "pm_x"}
        )
        assert response.status_code == 422
        assert "Stripe could not be reached. Try again in a moment." in response.text
        setup = await owner.post(PAGE + "/card-setup")
        assert setup.status_code == 422 and "Stripe could not be reached" in setup.json()["error"]
    finally:
        await end()


async def test_the_owner_changes_the_card(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    method = await localstripe.card("5555555555554444")
    response = await owner.post(PAGE + "/card", {"payment_method": method})
    assert response.status_code == 303
    page = await page_text(owner)
    assert "The card has been changed." in page and "ending in 4444" in page
    empty = await owner.post(PAGE + "/card", {"payment_method": ""})
    assert empty.status_code == 422 and "Enter the card details." in empty.text


async def test_the_owner_switches_to_yearly_billing(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    response = await owner.post(PAGE + "/interval", {"interval": "year"})
    assert response.status_code == 303
    page = await page_text(owner)
    assert "The billing interval has been changed." in page
    assert "Active Yearly" in page and "Total 580,00 € a year" in page
    assert "Switch to monthly billing" in page


async def test_cancelling_asks_first_then_runs_to_the_period_end_and_can_be_taken_back(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    row = await stored(stripe_db, firms)
    assert row.current_period_end is not None
    confirm = await owner.get(PAGE + "/cancel")
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Cancel the subscription?" in words
    assert "stays writable until the paid period ends" in words
    assert f"{GRACE_DAYS} days of grace" in words
    assert "read-only for staff: everything can be read and exported" in words
    assert "No data is deleted." in words
    at_stripe = f"/v1/subscriptions/{row.stripe_subscription_id}"
    assert (await localstripe.get(at_stripe))["cancel_at_period_end"] is False  # not yet

    assert (await owner.post(PAGE + "/cancel")).status_code == 303
    assert (await localstripe.get(at_stripe))["cancel_at_period_end"] is True
    page = await page_text(owner)
    assert "The subscription has been canceled." in page and "Canceled: the subscription" in page

    assert (await owner.post(PAGE + "/resume")).status_code == 303
    assert (await localstripe.get(at_stripe))["cancel_at_period_end"] is False
    page = await page_text(owner)
    assert "nothing was canceled" in page and "The next renewal is on" in page


async def test_the_card_can_be_removed_only_when_nothing_will_be_charged_to_it(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    row = await stored(stripe_db, firms)
    customer = f"/v1/customers/{row.customer_id}"
    method = (await localstripe.get(customer))["invoice_settings"]["default_payment_method"]
    assert method and "Remove the card" not in await page_text(owner)
    # A running subscription is charged to the card: refused, nothing changed.
    refused = await owner.post(PAGE + "/card/remove")
    assert refused.status_code == 422
    assert "Cancel the subscription first, or enter another card." in text_of(refused.text)
    assert (await localstripe.get(customer))["invoice_settings"]["default_payment_method"]

    assert (await owner.post(PAGE + "/cancel")).status_code == 303
    assert "Remove the card" in await page_text(owner)
    confirm = await owner.get(PAGE + "/card/remove")
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Remove the card?" in words and "Visa ending in 4242" in words
    assert (await localstripe.get(customer))["invoice_settings"]["default_payment_method"]

    removed = await owner.post(PAGE + "/card/remove")
    assert removed.status_code == 303 and removed.headers["location"] == PAGE
    page = await page_text(owner)
    assert "The card has been removed." in page and "No card on file." in page
    assert (await localstripe.get(customer))["invoice_settings"]["default_payment_method"] is None
    assert (await localstripe.get(f"/v1/payment_methods/{method}"))["customer"] is None
    assert (await stored(stripe_db, firms)).card_last4 == ""
    # Taking the cancellation back now needs a card to charge.
    resumed = await owner.post(PAGE + "/resume")
    assert resumed.status_code == 422 and "Enter a card first" in text_of(resumed.text)
    assert (await stored(stripe_db, firms)).cancel_at_period_end is True
    again = await owner.get(PAGE + "/card/remove")
    assert again.status_code == 200 and "No card to remove" in text_of(again.text)


async def as_webhooks_leave_it(backend: Backend, firms: Firms) -> None:
    """Our copy of firm A's subscription brought up to date with Stripe, as a webhook does."""
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            await refresh_from_stripe(db, backend.settings, firms.a.tenant.id)
            await db.commit()
    finally:
        await engine.dispose()


async def test_after_a_failed_payment_the_owner_pays_with_another_card(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    row = await stored(stripe_db, firms)
    assert row.customer_id and row.stripe_subscription_id
    await localstripe.fail_renewal(row.customer_id, row.stripe_subscription_id)
    await as_webhooks_leave_it(stripe_db, firms)
    page = await page_text(owner)
    assert "Payment overdue" in page and "enter another card below" in page
    assert "Pay with this card" in page and "Unpaid" in page

    method = await localstripe.card("5555555555554444")
    assert (await owner.post(PAGE + "/card", {"payment_method": method})).status_code == 303
    page = await page_text(owner)
    assert "Active" in page and "ending in 4444" in page and "Unpaid" not in page


async def test_after_the_end_and_the_grace_the_owner_subscribes_again_with_the_card_on_file(
    owner: Client, localstripe: LocalStripe, stripe_db: Backend, firms: Firms
) -> None:
    await subscribe(owner, localstripe)
    row = await stored(stripe_db, firms)
    assert row.stripe_subscription_id is not None
    await localstripe.end(row.stripe_subscription_id)  # the period ended at Stripe
    await as_webhooks_leave_it(stripe_db, firms)
    ended = clock.now() - timedelta(days=GRACE_DAYS + 1)
    await set_plan(stripe_db.owner, firms.a.tenant, canceled_at=ended)
    assert (await owner.post("/t/alfa/specialties/", {"name": "Sovittelu"})).status_code == 403
    page = await owner.get(PAGE)
    assert "Subscribe again" in page.text and "Leave the card field empty" in page.text

    response = await owner.post(PAGE + "/start", {"interval": "month"})  # the read-only wall
    assert response.status_code == 303  # lets the owner through here
    assert "Active Monthly" in await page_text(owner)
    assert (await stored(stripe_db, firms)).status is PlanStatus.ACTIVE
    assert (await owner.post("/t/alfa/specialties/", {"name": "Sovittelu"})).status_code == 303


async def test_the_page_loads_stripe_js_from_the_stand_in_and_the_policy_allows_only_that(
    owner: Client, localstripe: LocalStripe
) -> None:
    page = await owner.get(PAGE)
    script = f'<script src="{localstripe.base}/js.stripe.com/v3/" defer></script>'
    mine = f'<script src="{static_url("subscription.js")}" defer>'
    assert script in page.text and mine in page.text
    assert "data-card-form" in page.text
    assert f'data-publishable-key="{PUBLISHABLE_KEY}"' in page.text
    assert "Entering a card needs JavaScript" in page.text  # <noscript>
    policy = page.headers["content-security-policy"]
    directives = dict(part.split(" ", 1) for part in policy.split("; "))
    stand_in = f"'self' {localstripe.base}"
    extra = {"script-src": stand_in, "frame-src": stand_in, "connect-src": stand_in}
    assert directives == {**CSP_DIRECTIVES, **extra}  # nothing else is relaxed
    other = await owner.get("/t/alfa/settings/")
    assert other.headers["content-security-policy"] == CSP
    static = await owner.get(static_url("subscription.js"))
    assert static.status_code == 200 and "confirmCardSetup" in static.text
