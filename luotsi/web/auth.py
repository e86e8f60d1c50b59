"""Signing in and out, forgotten passwords, the account page and the language switch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromPath, FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n, twofactor
from luotsi.platform.db import set_session_user
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import ngettext
from luotsi.platform.identity import (
    TokenPurpose,
    User,
    authenticate,
    count_mail_request,
    end_session,
    get_user_by_email,
    issue_token,
    peek_token,
    reset_password,
    start_session,
)
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import memberships_of_user
from luotsi.web.csrf import csrf_config, set_csrf_cookie
from luotsi.web.deps import DB, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import form_value, read_form
from luotsi.web.middleware import LANG_COOKIE, origin, session_cookie, shared_state, visitor
from luotsi.web.templating import redirect, render

# The second step of a sign-in with two-factor authentication: a signed, short-lived note that
# the password was right, sent only to the second step's address (luotsi.web.twofactor).
TWO_FACTOR_COOKIE = "luotsi_2fa"
TWO_FACTOR_PATH = "/login/two-factor"


def safe_next(value: str | None) -> str | None:
    """Only a local path is followed after sign-in (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def client_ip(request: Req) -> str:
    return request.client.host if request.client else "unknown"


SIGN_INS_SHOWN = 20


def sign_in_wait(exc: RateLimited) -> str:
    """How long a refused sign-in waits: seconds after the first failures, later minutes."""
    if exc.retry_after_seconds < 60:
        n = exc.retry_after_seconds
        text = ngettext(
            "Too many failed sign-ins. Try again in %(n)d second.",
            "Too many failed sign-ins. Try again in %(n)d seconds.",
            n,
        )
    else:
        n = exc.retry_after_minutes
        text = ngettext(
            "Too many failed sign-ins. Try again in %(n)d minute.",
            "Too many failed sign-ins. Try again in %(n)d minutes.",
            n,
        )
    return text % {"n": n}


def signed_in_user(request: Req) -> User:
    user = visitor(request).user
    if user is None:
        raise NotAuthorizedException("sign in")
    return user


async def landing_path(db: AsyncSession, user: User) -> str:
    firms = await memberships_of_user(db, user.id)
    if len(firms) == 1:
        return f"/t/{firms[0][1].slug}/"
    return "/account"


async def sign_in(
    request: Req,
    db: DB,
    user: User,
    next_path: str | None = None,
    flash: str | None = None,
) -> Response[Any]:
    """Start a fresh session (the old cookie's session ends: no fixation) and go on; staff of
    a firm that requires two-factor authentication, without it, go to turn it on first."""
    shared = shared_state(request)
    old = visitor(request).session_token
    if old:
        await end_session(db, shared.sessions, old)
    token = await start_session(
        db, shared.sessions, user, client_ip(request), origin(request)["user_agent"]
    )
    await set_session_user(db, user.id)
    destination = safe_next(next_path) or await landing_path(db, user)
    if await twofactor.must_enrol_at_sign_in(db, user.id):
        destination, flash = "/account/two-factor/", "two_factor_needed"
    response = redirect(request, destination, flash)
    settings = request.app.state["settings"]
    response.set_cookie(
        session_cookie(request),
        token,
        httponly=True,
        samesite="lax",
        secure=not settings.debug,
        path="/",
        max_age=int(shared.sessions.times.lifetime.total_seconds()),
    )
    # The CSRF token of before the sign-in is worth nothing now: the new one is the session's.
    set_csrf_cookie(response, settings, token)
    return response


def to_second_step(request: Req, user: User, next_path: str) -> Response[Any]:
    """The password was right and the account has two-factor on: ask for a code next."""
    settings = request.app.state["settings"]
    wanted = safe_next(next_path)
    response = redirect(
        request, TWO_FACTOR_PATH + (f"?next={quote(wanted, safe='/')}" if wanted else "")
    )
    response.set_cookie(
        TWO_FACTOR_COOKIE,
        twofactor.pending_token(settings.secret_key, user.id),
        path=TWO_FACTOR_PATH,
        httponly=True,
        samesite="lax",
        secure=not settings.debug,
        max_age=int(twofactor.PENDING_LIFETIME.total_seconds()),
    )
    return response


def sign_out_response(request: Req, path: str, flash: str | None = None) -> Response[Any]:
    """To ``path`` with the session's cookies gone (its CSRF token with it)."""
    response = redirect(request, path, flash=flash)
    settings = request.app.state["settings"]
    # Expired with the attributes they were set with: a browser ignores a __Host- cookie
    # (even an expired one) that comes without Secure and Path=/.
    for name in (session_cookie(request), csrf_config(settings).cookie_name):
        response.set_cookie(
            name, "", max_age=0, httponly=True, samesite="lax", secure=not settings.debug, path="/"
        )
    return response


@dataclass
class LoginForm:
    email: str = ""
    password: str = ""
    next: str = ""


class AuthController(Controller):
    @get("/login", name="login")
    async def login_page(self, request: Req, next: FromQuery[str | None] = None) -> Any:
        if visitor(request).user is not None and safe_next(next):
            return redirect(request, safe_next(next) or "/account")
        return render(request, "auth/login.html", {"form": LoginForm(next=safe_next(next) or "")})

    @post("/login")
    async def login(self, request: Req, db: DB) -> Any:
        form = await read_form(request, LoginForm)
        try:
            user = await authenticate(
                db,
                shared_state(request).limits,
                form.email,
                form.password,
                client_ip(request),
                user_agent=origin(request)["user_agent"],
            )
        except RateLimited as exc:
            context = {"form": form, "errors": {"password": sign_in_wait(exc)}}
            return rate_limited(request, exc, "auth/login.html", context, block="form")
        except Invalid as exc:
            # The failure is audited even though the response is an error (error responses
            # roll back), so it is committed here; its attempt was committed before the check.
            await db.commit()
            form.password = ""
            return render(
                request,
                "auth/login.html",
                {"form": form, "errors": exc.errors},
                block="form",
                status_code=422,
            )
        if await twofactor.is_enabled(db, user.id):
            return to_second_step(request, user, form.next)
        return await sign_in(request, db, user, form.next)

    @post("/logout", name="logout")
    async def logout(self, request: Req, db: DB) -> Any:
        token = visitor(request).session_token
        if token:
            await end_session(db, shared_state(request).sessions, token)
        return sign_out_response(request, "/login", flash="signed_out")

    @get("/password/forgot", name="forgot_password")
    async def forgot_page(self, request: Req) -> Any:
        return render(request, "auth/forgot.html", {"email": ""})

    @post("/password/forgot")
    async def forgot(self, request: Req, db: DB) -> Any:
        email = (await form_value(request, "email")).strip()
        try:
            await count_mail_request(
                db,
                shared_state(request).limits,
                TokenPurpose.RESET_PASSWORD,
                email,
                client_ip(request),
            )
        except RateLimited as exc:
            message = _(
                "Several links have been asked for in a short time. Try again in %(n)d minutes."
            ) % {"n": exc.retry_after_minutes}
            context = {"email": email, "errors": {"email": message}}
            return rate_limited(request, exc, "auth/forgot.html", context)
        user = await get_user_by_email(db, email) if email else None
        if user is not None and user.is_active:
            token = await issue_token(db, user, TokenPurpose.RESET_PASSWORD)
            settings = request.app.state["settings"]
            enqueue_email(
                db,
                render_email(
                    "reset_password",
                    user.email,
                    user.locale,
                    name=user.name,
                    link=f"{settings.base_url}/password/reset/{token}",
                ),
            )
            await db.flush()
        # The same answer whether or not the address has an account.
        return render(request, "auth/forgot_sent.html", {"email": email})

    @get("/password/reset/{token:str}", name="reset_password")
    async def reset_page(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        try:
            await peek_token(db, token, TokenPurpose.RESET_PASSWORD)
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        return render(request, "auth/reset.html", {"token": token})

    @post("/password/reset/{token:str}")
    async def reset(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        password = await form_value(request, "new_password")
        confirm = await form_value(request, "confirm_password")
        shared = shared_state(request)
        try:
            await reset_password(db, shared.sessions, shared.limits, token, password, confirm)
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        except Invalid as exc:
            return render(
                request,
                "auth/reset.html",
                {"token": token, "errors": exc.errors},
                block="form",
                status_code=422,
            )
        return sign_out_response(request, "/login", flash="password_reset")

    @post("/language", name="language")
    async def set_language(self, request: Req, db: DB) -> Any:
        language = await form_value(request, "language")
        if language not in i18n.LANGUAGES:
            language = i18n.DEFAULT_LANGUAGE
        user = visitor(request).user
        if user is not None:
            user.locale = language
            await db.flush()
        next_path = safe_next(await form_value(request, "next")) or "/"
        response = redirect(request, next_path)
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax")
        return response
