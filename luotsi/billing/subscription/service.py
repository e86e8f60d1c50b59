"""What the owner does with the firm's subscription to Luotsi.

The direct path (a card from Stripe.js, then Customer, PaymentMethod and Subscription through
the API) runs everywhere, localstripe included; production may send the owner to Stripe's
Checkout and customer portal instead (:func:`checkout_url`, :func:`portal_url`). Every
function takes the acting owner; Stripe's answer is written to our row before it returns.

Idempotency keys name the firm, the operation and the state of our row the owner acted on
(:func:`_operation`): a double submit repeats the key and Stripe does the thing once, a new
action after the state changed gets a new key.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.subscription.gateway import (
    CardDeclined,
    GatewayError,
    StripeGateway,
    open_gateway,
)
from luotsi.billing.subscription.models import PlanInterval, PlanStatus, Subscription
from luotsi.billing.subscription.sync import apply_subscription, is_live, refresh, seats_needed
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Tenant


def _check(actor: Membership, settings: Settings) -> None:
    permissions.require(permissions.can_manage_subscription(actor), "subscription")
    if not settings.subscriptions_enabled:
        raise NotFound("subscription")


def parse_interval(value: str) -> PlanInterval:
    try:
        return PlanInterval(value)
    except ValueError:
        raise Invalid.field("interval", _("Choose monthly or yearly billing.")) from None


async def subscription_of(db: AsyncSession, tenant_id: uuid.UUID) -> Subscription | None:
    """The firm's subscription row (None until the owner first subscribes)."""
    return await db.get(Subscription, tenant_id)


async def _own_row(db: AsyncSession, actor: Membership) -> Subscription:
    row = await db.get(Subscription, actor.tenant_id)
    if row is None:
        row = Subscription(tenant_id=actor.tenant_id, status=PlanStatus.TRIALING)
        db.add(row)
        await db.flush()
    return row


def _operation(row: Subscription, name: str) -> str:
    """The idempotency key of one owner action on the row as it stands."""
    return f"{row.tenant_id}-{name}-{row.updated_at.timestamp():.6f}"


@asynccontextmanager
async def _stripe(settings: Settings) -> AsyncIterator[StripeGateway]:
    """A gateway whose refusals become form errors (a declined card, Stripe unreachable)."""
    try:
        async with open_gateway(settings) as gateway:
            yield gateway
    except CardDeclined:
        raise Invalid.field("card", _("The card was declined. Try another card.")) from None
    except GatewayError:
        raise Invalid.field(
            "subscription", _("Stripe could not be reached. Try again in a moment.")
        ) from None


async def _ensure_customer(
    db: AsyncSession, gateway: StripeGateway, actor: Membership, row: Subscription
) -> str:
    if row.customer_id is None:
        tenant = await db.get(Tenant, actor.tenant_id)
        email = await db.scalar(select(User.email).where(User.id == actor.user_id))
        if tenant is None or email is None:
            raise NotFound("tenant")
        # One customer per firm, ever: the key is the firm's.
        row.customer_id = await gateway.create_customer(
            str(tenant.id), tenant.name, email, key=f"customer-{tenant.id}"
        )
        await db.flush()
    return row.customer_id


async def start_subscription(
    db: AsyncSession,
    actor: Membership,
    settings: Settings,
    interval: str,
    payment_method_id: str = "",
) -> Subscription:
    """Subscribe the firm (or subscribe it again after a cancellation), paying now.

    ``payment_method_id`` comes from Stripe.js; without one the card on file is charged. The
    seats are the firm's active supervisors (at least one). The trial, Luotsi's own, ends here.
    """
    _check(actor, settings)
    plan = parse_interval(interval)
    row = await _own_row(db, actor)
    if is_live(row):
        raise Invalid.field("subscription", _("The firm already has a subscription."))
    payment_method_id = payment_method_id.strip()
    if not payment_method_id and not row.card_last4:
        raise Invalid.field("card", _("Enter the card details."))
    operation = _operation(row, "subscribe")
    seats = await seats_needed(db)
    async with _stripe(settings) as gateway:
        await gateway.ensure_plans()
        customer_id = await _ensure_customer(db, gateway, actor, row)
        if payment_method_id:
            await gateway.set_default_card(
                customer_id, payment_method_id, key=f"{operation}-card-{payment_method_id}"
            )
        created = await gateway.create_subscription(
            customer_id, plan.value, seats, key=f"{operation}-subscription"
        )
        apply_subscription(row, created)
        return await refresh(db, gateway, row)


async def change_card(
    db: AsyncSession, actor: Membership, settings: Settings, payment_method_id: str
) -> Subscription:
    """Charge another card from now on; a payment that failed is retried on it at once."""
    _check(actor, settings)
    row = await db.get(Subscription, actor.tenant_id)
    if row is None or row.customer_id is None:
        raise NotFound("subscription")
    payment_method_id = payment_method_id.strip()
    if not payment_method_id:
        raise Invalid.field("card", _("Enter the card details."))
    operation = _operation(row, "card")
    async with _stripe(settings) as gateway:
        await gateway.set_default_card(
            row.customer_id, payment_method_id, key=f"{operation}-{payment_method_id}"
        )
        if row.status is PlanStatus.PAST_DUE:
            for invoice in await gateway.list_invoices(row.customer_id):
                if invoice.status == "open":
                    await gateway.pay_invoice(invoice.id, key=f"{operation}-pay-{invoice.id}")
        return await refresh(db, gateway, row)


async def _live_row(db: AsyncSession, actor: Membership, settings: Settings) -> Subscription:
    _check(actor, settings)
    row = await db.get(Subscription, actor.tenant_id)
    if row is None or not is_live(row):
        raise NotFound("subscription")
    return row


async def change_interval(
    db: AsyncSession, actor: Membership, settings: Settings, interval: str
) -> Subscription:
    """Move to monthly or yearly billing; Stripe charges the new period at once, less what is
    left of the old one."""
    row = await _live_row(db, actor, settings)
    plan = parse_interval(interval)
    if plan is row.interval:
        return row
    assert row.stripe_subscription_id is not None
    operation = _operation(row, f"interval-{plan.value}")
    async with _stripe(settings) as gateway:
        await gateway.ensure_plans()
        await gateway.change_interval(
            row.stripe_subscription_id, plan.value, await seats_needed(db), key=operation
        )
        return await refresh(db, gateway, row)


async def cancel_at_period_end(
    db: AsyncSession, actor: Membership, settings: Settings
) -> Subscription:
    """Cancel: the firm keeps its plan until the paid period ends, then Stripe ends it."""
    return await _set_cancel(db, actor, settings, cancel=True)


async def resume(db: AsyncSession, actor: Membership, settings: Settings) -> Subscription:
    """Take back a cancellation that waits for the period's end."""
    return await _set_cancel(db, actor, settings, cancel=False)


async def _set_cancel(
    db: AsyncSession, actor: Membership, settings: Settings, *, cancel: bool
) -> Subscription:
    row = await _live_row(db, actor, settings)
    assert row.stripe_subscription_id is not None
    if row.cancel_at_period_end is cancel:
        return row
    operation = _operation(row, "cancel" if cancel else "resume")
    async with _stripe(settings) as gateway:
        await gateway.cancel_at_period_end(row.stripe_subscription_id, cancel, key=operation)
        return await refresh(db, gateway, row)


async def checkout_url(
    db: AsyncSession,
    actor: Membership,
    settings: Settings,
    interval: str,
    success_url: str,
    cancel_url: str,
) -> str:
    """Production: the address of a Stripe Checkout page that subscribes the firm.

    The subscription it makes reaches us by webhook (:func:`refresh_from_stripe` finds it).
    """
    _check(actor, settings)
    plan = parse_interval(interval)
    row = await _own_row(db, actor)
    if is_live(row):
        raise Invalid.field("subscription", _("The firm already has a subscription."))
    operation = _operation(row, "checkout")
    async with _stripe(settings) as gateway:
        await gateway.ensure_plans()
        customer_id = await _ensure_customer(db, gateway, actor, row)
        return await gateway.create_checkout_session(
            customer_id, plan.value, await seats_needed(db), success_url, cancel_url, operation
        )


async def portal_url(
    db: AsyncSession, actor: Membership, settings: Settings, return_url: str
) -> str:
    """Production: the address of Stripe's customer portal for the firm (cards, receipts)."""
    _check(actor, settings)
    row = await db.get(Subscription, actor.tenant_id)
    if row is None or row.customer_id is None:
        raise NotFound("subscription")
    async with _stripe(settings) as gateway:
        return await gateway.create_portal_session(row.customer_id, return_url)
