"""A firm signs up on its own: the tenant, its owner, and the e-mail check that opens it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, i18n
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import (
    TOKEN_LIFETIME,
    TokenPurpose,
    User,
    check_email,
    check_password_rules,
    get_user_by_email,
    hash_password,
    issue_token,
    use_token,
)
from luotsi.platform.mail import render_email
from luotsi.platform.members import check_person_name
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import (
    RESERVED_SLUGS,
    SLUG_RE,
    Membership,
    Role,
    Tenant,
    TenantStatus,
    check_business_id,
    slug_taken,
)


@dataclass
class SignupForm:
    firm_name: str = ""
    business_id: str = ""
    slug: str = ""
    name: str = ""
    email: str = ""
    password: str = ""


def clean_business_id(value: str) -> str:
    """The firm's business ID is required; otherwise checked as every business ID is."""
    business_id = check_business_id(value)
    if not business_id:
        raise Invalid.field("business_id", _("Enter the firm's business ID."))
    return business_id


async def release_abandoned_slug(db: AsyncSession, slug: str) -> None:
    """A signup never verified within the link's lifetime gives its address back."""
    cutoff = clock.now() - TOKEN_LIFETIME[TokenPurpose.VERIFY_EMAIL]
    await db.execute(
        delete(Tenant).where(
            Tenant.slug == slug, Tenant.status == TenantStatus.PENDING, Tenant.created_at < cutoff
        )
    )


async def check_slug(db: AsyncSession, slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise Invalid.field(
            "slug",
            _(
                "Use 3-40 lower-case letters, digits and hyphens; "
                "start and end with a letter or digit."
            ),
        )
    if slug in RESERVED_SLUGS:
        raise Invalid.field("slug", _("This address is reserved. Choose another."))
    await release_abandoned_slug(db, slug)
    if await slug_taken(db, slug):
        raise Invalid.field("slug", _("This address is already in use. Choose another."))
    return slug


async def sign_up_firm(
    db: AsyncSession, form: SignupForm, language: str
) -> tuple[Tenant, User, str]:
    """Create a pending firm and its owner; returns the verification token to e-mail.

    The session (a request's, without a tenant) writes the global ``tenants`` and ``users``
    rows, then scopes itself to the new tenant before writing the owner's membership. A signup
    never changes an existing account: the password and name typed here ride on the e-mailed
    link, and following it sets them only if the address is still unverified (the link proves
    who typed them). An already verified account keeps its own password and becomes the owner
    once the link is followed, so the form never tells whether an address is registered.
    """
    errors: dict[str, str] = {}
    firm_name = form.firm_name.strip()
    if not firm_name:
        errors["firm_name"] = _("Enter the firm's name.")
    elif len(firm_name) > 200:
        errors["firm_name"] = i18n.too_long(200)
    business_id = ""
    for field, check in (
        ("name", lambda: check_person_name(form.name)),
        ("business_id", lambda: clean_business_id(form.business_id)),
        ("email", lambda: check_email(form.email)),
        (
            "password",
            lambda: check_password_rules(form.password, email=form.email, name=form.name),
        ),
    ):
        try:
            value = check()
            if field == "business_id":
                business_id = value or ""
        except Invalid as exc:
            errors.update(exc.errors)
    try:
        slug = await check_slug(db, form.slug)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)

    tenant = Tenant(slug=slug, name=firm_name, business_id=business_id)
    db.add(tenant)
    await db.flush()
    # Hashed on every path (new, unverified or verified address): the answer takes as long
    # whether or not the address has an account.
    password_hash = hash_password(form.password)
    name = check_person_name(form.name)
    user = await get_user_by_email(db, form.email)
    if user is None:
        # Until verified only "verify your e-mail first" answers this password at sign-in.
        user = User(
            email=check_email(form.email),
            name=name,
            password_hash=password_hash,
            locale=language,
        )
        db.add(user)
        await db.flush()
    await scope_to_tenant(db, tenant.id)
    db.add(Membership(user_id=user.id, role=Role.OWNER))
    token = await issue_token(
        db,
        user,
        TokenPurpose.VERIFY_EMAIL,
        tenant_id=tenant.id,
        password_hash=password_hash,
        name=name,
    )
    return tenant, user, token


async def verify_signup(db: AsyncSession, token: str) -> tuple[Tenant, User]:
    """Follow the e-mailed link: the address is verified and the firm opens."""
    row = await use_token(db, token, TokenPurpose.VERIFY_EMAIL)
    user = await db.get(User, row.user_id)
    tenant = await db.get(Tenant, row.tenant_id) if row.tenant_id else None
    if user is None or tenant is None:
        raise NotFound("signup")
    if user.email_verified_at is None:
        # The details of the signup whose link was followed, not of any later one (a link
        # issued before they rode on it keeps the account's own password).
        user.password_hash = row.password_hash or user.password_hash
        user.name = row.name or user.name
        user.email_verified_at = clock.now()
    row.password_hash = None  # no longer needed once the link is used
    if tenant.status == TenantStatus.PENDING:
        tenant.status = TenantStatus.ACTIVE
        await warn_operators_of_shared_business_id(db, tenant)
    await db.flush()
    return tenant, user


async def warn_operators_of_shared_business_id(db: AsyncSession, tenant: Tenant) -> None:
    """E-mail the platform operators when a firm opens with another open firm's business ID.

    Signup allows it and says nothing (docs/decisions.md): a refusal would tell anyone which
    business IDs have a workspace and would let whoever signed up first with a number lock
    its real owner out. Pending signups do not count; they are abandoned or not yet proved.
    """
    others = list(
        await db.scalars(
            select(Tenant)
            .where(
                Tenant.business_id == tenant.business_id,
                Tenant.id != tenant.id,
                Tenant.status != TenantStatus.PENDING,
            )
            .order_by(Tenant.created_at)
        )
    )
    if not others:
        return
    operators = await db.scalars(select(User).where(User.is_operator, User.is_active))
    for operator in operators:
        enqueue_email(
            db,
            render_email(
                "shared_business_id",
                operator.email,
                operator.locale,
                business_id=tenant.business_id,
                firms=[*others, tenant],
                opened=tenant,
            ),
        )
