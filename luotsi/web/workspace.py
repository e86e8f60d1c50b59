"""The firm's workspace under ``/t/{tenant_slug}``: the firm is resolved once, for every route.

The router's guard turns the slug into the tenant and the signed-in user's membership and
scopes the request's database session to that tenant. An unknown slug and a firm the user does
not belong to get the same 404. Handlers receive the result as the ``ws`` dependency, and
act as its member through :func:`content_reader` and :func:`record_in_workspace`.

With Stripe on, the workspace also knows the firm's plan, and a second guard is the one wall
of a read-only workspace: once a canceled plan's grace period is over, or while the firm is
being closed (:mod:`luotsi.billing.closure`), staff may only read
(:func:`refuse_writes_when_read_only`). The portals of supervisees and HR contacts are not
affected, nor are routes marked with :data:`OPEN_WHEN_READ_ONLY` (the owner's subscription,
keeping the account, the firm's export).

A firm that Luotsi support suspended (platform console) stays closed to its members: every
route answers with the "suspended" page (403; to members only, who know the firm: anyone
else still gets 404), except the supervisee's copy of their own data, marked
:data:`OPEN_WHEN_SUSPENDED`, which is theirs whatever happens to the firm.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.billing import closure
from luotsi.billing.subscription.models import PlanStatus, Subscription
from luotsi.billing.subscription.state import PlanState, plan_state
from luotsi.platform import audit, clock, twofactor
from luotsi.platform.db import applying_scope, scope_to_tenant, unscoped_memberships_of_user
from luotsi.platform.identity import User
from luotsi.platform.notifications import unread_count_of
from luotsi.platform.tenancy import (
    Membership,
    Role,
    Tenant,
    TenantStatus,
    active_member,
)
from luotsi.tenants import content
from luotsi.web.middleware import UNSAFE_METHODS, db_session, origin, visitor

WORKSPACE_KEY = "workspace"
# A route's ``opt`` that lets it write in a read-only workspace (the owner's subscription).
_OPEN_KEY = "open_when_read_only"
OPEN_WHEN_READ_ONLY = {_OPEN_KEY: True}
# A route's ``opt`` that a supervisee may still use in a suspended firm (their own export).
_OPEN_SUSPENDED_KEY = "open_when_suspended"
OPEN_WHEN_SUSPENDED = {_OPEN_SUSPENDED_KEY: True}
# Firms whose workspace resolves at all: a suspended one, to show its members why it is shut.
_RESOLVED_STATUSES = (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)
# The last days of a trial in which its owner sees how many are left.
TRIAL_NOTICE_DAYS = 7


@dataclass
class Workspace:
    tenant: Tenant
    membership: Membership
    user: User
    plan: PlanState = field(default_factory=lambda: PlanState(PlanStatus.UNLIMITED))
    unread: int = 0  # the member's unread notifications (the header's badge)
    # The owner asked to close the firm: when its data will be erased (read-only until then).
    erases_at: datetime | None = None

    def url(self, path: str = "") -> str:
        return f"/t/{self.tenant.slug}/{path.lstrip('/')}"

    @property
    def subscription_url(self) -> str:
        """The owner's page for the firm's subscription to Luotsi."""
        return self.url("settings/subscription")

    @property
    def is_owner(self) -> bool:
        return self.membership.role == Role.OWNER

    @property
    def read_only(self) -> bool:
        """Whether this member may only read: staff of a firm whose plan ended and whose grace
        period is over, or that is being closed. Supervisees and HR contacts keep their
        portals."""
        return self.membership.is_staff and (self.closing or self.plan.is_read_only())

    @property
    def closing(self) -> bool:
        """The owner asked to close the firm's account (it can still be kept)."""
        return self.erases_at is not None

    @property
    def trial_days_left(self) -> int | None:
        """Days left of the trial, counted in Finnish dates, in its last days only."""
        ends = self.plan.trial_ends_at
        if self.plan.status is not PlanStatus.TRIALING or ends is None:
            return None
        left = (clock.today(ends) - clock.today()).days
        return left if left <= TRIAL_NOTICE_DAYS else None


class FirmSuspended(PermissionDeniedException):
    """A member's request to a firm that Luotsi support has suspended."""

    def __init__(self, tenant: Tenant, membership: Membership) -> None:
        super().__init__(detail="suspended firm")
        self.tenant = tenant
        self.membership = membership

    @property
    def export_url(self) -> str | None:
        """Where a supervisee still gets a copy of their own data."""
        if self.membership.role != Role.SUPERVISEE:
            return None
        return f"/t/{self.tenant.slug}/me/export"


def _open_when_suspended(membership: Membership, route_handler: BaseRouteHandler) -> bool:
    return membership.role == Role.SUPERVISEE and bool(route_handler.opt.get(_OPEN_SUSPENDED_KEY))


async def resolve_workspace(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    user = visitor(connection).user  # type: ignore[arg-type]
    if user is None:
        raise NotAuthorizedException("sign in")
    db = db_session(connection)  # type: ignore[arg-type]
    slug = connection.path_params.get("tenant_slug", "")
    # The firm and the user's membership in one statement (which also scopes the connection
    # to the firm): an unknown or inactive firm, a firm the user is not a member of, and a
    # member who has left all get the same 404. The unread notifications are counted in it too
    # (the header's badge), not in a statement of their own on every page.
    statement = (
        select(Tenant, Membership, unread_count_of(Membership.id, Tenant.id))
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(
            Tenant.slug == slug,
            Tenant.status.in_(_RESOLVED_STATUSES),
            Membership.user_id == user.id,
            active_member(),
        )
        .options(joinedload(Membership.user))
    )
    statement = unscoped_memberships_of_user(statement, user.id)
    found = (await db.execute(applying_scope(db, statement, tenant_id=Tenant.id))).first()
    if found is None:
        raise NotFoundException()
    tenant, membership, unread = found[0], found[1], found[2]
    if tenant.status is TenantStatus.SUSPENDED and not _open_when_suspended(
        membership, route_handler
    ):
        raise FirmSuspended(tenant, membership)
    await scope_to_tenant(db, tenant.id, applied=True)
    workspace = Workspace(tenant=tenant, membership=membership, user=user, unread=unread)
    settings = connection.app.state["settings"]
    workspace.erases_at = closure.erases_at(settings, tenant)
    if settings.subscriptions_enabled:  # off: every firm is unlimited, and no statement
        subscription = await db.get(Subscription, tenant.id)
        workspace.plan = plan_state(settings, tenant, subscription)
    connection.state[WORKSPACE_KEY] = workspace


class ReadOnlyWorkspace(PermissionDeniedException):
    """A write by staff in a workspace that is read-only (its plan ended, grace is over)."""

    def __init__(self, workspace: Workspace) -> None:
        super().__init__(detail="read-only workspace")
        self.workspace = workspace


class TwoFactorNeeded(PermissionDeniedException):
    """A staff member without two-factor authentication in a firm that requires it."""

    def __init__(self) -> None:
        super().__init__(detail="two-factor authentication required")


async def refuse_until_enrolled(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """The firm's staff work in it only with two-factor authentication on, when the firm
    requires it (supervisees and HR contacts are not made to). One statement, and only in
    such a firm."""
    workspace: Workspace = connection.state[WORKSPACE_KEY]
    if not (workspace.tenant.two_factor_required and workspace.membership.is_staff):
        return
    db = db_session(connection)  # type: ignore[arg-type]
    if twofactor.must_enrol(
        workspace.tenant, workspace.membership, await twofactor.is_enabled(db, workspace.user.id)
    ):
        raise TwoFactorNeeded()


def opens_when_read_only(route_handler: BaseRouteHandler) -> bool:
    """Whether the route is marked :data:`OPEN_WHEN_READ_ONLY`."""
    return bool(route_handler.opt.get(_OPEN_KEY))


async def refuse_writes_when_read_only(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """The one wall of a read-only workspace: staff may not change anything (exports and
    downloads are reads), except through routes marked :data:`OPEN_WHEN_READ_ONLY`."""
    workspace: Workspace = connection.state[WORKSPACE_KEY]
    if (
        connection.scope.get("method") in UNSAFE_METHODS
        and workspace.read_only
        and not opens_when_read_only(route_handler)
    ):
        raise ReadOnlyWorkspace(workspace)


def requires(permission: Callable[[Membership], bool]) -> Callable[..., Any]:
    """A route guard from a named permission in ``platform/permissions.py``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        workspace: Workspace = connection.state[WORKSPACE_KEY]
        if not permission(workspace.membership):
            raise PermissionDeniedException()

    guard.__name__ = f"requires_{permission.__name__}"
    return guard


def provide_workspace(request: Request[Any, Any, Any]) -> Workspace:
    return request.state[WORKSPACE_KEY]


def workspace_router(route_handlers: list[Any]) -> Router:
    return Router(
        path="/t/{tenant_slug:str}",
        route_handlers=route_handlers,
        guards=[resolve_workspace, refuse_until_enrolled, refuse_writes_when_read_only],
        dependencies={"ws": Provide(provide_workspace, sync_to_thread=False)},
    )


def content_reader(request: Request[Any, Any, Any], ws: Workspace) -> content.Reader:
    """The signed-in member as the content module needs them: with the keys and the origin."""
    return content.Reader(
        ws.membership, request.app.state["settings"].content_keys, origin(request), ws.user.name
    )


async def record_in_workspace(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    ws: Workspace,
    action: str,
    object_type: str,
    object_id: uuid.UUID,
) -> None:
    """Audit what the signed-in member just did in their firm, in the request's transaction."""
    await audit.record(
        db,
        action,
        actor_user_id=ws.user.id,
        actor_name=ws.user.name,
        tenant_id=ws.tenant.id,
        object_type=object_type,
        object_id=object_id,
        **origin(request),
    )
