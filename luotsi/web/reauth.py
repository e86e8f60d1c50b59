"""Asking a signed-in person to prove again who they are before a sensitive action.

Changing the e-mail address or the password, exporting the firm and changing members' roles
need a sign-in or a re-confirmation within :data:`RECENT` (the session keeps the time). Without
one the action sends the browser to ``/account/confirm?next=...`` (htmx: ``HX-Redirect``),
which asks for the password or, with two-factor authentication on, a code of the authenticator
(:func:`~luotsi.platform.twofactor.confirm_identity`) and then leads back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import Redirect

from luotsi.platform import clock, twofactor
from luotsi.platform.errors import RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.web.auth import safe_next, sign_in_wait, signed_in_user
from luotsi.web.deps import DB, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import form_value
from luotsi.web.middleware import shared_state, visitor
from luotsi.web.templating import redirect, render

RECENT = timedelta(minutes=10)
CONFIRM_PATH = "/account/confirm"
# Wrong passwords on the confirmation page, per account: as at sign-in, a few are free, then
# each further attempt waits twice as long (a stolen session cannot guess the password).
CONFIRM_BUCKET = "reauth-account"
FREE_FAILURES = 5
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(hours=24)


class ReauthenticationRequired(Exception):
    """The action needs a recent sign-in; ``back`` is where to return after confirming."""

    def __init__(self, back: str | None) -> None:
        super().__init__("recent authentication required")
        self.back = back


def recently_authenticated(request: Request[Any, Any, Any]) -> bool:
    """Whether the visitor signed in or confirmed their identity within :data:`RECENT`."""
    session = visitor(request).session
    return session is not None and session.confirmed_at > clock.now() - RECENT


def require_recent_authentication(request: Request[Any, Any, Any], back: str | None = None) -> None:
    """Raise :class:`ReauthenticationRequired` unless :func:`recently_authenticated`.

    ``back`` is the page to return to after a form's POST (a POST cannot be repeated by a
    redirect); a GET returns to itself, an htmx request to the page it was made from.
    """
    if not recently_authenticated(request):
        raise ReauthenticationRequired(back)


def confirm_url(next_path: str) -> str:
    return f"{CONFIRM_PATH}?next={quote(next_path, safe='/')}"


def to_confirmation(
    request: Request[Any, Any, Any], exc: ReauthenticationRequired
) -> Response[Any]:
    """The exception handler: to the confirmation page, which leads back."""
    if getattr(request, "htmx", False):
        page = urlsplit(request.headers.get("hx-current-url", ""))
        back = exc.back or (page.path or "/") + (f"?{page.query}" if page.query else "")
        return Response(b"", status_code=200, headers={"HX-Redirect": confirm_url(back)})
    if request.method == "GET":
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        back = exc.back or "/account"
    return Redirect(path=confirm_url(back), status_code=303)


class ReauthController(Controller):
    @get(CONFIRM_PATH, name="confirm_identity")
    async def confirm_page(self, request: Req, db: DB, next: FromQuery[str | None] = None) -> Any:
        user = signed_in_user(request)
        context = {
            "next": safe_next(next) or "/account",
            "two_factor": await twofactor.is_enabled(db, user.id),
        }
        return render(request, "auth/confirm.html", context)

    @post(CONFIRM_PATH)
    async def confirm(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        session = visitor(request).session
        next_path = safe_next(await form_value(request, "next")) or "/account"
        secret = await form_value(request, "password")
        limits = shared_state(request).limits
        context: dict[str, Any] = {
            "next": next_path,
            "two_factor": await twofactor.is_enabled(db, user.id),
        }
        try:
            attempt = await limits.throttle(
                db,
                CONFIRM_BUCKET,
                str(user.id),
                free=FREE_FAILURES,
                first_wait=FIRST_WAIT,
                longest_wait=LONGEST_WAIT,
                memory=FAILURE_MEMORY,
            )
        except RateLimited as exc:
            context["errors"] = {"password": sign_in_wait(exc)}
            return rate_limited(request, exc, "auth/confirm.html", context, block="form")
        if session is None or not await twofactor.confirm_identity(db, user, secret):
            await db.commit()  # the attempt counts although the answer is an error
            wrong = _("That is neither your password nor a current code of your authenticator.")
            context["errors"] = {
                "password": wrong if context["two_factor"] else _("The password is wrong.")
            }
            return render(request, "auth/confirm.html", context, block="form", status_code=422)
        await limits.take_back(db, attempt)
        await limits.forget(db, CONFIRM_BUCKET, str(user.id))
        await shared_state(request).sessions.confirm(db, session.id)
        return redirect(request, next_path)
