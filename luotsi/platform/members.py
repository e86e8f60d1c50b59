"""Inviting people into a firm, and managing who belongs to it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, contains_eager, joinedload, mapped_column

from luotsi.platform import audit, clock, i18n, permissions
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import (
    User,
    check_email,
    check_password_rules,
    get_user_by_email,
    hash_password,
    new_token,
    token_hash,
)
from luotsi.platform.tenancy import Membership, Role, Tenant, active_member

INVITATION_LIFETIME = timedelta(days=7)
MAX_PERSON_NAME = 200


class Invitation(TenantScoped, Base):
    """An e-mailed, single-use invitation to join a firm with a role."""

    __tablename__ = "invitations"
    # The link names its firm (/join/{slug}/...): a token is unique within the firm.
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),)

    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role))
    token_hash: Mapped[str] = mapped_column(String(64))
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_open(self) -> bool:
        return (
            self.accepted_at is None and self.revoked_at is None and self.expires_at > clock.now()
        )


def check_person_name(name: str, field: str = "name") -> str:
    """A person's name as typed for their account, trimmed; refused when empty or too long
    (never cut short)."""
    name = name.strip()
    if not name:
        raise Invalid.field(field, _("Enter your name."))
    if len(name) > MAX_PERSON_NAME:
        raise Invalid.field(field, i18n.too_long(MAX_PERSON_NAME))
    return name


async def list_members(db: AsyncSession, actor: Membership) -> list[Membership]:
    """The firm's current members (not those who have left), owners first."""
    if not permissions.can_view_members(actor):
        raise Forbidden("members")
    rank = case({Role.OWNER: 0, Role.ADMIN: 1, Role.SUPERVISOR: 2}, value=Membership.role, else_=3)
    rows = await db.scalars(
        select(Membership)
        .join(Membership.user)
        .where(active_member())
        .order_by(rank, User.name)
        .options(contains_eager(Membership.user))
    )
    return list(rows.unique())


async def list_open_invitations(db: AsyncSession, actor: Membership) -> list[Invitation]:
    if not permissions.can_view_members(actor):
        raise Forbidden("invitations")
    rows = await db.scalars(
        select(Invitation)
        .where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > clock.now(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(rows)


async def invite_member(
    db: AsyncSession, actor: Membership, email: str, role: str, *, bound: bool = False
) -> tuple[Invitation, str]:
    """Create an invitation; returns it and the raw token for the e-mailed link.

    ``bound``: the caller ties the invitation to a record of its own (see
    :func:`permissions.can_invite_role`); the member list never passes it.
    """
    if not permissions.can_invite_members(actor):
        raise Forbidden("invite")
    errors: dict[str, str] = {}
    try:
        email = check_email(email)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        wanted = Role(role)
    except ValueError:
        wanted = None
    if wanted is None or not permissions.can_invite_role(actor, wanted, bound=bound):
        errors["role"] = _("Choose a role.")
    if errors:
        raise Invalid(errors)
    assert wanted is not None
    existing = await get_user_by_email(db, email)
    if existing is not None:
        already = await db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.user_id == existing.id, active_member())
        )
        if already:
            raise Invalid.field("email", _("This person is already a member of the firm."))
    # A new invitation replaces an open one for the same address.
    for old in await db.scalars(
        select(Invitation).where(Invitation.email == email, Invitation.accepted_at.is_(None))
    ):
        old.revoked_at = old.revoked_at or clock.now()
    token, hashed = new_token()
    invitation = Invitation(
        email=email,
        role=wanted,
        token_hash=hashed,
        invited_by_id=actor.user_id,
        expires_at=clock.now() + INVITATION_LIFETIME,
    )
    db.add(invitation)
    await db.flush()
    return invitation, token


async def revoke_invitation(db: AsyncSession, actor: Membership, invitation_id: uuid.UUID) -> None:
    if not permissions.can_invite_members(actor):
        raise Forbidden("invite")
    invitation = await db.get(Invitation, (actor.tenant_id, invitation_id))
    if invitation is None or not invitation.is_open:
        raise NotFound("invitation")
    invitation.revoked_at = clock.now()
    await db.flush()


async def find_open_invitation(db: AsyncSession, token: str) -> Invitation:
    """The open invitation behind a link, in the tenant the session is scoped to."""
    invitation = await db.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash(token))
    )
    if invitation is None or not invitation.is_open:
        raise NotFound("invitation")
    return invitation


async def accept_invitation(
    db: AsyncSession,
    invitation: Invitation,
    user: User | None,
    name: str = "",
    password: str = "",
) -> tuple[User, Membership]:
    """Turn an invitation into a membership.

    A signed-in user accepts for their own account (whose e-mail must match); otherwise a new
    account is made for the invited address with the given name and password. Following the
    e-mailed link proves the address, so the new account counts as verified.
    """
    if user is None:
        existing = await get_user_by_email(db, invitation.email)
        if existing is not None:
            raise Invalid.field("email", _("You already have an account: sign in to accept."))
        errors: dict[str, str] = {}
        for check in (
            lambda: check_person_name(name),
            lambda: check_password_rules(password, email=invitation.email, name=name),
        ):
            try:
                check()
            except Invalid as exc:
                errors.update(exc.errors)
        if errors:
            raise Invalid(errors)
        user = User(
            email=invitation.email,
            name=check_person_name(name),
            password_hash=hash_password(password),
            email_verified_at=clock.now(),
        )
        db.add(user)
        await db.flush()
    elif user.email != invitation.email:
        raise Invalid.field(
            "email",
            _("This invitation was sent to %(email)s. Sign in with that address to accept.")
            % {"email": invitation.email},
        )
    membership = await db.scalar(select(Membership).where(Membership.user_id == user.id))
    if membership is None:
        membership = Membership(user_id=user.id, role=invitation.role)
        db.add(membership)
    elif not membership.is_active:
        # Someone who left and is invited back gets their own membership again (with the role
        # of the new invitation), and with it what still points at it: their sessions' history
        # and any notes they kept.
        membership.deactivated_at = None
        membership.role = invitation.role
    invitation.accepted_at = clock.now()
    invitation.user_id = user.id
    await db.flush()
    return user, membership


async def get_member(db: AsyncSession, membership_id: uuid.UUID) -> Membership:
    """A current member of the firm; one who has left is not found."""
    member = await db.scalar(
        select(Membership)
        .where(Membership.id == membership_id, active_member())
        .options(joinedload(Membership.user))
    )
    if member is None:
        raise NotFound("membership")
    return member


async def _owner_count(db: AsyncSession) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.role == Role.OWNER, active_member())
        )
        or 0
    )


async def change_role(
    db: AsyncSession, actor: Membership, membership_id: uuid.UUID, role: str
) -> Membership:
    """Give a member another staff role; the firm always keeps at least one owner."""
    if not permissions.can_change_roles(actor):
        raise Forbidden("roles")
    target = await get_member(db, membership_id)
    try:
        wanted = Role(role)
    except ValueError:
        raise Invalid.field("role", _("Choose a role.")) from None
    if wanted not in (Role.OWNER, Role.ADMIN, Role.SUPERVISOR) or not target.is_staff:
        raise Invalid.field("role", _("Choose a role."))
    if target.role == Role.OWNER and wanted != Role.OWNER and await _owner_count(db) <= 1:
        raise Invalid.field("role", _("The firm must keep at least one owner."))
    target.role = wanted
    await db.flush()
    return target


def check_removal(actor: Membership, target: Membership) -> None:
    """Who may remove whom (:func:`permissions.can_remove_member`); raises Forbidden."""
    if not permissions.can_remove_member(actor, target):
        raise Forbidden("remove")


async def deactivate_member(db: AsyncSession, actor: Membership, target: Membership) -> Membership:
    """End a membership by deactivating it; the last owner cannot be removed.

    The workspace's removal (``luotsi.tenants.sessions.departure.remove_member``) first makes
    sure no planned session or running agreement still waits for the member.
    """
    check_removal(actor, target)
    if target.role == Role.OWNER and await _owner_count(db) <= 1:
        raise Invalid.field("member", _("The firm must keep at least one owner."))
    target.deactivate()
    await db.flush()
    return target


async def tenant_of(db: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await db.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def record_member_action(
    db: AsyncSession,
    actor: Membership,
    action: str,
    *,
    object_type: str,
    object_id: uuid.UUID,
    context_id: uuid.UUID | None = None,
    origin: audit.Origin | None = None,
) -> None:
    """Audit what a member of a firm did, under their current name, in their firm."""
    name = await db.scalar(select(User.name).where(User.id == actor.user_id)) or ""
    await audit.record(
        db,
        action,
        actor_user_id=actor.user_id,
        actor_name=name,
        tenant_id=actor.tenant_id,
        object_type=object_type,
        object_id=object_id,
        context_id=context_id,
        **(origin or audit.Origin(ip="", user_agent="")),
    )
