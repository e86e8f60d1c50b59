"""The firm's workspace under ``/t/{tenant_slug}``: the firm is resolved once, for every route.

The router's guard turns the slug into the tenant and the signed-in user's membership and
scopes the request's database session to that tenant. An unknown slug and a firm the user does
not belong to get the same 404. Handlers receive the result as the ``ws`` dependency, and
act as its member through :func:`content_reader` and :func:`record_in_workspace`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import audit
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import NotFound
from luotsi.platform.identity import User
from luotsi.platform.tenancy import (
    Membership,
    Tenant,
    TenantStatus,
    active_member,
    get_tenant_by_slug,
)
from luotsi.tenants import content
from luotsi.web.middleware import db_session, origin, visitor

WORKSPACE_KEY = "workspace"


@dataclass
class Workspace:
    tenant: Tenant
    membership: Membership
    user: User

    def url(self, path: str = "") -> str:
        return f"/t/{self.tenant.slug}/{path.lstrip('/')}"


async def resolve_workspace(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    user = visitor(connection).user  # type: ignore[arg-type]
    if user is None:
        raise NotAuthorizedException("sign in")
    db = db_session(connection)  # type: ignore[arg-type]
    slug = connection.path_params.get("tenant_slug", "")
    try:
        tenant = await get_tenant_by_slug(db, slug)
    except NotFound:
        raise NotFoundException() from None
    if tenant.status != TenantStatus.ACTIVE:
        raise NotFoundException()
    await scope_to_tenant(db, tenant.id)
    membership = await db.scalar(
        select(Membership)
        .where(Membership.user_id == user.id, active_member())
        .options(joinedload(Membership.user))
    )
    if membership is None:  # not a member, or one who has left: the same 404
        raise NotFoundException()
    connection.state[WORKSPACE_KEY] = Workspace(tenant=tenant, membership=membership, user=user)


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
        guards=[resolve_workspace],
        dependencies={"ws": Provide(provide_workspace, sync_to_thread=False)},
    )


def content_reader(request: Request[Any, Any, Any], ws: Workspace) -> content.Reader:
    """The signed-in member as the content module needs them: with the keys and the origin."""
    return content.Reader(
        ws.membership, request.app.state["settings"].content_keys, origin(request)
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
