"""``/platform/``: the operator's list of firms with their plan, seats and monthly revenue."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler

from luotsi.billing.subscription.operator import firm_plans_all_tenants
from luotsi.platform import permissions
from luotsi.platform.paging import page_number
from luotsi.web.deps import DB, Req
from luotsi.web.forms import query_text
from luotsi.web.middleware import visitor
from luotsi.web.templating import render

PER_PAGE = 50


async def operators_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Everyone else, signed in or not, finds nothing here (no oracle for the console)."""
    if not permissions.can_view_firm_plans(visitor(connection).user):  # type: ignore[arg-type]
        raise NotFoundException()


class OperatorController(Controller):
    path = "/platform"
    guards = [operators_only]

    @get("/", name="operator_firms")
    async def firms(self, request: Req, db: DB) -> Any:
        query = request.query_params
        search = query_text(request, "q")
        plans = await firm_plans_all_tenants(
            db,
            request.app.state["settings"],
            search=search,
            page=page_number(query.get("page")),
            per_page=PER_PAGE,
        )
        context = {"plans": plans, "search": search, "query": query}
        return render(request, "operator/firms.html", context, block="firm_list")
