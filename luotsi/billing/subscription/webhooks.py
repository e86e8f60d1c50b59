"""Stripe's webhook events: each processed once, in any order.

A handler is registered per event type with :func:`handles` (the subscription's events here;
card payments of client invoices register their own). :func:`handle_event` records the event's
id in ``stripe_events`` in the transaction of its effect: a duplicate finds the id and does
nothing, and two deliveries at the same moment collide on the primary key, so one of them rolls
back. Handlers fetch the current state from Stripe rather than trusting the event's payload, so
an old event delivered late cannot undo a newer one.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.billing.subscription.gateway import WebhookEvent
from luotsi.billing.subscription.models import StripeEvent
from luotsi.billing.subscription.sync import refresh_from_stripe, tenant_of_customer_all_tenants
from luotsi.platform.db import unscoped_session
from luotsi.platform.settings import Settings

log = structlog.get_logger(__name__)

# A handler gets an unscoped session (it scopes it to the firm it finds), the settings and
# the verified event; it returns the firm the event concerned, or None if none of ours.
EventHandler = Callable[[AsyncSession, Settings, WebhookEvent], Awaitable[uuid.UUID | None]]
EVENT_HANDLERS: dict[str, EventHandler] = {}


class Outcome(enum.StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


def handles(*event_types: str) -> Callable[[EventHandler], EventHandler]:
    """Register ``handler`` for Stripe events of ``event_types`` (one handler per type)."""

    def register(handler: EventHandler) -> EventHandler:
        for event_type in event_types:
            if event_type in EVENT_HANDLERS:
                raise ValueError(f"a handler for {event_type} exists")
            EVENT_HANDLERS[event_type] = handler
        return handler

    return register


async def handle_event(
    maker: async_sessionmaker[AsyncSession], settings: Settings, event: WebhookEvent
) -> Outcome:
    """Process a verified event once; events nobody handles are ignored (and logged)."""
    handler = EVENT_HANDLERS.get(event.type)
    if handler is None:
        log.info("stripe.event.ignored", event_id=event.id, type=event.type)
        return Outcome.IGNORED
    try:
        async with unscoped_session(maker) as db, db.begin():
            if await db.get(StripeEvent, event.id) is not None:
                return Outcome.DUPLICATE
            record = StripeEvent(id=event.id, type=event.type)
            db.add(record)
            await db.flush()  # a delivery running at the same time waits here, then fails
            record.tenant_id = await handler(db, settings, event)
    except IntegrityError:
        return Outcome.DUPLICATE
    log.info("stripe.event", event_id=event.id, type=event.type, tenant_id=str(record.tenant_id))
    return Outcome.PROCESSED


SUBSCRIPTION_EVENTS = (
    "customer.updated",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
)


@handles(*SUBSCRIPTION_EVENTS)
async def refresh_subscription(
    db: AsyncSession, settings: Settings, event: WebhookEvent
) -> uuid.UUID | None:
    """Anything about a firm's customer, subscription or invoices: refresh that firm."""
    if event.account is not None or event.customer_id is None:
        return None  # a connected account's event, or none of a customer's
    tenant_id = await tenant_of_customer_all_tenants(db, event.customer_id)
    if tenant_id is None:
        log.info("stripe.event.unknown_customer", event_id=event.id, type=event.type)
        return None
    await refresh_from_stripe(db, settings, tenant_id)
    return tenant_id
