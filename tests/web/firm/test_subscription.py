"""The owner's subscription page as each plan status shows it, who may open it, and its
Content-Security-Policy in production mode (Stripe's hosted pages).

The plan is arranged as Stripe's webhooks leave it (``set_plan``); the app runs with a Stripe
key and no stand-in (``stripe_app``), so this page makes no call to Stripe. What the owner
does on it runs against localstripe in tests/billing/subscription/test_subscription_page.py.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import pytest
from litestar import Litestar

from luotsi.billing.subscription.models import PlanStatus, SubscriptionPayment
from luotsi.platform import i18n
from luotsi.platform.settings import Plans
from luotsi.web.middleware import CSP
from tests import clock
from tests.conftest import Backend, Client, scoped
from tests.factories import Firms, paid_plan, set_plan
from tests.queries import count_queries

PAGE = "/t/alfa/settings/subscription"
GRACE_DAYS = Plans().grace_days


def day(instant: datetime) -> str:
    i18n.set_language("en")
    return i18n.format_date(instant)


def text_of(html: str) -> str:
    """The page's words without tags and runs of white space."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


async def owner_page(people: Any, firms: Firms, path: str = PAGE) -> str:
    page = await (await people(firms.a.owner.user.email)).get(path)
    assert page.status_code == 200
    return text_of(page.text)


async def test_a_trial_shows_its_end_and_the_days_left_and_what_subscribing_costs(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    ends = clock.now() + timedelta(days=5)
    await set_plan(clean_db.owner, firms.a.tenant, trial_ends_at=ends)
    page = await owner_page(people, firms)
    assert "Trial" in page and f"The trial runs until {day(ends)}. 5 days left." in page
    # Firm A has two supervisors: two seats, priced per interval, VAT excluded.
    assert "29,00 € per seat a month, 58,00 € for 2 seats" in page
    assert "290,00 € per seat a year, 580,00 € for 2 seats" in page
    assert "Prices exclude VAT" in page
    assert "Continue to payment" in page  # production: the card is entered at Checkout
    assert "No payments yet." in page


async def test_an_active_plan_shows_the_renewal_seats_total_and_card(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    renews = clock.now() + timedelta(days=20)
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(current_period_end=renews))
    page = await owner_page(people, firms)
    assert "Active Monthly" in page
    assert f"The next renewal is on {day(renews)}." in page
    assert "Seats 3 Price per seat 29,00 € a month Total 87,00 € a month" in page
    assert "Visa ending in 4242" in page
    assert "Switch to yearly billing" in page and "Cancel the subscription" in page
    assert "Subscribe" not in page.replace("Subscription", "")


async def test_a_failed_payment_says_what_to_do(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.PAST_DUE))
    page = await owner_page(people, firms)
    assert "Payment overdue" in page and "The last payment failed." in page
    assert "update the card on Stripe's page below" in page
    assert "Change the card or see receipts at Stripe" in page


async def test_a_cancellation_waiting_for_the_period_end_names_the_read_only_day(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    ends = clock.now() + timedelta(days=10)
    await set_plan(
        clean_db.owner,
        firms.a.tenant,
        **paid_plan(current_period_end=ends, cancel_at_period_end=True),
    )
    page = await owner_page(people, firms)
    assert f"Canceled: the subscription ends on {day(ends)}." in page
    read_only = day(ends + timedelta(days=GRACE_DAYS))
    assert f"for {GRACE_DAYS} days more; it turns read-only on {read_only}" in page
    assert "Keep the subscription" in page and "Cancel the subscription" not in page


async def test_a_canceled_plan_names_the_day_it_turns_read_only_and_offers_to_subscribe(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    ended = clock.now() - timedelta(days=2)
    await set_plan(
        clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.CANCELED, canceled_at=ended)
    )
    page = await owner_page(people, firms)
    assert "Canceled" in page and f"The subscription ended on {day(ended)}." in page
    assert f"The workspace turns read-only on {day(ended + timedelta(days=GRACE_DAYS))}." in page
    assert "Subscribe again" in page


async def test_after_the_grace_period_the_page_says_since_when_and_its_forms_stay_usable(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    ended = clock.now() - timedelta(days=GRACE_DAYS + 3)
    await set_plan(
        clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.CANCELED, canceled_at=ended)
    )
    page = await (await people(firms.a.owner.user.email)).get(PAGE)
    read_only = day(ended + timedelta(days=GRACE_DAYS))
    assert f"The workspace has been read-only since {read_only}." in text_of(page.text)
    assert '<body class="read-only"' in page.text
    # Every form of the page keeps its button in a read-only workspace.
    forms = re.findall(r"<form [^>]*>", page.text[page.text.index('id="main"') :])
    posts = [form for form in forms if 'method="post"' in form]
    assert posts and all("open-when-read-only" in form for form in posts)


async def test_an_expired_trial_says_so(people: Any, firms: Firms, clean_db: Backend) -> None:
    ended = clock.now() - timedelta(days=1)
    await set_plan(clean_db.owner, firms.a.tenant, trial_ends_at=ended)
    page = await owner_page(people, firms)
    assert f"The trial ended on {day(ended)}." in page
    assert f"The workspace turns read-only on {day(ended + timedelta(days=GRACE_DAYS))}." in page


async def add_payments(backend: Backend, firms: Firms, count: int, first: int = 0) -> None:
    """``count`` monthly payments of Firm A, one a month back from today (from ``first``
    months back); the latest is still unpaid."""
    async with scoped(backend, firms.a.tenant) as db:
        for month in range(first, first + count):
            start = clock.now() - timedelta(days=30 * (month + 1))
            db.add(
                SubscriptionPayment(
                    stripe_invoice_id=f"in_{month:03d}",
                    amount_cents=5800 + month,
                    status="paid" if month else "open",
                    period_start=start,
                    period_end=start + timedelta(days=30),
                    created_at=start,
                    paid_at=start if month else None,
                )
            )
        await db.commit()


async def test_past_payments_are_listed_newest_first_and_paged(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan())
    await add_payments(clean_db, firms, 25)
    first = await owner_page(people, firms)
    newest = clock.now() - timedelta(days=30)
    assert f"{day(newest)} {day(newest)}–{day(newest + timedelta(days=30))} 58,00 € Unpaid" in first
    assert "58,01 € Paid" in first
    assert first.count(" € Paid") + first.count(" € Unpaid") == 20
    assert "Page 1 of 2" in first
    second = await owner_page(people, firms, PAGE + "?page=2")
    assert second.count(" € Paid") == 5 and "58,24 €" in second and "58,19 €" not in second
    # Another firm's payments are its own.
    other = await (await people(firms.b.owner.user.email)).get("/t/beeta/settings/subscription")
    assert "No payments yet." in other.text


async def test_the_page_costs_as_many_statements_for_many_payments_as_for_one(
    people: Any, firms: Firms, clean_db: Backend, stripe_app: Litestar
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan())
    await add_payments(clean_db, firms, 1)
    owner = await people(firms.a.owner.user.email)
    async with count_queries(stripe_app) as one:
        assert (await owner.get(PAGE)).status_code == 200
    await add_payments(clean_db, firms, 40, first=1)
    async with count_queries(stripe_app) as many:
        assert (await owner.get(PAGE)).status_code == 200
    assert many.statements == one.statements
    assert many.objects - one.objects == 19  # one page of 20 payments, not all 41


@pytest.mark.parametrize("role", ["admin", "supervisor"])
async def test_only_the_owner_may_open_the_page_or_act_on_it(
    people: Any, firms: Firms, role: str
) -> None:
    member = await people(getattr(firms.a, role).user.email)
    assert (await member.get(PAGE)).status_code == 403
    assert (await member.get(PAGE + "/cancel")).status_code == 403
    assert (await member.get(PAGE + "/card/remove")).status_code == 403
    actions = ("start", "card-setup", "card", "card/remove", "portal", "interval", "cancel")
    for action in (*actions, "resume"):
        assert (await member.post(f"{PAGE}/{action}", {"interval": "month"})).status_code == 403
    hub = await member.get("/t/alfa/settings/")
    assert "/settings/subscription" not in hub.text


async def test_another_firms_owner_gets_404(people: Any, firms: Firms) -> None:
    other = await people(firms.b.owner.user.email)
    assert (await other.get(PAGE)).status_code == 404
    assert (await other.post(PAGE + "/cancel")).status_code == 404
    assert (await other.get(PAGE + "/card/remove")).status_code == 404
    assert (await other.post(PAGE + "/card/remove")).status_code == 404


async def test_the_settings_hub_links_the_page_for_the_owner(people: Any, firms: Firms) -> None:
    hub = await (await people(firms.a.owner.user.email)).get("/t/alfa/settings/")
    assert f'href="{PAGE}"' in hub.text


async def test_without_stripe_keys_there_is_no_page_and_no_link(
    app: Litestar, client: Client, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    assert (await client.get(PAGE)).status_code == 404
    assert (await client.post(PAGE + "/start", {"interval": "month"})).status_code == 404
    hub = await client.get("/t/alfa/settings/")
    assert hub.status_code == 200 and "/settings/subscription" not in hub.text


async def test_in_production_the_page_may_send_forms_to_stripe_and_loads_no_script_of_theirs(
    people: Any, firms: Firms
) -> None:
    owner = await people(firms.a.owner.user.email)
    page = await owner.get(PAGE)
    policy = page.headers["content-security-policy"]
    assert "form-action 'self' https://checkout.stripe.com https://billing.stripe.com" in policy
    assert "script-src 'self';" in policy and "frame-src" not in policy
    assert "js.stripe.com" not in page.text and "subscription.js" not in page.text
    # Every other page keeps the one policy.
    dashboard = await owner.get("/t/alfa/")
    assert dashboard.headers["content-security-policy"] == CSP
