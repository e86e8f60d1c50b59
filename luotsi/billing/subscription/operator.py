"""The platform operator's list of firms: each firm's plan, seats and monthly revenue.

The one place that reads plans across firms. It reads the global tables ``tenants`` and
``subscriptions`` only (names, slugs, ids, states and counts: no content), in the request's
session, which is scoped to no tenant: a tenant table named here would fail closed
(``TenantNotSet``), and on PostgreSQL row-level security would show it no rows besides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.subscription.models import PlanInterval, PlanStatus, Subscription
from luotsi.billing.subscription.state import PlanState, plan_state
from luotsi.platform import clock
from luotsi.platform.paging import Page
from luotsi.platform.search import contains, search_words
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Tenant

# Statuses whose subscriptions bring revenue: a failed payment is still being retried.
PAYING = (PlanStatus.ACTIVE, PlanStatus.PAST_DUE)


def monthly_revenue_cents() -> ColumnElement[int]:
    """A subscription's monthly recurring revenue in cents, in SQL: seats times the seat
    price, a yearly price divided by twelve (halves up); nothing unless it is paying."""
    per_interval = Subscription.seats * Subscription.seat_cents
    return case(
        (
            and_(
                Subscription.stripe_subscription_id.is_not(None),
                Subscription.status.in_(PAYING),
            ),
            case(
                (Subscription.interval == PlanInterval.YEAR, (per_interval + 6) // 12),
                else_=per_interval,
            ),
        ),
        else_=0,
    )


@dataclass(frozen=True)
class FirmPlan:
    """One line of the operator's list."""

    name: str
    slug: str
    created_at: datetime
    plan: PlanState
    seats: int | None  # None: no paid subscription (a trial, or Stripe is off)
    interval: PlanInterval | None
    mrr_cents: int


@dataclass(frozen=True)
class FirmPlans:
    page: Page[FirmPlan]
    total_mrr_cents: int  # of every firm, whatever the search


async def firm_plans_all_tenants(
    db: AsyncSession, settings: Settings, *, search: str = "", page: int = 1, per_page: int = 50
) -> FirmPlans:
    """A page of every firm (by name, or those whose name or slug has each word of
    ``search``) with its plan as its workspace sees it, and the total monthly revenue.

    Three statements whatever the number of firms. Without Stripe keys every firm is on the
    unlimited plan and there is no revenue.
    """
    conditions = [
        or_(
            contains(Tenant.name, word),
            contains(Tenant.slug, word),
        )
        for word in search_words(search)
    ]
    total = int(await db.scalar(select(func.count()).select_from(Tenant).where(*conditions)) or 0)
    number = max(1, min(page, Page.last_page(total, per_page)))
    rows = await db.execute(
        select(Tenant, Subscription, monthly_revenue_cents())
        .outerjoin(Subscription, Subscription.tenant_id == Tenant.id)
        .where(*conditions)
        .order_by(func.lower(Tenant.name), Tenant.slug)
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    now = clock.now()
    enabled = settings.subscriptions_enabled
    items = []
    for tenant, subscription, mrr in rows.tuples():
        paid = (
            subscription
            if enabled and subscription and subscription.stripe_subscription_id
            else None
        )
        items.append(
            FirmPlan(
                name=tenant.name,
                slug=tenant.slug,
                created_at=tenant.created_at,
                plan=plan_state(settings, tenant, subscription, now),
                seats=paid.seats if paid else None,
                interval=paid.interval if paid else None,
                mrr_cents=int(mrr or 0) if enabled else 0,
            )
        )
    total_mrr = 0
    if enabled:
        total_mrr = int(
            await db.scalar(
                select(func.coalesce(func.sum(monthly_revenue_cents()), 0)).select_from(
                    Subscription
                )
            )
            or 0
        )
    return FirmPlans(Page(items, number, per_page, total), total_mrr)
