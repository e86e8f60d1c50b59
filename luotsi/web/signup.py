"""A firm signs up: the form, the slug suggestion, and the verification link."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import i18n
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import (
    TOKEN_LIFETIME,
    TokenPurpose,
    User,
    check_email,
    count_mail_request,
)
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.signup import (
    PendingSignup,
    SignupForm,
    change_signup_address,
    check_slug,
    get_pending_signup,
    pending_signup_cookie,
    send_signup_link_again,
    sign_up_firm,
    tenant_of_pending_cookie,
    verify_signup,
)
from luotsi.platform.tenancy import Tenant, suggest_slug
from luotsi.web.auth import client_ip, sign_in
from luotsi.web.deps import DB, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import form_value, read_form
from luotsi.web.middleware import shared_state
from luotsi.web.templating import redirect, render


class SignupController(Controller):
    path = "/signup"

    @get("/", name="signup")
    async def page(self, request: Req) -> Any:
        return render(request, "signup/signup.html", {"form": SignupForm()})

    @post("/slug", name="signup_slug")
    async def slug_hint(self, request: Req, db: DB) -> Any:
        """htmx: suggest a URL name from the firm name, or check the one typed."""
        slug = (await form_value(request, "slug")).strip()
        if not slug:
            slug = suggest_slug(await form_value(request, "firm_name"))
        error = None
        if slug:
            try:
                slug = await check_slug(db, slug)
            except Invalid as exc:
                error = exc.errors["slug"]
        return render(
            request,
            "signup/signup.html",
            {"form": SignupForm(slug=slug), "slug_error": error, "slug_checked": bool(slug)},
            block="slug_field",
        )

    @post("/")
    async def submit(self, request: Req, db: DB) -> Any:
        form = await read_form(request, SignupForm)
        if not form.slug.strip():
            form.slug = suggest_slug(form.firm_name)
        language = i18n.current_language()
        try:
            await count_mail_request(
                db,
                shared_state(request).limits,
                TokenPurpose.VERIFY_EMAIL,
                form.email,
                client_ip(request),
            )
        except RateLimited as exc:
            message = _(
                "Several workspaces have been started in a short time. Try again in %(n)d minutes."
            ) % {"n": exc.retry_after_minutes}
            context = {"form": form, "errors": {"email": message}}
            return rate_limited(request, exc, "signup/signup.html", context, block="form")
        try:
            tenant, user, token = await sign_up_firm(db, form, language)
        except Invalid as exc:
            form.password = ""
            return render(
                request,
                "signup/signup.html",
                {"form": form, "errors": exc.errors},
                block="form",
                status_code=422,
            )
        _email_link(request, db, tenant, user, token, language)
        await db.flush()
        response = redirect(request, "/signup/sent")
        settings = request.app.state["settings"]
        response.set_cookie(
            PENDING_COOKIE,
            pending_signup_cookie(settings.secret_key, tenant.id),
            httponly=True,
            samesite="lax",
            secure=not settings.debug,
            max_age=int(TOKEN_LIFETIME[TokenPurpose.VERIFY_EMAIL].total_seconds()),
            path="/signup",
        )
        return response

    @get("/sent", name="signup_sent")
    async def sent(self, request: Req, db: DB) -> Any:
        """The "check your e-mail" page, found again on reload by the browser's cookie."""
        signup = await _pending(request, db)
        if signup is None:
            return redirect(request, "/login")
        return _sent_page(request, signup)

    @post("/sent/again", name="signup_send_again")
    async def send_again(self, request: Req, db: DB) -> Any:
        signup = await _pending(request, db)
        if signup is None:
            return redirect(request, "/login")
        try:
            await _count(request, db, signup.owner.email)
        except RateLimited as exc:
            message = _(
                "A link has already been sent several times. Check your e-mail, also the spam "
                "folder, or try again in %(n)d minutes."
            ) % {"n": exc.retry_after_minutes}
            return _sent_page(request, signup, again_error=message, exc=exc)
        token = await send_signup_link_again(db, signup)
        _email_link(request, db, signup.tenant, signup.owner, token, i18n.current_language())
        await db.flush()
        return redirect(request, "/signup/sent", flash="signup_link_sent")

    @post("/sent/address", name="signup_change_address")
    async def change_address(self, request: Req, db: DB) -> Any:
        signup = await _pending(request, db)
        if signup is None:
            return redirect(request, "/login")
        email = (await form_value(request, "email")).strip()
        language = i18n.current_language()
        try:
            check_email(email)
            await _count(request, db, email)
            user, token = await change_signup_address(db, signup, email, language)
        except Invalid as exc:
            return _sent_page(request, signup, errors=exc.errors, email=email)
        except RateLimited as exc:
            message = _(
                "Several links have been sent in a short time. Try again in %(n)d minutes."
            ) % {"n": exc.retry_after_minutes}
            return _sent_page(request, signup, errors={"email": message}, email=email, exc=exc)
        _email_link(request, db, signup.tenant, user, token, language)
        await db.flush()
        return redirect(request, "/signup/sent", flash="signup_address_changed")

    @get("/verify/{token:str}", name="signup_verify")
    async def verify(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        try:
            tenant, user = await verify_signup(db, token)
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        return await sign_in(request, db, user, f"/t/{tenant.slug}/", flash="verified")


PENDING_COOKIE = "luotsi_signup"


async def _pending(request: Req, db: DB) -> PendingSignup | None:
    """The signup this browser started and has not confirmed yet, or None."""
    secret = request.app.state["settings"].secret_key
    tenant_id = tenant_of_pending_cookie(secret, request.cookies.get(PENDING_COOKIE, ""))
    if tenant_id is None:
        return None
    try:
        return await get_pending_signup(db, tenant_id)
    except NotFound:
        return None


async def _count(request: Req, db: DB, email: str) -> None:
    """A link e-mailed: counted as every signup link is (per address and per client)."""
    await count_mail_request(
        db, shared_state(request).limits, TokenPurpose.VERIFY_EMAIL, email, client_ip(request)
    )


def _email_link(
    request: Req, db: DB, tenant: Tenant, user: User, token: str, language: str
) -> None:
    settings = request.app.state["settings"]
    enqueue_email(
        db,
        render_email(
            "verify_email",
            user.email,
            user.locale if user.email_verified_at else language,
            name=user.name,
            firm=tenant.name,
            link=f"{settings.base_url}/signup/verify/{token}",
        ),
        tenant_id=tenant.id,
    )


def _sent_page(
    request: Req,
    signup: PendingSignup,
    *,
    errors: dict[str, str] | None = None,
    again_error: str = "",
    email: str = "",
    exc: RateLimited | None = None,
) -> Any:
    context = {
        "email": signup.owner.email,
        "new_email": email,
        "errors": errors or {},
        "again_error": again_error,
    }
    if exc is not None:
        return rate_limited(request, exc, "signup/check_email.html", context)
    status = 422 if errors else 200
    return render(request, "signup/check_email.html", context, status_code=status)
