"""Inquiries: the public form on the firm's pages, and the firm's inbox in the workspace."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import page_number
from luotsi.platform.phones import format_phone
from luotsi.tenants.directory import inquiries
from luotsi.tenants.directory import models as directory_models
from luotsi.tenants.directory.inquiries import InquiryInput
from luotsi.tenants.directory.models import InquiryStatus, StaffProfile
from luotsi.tenants.directory.regions import places
from luotsi.tenants.kinds import SupervisionKind
from luotsi.web.auth import client_ip
from luotsi.web.deps import DB, FIRM, WS, Req
from luotsi.web.errors import with_retry_after
from luotsi.web.forms import form_value, query_text, read_form
from luotsi.web.middleware import shared_state
from luotsi.web.public import PublicFirm
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

FORM_FIELDS = [f.name for f in fields(InquiryInput)]
PLACE_SUGGESTIONS = 10


@dataclass
class InquiryForm(InquiryInput):
    """The posted form: the inquiry plus the spam checks that never reach the service."""

    form_token: str = ""  # signed time stamp from inquiry_form_context
    website: str = ""  # the honeypot: hidden from people, filled in by bots


def inquiry_form_context(
    request: Req,
    firm: PublicFirm,
    profile: StaffProfile | None = None,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What ``directory/public/_inquiry_form.html`` needs, for a page that includes the form.

    ``profile`` is the supervisor whose page the form is on (None on the firm page).
    """
    secret = request.app.state["settings"].secret_key
    return {
        "inquiry": {
            "firm": firm,
            "profile": profile,
            "values": values or {},
            "errors": errors or {},
            "token": inquiries.issue_form_token(secret, clock.now()),
            "kinds": list(SupervisionKind),
            "action": firm.url("inquiry"),
            "places_url": firm.url("inquiry/places"),
        }
    }


class InquiryFormController(Controller):
    """Public: receives the inquiry form of the firm page and the supervisor pages."""

    path = "/inquiry"

    @get("/", name="inquiry_form")
    async def page(self, request: Req, db: DB, firm: FIRM) -> Any:
        """The form alone (a link target, and where a form without JavaScript comes back)."""
        profile = await inquiries.public_profile_or_none(
            db, request.query_params.get("profile", "")
        )
        return self._form(request, firm, profile)

    @post("/")
    async def submit(self, request: Req, db: DB, firm: FIRM) -> Any:
        form = await read_form(request, InquiryForm)
        profile = await inquiries.public_profile_or_none(db, form.profile)
        if form.website.strip():
            # A bot filled the hidden field: answer as if all went well, keep nothing.
            return self._sent(request, firm)
        settings = request.app.state["settings"]
        values = {name: getattr(form, name) for name in FORM_FIELDS}
        try:
            inquiries.check_form_token(settings.secret_key, form.form_token, clock.now())
            await inquiries.submit_inquiry(
                db,
                shared_state(request).limits,
                firm.tenant,
                form,
                language=i18n.current_language(),
                sender_ip=client_ip(request),
                base_url=settings.base_url,
            )
        except Invalid as exc:
            return self._form(request, firm, profile, values, exc.errors, status_code=422)
        except RateLimited as exc:
            message = _(
                "You have sent several inquiries in a short time. Try again in %(n)d minutes,"
                " or contact the firm by phone or e-mail."
            ) % {"n": exc.retry_after_minutes}
            return with_retry_after(
                self._form(request, firm, profile, values, {"form": message}, status_code=429),
                exc,
            )
        return self._sent(request, firm)

    @get("/sent", name="inquiry_sent")
    async def sent(self, request: Req, firm: FIRM) -> Any:
        return render(request, "directory/public/inquiry_sent.html", {"firm": firm})

    @get("/places", name="inquiry_places")
    async def place_suggestions(self, request: Req, firm: FIRM) -> Any:
        """Municipalities starting with what was typed, as ``<option>``s for the datalist."""
        text = query_text(request, "municipality")
        return render(
            request,
            "directory/public/_place_options.html",
            {"labels": places().suggest(text, PLACE_SUGGESTIONS, kinds=("municipality",))},
        )

    def _form(
        self,
        request: Req,
        firm: PublicFirm,
        profile: StaffProfile | None,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        *,
        status_code: int = 200,
    ) -> Any:
        context = {
            "firm": firm,
            **inquiry_form_context(request, firm, profile, values=values, errors=errors),
        }
        return render(
            request,
            "directory/public/inquiry.html",
            context,
            block="inquiry_form",
            status_code=status_code,
        )

    def _sent(self, request: Req, firm: PublicFirm) -> Any:
        if getattr(request, "htmx", False):
            return render(
                request, "directory/public/inquiry_sent.html", {"firm": firm}, block="inquiry_sent"
            )
        return redirect(request, firm.url("inquiry/sent"))


class InquiriesController(Controller):
    """Workspace: the inquiry inbox."""

    path = "/inquiries"
    guards = [requires(permissions.can_view_inquiries)]

    @get("/", name="inquiries")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        status = request.query_params.get("status", "")
        page = await inquiries.list_inquiries(
            db, ws.membership, status, page_number(request.query_params.get("page"))
        )
        context = {
            "ws": ws,
            "page": page,
            "status": status if status in {s.value for s in InquiryStatus} else "",
            "statuses": list(InquiryStatus),
            "names": await inquiries.staff_names(db),
            "places": places(),
        }
        return render(request, "directory/inquiries.html", context, block="inquiry_list")

    @get("/{inquiry_id:uuid}", name="inquiry")
    async def detail(self, request: Req, db: DB, ws: WS, inquiry_id: FromPath[uuid.UUID]) -> Any:
        inquiry = await inquiries.get_inquiry(db, ws.membership, inquiry_id)
        return render(request, "directory/inquiry.html", await self._detail(db, ws, inquiry))

    @post("/{inquiry_id:uuid}/status", name="inquiry_status")
    async def status(self, request: Req, db: DB, ws: WS, inquiry_id: FromPath[uuid.UUID]) -> Any:
        status = await form_value(request, "status")
        try:
            await inquiries.set_inquiry_status(db, ws.membership, inquiry_id, status)
        except Invalid as exc:
            return await self._invalid(request, db, ws, inquiry_id, exc)
        return redirect(request, ws.url(f"inquiries/{inquiry_id}"), flash="inquiry_status_changed")

    @post(
        "/{inquiry_id:uuid}/assign",
        name="assign_inquiry",
        guards=[requires(permissions.can_manage_inquiries)],
    )
    async def assign(self, request: Req, db: DB, ws: WS, inquiry_id: FromPath[uuid.UUID]) -> Any:
        assignee = await form_value(request, "assignee")
        base_url = request.app.state["settings"].base_url
        try:
            inquiry = await inquiries.assign_inquiry(
                db, ws.membership, inquiry_id, assignee, base_url=base_url
            )
        except Invalid as exc:
            return await self._invalid(request, db, ws, inquiry_id, exc)
        flash = "inquiry_assigned" if inquiry.assigned_membership_id else "inquiry_unassigned"
        return redirect(request, ws.url(f"inquiries/{inquiry_id}"), flash=flash)

    async def _invalid(
        self, request: Req, db: DB, ws: WS, inquiry_id: uuid.UUID, exc: Invalid
    ) -> Any:
        inquiry = await inquiries.get_inquiry(db, ws.membership, inquiry_id)
        context = await self._detail(db, ws, inquiry, errors=exc.errors)
        return render(request, "directory/inquiry.html", context, status_code=422)

    async def _detail(
        self, db: DB, ws: WS, inquiry: directory_models.Inquiry, **extra: Any
    ) -> dict[str, Any]:
        return {
            "ws": ws,
            "inquiry": inquiry,
            "statuses": list(InquiryStatus),
            "names": await inquiries.staff_names(db),
            "places": places(),
            "phone": format_phone(inquiry.phone),
            "can_assign": permissions.can_manage_inquiries(ws.membership),
            **extra,
        }
