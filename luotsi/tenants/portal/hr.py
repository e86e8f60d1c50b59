"""The HR contact's portal: one organisation's agreements, sessions and reviews, no content.

What an HR contact sees is decided here and nowhere else: per agreement its kind, the
supervisors' and supervisees' names, its dates and status, the dates and statuses of its
supervision sessions with the quota used, and when the next continuation review is due. Never
notes, assignments, goals or evaluations (evaluation meetings are not listed either), nor a
session's place or meeting link. The contact may also update the organisation's billing details
and ask the firm for a new agreement.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.ratelimit import RateLimits
from luotsi.platform.tenancy import Membership, Role, Tenant, active_member
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    Agreement,
    AgreementStatus,
    AgreementSupervisor,
    Review,
)
from luotsi.tenants.agreements.reviews import running_review_due
from luotsi.tenants.clients import billing_details, logins, organisations
from luotsi.tenants.clients.billing_details import BillingInput
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.directory.models import StaffProfile
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import (
    MeetingKind,
    SessionStatus,
    SupervisionSession,
    uses_quota,
)

MAX_REQUEST = 2000
REQUEST_BUCKET = "agreement_request"
REQUEST_LIMIT = 5  # per contact and day: a message to the firm, not a chat
REQUEST_WINDOW = timedelta(days=1)
CANCELLED = (SessionStatus.CANCELLED_BY_CLIENT, SessionStatus.CANCELLED_BY_SUPERVISOR)


@dataclass
class SessionLine:
    starts_at: datetime
    status: SessionStatus
    billable: bool


@dataclass
class AgreementSummary:
    """One agreement as the HR contact sees it."""

    agreement: Agreement
    supervisors: list[str] = field(default_factory=list)
    supervisees: list[str] = field(default_factory=list)
    sessions: list[SessionLine] = field(default_factory=list)
    last_review_on: date | None = None
    next_review_on: date | None = None

    def _count(self, *statuses: SessionStatus) -> int:
        return sum(1 for s in self.sessions if s.status in statuses)

    @property
    def held(self) -> int:
        return self._count(SessionStatus.HELD)

    @property
    def planned(self) -> int:
        return self._count(SessionStatus.PLANNED)

    @property
    def cancelled(self) -> int:
        return self._count(*CANCELLED)

    @property
    def used(self) -> int:
        """Held sessions and billable ones that were not held (late cancellations, no-shows)."""
        return sum(1 for s in self.sessions if uses_quota(s.status, s.billable))

    @property
    def remaining(self) -> int | None:
        """Sessions of the quota not yet used; None for an open-ended agreement."""
        quota = self.agreement.session_quota
        return None if quota is None else max(0, quota - self.used)

    def review_overdue(self, today: date) -> bool:
        return self.next_review_on is not None and self.next_review_on < today


@dataclass
class PortalView:
    org: ClientOrg
    agreements: list[AgreementSummary]
    today: date

    @property
    def reviews(self) -> list[AgreementSummary]:
        """Agreements with a review ahead or overdue, the most urgent first."""
        due = [a for a in self.agreements if a.next_review_on is not None]
        return sorted(due, key=lambda a: (a.next_review_on, a.agreement.start_date))


async def contact_person(db: AsyncSession, actor: Membership) -> ClientPerson:
    """The signed-in HR contact's person record; :class:`Forbidden` when the login is not
    (or no longer) bound to a current person of a current organisation."""
    if not permissions.can_use_client_portal(actor):
        raise Forbidden("portal")
    person = await logins.person_of_contact(db, actor)
    if person is None or person.is_archived or person.org.is_archived:
        raise Forbidden("portal")
    return person


async def portal_view(db: AsyncSession, org: ClientOrg, today: date | None = None) -> PortalView:
    """Everything the portal shows of ``org``: only what the module docstring lists."""
    rows = await db.scalars(
        select(Agreement)
        .where(Agreement.org_id == org.id, Agreement.status != AgreementStatus.DRAFT)
        .order_by(Agreement.start_date.desc(), Agreement.id)
        .options(*AGREEMENT_NAMES)
    )
    summaries = {
        a.id: AgreementSummary(a, supervisees=sorted(s.person.name for s in a.supervisees))
        for a in rows.unique()
    }
    ids = list(summaries)
    if ids:
        await _add_supervisors(db, summaries)
        sessions = await db.execute(
            select(
                SupervisionSession.agreement_id,
                SupervisionSession.starts_at,
                SupervisionSession.status,
                SupervisionSession.billable,
            )
            .where(
                SupervisionSession.agreement_id.in_(ids),
                SupervisionSession.kind == MeetingKind.SESSION,
            )
            .order_by(SupervisionSession.starts_at)
        )
        for agreement_id, starts_at, status, billable in sessions.tuples():
            summaries[agreement_id].sessions.append(SessionLine(starts_at, status, billable))
        reviews = await db.execute(
            select(Review.agreement_id, func.max(Review.held_on))
            .where(Review.agreement_id.in_(ids))
            .group_by(Review.agreement_id)
        )
        for agreement_id, held_on in reviews.tuples():
            summaries[agreement_id].last_review_on = held_on
    for summary in summaries.values():
        summary.next_review_on = running_review_due(summary.agreement, summary.last_review_on)
    return PortalView(org, list(summaries.values()), today or clock.today())


async def _add_supervisors(db: AsyncSession, summaries: dict[uuid.UUID, AgreementSummary]) -> None:
    """Supervisors by the name they show clients (their profile), else their account's."""
    rows = await db.execute(
        select(AgreementSupervisor.agreement_id, StaffProfile.display_name, User.name)
        .select_from(AgreementSupervisor)
        .outerjoin(Membership, Membership.id == AgreementSupervisor.membership_id)
        .outerjoin(User, User.id == Membership.user_id)
        .outerjoin(StaffProfile, StaffProfile.membership_id == AgreementSupervisor.membership_id)
        .where(AgreementSupervisor.agreement_id.in_(list(summaries)))
    )
    for agreement_id, display_name, user_name in rows.tuples():
        name = display_name or user_name
        if name:
            summaries[agreement_id].supervisors.append(name)
    for summary in summaries.values():
        summary.supervisors.sort()


async def contact_view(db: AsyncSession, actor: Membership) -> tuple[ClientPerson, PortalView]:
    """The portal of the signed-in HR contact: their own organisation, nothing else."""
    person = await contact_person(db, actor)
    return person, await portal_view(db, person.org)


async def preview(db: AsyncSession, actor: Membership, org_id: uuid.UUID) -> PortalView:
    """The portal of ``org_id`` as its HR contacts see it, for the firm's owners and admins."""
    if not permissions.can_manage_clients(actor):
        raise Forbidden("portal")
    return await portal_view(db, await organisations.get_org(db, actor, org_id))


async def update_billing_details(
    db: AsyncSession, actor: Membership, data: BillingInput
) -> ClientOrg:
    """The HR contact updates their organisation's address and invoicing channel."""
    org = (await contact_person(db, actor)).org
    billing_details.apply_billing(org, data)
    await db.flush()
    return org


@dataclass
class AgreementRequestInput:
    kind: str = ""  # a SupervisionKind, or empty: not sure yet
    message: str = ""


async def request_agreement(
    db: AsyncSession,
    limits: RateLimits,
    actor: Membership,
    tenant: Tenant,
    data: AgreementRequestInput,
    *,
    base_url: str,
) -> None:
    """E-mail the firm's owners and admins that the HR contact asks for a new agreement.

    The message is not stored (the e-mail is the record) and never logged; a contact may send
    a few a day (:class:`~luotsi.platform.errors.RateLimited` after that).
    """
    person = await contact_person(db, actor)
    errors: dict[str, str] = {}
    kind = None
    if data.kind:
        try:
            kind = SupervisionKind(data.kind)
        except ValueError:
            errors["kind"] = _("Choose a form of supervision from the list.")
    message = data.message.strip()
    if not message:
        errors["message"] = _("Tell the firm briefly what you need.")
    elif len(message) > MAX_REQUEST:
        errors["message"] = i18n.too_long(MAX_REQUEST)
    if errors:
        raise Invalid(errors)
    await limits.hit(db, REQUEST_BUCKET, str(actor.id), REQUEST_LIMIT, REQUEST_WINDOW)
    owners = await db.scalars(
        select(Membership)
        .where(Membership.role.in_((Role.OWNER, Role.ADMIN)), active_member())
        .options(joinedload(Membership.user))
    )
    recipients = {m.user.email: m.user for m in owners.unique() if m.user.is_active}
    for email in sorted(recipients):
        enqueue_email(
            db,
            render_email(
                "client_agreement_request",
                email,
                recipients[email].locale,
                firm=tenant.name,
                organisation=person.org.name,
                contact=person.name,
                contact_email=person.email,
                contact_phone=person.phone_display,
                kind=kind,
                message=message,
                link=f"{base_url}/t/{tenant.slug}/clients/{person.org_id}",
            ),
            tenant_id=tenant.id,
        )
    await db.flush()
