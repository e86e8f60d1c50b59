"""``POST /stripe/webhook``: signed events move the firm's plan, once each, in any order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select

from luotsi.billing.subscription import service
from luotsi.billing.subscription.gateway import open_gateway
from luotsi.billing.subscription.models import PlanStatus, StripeEvent, Subscription
from luotsi.billing.subscription.state import plan_state
from tests import clock
from tests.billing.subscription.stripe_side import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    LocalStripe,
    signed_event,
)
from tests.billing.subscription.test_subscription import stored, subscribe
from tests.conftest import Backend, Client, scoped
from tests.factories import Firms


async def deliver(
    http: httpx.AsyncClient, event_type: str, data: dict[str, Any], **signing: Any
) -> httpx.Response:
    body, headers = signed_event(event_type, data, **signing)
    return await http.post("/stripe/webhook", content=body, headers=headers)


def about(row: Subscription) -> dict[str, Any]:
    """An event's object naming the firm's customer and subscription (the payload's state is
    never trusted: the endpoint fetches the subscription from Stripe)."""
    return {
        "id": row.stripe_subscription_id,
        "object": "subscription",
        "customer": row.customer_id,
        "status": "active",
    }


async def event_count(backend: Backend) -> int:
    async with backend.owner.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(StripeEvent)) or 0)


async def test_a_failed_renewal_turns_past_due_and_a_new_card_recovers(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    assert row.customer_id and row.stripe_subscription_id
    await localstripe.fail_renewal(row.customer_id, row.stripe_subscription_id)
    assert (await stored(stripe_db, firms)).status is PlanStatus.ACTIVE  # until Stripe tells

    invoice = {"id": "in_x", "object": "invoice", "customer": row.customer_id}
    response = await deliver(stripe_http, "invoice.payment_failed", invoice)
    assert response.status_code == 200, response.text
    past_due = await stored(stripe_db, firms)
    assert past_due.status is PlanStatus.PAST_DUE
    state = plan_state(stripe_db.settings, firms.a.tenant, past_due)
    assert state.needs_payment and not state.is_read_only()

    async with scoped(stripe_db, firms.a.tenant) as db:
        recovered = await service.change_card(
            db, firms.a.owner, stripe_db.settings, await localstripe.card()
        )
        await db.commit()
    assert recovered.status is PlanStatus.ACTIVE and recovered.card_last4 == "4242"
    response = await deliver(stripe_http, "invoice.paid", invoice)
    assert response.status_code == 200
    assert (await stored(stripe_db, firms)).status is PlanStatus.ACTIVE


async def test_a_canceled_plan_turns_read_only_after_grace_and_resubscribing_restores_it(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    async with scoped(stripe_db, firms.a.tenant) as db:
        await service.cancel_at_period_end(db, firms.a.owner, stripe_db.settings)
        await db.commit()
    assert row.stripe_subscription_id
    await localstripe.end(row.stripe_subscription_id)  # the paid period is over
    response = await deliver(stripe_http, "customer.subscription.deleted", about(row))
    assert response.status_code == 200

    canceled = await stored(stripe_db, firms)
    assert canceled.status is PlanStatus.CANCELED and canceled.canceled_at is not None
    grace = timedelta(days=stripe_db.settings.plans.grace_days)
    state = plan_state(stripe_db.settings, firms.a.tenant, canceled)
    assert not state.is_read_only(canceled.canceled_at + grace - timedelta(seconds=1))
    assert state.is_read_only(canceled.canceled_at + grace)

    async with scoped(stripe_db, firms.a.tenant) as db:
        # The card on file is charged again: no new card needed.
        again = await service.start_subscription(db, firms.a.owner, stripe_db.settings, "month")
        await db.commit()
    assert again.status is PlanStatus.ACTIVE
    assert again.stripe_subscription_id != row.stripe_subscription_id
    restored = plan_state(stripe_db.settings, firms.a.tenant, await stored(stripe_db, firms))
    assert not restored.is_read_only(canceled.canceled_at + grace + timedelta(days=1))


async def test_an_event_delivered_twice_is_processed_once(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    assert row.stripe_subscription_id
    first = await deliver(
        stripe_http, "customer.subscription.updated", about(row), event_id="evt_twice"
    )
    assert first.json() == {"received": "processed"}

    # Stripe's state moves on; the same event again must not fetch it.
    await localstripe.set_cancel_at_period_end(row.stripe_subscription_id, True)
    second = await deliver(
        stripe_http, "customer.subscription.updated", about(row), event_id="evt_twice"
    )
    assert second.status_code == 200 and second.json() == {"received": "duplicate"}
    assert not (await stored(stripe_db, firms)).cancel_at_period_end
    assert await event_count(stripe_db) == 1


async def test_an_older_event_delivered_late_leaves_the_newer_state(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    assert row.stripe_subscription_id
    created = clock.now() - timedelta(minutes=2)
    await localstripe.end(row.stripe_subscription_id)
    newer = await deliver(stripe_http, "customer.subscription.deleted", about(row))
    assert newer.status_code == 200
    # The subscription's creation, sent two minutes ago and retried only now.
    older = await deliver(stripe_http, "customer.subscription.created", about(row), at=created)
    assert older.json() == {"received": "processed"}
    assert (await stored(stripe_db, firms)).status is PlanStatus.CANCELED


async def test_a_bad_signature_is_refused_and_changes_nothing(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    assert row.stripe_subscription_id
    await localstripe.end(row.stripe_subscription_id)
    forged = await deliver(
        stripe_http, "customer.subscription.deleted", about(row), secret="whsec_forged"
    )
    assert forged.status_code == 400
    body, headers = signed_event("customer.subscription.deleted", about(row))
    tampered = await stripe_http.post(
        "/stripe/webhook", content=body.replace(b'"active"', b'"canceled"'), headers=headers
    )
    assert tampered.status_code == 400
    unsigned = await stripe_http.post("/stripe/webhook", content=body)
    assert unsigned.status_code == 400
    assert (await stored(stripe_db, firms)).status is PlanStatus.ACTIVE
    assert await event_count(stripe_db) == 0


async def test_a_signature_older_than_five_minutes_is_refused(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    stale = await deliver(
        stripe_http,
        "customer.subscription.updated",
        about(row),
        at=clock.now() - timedelta(minutes=5, seconds=5),
    )
    assert stale.status_code == 400
    recent = await deliver(
        stripe_http,
        "customer.subscription.updated",
        about(row),
        at=clock.now() - timedelta(minutes=4),
    )
    assert recent.status_code == 200
    assert await event_count(stripe_db) == 1


async def test_unknown_customers_and_event_types_are_acknowledged_and_ignored(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    stranger = {"id": "sub_x", "object": "subscription", "customer": "cus_nobody"}
    response = await deliver(stripe_http, "customer.subscription.updated", stranger)
    assert response.status_code == 200
    other = await deliver(stripe_http, "charge.dispute.created", {"id": "dp_x"})
    assert other.json() == {"received": "ignored"}
    async with scoped(stripe_db, firms.a.tenant) as db:
        assert await db.scalar(select(func.count()).select_from(Subscription)) == 0


async def test_secrets_stay_out_of_reprs_and_logs(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    settings = stripe_db.settings
    assert SECRET_KEY not in repr(settings) and WEBHOOK_SECRET not in repr(settings)
    async with open_gateway(settings) as gateway:
        assert SECRET_KEY not in repr(gateway)
    with structlog.testing.capture_logs() as logs:
        row = await subscribe(stripe_db, firms, localstripe)
        await deliver(stripe_http, "customer.subscription.updated", about(row))
        await deliver(stripe_http, "customer.subscription.updated", about(row), secret="whsec_x")
    assert logs and SECRET_KEY not in repr(logs) and WEBHOOK_SECRET not in repr(logs)


async def test_without_stripe_keys_there_is_no_webhook(client: Client, firms: Firms) -> None:
    body, headers = signed_event("customer.subscription.updated", {"customer": "cus_x"})
    response = await client.client.post("/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 404


async def test_the_webhook_alone_is_exempt_from_csrf(
    stripe_db: Backend, firms: Firms, stripe_http: httpx.AsyncClient
) -> None:
    refused = await stripe_http.post("/login", data={"email": "x@y.example", "password": "x"})
    assert refused.status_code == 403


async def test_a_customer_event_is_recorded_for_its_firm(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_http: httpx.AsyncClient
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    customer = {"id": row.customer_id, "object": "customer"}
    response = await deliver(stripe_http, "customer.updated", customer)
    assert response.status_code == 200
    async with stripe_db.owner.connect() as conn:
        recorded = (await conn.execute(select(StripeEvent.tenant_id))).scalars().all()
    assert recorded == [firms.a.tenant.id]
