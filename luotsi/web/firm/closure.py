"""Closing the firm's account (the owner) and the firm's privacy page (owner and admins).

The closing page explains what happens, asks for the firm's name or address as confirmation
and, during the grace period, offers to keep the account (:mod:`luotsi.billing.closure`). Both
of its forms stay open in the read-only workspace of a closing firm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from litestar import Controller, get, post

from luotsi.billing import closure
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.retention import RATE_EVENTS_KEPT_AT_LEAST
from luotsi.platform.settings import Settings
from luotsi.web.deps import DB, WS, Req
from luotsi.web.forms import read_form
from luotsi.web.middleware import origin
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import OPEN_WHEN_READ_ONLY, Workspace, requires


def _settings(request: Req) -> Settings:
    return request.app.state["settings"]  # type: ignore[no-any-return]


class ClosureController(Controller):
    path = "/settings/close"
    guards = [requires(permissions.can_close_firm)]
    opt = OPEN_WHEN_READ_ONLY

    def _page(self, request: Req, ws: Workspace, **context: Any) -> dict[str, Any]:
        settings = _settings(request)
        return {
            "ws": ws,
            "grace_days": settings.retention.closure_grace_days,
            "bookkeeping_years": settings.retention.bookkeeping_years,
            "form": closure.ClosureForm(),
            **context,
        }

    @get("/", name="close_firm")
    async def page(self, request: Req, ws: WS) -> Any:
        return render(request, "firm/close.html", self._page(request, ws))

    @post("/")
    async def close(self, request: Req, db: DB, ws: WS) -> Any:
        form = await read_form(request, closure.ClosureForm)
        try:
            await closure.request_closure(
                db, ws.membership, _settings(request), form, origin=origin(request)
            )
        except Invalid as exc:
            context = self._page(request, ws, form=form, errors=exc.errors)
            return render(request, "firm/close.html", context, block="form", status_code=422)
        return redirect(request, ws.url("settings/close/"), flash="closure_requested")

    @post("/keep")
    async def keep(self, request: Req, db: DB, ws: WS) -> Any:
        await closure.cancel_closure(db, ws.membership, _settings(request), origin=origin(request))
        return redirect(request, ws.url("settings/close/"), flash="closure_cancelled")


@dataclass(frozen=True)
class Processors:
    """Who processes the firm's data for Luotsi, as this installation is configured."""

    file_storage: str  # an S3-compatible server's host, or "" (Luotsi's own servers)
    email: str  # the SMTP server's host, or "" (no e-mail leaves the server)
    stripe: bool
    card_payments: bool
    error_reports: bool


def processors(settings: Settings) -> Processors:
    storage = ""
    if settings.storage_url.startswith("s3://"):
        storage = urlsplit(settings.s3_endpoint).hostname or "Amazon S3"
    return Processors(
        file_storage=storage,
        email=settings.smtp_host,
        stripe=settings.subscriptions_enabled,
        card_payments=settings.card_payments_enabled,
        error_reports=bool(settings.sentry_dsn),
    )


@get(
    "/settings/privacy/", name="firm_privacy", guards=[requires(permissions.can_view_firm_privacy)]
)
async def privacy(request: Req, ws: WS) -> Any:
    settings = _settings(request)
    kept = settings.retention
    context = {
        "ws": ws,
        "retention": kept,
        "rate_event_days": max(
            kept.rate_event_days, RATE_EVENTS_KEPT_AT_LEAST // timedelta(days=1)
        ),
        "processors": processors(settings),
    }
    return render(request, "firm/privacy.html", context)
