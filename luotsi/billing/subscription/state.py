"""What the firm's plan means for its workspace, computed from the stored subscription.

Without Stripe keys every firm is on the unlimited plan. With them a new firm is on Luotsi's own
trial (no card needed) until ``trial_days`` after it signed up; after that, or once a paid
subscription has ended, the workspace stays writable for ``grace_days`` and then turns
read-only for staff until the owner subscribes again. Luotsi support may give a firm a
complimentary plan (``plan_override``): unlimited, over whatever Stripe says. A payment that
failed (``past_due``) changes nothing but a banner: Stripe retries, and the owner can fix the
card.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from luotsi.billing.subscription.models import PlanOverride, PlanStatus, Subscription
from luotsi.platform import clock
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import Tenant


@dataclass(frozen=True)
class PlanState:
    status: PlanStatus
    trial_ends_at: datetime | None = None
    # When a trial or subscription ended: writable until ``ended_at`` plus the grace period.
    ended_at: datetime | None = None
    read_only_from: datetime | None = None

    def is_read_only(self, now: datetime | None = None) -> bool:
        """Whether staff may only read (the owner may still subscribe again)."""
        return self.read_only_from is not None and (now or clock.now()) >= self.read_only_from

    @property
    def needs_payment(self) -> bool:
        """A payment failed: the owner and admins see a banner with a link to fix it."""
        return self.status is PlanStatus.PAST_DUE


def trial_end(settings: Settings, tenant: Tenant, subscription: Subscription | None) -> datetime:
    """The end of the firm's trial: fixed on its subscription row, else from its signup."""
    if subscription is not None and subscription.trial_ends_at is not None:
        return subscription.trial_ends_at
    return tenant.created_at + timedelta(days=settings.plans.trial_days)


def plan_state(
    settings: Settings,
    tenant: Tenant,
    subscription: Subscription | None,
    now: datetime | None = None,
) -> PlanState:
    """The plan of ``tenant`` as its workspace and its owner see it at ``now``."""
    if not settings.subscriptions_enabled:
        return PlanState(PlanStatus.UNLIMITED)
    if subscription is not None and subscription.plan_override is PlanOverride.COMPLIMENTARY:
        return PlanState(PlanStatus.COMPLIMENTARY)
    now = now or clock.now()
    grace = timedelta(days=settings.plans.grace_days)
    if subscription is None or subscription.stripe_subscription_id is None:
        ends = trial_end(settings, tenant, subscription)
        if now < ends:
            return PlanState(PlanStatus.TRIALING, trial_ends_at=ends)
        return PlanState(
            PlanStatus.CANCELED, trial_ends_at=ends, ended_at=ends, read_only_from=ends + grace
        )
    if subscription.status is PlanStatus.CANCELED:
        ended = subscription.canceled_at or subscription.updated_at
        return PlanState(PlanStatus.CANCELED, ended_at=ended, read_only_from=ended + grace)
    return PlanState(subscription.status, trial_ends_at=subscription.trial_ends_at)
