"""A firm's public pages under ``/f/{slug}``: no sign-in, only what the firm publishes.

The router's guard resolves the slug to an active firm whose directory is switched on and
scopes the request's database session to it, exactly as the workspace router does for
members. Handlers receive the firm as the ``firm`` dependency. An unknown slug, a firm that is
not active and a firm with its directory switched off all get the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Router
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select

from luotsi.platform.db import applying_scope, scope_to_tenant
from luotsi.platform.tenancy import Tenant, TenantStatus
from luotsi.tenants.directory.models import FirmProfile
from luotsi.tenants.directory.public import firm_profile
from luotsi.web.middleware import db_session

PUBLIC_FIRM_KEY = "public_firm"


@dataclass
class PublicFirm:
    tenant: Tenant
    profile: FirmProfile

    def url(self, path: str = "") -> str:
        return f"/f/{self.tenant.slug}/{path.lstrip('/')}"


async def resolve_public_firm(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    db = db_session(connection)  # type: ignore[arg-type]
    # The active firm of the slug, in one statement that also scopes the connection to it.
    statement = select(Tenant).where(
        Tenant.slug == connection.path_params.get("tenant_slug", ""),
        Tenant.status == TenantStatus.ACTIVE,
    )
    found = (await db.execute(applying_scope(db, statement, tenant_id=Tenant.id))).first()
    if found is None:
        raise NotFoundException()
    tenant = found[0]
    await scope_to_tenant(db, tenant.id, applied=True)
    profile = await firm_profile(db)
    if not profile.directory_enabled:
        raise NotFoundException()
    connection.state[PUBLIC_FIRM_KEY] = PublicFirm(tenant=tenant, profile=profile)


def provide_public_firm(request: Request[Any, Any, Any]) -> PublicFirm:
    return request.state[PUBLIC_FIRM_KEY]


def public_router(route_handlers: list[Any]) -> Router:
    return Router(
        path="/f/{tenant_slug:str}",
        route_handlers=route_handlers,
        guards=[resolve_public_firm],
        dependencies={"firm": Provide(provide_public_firm, sync_to_thread=False)},
    )
