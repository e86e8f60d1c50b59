"""The firm's API tokens: created by its owner with scopes, shown once, kept as a hash.

A token reads ``luotsi_<firm id>_<secret>``: the firm's id lets the API scope the request to
the firm before it reads any firm table (row-level security included), and the secret is
looked up by its SHA-256 within that firm. The secret is 32 random bytes, so a fast hash is
enough (nobody can guess it; a slow password hash would only slow every API call down). A
token acts as the owner who created it, with no more than its scopes allow: it stops working
when revoked, and when its creator leaves the firm or is no longer its owner.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ForeignKeyConstraint, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import audit, clock, i18n, permissions
from luotsi.platform.db import Base, CodeSet, TenantScoped
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.members import record_member_action
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership, Tenant, TenantStatus

PREFIX = "luotsi_"
NAME_LENGTH = 100
# Last use is written at most this often (a busy integration would write on every call).
LAST_USED_EVERY = timedelta(minutes=1)
# Audit codes (names of actions, no secrets).
TOKEN_OBJECT = "api_token"  # noqa: S105
TOKEN_CREATED = "api_token.created"  # noqa: S105
TOKEN_REVOKED = "api_token.revoked"  # noqa: S105
API_WRITE = "api.write"

# The areas an integration reaches, and what it may do in each: read everywhere, write where
# the API writes (organisations and their people, sessions).
AREAS = {
    "clients": N_("Client organisations and their people"),
    "agreements": N_("Agreements"),
    "sessions": N_("Sessions"),
    "invoices": N_("Invoices"),
}
WRITABLE_AREAS = ("clients", "sessions")
SCOPES = tuple(f"{area}_read" for area in AREAS) + tuple(f"{a}_write" for a in WRITABLE_AREAS)


def scope_label(scope: str) -> str:
    """A scope in words: "Sessions: read"."""
    area, _sep, access = scope.rpartition("_")
    what = _("read") if access == "read" else _("write")
    return f"{i18n.gettext(AREAS[area])}: {what}"


class ApiToken(TenantScoped, Base):
    """One API token of a firm. The secret itself is never stored, only its SHA-256."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "created_by"], ["memberships.tenant_id", "memberships.id"]
        ),
        Index("ix_api_tokens_tenant_secret_hash", "tenant_id", "secret_hash", unique=True),
    )

    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    scopes: Mapped[frozenset[str]] = mapped_column(CodeSet())
    secret_hash: Mapped[str] = mapped_column(String(64))
    hint: Mapped[str] = mapped_column(String(8))  # the secret's last characters, to tell apart
    created_by: Mapped[uuid.UUID]  # the owner's membership, as whom the token acts
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class TokenInput:
    """The new-token form as typed."""

    name: str = ""
    scopes: list[str] = field(default_factory=list)


async def list_tokens(db: AsyncSession, actor: Membership) -> list[ApiToken]:
    """The firm's tokens, current ones first, newest first."""
    require(permissions.can_manage_api_tokens(actor), "api_tokens")
    rows = await db.scalars(
        select(ApiToken).order_by(
            ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id
        )
    )
    return list(rows)


async def get_token(db: AsyncSession, actor: Membership, token_id: uuid.UUID) -> ApiToken:
    require(permissions.can_manage_api_tokens(actor), "api_tokens")
    token = await db.scalar(select(ApiToken).where(ApiToken.id == token_id))
    if token is None:
        raise NotFound("api_token")
    return token


async def create_token(
    db: AsyncSession, actor: Membership, data: TokenInput, origin: audit.Origin
) -> tuple[ApiToken, str]:
    """A new token of the actor's firm, and its text: shown this once, never stored."""
    require(permissions.can_manage_api_tokens(actor), "api_tokens")
    errors: dict[str, str] = {}
    name = " ".join(data.name.split())
    if not name:
        errors["name"] = _("Name the token, e.g. after the system that uses it.")
    elif len(name) > NAME_LENGTH:
        errors["name"] = i18n.too_long(NAME_LENGTH)
    scopes = frozenset(data.scopes)
    if not scopes or not scopes <= set(SCOPES):
        errors["scopes"] = _("Choose at least one thing the token may do.")
    if errors:
        raise Invalid(errors)
    secret = secrets.token_urlsafe(32)
    text = f"{PREFIX}{actor.tenant_id.hex}_{secret}"
    token = ApiToken(
        name=name,
        scopes=scopes,
        secret_hash=_hash(text),
        hint=secret[-4:],
        created_by=actor.id,
    )
    db.add(token)
    await db.flush()
    await record_member_action(
        db, actor, TOKEN_CREATED, object_type=TOKEN_OBJECT, object_id=token.id, origin=origin
    )
    return token, text


async def revoke_token(
    db: AsyncSession, actor: Membership, token_id: uuid.UUID, origin: audit.Origin
) -> ApiToken:
    """Stop a token for good (its next call is refused)."""
    token = await get_token(db, actor, token_id)
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        await db.flush()
        await record_member_action(
            db, actor, TOKEN_REVOKED, object_type=TOKEN_OBJECT, object_id=token.id, origin=origin
        )
    return token


def firm_of_token(text: str) -> uuid.UUID | None:
    """The firm id a token's text names, or None for text that is no token of ours."""
    if not text.startswith(PREFIX):
        return None
    firm, _sep, secret = text.removeprefix(PREFIX).partition("_")
    if not secret or len(firm) != 32:
        return None
    try:
        return uuid.UUID(hex=firm)
    except ValueError:
        return None


@dataclass(frozen=True)
class TokenHolder:
    """Who calls the API: the token, its firm, and the owner it acts as."""

    token: ApiToken
    tenant: Tenant
    actor: Membership


async def holder_of_token(db: AsyncSession, text: str) -> TokenHolder | None:
    """The current token ``text`` names, in a session already scoped to the token's firm
    (:func:`firm_of_token`), with its firm and acting owner; None when it is unknown, revoked,
    of an inactive firm, or its creator no longer manages the firm's tokens."""
    found = (
        await db.execute(
            select(ApiToken, Tenant, Membership)
            .join(Tenant, Tenant.id == ApiToken.tenant_id)
            .join(Membership, Membership.id == ApiToken.created_by)
            .where(
                ApiToken.secret_hash == _hash(text),
                ApiToken.revoked_at.is_(None),
                Tenant.status == TenantStatus.ACTIVE,
                Membership.deactivated_at.is_(None),
            )
        )
    ).first()
    if found is None or not permissions.can_manage_api_tokens(found[2]):
        return None
    return TokenHolder(found[0], found[1], found[2])


def mark_used(token: ApiToken, now: datetime) -> bool:
    """Note the token's use, at most once a minute; whether anything changed."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return False
    token.last_used_at = now
    return True


async def record_api_write(
    db: AsyncSession,
    holder: TokenHolder,
    object_type: str,
    object_id: uuid.UUID,
    origin: audit.Origin,
) -> None:
    """Audit a change made through the API, as the token (named) of its owner."""
    await audit.record(
        db,
        API_WRITE,
        actor_user_id=holder.actor.user_id,
        actor_name=_("API token %(name)s") % {"name": holder.token.name},
        tenant_id=holder.tenant.id,
        object_type=object_type,
        object_id=object_id,
        **origin,
    )
