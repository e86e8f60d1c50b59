"""Portal logins of client people: an HR contact's (client portal) and a supervisee's.

A login is a membership (role ``client_contact`` or ``supervisee``) bound to the person record
through the invitation it was sent: :func:`person_of_login` is the one way from a login to its
person, for the portals and the content rules.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import members, permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import get_user_by_email
from luotsi.platform.mail import render_email
from luotsi.platform.members import Invitation
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.clients.models import ClientPerson, PersonRole
from luotsi.tenants.clients.people import get_person

# The membership role a person's login has; other people (managers) get no login.
LOGIN_ROLES = {PersonRole.HR_CONTACT: Role.CLIENT_CONTACT, PersonRole.SUPERVISEE: Role.SUPERVISEE}


class PortalStatus(enum.StrEnum):
    NONE = "none"
    INVITED = "invited"
    EXPIRED = "expired"  # invited, but the link was not used in time
    ACTIVE = "active"


@dataclass
class PortalAccess:
    status: PortalStatus
    invitation: Invitation | None = None


async def portal_access(db: AsyncSession, person: ClientPerson) -> PortalAccess:
    """Where a person's portal login stands; binds an accepted invitation on the way."""
    if person.membership_id is not None:
        login = await db.scalar(select(Membership).where(Membership.id == person.membership_id))
        if login is not None and login.is_active:
            return PortalAccess(PortalStatus.ACTIVE)
        person.membership_id = None  # the login ended (removed from the member list)
    invitation = None
    if person.invitation_id is not None:
        invitation = await db.scalar(
            select(Invitation).where(Invitation.id == person.invitation_id)
        )
    if invitation is not None and invitation.accepted_at is not None:
        login = await db.scalar(select(Membership).where(Membership.user_id == invitation.user_id))
        if login is not None and login.is_active and login.role == LOGIN_ROLES.get(person.role):
            person.membership_id, person.invitation_id = login.id, None
            await db.flush()
            return PortalAccess(PortalStatus.ACTIVE)
        invitation = None
    if invitation is None or invitation.revoked_at is not None:
        person.invitation_id = None
        await db.flush()
        return PortalAccess(PortalStatus.NONE)
    status = PortalStatus.INVITED if invitation.is_open else PortalStatus.EXPIRED
    return PortalAccess(status, invitation)


async def person_of_contact(db: AsyncSession, membership: Membership) -> ClientPerson | None:
    """The HR contact record a ``client_contact`` membership speaks for, or None."""
    if membership.role != Role.CLIENT_CONTACT:
        return None
    return await person_of_login(db, membership)


async def person_of_login(db: AsyncSession, membership: Membership) -> ClientPerson | None:
    """The person record a ``client_contact`` or ``supervisee`` membership speaks for, or None.

    The first time after the invitation was accepted the binding is made here: the person
    record remembers the invitation it was sent, and the invitation the account that used it.
    """
    person_role = next((p for p, r in LOGIN_ROLES.items() if r == membership.role), None)
    if person_role is None:
        return None
    person = await db.scalar(
        select(ClientPerson)
        .where(ClientPerson.membership_id == membership.id)
        .options(joinedload(ClientPerson.org))
        .limit(1)
    )
    if person is None:
        accepted = select(Invitation.id).where(
            Invitation.user_id == membership.user_id,
            Invitation.accepted_at.is_not(None),
            Invitation.role == membership.role,
        )
        person = await db.scalar(
            select(ClientPerson)
            .where(
                ClientPerson.invitation_id.in_(accepted),
                ClientPerson.membership_id.is_(None),
                ClientPerson.role == person_role,
            )
            .order_by(ClientPerson.created_at.desc())
            .options(joinedload(ClientPerson.org))
            .limit(1)
        )
        if person is None:
            return None
        person.membership_id, person.invitation_id = membership.id, None
        await db.flush()
    return person


async def invite_hr_contact(
    db: AsyncSession, actor: Membership, tenant: Tenant, person_id: uuid.UUID, *, base_url: str
) -> Invitation:
    """E-mail an HR contact a single-use link to the firm's client portal.

    The invitation (role ``client_contact``) is remembered on the person record; whoever
    accepts it with that address becomes this person's login (:func:`person_of_login`).
    """
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if person.role != PersonRole.HR_CONTACT:
        raise Invalid.field("invite", _("Only HR contacts get a portal login."))
    return await _invite_login(
        db, actor, tenant, person, "client_contact_invitation", base_url=base_url
    )


async def invite_supervisee(
    db: AsyncSession, actor: Membership, tenant: Tenant, person_id: uuid.UUID, *, base_url: str
) -> Invitation:
    """E-mail a supervisee a single-use link to their own portal (role ``supervisee``), bound
    to their person record the same way as an HR contact's."""
    require(permissions.can_manage_clients(actor), "clients")
    person = await get_person(db, actor, person_id)
    if person.role != PersonRole.SUPERVISEE:
        raise Invalid.field("invite", _("Only supervisees are invited to the supervisee portal."))
    return await _invite_login(
        db, actor, tenant, person, "supervisee_invitation", base_url=base_url
    )


async def _invite_login(
    db: AsyncSession,
    actor: Membership,
    tenant: Tenant,
    person: ClientPerson,
    template: str,
    *,
    base_url: str,
) -> Invitation:
    if person.is_archived or person.org.is_archived:
        raise Invalid.field("invite", _("Restore the person and the organisation first."))
    if not person.email:
        raise Invalid.field("invite", _("Add the person's e-mail address first."))
    if (await portal_access(db, person)).status == PortalStatus.ACTIVE:
        raise Invalid.field("invite", _("The person already has a portal login."))
    try:
        invitation, token = await members.invite_member(
            db, actor, person.email, LOGIN_ROLES[person.role].value, bound=True
        )
    except Invalid as exc:
        raise Invalid.field("invite", next(iter(exc.errors.values()))) from None
    person.invitation_id = invitation.id
    invitee = await get_user_by_email(db, person.email)
    enqueue_email(
        db,
        render_email(
            template,
            person.email,
            invitee.locale if invitee else person.org.invoice_language,
            inviter=actor.user.name,
            firm=tenant.name,
            organisation=person.org.name,
            link=f"{base_url}/join/{tenant.slug}/{token}",
        ),
        tenant_id=tenant.id,
    )
    await db.flush()
    return invitation
