"""A party's single-use link to accept an agreement or ask for a change (public, no sign-in)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import clock
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.tenancy import Tenant, TenantStatus, get_tenant_by_slug
from luotsi.tenants.agreements import acceptance as agreement_acceptance
from luotsi.tenants.agreements.models import Acceptance, AgreementStatus
from luotsi.web.deps import DB, FILES, Req
from luotsi.web.forms import form_text
from luotsi.web.templating import render


class AcceptanceController(Controller):
    """Public: a party's single-use link to accept an agreement or ask for a change."""

    path = "/accept/{tenant_slug:str}"

    async def _find(self, db: DB, tenant_slug: str, token: str) -> tuple[Tenant, Acceptance] | None:
        try:
            tenant = await get_tenant_by_slug(db, tenant_slug)
            if tenant.status != TenantStatus.ACTIVE:
                return None
            await scope_to_tenant(db, tenant.id)
            return tenant, await agreement_acceptance.acceptance_by_token(db, token)
        except NotFound:
            return None

    @get("/{token:str}", name="acceptance")
    async def page(
        self, request: Req, db: DB, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        found = await self._find(db, tenant_slug, token)
        if found is None:
            return render(
                request, "agreements/acceptance/invalid.html", {"state": "unknown"}, status_code=404
            )
        tenant, acceptance = found
        return await self._answer_page(request, db, tenant, acceptance)

    @post("/{token:str}")
    async def respond(
        self, request: Req, db: DB, files: FILES, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        found = await self._find(db, tenant_slug, token)
        if found is None:
            return render(
                request, "agreements/acceptance/invalid.html", {"state": "unknown"}, status_code=404
            )
        tenant, acceptance = found
        form = await request.form()
        choice = form.get("response", "")
        comment = form_text(form, "comment")
        if choice not in ("accept", "change"):
            return await self._answer_page(request, db, tenant, acceptance, comment=comment)
        try:
            agreement = await agreement_acceptance.respond_to_acceptance(
                db,
                files,
                acceptance,
                accept=choice == "accept",
                comment=comment,
                base_url=request.app.state["settings"].base_url,
            )
        except Invalid as exc:
            if "link" in exc.errors:
                return await self._answer_page(request, db, tenant, acceptance)
            return await self._answer_page(
                request, db, tenant, acceptance, comment=comment, errors=exc.errors
            )
        context = {"tenant": tenant, "acceptance": acceptance, "agreement": agreement}
        return render(request, "agreements/acceptance/thanks.html", context)

    async def _answer_page(
        self,
        request: Req,
        db: DB,
        tenant: Tenant,
        acceptance: Acceptance,
        *,
        comment: str = "",
        errors: dict[str, str] | None = None,
    ) -> Any:
        """The terms and the two answers, or why the link no longer works (410)."""
        agreement = await agreement_acceptance.agreement_of(db, acceptance)
        state = acceptance.link_state(clock.now())
        if state == "open" and agreement.status != AgreementStatus.PENDING:
            state = "voided"
        if state != "open":
            context = {"state": state, "tenant": tenant, "acceptance": acceptance}
            return render(request, "agreements/acceptance/invalid.html", context, status_code=410)
        context = {
            "tenant": tenant,
            "acceptance": acceptance,
            "agreement": agreement,
            "terms": await agreement_acceptance.terms_of(db, agreement),
            "comment": comment,
            "errors": errors or {},
        }
        return render(
            request,
            "agreements/acceptance/agreement.html",
            context,
            status_code=422 if errors else 200,
        )
