"""The HR contact's portal: their own organisation only, never content.

A ``client_contact`` sees their organisation (see :mod:`luotsi.tenants.portal` for exactly
what); the firm's owners and admins may preview any organisation's portal with ``?org=<id>``.
Everyone else is refused.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from luotsi.billing import delivery
from luotsi.billing import portal as billing_portal
from luotsi.billing.subscription import connect
from luotsi.platform import permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.tenants.clients import organisations
from luotsi.tenants.clients.billing_details import BillingInput, billing_values
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.portal import hr as portal
from luotsi.tenants.portal.hr import AgreementRequestInput
from luotsi.web.clients.clients import invoice_language_choices
from luotsi.web.deps import DB, FILES, WS, Req
from luotsi.web.errors import with_retry_after
from luotsi.web.forms import read_form
from luotsi.web.middleware import allow_form_targets, shared_state
from luotsi.web.templating import attachment, redirect, render
from luotsi.web.workspace import requires

CONTACT = [requires(permissions.can_use_client_portal)]


async def _contacts_org(db: DB, ws: WS) -> ClientOrg | None:
    """The signed-in HR contact's organisation; None for a login no longer bound to a current
    one (:func:`_no_access` says so)."""
    try:
        return (await portal.contact_person(db, ws.membership)).org
    except Forbidden:
        return None


def _no_access(request: Req, ws: WS) -> Any:
    return render(request, "portal/hr/no_access.html", {"ws": ws}, status_code=403)


def _org_param(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        raise NotFound("client_org") from None


class PortalController(Controller):
    path = "/portal"

    @get("/", name="portal")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        if permissions.can_use_client_portal(ws.membership):
            return await self._page(request, db, ws)
        if not permissions.can_manage_clients(ws.membership):
            raise Forbidden("portal")
        org_id = _org_param(request.query_params.get("org"))
        if org_id is None:
            return render(request, "portal/hr/preview_start.html", {"ws": ws})
        page = page_number(request.query_params.get("page"))
        view = await portal.preview(db, ws.membership, org_id, page)
        context = {
            "ws": ws,
            "view": view,
            "query": request.query_params,
            "preview": True,
            "billing": billing_values(view.org),
            "request_form": AgreementRequestInput(),
            **_choices(),
        }
        return render(request, "portal/hr/index.html", context)

    @get("/agreements/{agreement_id:uuid}/sessions", name="portal_agreement_sessions")
    async def agreement_sessions(
        self, request: Req, db: DB, ws: WS, agreement_id: FromPath[uuid.UUID]
    ) -> Any:
        """The dates and statuses of one agreement's sessions: a page of its own, and the
        fragment the portal's "N sessions" loads when opened. Owners and admins preview any
        agreement's, as its organisation's contacts see it."""
        preview = not permissions.can_use_client_portal(ws.membership)
        if not preview:
            if (org := await _contacts_org(db, ws)) is None:
                return _no_access(request, ws)
        else:
            org = await portal.preview_org_of_agreement(db, ws.membership, agreement_id)
        agreement, sessions = await portal.agreement_sessions(db, org, agreement_id)
        context = {
            "ws": ws,
            "org": org,
            "agreement": agreement,
            "sessions": sessions,
            "preview": preview,
        }
        return render(request, "portal/hr/sessions.html", context, block="sessions")

    @post("/billing", name="portal_billing", guards=CONTACT)
    async def billing(self, request: Req, db: DB, ws: WS) -> Any:
        values = await read_form(request, BillingInput)
        try:
            await portal.update_billing_details(db, ws.membership, values)
        except Invalid as exc:
            return await self._page(request, db, ws, billing=values, billing_errors=exc.errors)
        return redirect(request, ws.url("portal/#billing"), flash="billing_saved")

    @post("/request", name="portal_request", guards=CONTACT)
    async def request_agreement(self, request: Req, db: DB, ws: WS) -> Any:
        values = await read_form(request, AgreementRequestInput)
        settings = request.app.state["settings"]
        try:
            await portal.request_agreement(
                db,
                shared_state(request).limits,
                ws.membership,
                ws.tenant,
                values,
                base_url=settings.base_url,
            )
        except Invalid as exc:
            return await self._page(request, db, ws, request_form=values, request_errors=exc.errors)
        except RateLimited as exc:
            message = _(
                "You have sent several requests today. Try again in %(n)d minutes, or contact"
                " the firm by phone or e-mail."
            ) % {"n": exc.retry_after_minutes}
            limited = await self._page(
                request,
                db,
                ws,
                request_form=values,
                request_errors={"message": message},
                status_code=429,
            )
            return with_retry_after(limited, exc)
        return redirect(request, ws.url("portal/"), flash="agreement_requested")

    @get("/invoices", name="portal_invoices")
    async def invoices(self, request: Req, db: DB, ws: WS) -> Any:
        """The organisation's issued invoices and credit notes, with their state; owners and
        admins preview an organisation's list with ``?org=<id>``, as they do the portal."""
        preview = not permissions.can_use_client_portal(ws.membership)
        if not preview:
            if (org := await _contacts_org(db, ws)) is None:
                return _no_access(request, ws)
        else:
            if not permissions.can_manage_billing(ws.membership):  # money: the office only
                raise Forbidden("portal")
            org_id = _org_param(request.query_params.get("org"))
            if org_id is None:
                return render(request, "portal/hr/preview_start.html", {"ws": ws})
            org = await organisations.get_org(db, ws.membership, org_id)
        return await self._invoices(request, db, ws, org, preview=preview)

    @post("/invoices/{invoice_id:uuid}/pay", name="portal_pay_invoice")
    async def pay_invoice(
        self, request: Req, db: DB, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Any:
        """Pay one of the organisation's open invoices by card: off to Stripe's Checkout. An
        invoice already paid comes back with a note; anything else is 404."""
        try:
            person = await portal.contact_person(db, ws.membership)
        except Forbidden:
            raise NotFound("invoice") from None
        settings = request.app.state["settings"]
        payable = await connect.payable_for_org(db, settings, ws.tenant, person.org_id, invoice_id)
        invoices_url = settings.base_url + ws.url("portal/invoices")
        try:
            url = await connect.checkout_url(
                db,
                settings,
                payable,
                channel="portal",
                success_url=f"{invoices_url}?paid=1",
                cancel_url=invoices_url,
            )
        except Invalid as exc:
            return await self._invoices(request, db, ws, person.org, errors=exc.errors)
        return Redirect(path=url, status_code=303)

    async def _invoices(
        self,
        request: Req,
        db: DB,
        ws: WS,
        org: ClientOrg,
        *,
        preview: bool = False,
        errors: dict[str, str] | None = None,
    ) -> Any:
        """The invoice list; its "Pay by card" buttons only for the contact of a firm whose
        clients can pay by card (never in the firm's preview)."""
        page = await billing_portal.org_invoices(
            db, org.id, page_number(request.query_params.get("page"))
        )
        settings = request.app.state["settings"]
        context = {
            "ws": ws,
            "org": org,
            "page": page,
            "query": request.query_params,  # the pager's links keep the preview's ``org``
            "preview": preview,
            "takes_cards": not preview and await connect.takes_cards(db, settings, ws.tenant.id),
            "paid": request.query_params.get("paid") == "1",
            "errors": errors or {},
        }
        status_code = 409 if errors else 200
        response = render(request, "portal/hr/invoices.html", context, status_code=status_code)
        return allow_form_targets(response, connect.CHECKOUT_ORIGINS)

    @get("/invoices/{invoice_id:uuid}/pdf", name="portal_invoice_pdf")
    async def invoice_pdf(
        self, db: DB, files: FILES, ws: WS, invoice_id: FromPath[uuid.UUID]
    ) -> Response[bytes]:
        """The PDF of one of the organisation's issued invoices; anything else is 404 (for
        anyone but an HR contact there is no such portal invoice either)."""
        try:
            person = await portal.contact_person(db, ws.membership)
        except Forbidden:
            raise NotFound("invoice") from None
        output = await delivery.pdf_for_org(db, files, person.org_id, invoice_id)
        return attachment(output.data, output.media_type, output.filename)

    async def _page(
        self, request: Req, db: DB, ws: WS, *, status_code: int | None = None, **extra: Any
    ) -> Any:
        """The contact's portal; a login no longer bound to a current organisation gets a
        page that says so (403)."""
        try:
            page = page_number(request.query_params.get("page"))
            person, view = await portal.contact_view(db, ws.membership, page)
        except Forbidden:
            return _no_access(request, ws)
        if status_code is None:
            status_code = 422 if extra.get("billing_errors") or extra.get("request_errors") else 200
        context = {
            "ws": ws,
            "view": view,
            "query": request.query_params,
            "person": person,
            "preview": False,
            "billing": extra.pop("billing", None) or billing_values(view.org),
            "request_form": extra.pop("request_form", None) or AgreementRequestInput(),
            **_choices(),
            **extra,
        }
        return render(request, "portal/hr/index.html", context, status_code=status_code)


def _choices() -> dict[str, Any]:
    return {
        "invoice_languages": invoice_language_choices(),
        "kinds": [("", _("Not sure yet"))] + [(k.value, k.label) for k in SupervisionKind],
    }
