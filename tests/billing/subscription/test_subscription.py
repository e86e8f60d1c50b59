"""The owner's subscription against localstripe: trial, subscribing, seats, cards, cancelling."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from litestar import Litestar
from sqlalchemy import select

from luotsi.billing.subscription import service
from luotsi.billing.subscription.models import PlanStatus, Subscription, SubscriptionPayment
from luotsi.billing.subscription.state import plan_state
from luotsi.billing.subscription.sync import SEATS_KIND, sync_seats
from luotsi.platform.db import make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.mail import Mailer
from luotsi.platform.outbox import OutboxMessage, run_once
from luotsi.platform.tenancy import Membership, Role
from tests.billing.subscription.stripe_side import FAILING_CARD, LocalStripe
from tests.conftest import Backend, Client, scoped
from tests.factories import Firms, add_member, make_user


async def subscribe(backend: Backend, firms: Firms, localstripe: LocalStripe) -> Subscription:
    async with scoped(backend, firms.a.tenant) as db:
        row = await service.start_subscription(
            db, firms.a.owner, backend.settings, "month", await localstripe.card()
        )
        await db.commit()
    return row


async def stored(backend: Backend, firms: Firms) -> Subscription:
    async with scoped(backend, firms.a.tenant) as db:
        row = await db.get(Subscription, firms.a.tenant.id)
    assert row is not None
    return row


async def deliver_outbox(backend: Backend) -> int:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        return await run_once(make_sessionmaker(engine), Mailer(backend.settings))
    finally:
        await engine.dispose()


def test_luotsi_runs_the_trial_then_the_workspace_turns_read_only_after_grace(
    stripe_db: Backend, firms: Firms
) -> None:
    settings, tenant = stripe_db.settings, firms.a.tenant
    ends = tenant.created_at + timedelta(days=settings.plans.trial_days)
    grace = timedelta(days=settings.plans.grace_days)

    during = plan_state(settings, tenant, None, ends - timedelta(seconds=1))
    assert during.status is PlanStatus.TRIALING
    assert during.trial_ends_at == ends
    assert not during.is_read_only(ends - timedelta(seconds=1))

    after = plan_state(settings, tenant, None, ends)
    assert after.status is PlanStatus.CANCELED
    assert not after.is_read_only(ends + grace - timedelta(seconds=1))
    assert after.is_read_only(ends + grace)


async def test_owner_subscribes_a_seat_for_each_active_supervisor(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)

    # Firm A has two supervisors (its own and the person who belongs to both firms).
    assert (row.status, row.seats, row.seat_cents) == (PlanStatus.ACTIVE, 2, 2900)
    assert row.card_last4 == "4242"
    customer = await localstripe.get(f"/v1/customers/{row.customer_id}")
    assert customer["metadata"]["tenant_id"] == str(firms.a.tenant.id)
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert (at_stripe["status"], at_stripe["quantity"]) == ("active", 2)
    async with scoped(stripe_db, firms.a.tenant) as db:
        payments = list(await db.scalars(select(SubscriptionPayment)))
    assert [(p.amount_cents, p.status) for p in payments] == [(5800, "paid")]
    state = plan_state(stripe_db.settings, firms.a.tenant, await stored(stripe_db, firms))
    assert state.status is PlanStatus.ACTIVE and not state.is_read_only()
    async with scoped(stripe_db, firms.b.tenant) as db:
        assert list(await db.scalars(select(SubscriptionPayment))) == []


@pytest.mark.parametrize("role", ["admin", "supervisor"])
async def test_only_the_owner_manages_the_subscription(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, role: str
) -> None:
    actor = firms.a.admin if role == "admin" else firms.a.supervisor
    async with scoped(stripe_db, firms.a.tenant) as db:
        with pytest.raises(Forbidden):
            await service.start_subscription(
                db, actor, stripe_db.settings, "month", await localstripe.card()
            )


async def test_a_declined_card_is_a_form_error_and_subscribes_nothing(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    async with scoped(stripe_db, firms.a.tenant) as db:
        with pytest.raises(Invalid) as refused:
            await service.start_subscription(
                db, firms.a.owner, stripe_db.settings, "month", await localstripe.card(FAILING_CARD)
            )
        assert set(refused.value.errors) == {"card"}
    async with scoped(stripe_db, firms.a.tenant) as db:
        with pytest.raises(Invalid) as unknown:
            await service.start_subscription(db, firms.a.owner, stripe_db.settings, "weekly", "pm")
        assert set(unknown.value.errors) == {"interval"}


async def test_seats_follow_supervisors_joining_and_leaving_through_the_outbox(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    newcomer = await make_user(stripe_db.owner, "uusi@alfa.example", "Uusi Ohjaaja")
    joined = await add_member(stripe_db.owner, firms.a.tenant, newcomer, Role.SUPERVISOR)
    async with scoped(stripe_db, firms.a.tenant) as db:
        await sync_seats(db, firms.a.tenant.id)
        await db.commit()
    # Nothing has reached Stripe yet: the change waits in the outbox.
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["quantity"] == 2

    assert await deliver_outbox(stripe_db) == 1
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["quantity"] == 3
    assert (await stored(stripe_db, firms)).seats == 3

    async with scoped(stripe_db, firms.a.tenant) as db:
        leaving = await db.get(Membership, (firms.a.tenant.id, joined.id))
        assert leaving is not None
        leaving.deactivate()
        await sync_seats(db, firms.a.tenant.id)
        await sync_seats(db, firms.a.tenant.id)  # queued twice: both end in the same count
        await db.commit()
    assert await deliver_outbox(stripe_db) == 2
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["quantity"] == 2
    assert (await stored(stripe_db, firms)).seats == 2


async def test_no_seat_change_is_queued_without_a_subscription(
    stripe_db: Backend, firms: Firms
) -> None:
    async with scoped(stripe_db, firms.a.tenant) as db:
        await sync_seats(db, firms.a.tenant.id)
        await db.commit()
    async with stripe_db.owner.connect() as conn:
        kinds = (await conn.execute(select(OutboxMessage.kind))).scalars().all()
    assert SEATS_KIND not in kinds


async def test_cancel_at_period_end_then_resume(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    async with scoped(stripe_db, firms.a.tenant) as db:
        cancelled = await service.cancel_at_period_end(db, firms.a.owner, stripe_db.settings)
        await db.commit()
    assert cancelled.cancel_at_period_end and cancelled.status is PlanStatus.ACTIVE
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["cancel_at_period_end"] is True

    async with scoped(stripe_db, firms.a.tenant) as db:
        resumed = await service.resume(db, firms.a.owner, stripe_db.settings)
        await db.commit()
    assert not resumed.cancel_at_period_end
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["cancel_at_period_end"] is False


async def test_a_second_subscription_is_refused_while_one_runs(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    await subscribe(stripe_db, firms, localstripe)
    async with scoped(stripe_db, firms.a.tenant) as db:
        with pytest.raises(Invalid) as refused:
            await service.start_subscription(db, firms.a.owner, stripe_db.settings, "year")
    assert set(refused.value.errors) == {"subscription"}


async def test_switching_to_yearly_bills_the_year_less_the_unused_month(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe
) -> None:
    await subscribe(stripe_db, firms, localstripe)
    async with scoped(stripe_db, firms.a.tenant) as db:
        row = await service.change_interval(db, firms.a.owner, stripe_db.settings, "year")
        await db.commit()
    assert (row.interval.value, row.seat_cents, row.status) == ("year", 29000, PlanStatus.ACTIVE)
    async with scoped(stripe_db, firms.a.tenant) as db:
        amounts = sorted(p.amount_cents for p in await db.scalars(select(SubscriptionPayment)))
    assert amounts == [5800, 2 * 29000 - 5800]  # Stripe's proration of the paid month


async def test_without_stripe_keys_every_firm_is_unlimited(backend: Backend, firms: Firms) -> None:
    settings = replace(backend.settings, stripe_secret_key="")
    state = plan_state(settings, firms.a.tenant, None)
    assert state.status is PlanStatus.UNLIMITED
    assert not state.is_read_only(firms.a.tenant.created_at + timedelta(days=3650))
    async with scoped(backend, firms.a.tenant) as db:
        with pytest.raises(NotFound):
            await service.start_subscription(db, firms.a.owner, settings, "month", "pm_x")


async def test_a_supervisor_made_admin_on_the_members_page_gives_up_a_seat(
    stripe_db: Backend, firms: Firms, localstripe: LocalStripe, stripe_app: Litestar
) -> None:
    row = await subscribe(stripe_db, firms, localstripe)
    owner = Client(stripe_app)
    await owner.login(f"owner@{firms.a.slug}.example")
    response = await owner.post(
        f"/t/{firms.a.slug}/members/{firms.a.supervisor.id}/role", {"role": "admin"}
    )
    assert response.status_code == 303, response.text

    assert await deliver_outbox(stripe_db) == 1
    at_stripe = await localstripe.get(f"/v1/subscriptions/{row.stripe_subscription_id}")
    assert at_stripe["quantity"] == 1
