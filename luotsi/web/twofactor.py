"""Two-factor authentication pages: turning it on (a QR code and the secret, then a code),
recovery codes, turning it off, the second step of a sign-in, and the firm's requirement."""

from __future__ import annotations

from typing import Any

import segno
from litestar import Controller, Response, get, post
from litestar.params import FromQuery
from markupsafe import Markup

from luotsi.platform import permissions, twofactor
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import ngettext
from luotsi.platform.identity import User, get_user
from luotsi.web.auth import (
    TWO_FACTOR_COOKIE,
    TWO_FACTOR_PATH,
    safe_next,
    sign_in,
    signed_in_user,
)
from luotsi.web.deps import DB, WS, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import form_value
from luotsi.web.middleware import origin, shared_state
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

PAGE = "/account/two-factor/"


def code_wait(exc: RateLimited) -> str:
    """The message of a refused check: how many minutes until the next one."""
    n = exc.retry_after_minutes
    return ngettext(
        "Too many wrong codes. Try again in %(n)d minute.",
        "Too many wrong codes. Try again in %(n)d minutes.",
        n,
    ) % {"n": n}


def qr_svg(uri: str) -> Markup:
    """The QR code of ``uri`` as inline SVG, drawn here (no request leaves the page)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", title=_("QR code for your authenticator app")
    )
    return Markup(svg)  # noqa: S704 - segno's own markup of our own address


async def _page_context(db: DB, user: User, **extra: Any) -> dict[str, Any]:
    return {"status": await twofactor.status_of(db, user), **extra}


def _codes_page(request: Req, codes: list[str]) -> Response[Any]:
    """The recovery codes, shown this once."""
    return render(request, "auth/two_factor_codes.html", {"codes": codes})


class TwoFactorController(Controller):
    """The signed-in person's own two-factor authentication."""

    path = PAGE

    @get("/", name="two_factor")
    async def page(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        return render(request, "auth/two_factor.html", await _page_context(db, user))

    @post("/setup", name="two_factor_start")
    async def start(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        if await twofactor.is_enabled(db, user.id):
            return redirect(request, PAGE)
        await twofactor.start_enrolment(db, user)
        return redirect(request, PAGE + "setup")

    @get("/setup", name="two_factor_setup")
    async def setup(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        try:
            secret = await twofactor.pending_secret(db, user)
        except NotFound:
            return redirect(request, PAGE)
        return render(request, "auth/two_factor_setup.html", _setup_context(user, secret))

    @post("/setup/confirm", name="two_factor_confirm")
    async def confirm(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        code = await form_value(request, "code")
        limits = shared_state(request).limits
        try:
            secret = await twofactor.pending_secret(db, user)
            codes = await twofactor.confirm_enrolment(db, limits, user, code, origin(request))
        except NotFound:
            return redirect(request, PAGE)
        except RateLimited as exc:
            context = _setup_context(user, secret, errors={"code": code_wait(exc)})
            return rate_limited(request, exc, "auth/two_factor_setup.html", context)
        except Invalid as exc:
            context = _setup_context(user, secret, errors=exc.errors)
            return render(request, "auth/two_factor_setup.html", context, status_code=422)
        return _codes_page(request, codes)

    @post("/recovery-codes", name="two_factor_new_codes")
    async def new_codes(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        secret = await form_value(request, "secret")
        limits = shared_state(request).limits
        try:
            codes = await twofactor.regenerate_recovery_codes(
                db, limits, user, secret, origin(request)
            )
        except NotFound:
            return redirect(request, PAGE)
        except RateLimited as exc:
            errors = {"secret": code_wait(exc)}
            context = await _page_context(db, user, codes_errors=errors)
            return rate_limited(request, exc, "auth/two_factor.html", context)
        except Invalid as exc:
            context = await _page_context(db, user, codes_errors=exc.errors)
            return render(request, "auth/two_factor.html", context, status_code=422)
        return _codes_page(request, codes)

    @post("/disable", name="two_factor_disable")
    async def disable(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        secret = await form_value(request, "secret")
        limits = shared_state(request).limits
        try:
            await twofactor.disable(db, limits, user, secret, origin(request))
        except NotFound:
            return redirect(request, PAGE)
        except RateLimited as exc:
            errors = {"disable_secret": code_wait(exc)}
            context = await _page_context(db, user, disable_errors=errors)
            return rate_limited(request, exc, "auth/two_factor.html", context)
        except Invalid as exc:
            errors = {"disable_secret": exc.errors["secret"]}
            context = await _page_context(db, user, disable_errors=errors)
            return render(request, "auth/two_factor.html", context, status_code=422)
        return redirect(request, PAGE, flash="two_factor_disabled")


def _setup_context(user: User, secret: str, **extra: Any) -> dict[str, Any]:
    uri = twofactor.provisioning_uri(secret, user.email)
    # The secret in groups of four, as authenticator apps show it and people type it.
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr": qr_svg(uri), "secret": grouped, **extra}


class TwoFactorSignInController(Controller):
    """The second step of a sign-in: the password was right, a code is asked next."""

    path = TWO_FACTOR_PATH

    @get("/", name="two_factor_sign_in")
    async def page(self, request: Req, next: FromQuery[str | None] = None) -> Any:
        if self._pending_user(request) is None:
            return redirect(request, "/login", flash="two_factor_expired")
        context = {"next": safe_next(next) or ""}
        return render(request, "auth/two_factor_sign_in.html", context)

    @post("/")
    async def check(self, request: Req, db: DB) -> Any:
        user_id = self._pending_user(request)
        if user_id is None:
            return redirect(request, "/login", flash="two_factor_expired")
        code = await form_value(request, "code")
        next_path = safe_next(await form_value(request, "next")) or ""
        context: dict[str, Any] = {"next": next_path}
        user = await get_user(db, user_id)
        limits = shared_state(request).limits
        try:
            if not user.is_active:
                raise NotFound("user")
            await twofactor.verify_second_step(db, limits, user, code, origin(request))
        except NotFound:
            return redirect(request, "/login", flash="two_factor_expired")
        except RateLimited as exc:
            context["errors"] = {"code": code_wait(exc)}
            return rate_limited(request, exc, "auth/two_factor_sign_in.html", context)
        except Invalid as exc:
            context["errors"] = exc.errors
            return render(request, "auth/two_factor_sign_in.html", context, status_code=422)
        response = await sign_in(request, db, user, next_path)
        response.delete_cookie(TWO_FACTOR_COOKIE, path=TWO_FACTOR_PATH)
        return response

    @staticmethod
    def _pending_user(request: Req) -> Any:
        token = request.cookies.get(TWO_FACTOR_COOKIE, "")
        secret_key = request.app.state["settings"].secret_key
        return twofactor.user_of_pending_token(secret_key, token) if token else None


class SignInSecurityController(Controller):
    """The owner's choice: the firm's staff must sign in with two-factor authentication."""

    path = "/settings/security"
    guards = [requires(permissions.can_manage_sign_in_security)]

    @get("/", name="sign_in_security")
    async def page(self, request: Req, ws: WS) -> Any:
        context = {"ws": ws, "required": ws.tenant.two_factor_required}
        return render(request, "firm/sign_in_security.html", context)

    @post("/", name="save_sign_in_security")
    async def save(self, request: Req, db: DB, ws: WS) -> Any:
        required = await form_value(request, "two_factor_required") == "on"
        try:
            await twofactor.set_required_for_staff(
                db, ws.membership, ws.tenant, required, origin(request)
            )
        except Invalid as exc:
            context = {"ws": ws, "required": required, "errors": exc.errors}
            return render(request, "firm/sign_in_security.html", context, status_code=422)
        return redirect(request, ws.url("settings/security/"), flash="sign_in_security_saved")
