"""The firm's subscription to Luotsi and its link to Stripe.

``subscriptions`` is a global table (no row-level security, no content): one row per firm that
Stripe knows, mapping Stripe's customer and connected-account ids to the tenant, and holding the
plan's state as Stripe last reported it. Webhooks read it *before* they know the tenant, the
workspace reads the plan status from it, and the platform operator's list reads it across firms.
What the firm paid Luotsi (``subscription_payments``) and the Stripe events seen
(``stripe_events``, unique by Stripe's event id) complete the picture; the payments are the
firm's own rows, under row-level security like every firm table.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum


class PlanStatus(LabelledEnum):
    """Where the firm stands with Luotsi; Stripe's statuses map onto these."""

    UNLIMITED = "unlimited", N_("Unlimited")  # Stripe is off (the embedded default)
    TRIALING = "trialing", N_("Trial")
    ACTIVE = "active", N_("Active")
    PAST_DUE = "past_due", N_("Payment overdue")
    CANCELED = "canceled", N_("Canceled")
    # Given by Luotsi support (a plan override): unlimited, nothing charged, whatever Stripe says.
    COMPLIMENTARY = "complimentary", N_("Complimentary")


class PlanOverride(LabelledEnum):
    """A plan Luotsi support gives a firm over what Stripe says (``plan_override``)."""

    COMPLIMENTARY = "complimentary", N_("Complimentary (unlimited, nothing charged)")


class PlanInterval(LabelledEnum):
    MONTH = "month", N_("Monthly")
    YEAR = "year", N_("Yearly")


class Subscription(Base):
    """The firm's account at Stripe and its plan. Global table: ids and states, no content."""

    __tablename__ = "subscriptions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    # Luotsi's customer for the firm (its subscription), and the firm's own Stripe account
    # (Connect, standard) through which its clients pay invoices by card.
    customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    connected_account_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    connect_charges_enabled: Mapped[bool] = mapped_column(default=False)

    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.TRIALING)
    interval: Mapped[PlanInterval] = mapped_column(
        str_enum(PlanInterval), default=PlanInterval.MONTH
    )
    seats: Mapped[int] = mapped_column(default=0)
    seat_cents: Mapped[int] = mapped_column(default=0)  # per seat and interval, VAT excluded
    trial_ends_at: Mapped[datetime | None]
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None]
    card_brand: Mapped[str] = mapped_column(String(20), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    # Set by Luotsi support (the platform console); None: the plan is what Stripe says.
    plan_override: Mapped[PlanOverride | None] = mapped_column(str_enum(PlanOverride))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SubscriptionPayment(TenantScoped, Base):
    """A Stripe invoice of the firm's subscription: what was charged, and whether it was paid."""

    __tablename__ = "subscription_payments"
    __table_args__ = (UniqueConstraint("tenant_id", "stripe_invoice_id"),)

    stripe_invoice_id: Mapped[str] = mapped_column(String(255))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="eur")
    status: Mapped[str] = mapped_column(String(20))  # Stripe's: paid, open, void, uncollectible
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    paid_at: Mapped[datetime | None]


class StripeEvent(Base):
    """A Stripe event processed once: a retry or a duplicate finds its id here."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
