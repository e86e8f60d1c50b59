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
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.subscription.gateway import (
    CardDeclined,
    GatewayError,
    StripeGateway,
    open_gateway,
)
from luotsi.billing.subscription.models import (
    PlanInterval,
    PlanStatus,
    Subscription,
    SubscriptionPayment,
)
from luotsi.billing.subscription.state import PlanState, plan_state
from luotsi.billing.subscription.sync import apply_subscription, is_live, refresh, seats_needed
from luotsi.platform import clock, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.paging import Page, paginate
from luotsi.platform.settings import Plans, Settings
from luotsi.platform.tenancy import Membership, Tenant

# Stripe's statuses of an invoice, as the owner's list of payments names them.
PAYMENT_STATUSES = {
    "paid": N_("Paid"),
    "open": N_("Unpaid"),
    "void": N_("Voided"),
    "uncollectible": N_("Not collected"),
}


# Where Stripe's hosted pages live: the owner's forms lead there through a redirect.
HOSTED_PAGE_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")


def uses_hosted_pages(settings: Settings) -> bool:
    """Whether the card is entered on Stripe's own pages (Checkout, the customer portal).

    So in production, where Stripe handles what a card may ask for (3-D Secure). With
    ``stripe_api_base`` set, Luotsi talks to a stand-in (localstripe) that has no hosted pages:
    the owner's page then takes the card with Stripe.js itself (the direct path).
    """
    return not settings.stripe_api_base


def stripe_js_url(settings: Settings) -> str:
    """Where the direct path's page loads Stripe.js (the stand-in serves its own)."""
    return f"{settings.stripe_api_base.rstrip('/')}/js.stripe.com/v3/"


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


@dataclass(frozen=True)
class Overview:
    """What the owner's subscription page shows."""

    subscription: Subscription | None
    plan: PlanState
    plans: Plans
    supervisors: int  # the seats the firm pays for, or would
    payments: Page[SubscriptionPayment]
    # Luotsi's own trial: whole days left, counted in Finnish dates.
    trial_days_left: int | None
    # A running subscription: when the workspace turns read-only if it ends with the period.
    read_only_if_ended: datetime | None

    @property
    def is_live(self) -> bool:
        return is_live(self.subscription)

    @property
    def card_on_file(self) -> bool:
        return self.subscription is not None and bool(self.subscription.card_last4)


async def overview(
    db: AsyncSession, actor: Membership, settings: Settings, page: int, per_page: int
) -> Overview:
    """The firm's plan, seats, card and past payments (``page`` of them, newest first), as
    stored: nothing is asked of Stripe."""
    _check(actor, settings)
    tenant = await db.get(Tenant, actor.tenant_id)
    if tenant is None:
        raise NotFound("tenant")
    row = await subscription_of(db, actor.tenant_id)
    plan = plan_state(settings, tenant, row)
    days_left = None
    if plan.status is PlanStatus.TRIALING and plan.trial_ends_at is not None:
        days_left = max(0, (clock.today(plan.trial_ends_at) - clock.today()).days)
    read_only_if_ended = None
    if is_live(row) and row is not None and row.current_period_end is not None:
        read_only_if_ended = row.current_period_end + timedelta(days=settings.plans.grace_days)
    payments = await paginate(
        db,
        SubscriptionPayment,
        [],
        [SubscriptionPayment.created_at.desc(), SubscriptionPayment.id],
        page,
        per_page,
    )
    return Overview(
        subscription=row,
        plan=plan,
        plans=settings.plans,
        supervisors=await seats_needed(db),
        payments=payments,
        trial_days_left=days_left,
        read_only_if_ended=read_only_if_ended,
    )


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


async def card_setup(db: AsyncSession, actor: Membership, settings: Settings) -> str:
    """The direct path: the client secret with which Stripe.js makes a PaymentMethod of the
    card the owner types (the card's details go from the browser to Stripe only)."""
    _check(actor, settings)
    if uses_hosted_pages(settings):
        raise NotFound("card setup")
    row = await _own_row(db, actor)
    async with _stripe(settings) as gateway:
        customer_id = await _ensure_customer(db, gateway, actor, row)
        return await gateway.create_setup_intent(customer_id)


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


def may_remove_card(row: Subscription | None) -> bool:
    """A card can go when nothing will be charged to it: no running subscription, or one that
    ends with its paid period."""
    if row is None or not row.card_last4:
        return False
    return not is_live(row) or row.cancel_at_period_end


async def remove_card(db: AsyncSession, actor: Membership, settings: Settings) -> Subscription:
    """Remove the card on file (the direct path; in production the customer portal does it).

    Refused while a running subscription would be charged to it: the owner cancels first, or
    enters another card instead.
    """
    _check(actor, settings)
    row = await db.get(Subscription, actor.tenant_id)
    if row is None or row.customer_id is None or not row.card_last4:
        raise NotFound("card")
    if not may_remove_card(row):
        raise Invalid.field(
            "card",
            _(
                "The subscription is charged to this card. Cancel the subscription first, "
                "or enter another card."
            ),
        )
    async with _stripe(settings) as gateway:
        await gateway.remove_card(row.customer_id, key=_operation(row, "remove-card"))
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
    if not cancel and not row.card_last4:
        raise Invalid.field("card", _("Enter a card first: the subscription is charged to it."))
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
