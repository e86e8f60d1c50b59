"""A firm signs up: the form, the slug suggestion, and the verification link."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath

from luotsi.platform import i18n
from luotsi.platform.errors import Invalid, NotFound, RateLimited
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import TokenPurpose, count_mail_request
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.signup import SignupForm, check_slug, sign_up_firm, verify_signup
from luotsi.platform.tenancy import suggest_slug
from luotsi.web.auth import client_ip, sign_in
from luotsi.web.deps import DB, Req
from luotsi.web.errors import rate_limited
from luotsi.web.forms import form_value, read_form
from luotsi.web.middleware import shared_state
from luotsi.web.templating import render


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
        await db.flush()
        return render(request, "signup/check_email.html", {"email": user.email}, block="form")

    @get("/verify/{token:str}", name="signup_verify")
    async def verify(self, request: Req, db: DB, token: FromPath[str]) -> Any:
        try:
            tenant, user = await verify_signup(db, token)
        except NotFound:
            return render(request, "auth/link_invalid.html", status_code=404)
        return await sign_in(request, db, user, f"/t/{tenant.slug}/", flash="verified")
