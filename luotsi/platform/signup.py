"""A firm signs up on its own: the tenant, its owner, and the e-mail check that opens it."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.firm import check_firm_name, clean_business_id
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import (
    TOKEN_LIFETIME,
    AuthToken,
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
    firm_name = business_id = ""
    try:
        firm_name = check_firm_name(form.firm_name)
    except Invalid as exc:
        errors.update(exc.errors)
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


# --- the pending signup, between the form and the e-mailed link ------------------------------

_PENDING_PURPOSE = b"luotsi-pending-signup:"


def _pending_signature(secret: str, tenant_id: uuid.UUID) -> str:
    message = _PENDING_PURPOSE + tenant_id.hex.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def pending_signup_cookie(secret: str, tenant_id: uuid.UUID) -> str:
    """``<tenant>.<signature>``: the browser that signed up finds its pending signup again."""
    return f"{tenant_id.hex}.{_pending_signature(secret, tenant_id)}"


def tenant_of_pending_cookie(secret: str, value: str) -> uuid.UUID | None:
    """The firm a genuine cookie names, or None."""
    tenant_hex, _dot, signature = value.partition(".")
    try:
        tenant_id = uuid.UUID(hex=tenant_hex)
    except ValueError:
        return None
    if not hmac.compare_digest(signature, _pending_signature(secret, tenant_id)):
        return None
    return tenant_id


@dataclass
class PendingSignup:
    tenant: Tenant
    owner: User
    membership: Membership


async def get_pending_signup(db: AsyncSession, tenant_id: uuid.UUID) -> PendingSignup:
    """A signup whose link has not been followed yet; :class:`NotFound` once the firm opened
    (or was abandoned and given up). Scopes the session to the pending firm."""
    tenant = await db.get(Tenant, tenant_id)
    if tenant is None or tenant.status != TenantStatus.PENDING:
        raise NotFound("signup")
    await scope_to_tenant(db, tenant.id)
    row = (
        await db.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.role == Role.OWNER)
        )
    ).first()
    if row is None:
        raise NotFound("signup")
    membership, owner = row
    return PendingSignup(tenant, owner, membership)


async def _latest_link(db: AsyncSession, signup: PendingSignup) -> AuthToken:
    """The signup's newest link: the password and name typed in the form ride on it."""
    row = await db.scalar(
        select(AuthToken)
        .where(
            AuthToken.tenant_id == signup.tenant.id,
            AuthToken.purpose == TokenPurpose.VERIFY_EMAIL,
            AuthToken.used_at.is_(None),
        )
        .order_by(AuthToken.expires_at.desc())
        .limit(1)
    )
    if row is None:
        raise NotFound("signup")
    return row


async def send_signup_link_again(db: AsyncSession, signup: PendingSignup) -> str:
    """A new link to the same address, with the same details; links sent before still work
    (an e-mail that was only slow is not spoiled by asking again)."""
    latest = await _latest_link(db, signup)
    return await issue_token(
        db,
        signup.owner,
        TokenPurpose.VERIFY_EMAIL,
        tenant_id=signup.tenant.id,
        password_hash=latest.password_hash,
        name=latest.name,
    )


async def change_signup_address(
    db: AsyncSession, signup: PendingSignup, email: str, language: str
) -> tuple[User, str]:
    """The address was mistyped: the signup moves to ``email`` with the same details and a new
    link; every link sent to the old address stops working.

    As at signup, an address that already has an account is never changed by this: its owner
    becomes the firm's owner once they follow the link (with their own password).
    """
    new_email = check_email(email)
    latest = await _latest_link(db, signup)
    user = await get_user_by_email(db, new_email)
    if user is None:
        user = User(
            email=new_email,
            name=latest.name or signup.owner.name,
            password_hash=latest.password_hash,
            locale=language,
        )
        db.add(user)
        await db.flush()
    await db.execute(
        delete(AuthToken).where(
            AuthToken.tenant_id == signup.tenant.id,
            AuthToken.purpose == TokenPurpose.VERIFY_EMAIL,
        )
    )
    signup.membership.user_id = user.id
    signup.owner = user
    await db.flush()
    token = await issue_token(
        db,
        user,
        TokenPurpose.VERIFY_EMAIL,
        tenant_id=signup.tenant.id,
        password_hash=latest.password_hash,
        name=latest.name,
    )
    return user, token
