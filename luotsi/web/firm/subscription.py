"""The owner's page of the firm's subscription to Luotsi: ``/t/{slug}/settings/subscription``.

Mounted only when Stripe is configured (without keys the address is a 404). Every route stays
open in a read-only workspace: subscribing again is how the firm gets back to work.

The card is taken in one of two ways (:func:`service.uses_hosted_pages`): in production the
owner goes to Stripe's Checkout to subscribe and to its customer portal for the card; against a
stand-in (localstripe) the page loads Stripe.js from it, which turns the typed card into a
PaymentMethod through a SetupIntent (``card-setup``), and only the PaymentMethod's id reaches
us. The page's Content-Security-Policy allows just what its mode needs (:func:`_page`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, Response, get, post
from litestar.response import Redirect

from luotsi.billing.subscription import service
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.paging import page_number
from luotsi.platform.settings import Settings
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import read_form
from luotsi.web.middleware import content_security_policy
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import OPEN_WHEN_READ_ONLY, requires

PER_PAGE = 20


@dataclass
class StartForm:
    interval: str = ""
    payment_method: str = ""  # a PaymentMethod's id from Stripe.js (the direct path)


@dataclass
class CardForm:
    payment_method: str = ""


@dataclass
class IntervalForm:
    interval: str = ""


class SubscriptionController(Controller):
    """The firm's plan, seats, card and payments, and what the owner does with them."""

    path = "/settings/subscription"
    guards = [requires(permissions.can_manage_subscription)]
    opt = OPEN_WHEN_READ_ONLY

    @get("", name="subscription")
    async def subscription_page(self, request: Req, db: DB, ws: WS) -> Any:
        return await _page(request, db, ws)

    @post("/start", name="start_subscription")
    async def start(self, request: Req, db: DB, ws: WS) -> Any:
        """Subscribe (again): Checkout in production, else the card from Stripe.js."""
        form = await read_form(request, StartForm)
        settings = _settings(request)
        try:
            if service.uses_hosted_pages(settings):
                here = settings.base_url + ws.subscription_url
                url = await service.checkout_url(
                    db, ws.membership, settings, form.interval, f"{here}?checkout=done", here
                )
                return Redirect(path=url, status_code=303)
            await service.start_subscription(
                db, ws.membership, settings, form.interval, form.payment_method
            )
        except Invalid as exc:
            return await _page(request, db, ws, errors=exc.errors, action="start", form=form)
        return redirect(request, ws.subscription_url, flash="subscribed")

    @post("/card-setup", name="subscription_card_setup", status_code=200)
    async def card_setup(self, request: Req, db: DB, ws: WS) -> Response[dict[str, str]]:
        """For Stripe.js (the direct path): the client secret of a new SetupIntent, as JSON."""
        try:
            secret = await service.card_setup(db, ws.membership, _settings(request))
        except Invalid as exc:
            return Response({"error": " ".join(exc.errors.values())}, status_code=422)
        return Response({"client_secret": secret})

    @post("/card", name="change_subscription_card")
    async def change_card(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, CardForm)
        try:
            await service.change_card(db, ws.membership, _settings(request), form.payment_method)
        except Invalid as exc:
            return await _page(request, db, ws, errors=exc.errors, action="card")
        return redirect(request, ws.subscription_url, flash="card_changed")

    @get("/card/remove", name="remove_subscription_card_confirm")
    async def remove_card_confirm(self, request: Req, db: DB, ws: WS) -> Any:
        """What removing the card means, before the owner confirms it."""
        return await _page(request, db, ws, template="firm/subscription_remove_card.html")

    @post("/card/remove", name="remove_subscription_card")
    async def remove_card(self, request: Req, db: DB, ws: WS) -> Any:
        try:
            await service.remove_card(db, ws.membership, _settings(request))
        except Invalid as exc:
            return await _page(
                request,
                db,
                ws,
                template="firm/subscription_remove_card.html",
                errors=exc.errors,
            )
        return redirect(request, ws.subscription_url, flash="card_removed")

    @post("/portal", name="subscription_portal")
    async def portal(self, request: Req, db: DB, ws: WS) -> Any:
        """Production: Stripe's customer portal for the card and receipts."""
        settings = _settings(request)
        try:
            url = await service.portal_url(
                db, ws.membership, settings, settings.base_url + ws.subscription_url
            )
        except Invalid as exc:
            return await _page(request, db, ws, errors=exc.errors)
        return Redirect(path=url, status_code=303)

    @post("/interval", name="change_subscription_interval")
    async def change_interval(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, IntervalForm)
        try:
            await service.change_interval(db, ws.membership, _settings(request), form.interval)
        except Invalid as exc:
            return await _page(request, db, ws, errors=exc.errors, action="interval")
        return redirect(request, ws.subscription_url, flash="interval_changed")

    @get("/cancel", name="cancel_subscription_confirm")
    async def cancel_confirm(self, request: Req, db: DB, ws: WS) -> Any:
        """What cancelling means, before the owner confirms it."""
        return await _page(request, db, ws, template="firm/subscription_cancel.html")

    @post("/cancel", name="cancel_subscription")
    async def cancel(self, request: Req, db: DB, ws: WS) -> Any:
        try:
            await service.cancel_at_period_end(db, ws.membership, _settings(request))
        except Invalid as exc:
            return await _page(
                request, db, ws, template="firm/subscription_cancel.html", errors=exc.errors
            )
        return redirect(request, ws.subscription_url, flash="subscription_canceled")

    @post("/resume", name="resume_subscription")
    async def resume(self, request: Req, db: DB, ws: WS) -> Any:
        try:
            await service.resume(db, ws.membership, _settings(request))
        except Invalid as exc:  # no card to charge: the card form says so
            return await _page(request, db, ws, errors=exc.errors, action="card")
        return redirect(request, ws.subscription_url, flash="subscription_resumed")


def _settings(request: Req) -> Settings:
    settings: Settings = request.app.state["settings"]
    return settings


async def _page(
    request: Req,
    db: DB,
    ws: WS,
    *,
    template: str = "firm/subscription.html",
    errors: dict[str, str] | None = None,
    action: str = "",
    form: StartForm | None = None,
) -> Any:
    """The page (or the cancel confirmation), with ``errors`` of the form of ``action``
    (422), under a Content-Security-Policy that allows exactly what the card entry needs."""
    settings = _settings(request)
    overview = await service.overview(
        db, ws.membership, settings, page_number(request.query_params.get("page")), PER_PAGE
    )
    hosted = service.uses_hosted_pages(settings)
    context = {
        "ws": ws,
        "overview": overview,
        "hosted": hosted,
        "stripe_js": "" if hosted else service.stripe_js_url(settings),
        "publishable_key": settings.stripe_publishable_key,
        "errors": errors or {},
        "action": action,
        "interval": form.interval if form else "",
        "query": request.query_params,
        "payment_statuses": service.PAYMENT_STATUSES,
        "checkout_done": request.query_params.get("checkout") == "done",
        "may_remove_card": service.may_remove_card(overview.subscription),
    }
    response = render(request, template, context, status_code=422 if errors else 200)
    if hosted:
        policy = content_security_policy(form_targets=service.HOSTED_PAGE_ORIGINS)
    else:
        base = urlsplit(settings.stripe_api_base)
        policy = content_security_policy(third_party=f"{base.scheme}://{base.netloc}")
    response.headers["content-security-policy"] = policy
    return response
