"""Firms (tenants) and who belongs to them."""

from __future__ import annotations

import enum
import re
import unicodedata
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, ForeignKey, String, UniqueConstraint, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fi import ytunnus

from luotsi.platform import clock
from luotsi.platform.db import (
    Base,
    OwnRows,
    TenantScoped,
    str_enum,
    unscoped_memberships_of_user,
)
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import gettext as _


class TenantStatus(enum.StrEnum):
    PENDING = "pending"  # signed up, owner's e-mail not yet verified
    ACTIVE = "active"
    SUSPENDED = "suspended"
    # Erased after its owner closed it: the row stays as a tombstone, so that the slug is not
    # given to another firm (links and e-mails out there keep pointing to nobody, not to them).
    CLOSED = "closed"


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    CLIENT_CONTACT = "client_contact"
    SUPERVISEE = "supervisee"


DEFAULT_RETENTION_MONTHS = 24
DEFAULT_REMINDER_HOURS = 48
RETENTION_MONTHS_CHOICES = (6, 12, 24, 36, 60)

STAFF_ROLES = (Role.OWNER, Role.ADMIN, Role.SUPERVISOR)
INVITABLE_ROLES = (Role.ADMIN, Role.SUPERVISOR)


TENANT_OBJECT = "tenant"  # the audit log's object type of a change to the firm's settings


class Tenant(Base):
    """A supervision firm. Global table: holds no content, only what routing needs."""

    __tablename__ = "tenants"
    # A new firm's server defaults (reminder_hours) are not read back: nothing reads them from
    # the row just inserted, and an INSERT names only the columns it sets.
    __mapper_args__ = {"eager_defaults": False}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    business_id: Mapped[str] = mapped_column(String(9))
    status: Mapped[TenantStatus] = mapped_column(
        str_enum(TenantStatus), default=TenantStatus.PENDING
    )
    # How long confidential content is kept after an agreement ends (the worker erases it then).
    content_retention_months: Mapped[int] = mapped_column(default=DEFAULT_RETENTION_MONTHS)
    # How many hours ahead session reminders go out, unless a supervisor chose their own. A
    # server default: code that reads it loads the firm (the workspace, the worker).
    reminder_hours: Mapped[int] = mapped_column(server_default=str(DEFAULT_REMINDER_HOURS))
    # Staff (owner, admin, supervisor) must sign in with a second factor (the owner's choice).
    two_factor_required: Mapped[bool] = mapped_column(server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Closing the firm (luotsi.billing.closure): when the owner asked, and the owner's address
    # and language for the confirmations (the memberships go with the erasure).
    closure_requested_at: Mapped[datetime | None]
    closure_contact: Mapped[str | None] = mapped_column(String(254))
    closure_language: Mapped[str | None] = mapped_column(String(5))
    closed_at: Mapped[datetime | None]  # when its data was erased (status closed)


class Membership(TenantScoped, OwnRows, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Set when the member leaves the firm: the row stays, for everything that points at it.
    deactivated_at: Mapped[datetime | None]
    # When an owner or admin put the dashboard's setup checklist away (their own view only).
    setup_dismissed_at: Mapped[datetime | None]

    user = relationship("User", lazy="raise")

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    def deactivate(self) -> None:
        """The member leaves the firm: they can no longer open it, and nothing that points at
        them is lost (a membership is never deleted)."""
        self.deactivated_at = self.deactivated_at or clock.now()


def active_member() -> ColumnElement[bool]:
    """SQL condition: the membership has not been deactivated (the member is still in)."""
    return Membership.deactivated_at.is_(None)


# --- business IDs -------------------------------------------------------------------------


def check_business_id(text: str, field_name: str = "business_id") -> str:
    """A Y-tunnus with a valid check digit, written ``1234567-8``; empty stays empty.

    The one check for every business ID we keep (firms' and client organisations'): input
    such as ``1234567 8`` or ``12345678`` is stored and shown in the hyphenated form.
    """
    text = text.strip()
    if not text:
        return ""
    try:
        if len(text) > 20:
            raise ValidationError
        return str(ytunnus.format(ytunnus.validate(text)))
    except InvalidChecksum:
        raise Invalid.field(
            field_name,
            _("The check digit (the last digit) does not match: check the business ID."),
        ) from None
    except ValidationError:
        raise Invalid.field(field_name, _("Enter the business ID in the form 1234567-8.")) from None


# --- slugs ----------------------------------------------------------------------------------

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$")
RESERVED_SLUGS = frozenset(
    [
        "admin",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "blog",
        "dashboard",
        "demo",
        "dev",
        "docs",
        "f",
        "help",
        "join",
        "login",
        "logout",
        "luotsi",
        "mail",
        "new",
        "operator",
        "password",
        "platform",
        "pricing",
        "privacy",
        "register",
        "reset",
        "schema",
        "settings",
        "signup",
        "static",
        "status",
        "support",
        "t",
        "terms",
        "verify",
        "www",
    ]
)


def suggest_slug(name: str) -> str:
    """A URL name from a firm name: ASCII, lower case, words joined by hyphens."""
    folded = unicodedata.normalize("NFKD", name.lower())
    ascii_only = folded.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    slug = re.sub(r"-(oy|ab|ky|tmi|ay|oyj|ry)$", "", slug)
    return slug[:40].strip("-")


async def get_tenant_by_slug(db: AsyncSession, slug: str) -> Tenant:
    tenant = await db.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(slug)
    return tenant


async def slug_taken(db: AsyncSession, slug: str) -> bool:
    return bool(await db.scalar(select(func.count()).where(Tenant.slug == slug)))


async def memberships_of_user(
    db: AsyncSession, user_id: uuid.UUID
) -> list[tuple[Membership, Tenant]]:
    """The firms a user belongs to (not those they have left), across tenants.

    Reads ``memberships`` across tenants (:func:`unscoped_memberships_of_user`): on PostgreSQL
    the ``own_rows`` policy lets the signed-in user see exactly their own rows (``app.user_id``).
    """
    rows = await db.execute(
        unscoped_memberships_of_user(
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(
                Membership.user_id == user_id,
                Membership.deactivated_at.is_(None),
                # A suspended firm is listed: opening it shows its members why it is shut.
                Tenant.status.in_((TenantStatus.ACTIVE, TenantStatus.SUSPENDED)),
            )
            .order_by(Tenant.name),
            user_id,
        )
    )
    return [(m, t) for m, t in rows.tuples()]
