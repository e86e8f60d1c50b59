"""Keeping our copy of the firm's subscription in step with Stripe.

Stripe is the source of truth for the plan: :func:`refresh_from_stripe` fetches the customer's
current subscription, its card and its invoices and writes them to ``subscriptions`` and the
firm's ``subscription_payments``. Webhooks call it whatever their event says, so events may
arrive in any order and twice. Seats follow the firm's active supervisors: :func:`sync_seats`
queues the change in the outbox, in the transaction that changed the members, and the worker
makes the call (:func:`_change_seats`), so a crash in between loses nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.subscription.gateway import (
    StripeGateway,
    StripeInvoice,
    StripeSubscription,
    open_gateway,
)
from luotsi.billing.subscription.models import (
    PlanInterval,
    PlanStatus,
    Subscription,
    SubscriptionPayment,
)
from luotsi.platform.db import scope_to_tenant, tenant_session
from luotsi.platform.outbox import OutboxMessage, Worker, enqueue, outbox_kind
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, active_member

log = structlog.get_logger(__name__)

SEATS_KIND = "stripe.seats"

# Stripe's subscription statuses as the workspace sees them. ``incomplete`` and ``paused``
# wait for a payment as ``past_due`` does; an expired first payment ends the subscription.
STATUSES = {
    "active": PlanStatus.ACTIVE,
    "trialing": PlanStatus.TRIALING,
    "past_due": PlanStatus.PAST_DUE,
    "unpaid": PlanStatus.PAST_DUE,
    "incomplete": PlanStatus.PAST_DUE,
    "paused": PlanStatus.PAST_DUE,
    "canceled": PlanStatus.CANCELED,
    "incomplete_expired": PlanStatus.CANCELED,
}


def is_live(subscription: Subscription | None) -> bool:
    """The firm has a Stripe subscription that has not ended."""
    return (
        subscription is not None
        and subscription.stripe_subscription_id is not None
        and subscription.status is not PlanStatus.CANCELED
    )


async def seats_needed(db: AsyncSession) -> int:
    """The seats the session's firm pays for: its active supervisors, at least one."""
    count = await db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.role == Role.SUPERVISOR, active_member())
    )
    return max(1, int(count or 0))


async def tenant_of_customer_all_tenants(db: AsyncSession, customer_id: str) -> uuid.UUID | None:
    """The firm whose Stripe customer ``customer_id`` is (read across firms, for webhooks)."""
    return await db.scalar(
        select(Subscription.tenant_id).where(Subscription.customer_id == customer_id)
    )


def apply_subscription(row: Subscription, current: StripeSubscription) -> None:
    """Write Stripe's view of the subscription onto our row."""
    row.stripe_subscription_id = current.id
    row.status = STATUSES.get(current.status, PlanStatus.PAST_DUE)
    if current.interval in {i.value for i in PlanInterval}:
        row.interval = PlanInterval(current.interval)
    row.seats = current.seats
    row.seat_cents = current.seat_cents
    row.current_period_end = current.current_period_end
    row.cancel_at_period_end = current.cancel_at_period_end
    row.canceled_at = current.ended_at


async def refresh(db: AsyncSession, gateway: StripeGateway, row: Subscription) -> Subscription:
    """Fetch the customer's current subscription, card and invoices; write them.

    ``db`` is scoped to the row's firm (the payments are the firm's rows).
    """
    assert row.customer_id is not None
    current = await gateway.current_subscription(row.customer_id)
    if current is not None:
        apply_subscription(row, current)
    card = await gateway.default_card(row.customer_id)
    row.card_brand = card.brand if card else ""
    row.card_last4 = card.last4 if card else ""
    await _store_payments(db, await gateway.list_invoices(row.customer_id))
    await db.flush()
    return row


async def _store_payments(db: AsyncSession, invoices: list[StripeInvoice]) -> None:
    charged = [invoice for invoice in invoices if invoice.status != "draft"]
    if not charged:
        return
    known = {
        payment.stripe_invoice_id: payment
        for payment in await db.scalars(
            select(SubscriptionPayment).where(
                SubscriptionPayment.stripe_invoice_id.in_([i.id for i in charged])
            )
        )
    }
    for invoice in charged:
        payment = known.get(invoice.id)
        if payment is None:
            payment = SubscriptionPayment(stripe_invoice_id=invoice.id)
            if invoice.created_at is not None:
                payment.created_at = invoice.created_at
            db.add(payment)
        payment.amount_cents = invoice.amount_cents
        payment.currency = invoice.currency
        payment.status = invoice.status
        payment.period_start = invoice.period_start
        payment.period_end = invoice.period_end
        payment.paid_at = invoice.paid_at


async def refresh_from_stripe(
    db: AsyncSession, settings: Settings, tenant_id: uuid.UUID
) -> Subscription | None:
    """Bring the firm's subscription and payments up to date with Stripe.

    ``db`` may be unscoped (a webhook): it is scoped to the firm here before the payments are
    written. A firm Stripe does not know yet is left alone (None).
    """
    await scope_to_tenant(db, tenant_id)
    row = await db.get(Subscription, tenant_id)
    if row is None or row.customer_id is None:
        return row
    async with open_gateway(settings) as gateway:
        return await refresh(db, gateway, row)


async def sync_seats(db: AsyncSession, tenant_id: uuid.UUID) -> None:
    """The firm's supervisors changed: queue the seat count's change at Stripe.

    Called in the transaction that changed the memberships; nothing is queued for a firm
    without a running subscription. The worker counts the seats when it makes the call, so
    changes queued together end in the latest count, in whatever order they are delivered.
    """
    if is_live(await db.get(Subscription, tenant_id)):
        enqueue(db, SEATS_KIND, {"tenant_id": str(tenant_id)}, tenant_id=tenant_id)


@outbox_kind(SEATS_KIND)
async def _change_seats(row: OutboxMessage, worker: Worker) -> dict[str, Any] | None:
    """Deliver a queued seat change: the seat count now, keyed by this row and that count."""
    if row.tenant_id is None or not worker.settings.subscriptions_enabled:
        return None
    async with tenant_session(worker.maker, row.tenant_id) as db:
        subscription = await db.get(Subscription, row.tenant_id)
        if not is_live(subscription):
            return None
        assert subscription is not None and subscription.stripe_subscription_id is not None
        seats = await seats_needed(db)
        async with open_gateway(worker.settings) as gateway:
            await gateway.change_seats(
                subscription.stripe_subscription_id, seats, key=f"seats-{row.id}-{seats}"
            )
            await refresh(db, gateway, subscription)
    log.info("subscription.seats", tenant_id=str(row.tenant_id), seats=seats)
    return {**row.payload, "seats": seats}
