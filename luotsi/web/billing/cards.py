"""Card payments outside the workspace: the e-mailed "Pay by card" page, and the way back from
connecting a firm's Stripe account.

``/pay/{tenant_slug}/{token}`` needs no sign-in: the signed token names one invoice of the
firm until it expires, and the page shows the invoice's number, its open sum and the firm's
name, nothing else; its button makes a Checkout Session and sends the payer to Stripe.
``/stripe/connect/return`` is the one redirect URI registered at Stripe for every firm (its
``state`` says which firm); the owner comes back there signed in.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from luotsi.billing.subscription import connect
from luotsi.billing.subscription.connect import CONNECT_RETURN_PATH, ConnectResult, PayableInvoice
from luotsi.platform.errors import Invalid, NotFound
from luotsi.web.auth import signed_in_user
from luotsi.web.deps import DB, Req
from luotsi.web.middleware import allow_form_targets, visitor
from luotsi.web.templating import redirect, render

CONNECT_FLASH = {
    ConnectResult.CONNECTED: "card_payments_connected",
    ConnectResult.DECLINED: "card_payments_declined",
    ConnectResult.FAILED: "card_payments_failed",
    ConnectResult.TAKEN: "card_payments_taken",
}


def _invalid_link(request: Req) -> Response[Any]:
    return render(request, "billing/pay_invalid.html", {}, status_code=404)


class CardPaymentController(Controller):
    """Public: an invoice's "Pay by card" page from its e-mail."""

    path = "/pay/{tenant_slug:str}"

    @get("/{token:str}", name="card_payment")
    async def page(
        self, request: Req, db: DB, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        settings = request.app.state["settings"]
        try:
            payable = await connect.payable_by_token(db, settings, tenant_slug, token)
        except NotFound:
            return _invalid_link(request)
        return self._page(request, payable, paid=request.query_params.get("paid") == "1")

    @post("/{token:str}")
    async def pay(
        self, request: Req, db: DB, tenant_slug: FromPath[str], token: FromPath[str]
    ) -> Any:
        settings = request.app.state["settings"]
        try:
            payable = await connect.payable_by_token(db, settings, tenant_slug, token)
        except NotFound:
            return _invalid_link(request)
        here = f"{settings.base_url}/pay/{tenant_slug}/{token}"
        try:
            url = await connect.checkout_url(
                db,
                settings,
                payable,
                channel="email",
                success_url=f"{here}?paid=1",
                cancel_url=here,
            )
        except Invalid as exc:
            return self._page(request, payable, errors=exc.errors, status_code=409)
        return Redirect(path=url, status_code=303)

    @staticmethod
    def _page(
        request: Req,
        payable: PayableInvoice,
        *,
        paid: bool = False,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Any:
        context = {"payable": payable, "paid": paid, "errors": errors or {}}
        response = render(request, "billing/pay.html", context, status_code=status_code)
        return allow_form_targets(response, connect.CHECKOUT_ORIGINS)


@get(CONNECT_RETURN_PATH, name="stripe_connect_return")
async def stripe_connect_return(request: Req, db: DB) -> Any:
    """Back from Stripe's OAuth page with ``code`` (or ``error``) and our ``state``."""
    user = signed_in_user(request)
    params = request.query_params
    try:
        tenant, result = await connect.finish_connect(
            db,
            user,
            request.app.state["settings"],
            visitor(request).session_token or "",
            params.get("state", ""),
            params.get("code", "") if not params.get("error") else "",
        )
    except Invalid as exc:
        context = {"errors": exc.errors}
        return render(request, "billing/connect_invalid.html", context, status_code=400)
    path = f"/t/{tenant.slug}/billing/settings#card-payments"
    return redirect(request, path, flash=CONNECT_FLASH[result])
