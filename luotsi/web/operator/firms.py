"""``/platform/``: the operator's console. Firms with their plans and use, a firm's account,
support's actions on it (suspend, reactivate, plan override, trial extension) and the
platform's health. Operators only: everyone else, signed in or not, gets 404.

Reads go through :func:`operator_reading_all_tenants` (the one way across firms); actions are
written in a session scoped to the firm, with a row in its audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath

from luotsi.billing.subscription.models import PlanOverride
from luotsi.billing.subscription.operator import (
    MAX_TRIAL_EXTENSION_DAYS,
    extend_trial,
    firm_account_all_tenants,
    firm_plans_all_tenants,
    override_plan,
    parse_order,
)
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.identity import User
from luotsi.platform.operators import (
    REASON_LENGTH,
    operator_reading_all_tenants,
    platform_health,
    reactivate_firm,
    suspend_firm,
)
from luotsi.platform.paging import page_number
from luotsi.platform.tenancy import Role, TenantStatus
from luotsi.web.deps import Req
from luotsi.web.firm.audit import action_label
from luotsi.web.firm.members import role_label
from luotsi.web.forms import form_text, query_text
from luotsi.web.middleware import visitor
from luotsi.web.templating import redirect, render

PER_PAGE = 50


def operators_only(permission: Callable[[User | None], bool]) -> Callable[..., Any]:
    """A guard from a named permission of the console: everyone else, signed in or not,
    finds nothing here (404, no oracle for the console)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not permission(visitor(connection).user):  # type: ignore[arg-type]
            raise NotFoundException()

    guard.__name__ = f"operators_only_{permission.__name__}"
    return guard


SUPPORT = [operators_only(permissions.can_support_firms)]


def _operator(request: Req) -> User:
    user = visitor(request).user
    assert user is not None  # the guard let only operators in
    return user


class OperatorController(Controller):
    path = "/platform"
    guards = [operators_only(permissions.can_view_firm_plans)]

    @get("/", name="operator_firms")
    async def firms(self, request: Req) -> Any:
        query = request.query_params
        search = query_text(request, "q")
        order, descending = parse_order(query.get("sort"))
        async with operator_reading_all_tenants(request.app.state["sessionmaker"]) as db:
            plans = await firm_plans_all_tenants(
                db,
                request.app.state["settings"],
                search=search,
                order=order,
                descending=descending,
                page=page_number(query.get("page")),
                per_page=PER_PAGE,
            )
        context = {"plans": plans, "search": search, "query": query}
        return render(request, "operator/firms.html", context, block="firm_list")

    async def _firm_page(
        self, request: Req, slug: str, *, errors: dict[str, str] | None = None, **extra: Any
    ) -> Any:
        settings = request.app.state["settings"]
        async with operator_reading_all_tenants(request.app.state["sessionmaker"]) as db:
            account = await firm_account_all_tenants(db, settings, slug)
        context = {
            "account": account,
            "errors": errors or {},
            "roles": list(Role),
            "overrides": list(PlanOverride),
            "subscriptions_enabled": settings.subscriptions_enabled,
            "max_days": MAX_TRIAL_EXTENSION_DAYS,
            "reason_length": REASON_LENGTH,
            "action_label": action_label,
            "role_label": role_label,
            "suspended": account.tenant.status is TenantStatus.SUSPENDED,
            **extra,
        }
        return render(request, "operator/firm.html", context, status_code=422 if errors else 200)

    @get("/firms/{slug:str}", name="operator_firm")
    async def firm(self, request: Req, slug: FromPath[str]) -> Any:
        return await self._firm_page(request, slug)

    @post("/firms/{slug:str}/plan", name="operator_override_plan", guards=SUPPORT)
    async def plan(self, request: Req, slug: FromPath[str]) -> Any:
        form = await request.form()
        plan, reason = form_text(form, "plan"), form_text(form, "reason")
        try:
            await override_plan(
                request.app.state["sessionmaker"], _operator(request), slug, plan, reason
            )
        except Invalid as exc:
            return await self._firm_page(
                request, slug, errors=exc.errors, plan_form={"plan": plan, "reason": reason}
            )
        return redirect(request, f"/platform/firms/{slug}", flash="plan_overridden")

    @post("/firms/{slug:str}/trial", name="operator_extend_trial", guards=SUPPORT)
    async def trial(self, request: Req, slug: FromPath[str]) -> Any:
        form = await request.form()
        days, reason = form_text(form, "days"), form_text(form, "reason")
        try:
            await extend_trial(
                request.app.state["sessionmaker"],
                request.app.state["settings"],
                _operator(request),
                slug,
                days,
                reason,
            )
        except Invalid as exc:
            errors = {("trial_" + k if k == "reason" else k): v for k, v in exc.errors.items()}
            return await self._firm_page(
                request, slug, errors=errors, trial_form={"days": days, "reason": reason}
            )
        return redirect(request, f"/platform/firms/{slug}", flash="trial_extended")

    async def _status_page(
        self,
        request: Req,
        slug: str,
        suspend: bool,
        *,
        reason: str = "",
        errors: dict[str, str] | None = None,
    ) -> Any:
        async with operator_reading_all_tenants(request.app.state["sessionmaker"]) as db:
            account = await firm_account_all_tenants(db, request.app.state["settings"], slug)
        context = {
            "firm": account.tenant,
            "suspend": suspend,
            "reason": reason,
            "errors": errors or {},
            "reason_length": REASON_LENGTH,
        }
        return render(
            request, "operator/firm_status.html", context, status_code=422 if errors else 200
        )

    @get("/firms/{slug:str}/suspend", name="operator_confirm_suspend", guards=SUPPORT)
    async def confirm_suspend(self, request: Req, slug: FromPath[str]) -> Any:
        return await self._status_page(request, slug, suspend=True)

    @get("/firms/{slug:str}/reactivate", name="operator_confirm_reactivate", guards=SUPPORT)
    async def confirm_reactivate(self, request: Req, slug: FromPath[str]) -> Any:
        return await self._status_page(request, slug, suspend=False)

    @post("/firms/{slug:str}/suspend", name="operator_suspend", guards=SUPPORT)
    async def suspend(self, request: Req, slug: FromPath[str]) -> Any:
        reason = form_text(await request.form(), "reason")
        try:
            await suspend_firm(request.app.state["sessionmaker"], _operator(request), slug, reason)
        except Invalid as exc:
            return await self._status_page(request, slug, True, reason=reason, errors=exc.errors)
        return redirect(request, f"/platform/firms/{slug}", flash="firm_suspended")

    @post("/firms/{slug:str}/reactivate", name="operator_reactivate", guards=SUPPORT)
    async def reactivate(self, request: Req, slug: FromPath[str]) -> Any:
        reason = form_text(await request.form(), "reason")
        try:
            await reactivate_firm(
                request.app.state["sessionmaker"], _operator(request), slug, reason
            )
        except Invalid as exc:
            return await self._status_page(request, slug, False, reason=reason, errors=exc.errors)
        return redirect(request, f"/platform/firms/{slug}", flash="firm_reactivated")

    @get(
        "/health",
        name="operator_health",
        guards=[operators_only(permissions.can_view_platform_health)],
    )
    async def health(self, request: Req) -> Any:
        state = request.app.state
        report = await platform_health(state["sessionmaker"], state["settings"])
        return render(request, "operator/health.html", {"health": report})
