"""The platform operator's view of firms: plans, usage and billing, and support's plan changes.

Every read here runs in the operator's session (:func:`luotsi.platform.operators.
operator_reading_all_tenants`), which crosses firms read-only. It reads ids, names, states,
dates and counts only: the global ``tenants`` and ``subscriptions``, the firm's own
``subscription_payments``, counts of memberships and sessions, and the owner's name and e-mail
(which billing needs). Never a session's place, a client, or any content.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from luotsi.billing.subscription.models import (
    PlanInterval,
    PlanOverride,
    PlanStatus,
    Subscription,
    SubscriptionPayment,
)
from luotsi.billing.subscription.state import PlanState, plan_state, trial_end
from luotsi.platform import audit, clock
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.operators import (
    OperatorAction,
    check_reason,
    record_support_action,
    support_actions_all_tenants,
    supporting_firm,
)
from luotsi.platform.paging import Page
from luotsi.platform.search import contains, search_words
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Membership, Role, Tenant, TenantStatus
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession

# Statuses whose subscriptions bring revenue: a failed payment is still being retried.
PAYING = (PlanStatus.ACTIVE, PlanStatus.PAST_DUE)
# Sessions that count as use: planned or took place (a cancelled one does not).
USED = (SessionStatus.PLANNED, SessionStatus.HELD, SessionStatus.NO_SHOW)
MAX_TRIAL_EXTENSION_DAYS = 365


def monthly_revenue_cents() -> ColumnElement[int]:
    """A subscription's monthly recurring revenue in cents, in SQL: seats times the seat
    price, a yearly price divided by twelve (halves up); nothing unless it is paying (a
    complimentary plan pays nothing)."""
    per_interval = Subscription.seats * Subscription.seat_cents
    return case(
        (
            and_(
                Subscription.stripe_subscription_id.is_not(None),
                Subscription.status.in_(PAYING),
                Subscription.plan_override.is_(None),
            ),
            case(
                (Subscription.interval == PlanInterval.YEAR, (per_interval + 6) // 12),
                else_=per_interval,
            ),
        ),
        else_=0,
    )


def this_month() -> tuple[datetime, datetime]:
    """The current calendar month in Finland, as UTC instants [start, end)."""
    today = clock.today()
    start = datetime(today.year, today.month, 1, tzinfo=clock.HELSINKI)
    following = (start + timedelta(days=32)).replace(day=1)
    return start.astimezone(UTC), following.astimezone(UTC)


class FirmOrder(enum.StrEnum):
    """The list's sort orders (``-`` first: descending)."""

    NAME = "name"
    SIGNED_UP = "signed_up"
    MEMBERS = "members"
    SESSIONS = "sessions"
    SUPERVISORS = "supervisors"


def parse_order(raw: str | None) -> tuple[FirmOrder, bool]:
    """``?sort=`` as (order, descending); anything unknown sorts by name."""
    raw = raw or ""
    descending = raw.startswith("-")
    try:
        return FirmOrder(raw.lstrip("-")), descending
    except ValueError:
        return FirmOrder.NAME, False


@dataclass(frozen=True)
class FirmUsage:
    members: int = 0  # active memberships, every role
    sessions: int = 0  # this month, not cancelled
    supervisors: int = 0  # who hold those sessions


@dataclass(frozen=True)
class FirmPlan:
    """One line of the operator's list."""

    name: str
    slug: str
    business_id: str
    status: TenantStatus
    created_at: datetime
    plan: PlanState
    seats: int | None  # None: no paid subscription (a trial, or Stripe is off)
    interval: PlanInterval | None
    mrr_cents: int
    usage: FirmUsage


@dataclass(frozen=True)
class FirmPlans:
    page: Page[FirmPlan]
    total_mrr_cents: int  # of every firm, whatever the search
    order: FirmOrder = FirmOrder.NAME
    descending: bool = False


def _usage_subqueries() -> tuple[Select[tuple[uuid.UUID, int]], Select[tuple[uuid.UUID, int, int]]]:
    start, end = this_month()
    members = (
        select(Membership.tenant_id, func.count(Membership.id).label("members"))
        .where(Membership.deactivated_at.is_(None))
        .group_by(Membership.tenant_id)
    )
    sessions = (
        select(
            SupervisionSession.tenant_id,
            func.count(SupervisionSession.id).label("sessions"),
            func.count(func.distinct(SupervisionSession.supervisor_id)).label("supervisors"),
        )
        .where(
            SupervisionSession.starts_at >= start,
            SupervisionSession.starts_at < end,
            SupervisionSession.status.in_(USED),
        )
        .group_by(SupervisionSession.tenant_id)
    )
    return members, sessions


def _paid(settings: Settings, subscription: Subscription | None) -> Subscription | None:
    if not settings.subscriptions_enabled or subscription is None:
        return None
    if subscription.stripe_subscription_id is None or subscription.plan_override is not None:
        return None
    return subscription


async def firm_plans_all_tenants(
    db: AsyncSession,
    settings: Settings,
    *,
    search: str = "",
    order: FirmOrder = FirmOrder.NAME,
    descending: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> FirmPlans:
    """A page of every firm (those whose name, address or business ID has each word of
    ``search``) with its plan as its workspace sees it, its members and this month's use,
    and the total monthly revenue. ``db``: the operator's session.

    Three statements whatever the number of firms. Without Stripe keys every firm is on the
    unlimited plan and there is no revenue.
    """
    conditions = [
        or_(
            contains(Tenant.name, word),
            contains(Tenant.slug, word),
            contains(Tenant.business_id, word),
        )
        for word in search_words(search)
    ]
    total = int(await db.scalar(select(func.count()).select_from(Tenant).where(*conditions)) or 0)
    number = max(1, min(page, Page.last_page(total, per_page)))
    members_q, sessions_q = _usage_subqueries()
    members, sessions = members_q.subquery(), sessions_q.subquery()
    member_count = func.coalesce(members.c.members, 0)
    session_count = func.coalesce(sessions.c.sessions, 0)
    supervisor_count = func.coalesce(sessions.c.supervisors, 0)
    sort: Any = {
        FirmOrder.NAME: func.lower(Tenant.name),
        FirmOrder.SIGNED_UP: Tenant.created_at,
        FirmOrder.MEMBERS: member_count,
        FirmOrder.SESSIONS: session_count,
        FirmOrder.SUPERVISORS: supervisor_count,
    }[order]
    rows = await db.execute(
        select(
            Tenant,
            Subscription,
            monthly_revenue_cents(),
            member_count,
            session_count,
            supervisor_count,
        )
        .outerjoin(Subscription, Subscription.tenant_id == Tenant.id)
        .outerjoin(members, members.c.tenant_id == Tenant.id)
        .outerjoin(sessions, sessions.c.tenant_id == Tenant.id)
        .where(*conditions)
        .order_by(sort.desc() if descending else sort.asc(), func.lower(Tenant.name), Tenant.slug)
        .offset((number - 1) * per_page)
        .limit(per_page)
    )
    now = clock.now()
    enabled = settings.subscriptions_enabled
    items = []
    for tenant, subscription, mrr, n_members, n_sessions, n_supervisors in rows.tuples():
        paid = _paid(settings, subscription)
        items.append(
            FirmPlan(
                name=tenant.name,
                slug=tenant.slug,
                business_id=tenant.business_id,
                status=tenant.status,
                created_at=tenant.created_at,
                plan=plan_state(settings, tenant, subscription, now),
                seats=paid.seats if paid else None,
                interval=paid.interval if paid else None,
                mrr_cents=int(mrr or 0) if enabled else 0,
                usage=FirmUsage(int(n_members), int(n_sessions), int(n_supervisors)),
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
    return FirmPlans(Page(items, number, per_page, total), total_mrr, order, descending)


# --- one firm -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirmContact:
    name: str
    email: str


@dataclass(frozen=True)
class FirmAccount:
    """A firm's page in the console: who to contact, its plan and billing, how it is used."""

    tenant: Tenant
    owners: list[FirmContact]
    plan: PlanState
    subscription: Subscription | None
    paid: Subscription | None  # the subscription when Stripe bills it
    trial_ends_at: datetime | None  # Luotsi's own trial (no paid subscription)
    payments: list[SubscriptionPayment]
    members_by_role: dict[Role, int]
    usage: FirmUsage
    actions: list[OperatorAction]


async def firm_account_all_tenants(db: AsyncSession, settings: Settings, slug: str) -> FirmAccount:
    """The firm ``slug`` as the console shows it (``db``: the operator's session)."""
    tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(slug)
    subscription = await db.scalar(select(Subscription).where(Subscription.tenant_id == tenant.id))
    owners = await db.execute(
        select(User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.tenant_id == tenant.id,
            Membership.role == Role.OWNER,
            Membership.deactivated_at.is_(None),
        )
        .order_by(User.name)
    )
    roles = await db.execute(
        select(Membership.role, func.count(Membership.id))
        .where(Membership.tenant_id == tenant.id, Membership.deactivated_at.is_(None))
        .group_by(Membership.role)
    )
    _members, sessions_q = _usage_subqueries()
    usage = (await db.execute(sessions_q.where(SupervisionSession.tenant_id == tenant.id))).first()
    payments = await db.scalars(
        select(SubscriptionPayment)
        .where(SubscriptionPayment.tenant_id == tenant.id)
        .order_by(SubscriptionPayment.created_at.desc())
        .limit(50)
    )
    by_role = {role: 0 for role in Role}
    by_role.update({Role(role): int(count) for role, count in roles.tuples()})
    paid = _paid(settings, subscription)
    return FirmAccount(
        tenant=tenant,
        owners=[FirmContact(name, email) for name, email in owners.tuples()],
        plan=plan_state(settings, tenant, subscription),
        subscription=subscription,
        paid=paid,
        trial_ends_at=None if paid else trial_end(settings, tenant, subscription),
        payments=list(payments),
        members_by_role=by_role,
        usage=FirmUsage(
            members=sum(by_role.values()),
            sessions=int(usage[1]) if usage else 0,
            supervisors=int(usage[2]) if usage else 0,
        ),
        actions=await support_actions_all_tenants(db, tenant.id),
    )


# --- what support changes in a firm's plan --------------------------------------------------


async def _subscription_row(db: AsyncSession, tenant: Tenant) -> Subscription:
    row = await db.get(Subscription, tenant.id, with_for_update=True)
    if row is None:
        row = Subscription(tenant_id=tenant.id, status=PlanStatus.TRIALING)
        db.add(row)
    return row


def parse_override(raw: str) -> PlanOverride | None:
    """The form's plan: ``complimentary``, or empty for the plan Stripe says."""
    if not raw:
        return None
    try:
        return PlanOverride(raw)
    except ValueError:
        raise Invalid.field("plan", _("Choose a plan from the list.")) from None


async def override_plan(
    maker: async_sessionmaker[AsyncSession],
    operator: User,
    slug: str,
    plan: str,
    reason: str,
) -> Subscription:
    """Give the firm a plan over what Stripe says (``complimentary``: unlimited, nothing
    charged), or take the override away (empty ``plan``)."""
    override = parse_override(plan)
    reason = check_reason(reason)
    async with supporting_firm(maker, slug) as (db, tenant):
        row = await _subscription_row(db, tenant)
        if row.plan_override is override:
            raise Invalid.field("plan", _("The firm is already on this plan."))
        row.plan_override = override
        detail = override.value if override else "none"
        await record_support_action(
            db, operator, tenant.id, audit.PLAN_OVERRIDDEN, detail=detail, reason=reason
        )
        await db.flush()
        return row


def parse_days(raw: str) -> int:
    try:
        days = int(raw.strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_TRIAL_EXTENSION_DAYS:
        raise Invalid.field(
            "days",
            _("Enter a number of days from 1 to %(max)s.") % {"max": MAX_TRIAL_EXTENSION_DAYS},
        )
    return days


async def extend_trial(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    operator: User,
    slug: str,
    days: str,
    reason: str,
) -> datetime:
    """Lengthen the firm's Luotsi trial by ``days`` (from its end, or from now if it has
    ended); returns the new end. A firm that Stripe bills has no trial of ours to extend."""
    count = parse_days(days)
    reason = check_reason(reason)
    async with supporting_firm(maker, slug) as (db, tenant):
        row = await _subscription_row(db, tenant)
        if row.stripe_subscription_id is not None:
            raise Invalid.field(
                "days", _("The firm has a paid subscription: there is no trial to extend.")
            )
        ends = max(trial_end(settings, tenant, row), clock.now()) + timedelta(days=count)
        row.trial_ends_at = ends
        await record_support_action(
            db, operator, tenant.id, audit.TRIAL_EXTENDED, detail=str(count), reason=reason
        )
        await db.flush()
        return ends
