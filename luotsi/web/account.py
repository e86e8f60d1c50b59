"""The account page: firms, password, e-mail address and the signed-in devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import audit
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import (
    EmailTaken,
    TokenPurpose,
    User,
    change_password,
    confirm_email_change,
    count_mail_request,
    end_session_by_handle,
    peek_token,
    request_email_change,
)
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import memberships_of_user
from luotsi.platform.useragent import browser_summary, device_label
from luotsi.web.auth import (
    SIGN_INS_SHOWN,
    client_ip,
    sign_in,
    sign_out_response,
    signed_in_user,
)
from luotsi.web.deps import DB, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import read_form
from luotsi.web.middleware import origin, shared_state, visitor
from luotsi.web.reauth import require_recent_authentication
from luotsi.web.templating import redirect, render


@dataclass
class PasswordForm:
    current_password: str = ""
    new_password: str = ""
    confirm_password: str = ""


@dataclass
class EmailForm:
    new_email: str = ""


async def account_context(
    request: Req, db: AsyncSession, user: User, **extra: Any
) -> dict[str, Any]:
    """The account page: the user's firms, the password and e-mail forms, their active
    sessions and their own sign-in history (readable on PostgreSQL because the middleware
    named the user on the session)."""
    current = visitor(request).session
    return {
        "firms": await memberships_of_user(db, user.id),
        "form": PasswordForm(),
        "user_email": user.email,
        "email_form": EmailForm(),
        "sessions": await shared_state(request).sessions.active_of(db, user.id),
        "current_session": current.id if current else None,
        "device_label": device_label,
        "sign_ins": await audit.own_sign_ins(db, user.id, limit=SIGN_INS_SHOWN),
        "succeeded": audit.LOGIN_SUCCEEDED,
        "browser_summary": browser_summary,
        **extra,
    }


class AccountController(Controller):
    path = "/account"

    @get("/", name="account")
    async def account(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        return render(request, "auth/account.html", await account_context(request, db, user))

    @post("/password", name="change_password")
    async def change_password(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        require_recent_authentication(request, "/account")
        form = await read_form(request, PasswordForm)
        shared = shared_state(request)
        try:
            await change_password(
                db,
                shared.sessions,
                shared.limits,
                user,
                form.current_password,
                form.new_password,
                form.confirm_password,
            )
        except Invalid as exc:
            return render(
                request,
                "auth/account.html",
                await account_context(request, db, user, errors=exc.errors),
                block="password_form",
                status_code=422,
            )
        # Every other session ended with the change; this browser gets a new one.
        return await sign_in(request, db, user, "/account", flash="password_changed")

    @post("/email", name="change_email")
    async def change_email(self, request: Req, db: DB) -> Any:
        """Send a link to the new address and a notice to the old one; the page answers
        alike whether or not the new address has an account (only its mailbox is told)."""
        user = signed_in_user(request)
        require_recent_authentication(request, "/account")
        form = await read_form(request, EmailForm)
        try:
            change = await request_email_change(db, user, form.new_email)
            await count_mail_request(
                db,
                shared_state(request).limits,
                TokenPurpose.CHANGE_EMAIL,
                change.new_email,
                client_ip(request),
            )
        except RateLimited as exc:
            message = _(
                "Several links have been asked for in a short time. Try again in %(n)d minutes."
            ) % {"n": exc.retry_after_minutes}
            context = await account_context(
                request, db, user, email_form=form, email_errors={"new_email": message}
            )
            return rate_limited(request, exc, "auth/account.html", context, block="email_form")
        except Invalid as exc:
            return render(
                request,
                "auth/account.html",
                await account_context(request, db, user, email_form=form, email_errors=exc.errors),
                block="email_form",
                status_code=422,
            )
        base = request.app.state["settings"].base_url
        if change.token is None:
            new_mail = render_email("email_change_in_use", change.new_email, user.locale)
        else:
            new_mail = render_email(
                "email_change_confirm",
                change.new_email,
                user.locale,
                name=user.name,
                link=f"{base}/account/email/{change.token}",
            )
        enqueue_email(db, new_mail)
        enqueue_email(
            db,
            render_email(
                "email_change_notice",
                user.email,
                user.locale,
                name=user.name,
                new_email=change.new_email,
                link=f"{base}/account",
            ),
        )
        await db.flush()
        return redirect(request, "/account", flash="email_change_sent")

    @get("/email/{token:str}", name="confirm_email_change")
    async def email_link(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        # A GET only shows the button: a mail scanner that opens links uses nothing up.
        try:
            row = await peek_token(db, token, TokenPurpose.CHANGE_EMAIL)
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        return render(request, "auth/email_confirm.html", {"token": token, "email": row.email})

    @post("/email/{token:str}")
    async def confirm_email(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        try:
            await confirm_email_change(db, token, origin(request))
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        except EmailTaken:
            context = {"token": token, "taken": True}
            return render(request, "auth/email_confirm.html", context, status_code=409)
        next_path = "/account" if visitor(request).user is not None else "/login"
        return redirect(request, next_path, flash="email_changed")

    @post("/sessions/{handle:str}/end", name="end_session")
    async def end_one(self, request: Req, db: DB, handle: FromPath[str]) -> Any:
        user = signed_in_user(request)
        current = visitor(request).session
        if current is not None and current.handle == handle:
            return await self._end_all(request, db, user)
        await end_session_by_handle(db, shared_state(request).sessions, user, handle)
        return redirect(request, "/account#sessions", flash="session_ended")

    @post("/sessions/end-others", name="end_other_sessions")
    async def end_others(self, request: Req, db: DB) -> Any:
        user = signed_in_user(request)
        current = visitor(request).session
        keep = current.id if current else None
        await shared_state(request).sessions.remove_all_of(db, user.id, keep=keep)
        return redirect(request, "/account#sessions", flash="other_sessions_ended")

    @get("/sessions/end-all", name="confirm_end_all_sessions")
    async def confirm_end_all(self, request: Req) -> Any:
        signed_in_user(request)
        return render(request, "auth/end_all_sessions.html")

    @post("/sessions/end-all", name="end_all_sessions")
    async def end_all(self, request: Req, db: DB) -> Any:
        return await self._end_all(request, db, signed_in_user(request))

    async def _end_all(self, request: Req, db: AsyncSession, user: User) -> Any:
        await shared_state(request).sessions.remove_all_of(db, user.id)
        return sign_out_response(request, "/login", flash="signed_out_everywhere")
