"""What the firm's plan does to its workspace: notices to the owner and admins, and a
read-only workspace once a canceled plan's grace period is over.

The plan is arranged as Stripe's webhooks leave it, in the stored ``subscriptions`` row; the
app runs with a Stripe key (``stripe_app``) and makes no call to Stripe on these pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Litestar

from luotsi.billing.subscription.models import PlanStatus
from luotsi.platform import i18n
from luotsi.platform.settings import Plans
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms, paid_plan, set_plan
from tests.queries import count_queries

READ_ONLY = "The workspace is read-only"
PAYMENT_FAILED = "The last payment for Luotsi failed"
GRACE_DAYS = Plans().grace_days


def canceled(days_ago: int) -> dict[str, Any]:
    return paid_plan(status=PlanStatus.CANCELED, canceled_at=clock.now() - timedelta(days=days_ago))


async def dashboard(people: Any, email: str, firm: Firm) -> str:
    page = await (await people(email)).get(f"/t/{firm.slug}/")
    assert page.status_code == 200
    return str(page.text)


async def add_specialty(people: Any, email: str, name: str = "Sovittelu") -> Any:
    """A write any owner or admin may make (supervisors may not)."""
    return await (await people(email)).post("/t/alfa/specialties/", {"name": name})


async def test_a_failed_payment_shows_the_owner_a_link_to_the_subscription_page(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.PAST_DUE))
    page = await dashboard(people, firms.a.owner.user.email, firms.a)
    assert PAYMENT_FAILED in page
    assert 'href="/t/alfa/settings/subscription"' in page


async def test_a_failed_payment_asks_an_admin_to_turn_to_the_owner(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.PAST_DUE))
    page = await dashboard(people, firms.a.admin.user.email, firms.a)
    assert PAYMENT_FAILED in page and "Ask the firm's owner" in page
    assert "/settings/subscription" not in page
    # A supervisor is not bothered with it, nor the other firm's owner.
    assert PAYMENT_FAILED not in await dashboard(people, firms.a.supervisor.user.email, firms.a)
    assert PAYMENT_FAILED not in await dashboard(people, firms.b.owner.user.email, firms.b)


async def test_a_failed_payment_changes_nothing_without_stripe(
    app: Litestar, client: Client, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(status=PlanStatus.PAST_DUE))
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(firms.a.owner.user.email)
    page = await client.get("/t/alfa/")
    assert page.status_code == 200 and PAYMENT_FAILED not in page.text


async def test_the_owner_sees_the_days_left_in_the_last_week_of_the_trial(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, trial_ends_at=clock.now() + timedelta(days=3))
    await set_plan(clean_db.owner, firms.b.tenant, trial_ends_at=clock.now() + timedelta(days=8))
    assert "The trial ends in 3 days." in await dashboard(people, firms.a.owner.user.email, firms.a)
    assert "The trial ends" not in await dashboard(people, firms.a.admin.user.email, firms.a)
    assert "The trial ends" not in await dashboard(people, firms.b.owner.user.email, firms.b)


async def test_a_canceled_plan_names_the_day_the_workspace_turns_read_only(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **canceled(days_ago=2))
    page = await dashboard(people, firms.a.supervisor.user.email, firms.a)
    i18n.set_language("en")
    day = i18n.format_date(clock.now() + timedelta(days=GRACE_DAYS - 2))
    assert f"The workspace turns read-only on {day}." in page
    assert READ_ONLY not in page
    # Still writable within the grace period.
    assert (await add_specialty(people, firms.a.owner.user.email)).status_code == 303


async def test_after_the_grace_period_staff_writes_are_refused_with_the_reason(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **canceled(days_ago=GRACE_DAYS + 1))
    refused = await add_specialty(people, firms.a.owner.user.email)
    assert refused.status_code == 403
    assert READ_ONLY in refused.text
    assert 'href="/t/alfa/settings/subscription"' in refused.text  # the owner's way out
    listing = await (await people(firms.a.owner.user.email)).get("/t/alfa/specialties/")
    assert "Sovittelu" not in listing.text  # nothing was saved
    # An admin is told who can reopen it; a supervisor is refused as read-only too (not for
    # the role: the wall comes first).
    by_admin = await add_specialty(people, firms.a.admin.user.email)
    assert by_admin.status_code == 403 and "The firm's owner can subscribe again." in by_admin.text
    by_supervisor = await add_specialty(people, firms.a.supervisor.user.email)
    assert by_supervisor.status_code == 403 and READ_ONLY in by_supervisor.text
    # The other firm writes as before.
    other = await (await people(firms.b.owner.user.email)).post(
        "/t/beeta/specialties/", {"name": "Sovittelu"}
    )
    assert other.status_code == 303


async def test_a_refused_htmx_write_gets_the_reason_as_a_fragment(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **canceled(days_ago=GRACE_DAYS + 1))
    owner = await people(firms.a.owner.user.email)
    refused = await owner.post("/t/alfa/specialties/", {"name": "Sovittelu"}, htmx=True)
    assert refused.status_code == 403
    assert READ_ONLY in refused.text and "<html" not in refused.text


async def test_read_only_pages_show_the_banner_and_hide_their_submit_buttons(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **canceled(days_ago=GRACE_DAYS + 1))
    page = await (await people(firms.a.owner.user.email)).get("/t/alfa/specialties/")
    assert page.status_code == 200
    assert READ_ONLY in page.text and '<body class="read-only"' in page.text
    css = await (await people(firms.a.owner.user.email)).get("/static/luotsi.css")
    assert 'body.read-only main form[method="post"]' in css.text


async def test_subscribing_again_restores_writing_at_once(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **canceled(days_ago=GRACE_DAYS + 1))
    assert (await add_specialty(people, firms.a.owner.user.email)).status_code == 403
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan(stripe_subscription_id="sub_again"))
    assert (await add_specialty(people, firms.a.owner.user.email)).status_code == 303
    assert READ_ONLY not in await dashboard(people, firms.a.owner.user.email, firms.a)


async def test_an_expired_trial_turns_read_only_after_its_grace_period(
    people: Any, firms: Firms, clean_db: Backend
) -> None:
    ended = clock.now() - timedelta(days=GRACE_DAYS + 1)
    await set_plan(clean_db.owner, firms.a.tenant, trial_ends_at=ended)
    assert READ_ONLY in await dashboard(people, firms.a.owner.user.email, firms.a)
    assert (await add_specialty(people, firms.a.owner.user.email)).status_code == 403


async def test_the_plan_costs_a_workspace_page_one_statement_and_nothing_without_stripe(
    app: Litestar, stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(clean_db.owner, firms.a.tenant, **paid_plan())
    counts = []
    for application in (app, stripe_app):
        owner = Client(application)
        await owner.login(firms.a.owner.user.email)
        await owner.get("/t/alfa/")  # a first visit's work (a session touch) happens here
        async with count_queries(application) as counted:
            assert (await owner.get("/t/alfa/")).status_code == 200
        counts.append(counted)
    without, with_stripe = counts
    assert with_stripe.statements == without.statements + 1
    assert not any("subscriptions" in sql for sql in without.sql)
