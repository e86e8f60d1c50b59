"""The firm's billing settings: the profile invoices are made from, the logo they carry, and
card payments through the firm's own Stripe account.

Owners and admins (``can_manage_billing``) only; the service checks the same permission. The
card payments section exists only when Luotsi offers them (Stripe keys and a Connect client
id); only the owner connects and disconnects the account.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from litestar import Controller, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect

from luotsi.billing import bank
from luotsi.billing import settings as billing_settings
from luotsi.billing.models import BillingProfile
from luotsi.billing.profile import missing_settings
from luotsi.billing.subscription import connect
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.tenants.clients.billing_details import INVOICE_LANGUAGES
from luotsi.tenants.kinds import language_name
from luotsi.web.deps import DB, FILES, WS, Req
from luotsi.web.forms import form_text
from luotsi.web.middleware import allow_form_targets, origin, visitor
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

SETTINGS_PATH = "billing/settings"


async def _read(request: Req) -> billing_settings.ProfileInput:
    form = await request.form()
    values: dict[str, Any] = {}
    for f in fields(billing_settings.ProfileInput):
        if f.name == "full_names_on_lines":  # a checkbox: present when ticked
            values[f.name] = f.name in form
        else:
            values[f.name] = form_text(form, f.name)
    return billing_settings.ProfileInput(**values)


class BillingSettingsController(Controller):
    path = "/billing/settings"
    guards = [requires(permissions.can_manage_billing)]

    @get("/", name="billing_settings")
    async def show(self, request: Req, db: DB, ws: WS) -> Any:
        profile = await billing_settings.get_settings(db, ws.membership)
        return await self._page(request, db, ws, profile, billing_settings.ProfileInput.of(profile))

    @post("/")
    async def update(self, request: Req, db: DB, ws: WS) -> Any:
        values = await _read(request)
        try:
            await billing_settings.update_profile(db, ws.membership, values, origin=origin(request))
        except Invalid as exc:
            profile = await billing_settings.get_settings(db, ws.membership)
            return await self._page(request, db, ws, profile, values, exc.errors)
        return redirect(request, ws.url(SETTINGS_PATH), flash="billing_settings_saved")

    @post("/logo", name="upload_billing_logo")
    async def upload_logo(self, request: Req, db: DB, files: FILES, ws: WS) -> Any:
        form = await request.form()
        upload = form.get("logo")
        data = await upload.read() if isinstance(upload, UploadFile) else b""
        try:
            await billing_settings.set_logo(db, files, ws.membership, data)
        except Invalid as exc:
            profile = await billing_settings.get_settings(db, ws.membership)
            values = billing_settings.ProfileInput.of(profile)
            return await self._page(request, db, ws, profile, values, exc.errors)
        return redirect(request, ws.url(SETTINGS_PATH), flash="logo_saved")

    @post("/logo/delete", name="delete_billing_logo")
    async def delete_logo(self, request: Req, db: DB, files: FILES, ws: WS) -> Any:
        await billing_settings.remove_logo(db, files, ws.membership)
        return redirect(request, ws.url(SETTINGS_PATH), flash="logo_removed")

    @post("/card-payments/connect", name="connect_card_payments")
    async def connect_stripe(self, request: Req, db: DB, ws: WS) -> Any:
        """Off to Stripe's OAuth page; Stripe sends the owner back to ``/stripe/connect/return``."""
        url = await connect.start_connect(
            db, ws.membership, request.app.state["settings"], visitor(request).session_token or ""
        )
        return Redirect(path=url, status_code=303)

    @get("/card-payments/disconnect", name="confirm_disconnect_card_payments")
    async def confirm_disconnect(self, request: Req, db: DB, ws: WS) -> Any:
        payments = await connect.card_payments_of(db, ws.membership, request.app.state["settings"])
        if payments is None or payments.account_id is None:
            raise NotFound("card_payments")
        permissions.require(payments.can_change, "card_payments")
        return render(request, "billing/card_disconnect.html", {"ws": ws})

    @post("/card-payments/disconnect", name="disconnect_card_payments")
    async def disconnect(self, request: Req, db: DB, ws: WS) -> Any:
        await connect.disconnect(db, ws.membership, request.app.state["settings"])
        return redirect(
            request, ws.url(SETTINGS_PATH) + "#card-payments", flash="card_payments_disconnected"
        )

    @get("/logo", name="billing_logo")
    async def logo(self, db: DB, files: FILES, ws: WS) -> Response[bytes]:
        data = await billing_settings.logo_png(db, files, ws.membership)
        return Response(data, media_type="image/png")  # private, no-store: the default

    async def _page(
        self,
        request: Req,
        db: DB,
        ws: WS,
        profile: BillingProfile,
        values: billing_settings.ProfileInput,
        errors: dict[str, str] | None = None,
    ) -> Any:
        context = {
            "ws": ws,
            "profile": profile,
            "values": values,
            "errors": errors or {},
            "missing": missing_settings(profile),
            "vat_number": bank.vat_number(profile.business_id) if profile.business_id else "",
            "series_started": await billing_settings.series_started(db),
            "card_payments": await connect.card_payments_of(
                db, ws.membership, request.app.state["settings"]
            ),
            "languages": [(code, language_name(code)) for code in INVOICE_LANGUAGES],
            "reference_types": [
                (kind.value, label) for kind, label in billing_settings.reference_type_choices()
            ],
        }
        status = 422 if errors else 200
        response = render(
            request, "billing/settings.html", context, block="settings", status_code=status
        )
        return allow_form_targets(response, connect.AUTHORIZE_ORIGINS)
