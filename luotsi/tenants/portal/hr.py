"""The HR contact's portal: one organisation's agreements, sessions and reviews, no content.

What an HR contact sees is decided here and nowhere else: per agreement its kind, the
supervisors' and supervisees' names, its dates and status, the dates and statuses of its
supervision sessions with the quota used, and when the next continuation review is due. Never
notes, assignments, goals or evaluations (evaluation meetings are not listed either), nor a
session's place or meeting link. The contact may also update the organisation's billing details
and ask the firm for a new agreement.

The agreements come a page at a time (an organisation may hold dozens over the years), their
figures counted by the database; the reviews due are chosen from all of them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page
from luotsi.platform.ratelimit import RateLimits
from luotsi.platform.tenancy import Membership, Role, Tenant, active_member
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
    Review,
)
from luotsi.tenants.agreements.reviews import REVIEWED_STATUSES
from luotsi.tenants.clients import billing_details, logins, organisations
from luotsi.tenants.clients.billing_details import BillingInput
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.directory.models import StaffProfile
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import (
    MeetingKind,
    SessionStatus,
    SupervisionSession,
    uses_quota_sql,
)

MAX_REQUEST = 2000
REQUEST_BUCKET = "agreement_request"
REQUEST_LIMIT = 5  # per contact and day: a message to the firm, not a chat
REQUEST_WINDOW = timedelta(days=1)
CANCELLED = (SessionStatus.CANCELLED_BY_CLIENT, SessionStatus.CANCELLED_BY_SUPERVISOR)
AGREEMENTS_PER_PAGE = 10
REVIEWS_SHOWN = 10  # the most urgent; the section says how many more there are


def next_review_on(agreement: Agreement) -> date | None:
    """The agreement's next continuation review while it runs (what
    :func:`~luotsi.tenants.agreements.reviews.running_review_due` says), from the date the
    database keeps on it; None for an ended agreement."""
    return agreement.review_due_on if agreement.status in REVIEWED_STATUSES else None


def _overdue(due: date | None, today: date) -> bool:
    return due is not None and due < today


@dataclass
class SessionLine:
    starts_at: datetime
    status: SessionStatus


@dataclass
class AgreementSummary:
    """One agreement as the HR contact sees it, its session figures counted by the database."""

    agreement: Agreement
    held: int
    planned: int
    cancelled: int
    used: int  # held ones and billable ones that were not held (late cancellations, no-shows)
    sessions: int  # supervision sessions of any status: their list is a page of its own
    supervisors: list[str] = field(default_factory=list)
    supervisees: list[str] = field(default_factory=list)

    @property
    def next_review_on(self) -> date | None:
        return next_review_on(self.agreement)

    @property
    def remaining(self) -> int | None:
        """Sessions of the quota not yet used; None for an open-ended agreement."""
        quota = self.agreement.session_quota
        return None if quota is None else max(0, quota - self.used)

    def review_overdue(self, today: date) -> bool:
        return _overdue(self.next_review_on, today)


@dataclass
class ReviewDue:
    """A running agreement's next continuation review, and when the last one was held."""

    agreement: Agreement
    next_review_on: date
    last_review_on: date | None
    supervisees: list[str] = field(default_factory=list)

    def review_overdue(self, today: date) -> bool:
        return _overdue(self.next_review_on, today)


@dataclass
class PortalView:
    org: ClientOrg
    agreements: Page[AgreementSummary]
    reviews: list[ReviewDue]  # the most urgent first, at most REVIEWS_SHOWN
    reviews_total: int  # of all the organisation's agreements
    today: date


async def contact_person(db: AsyncSession, actor: Membership) -> ClientPerson:
    """The signed-in HR contact's person record; :class:`Forbidden` when the login is not
    (or no longer) bound to a current person of a current organisation."""
    if not permissions.can_use_client_portal(actor):
        raise Forbidden("portal")
    person = await logins.person_of_contact(db, actor)
    if person is None or person.is_archived or person.org.is_archived:
        raise Forbidden("portal")
    return person


async def portal_view(
    db: AsyncSession, org: ClientOrg, page: int = 1, today: date | None = None
) -> PortalView:
    """Everything the portal shows of ``org``: only what the module docstring lists.

    Page ``page`` of its agreements (the last page if ``page`` is past the end), the latest
    start first, and the most urgent reviews of all its agreements: three statements, however
    many agreements and sessions the organisation has (an agreement's sessions are listed on
    their own page, :func:`agreement_sessions`).
    """
    agreements = await _agreements_page(db, org.id, page)
    reviews, reviews_total = await _reviews_due(db, org.id)
    await _add_names(db, agreements.items, reviews)
    return PortalView(org, agreements, reviews, reviews_total, today or clock.today())


async def _agreements_page(
    db: AsyncSession, org_id: uuid.UUID, page: int
) -> Page[AgreementSummary]:
    """The agreements (drafts aside) of page ``page`` with their session figures, in one
    statement: window functions number the organisation's agreements and count them (so that a
    page past the end can be the last one, and the pager's total comes along), and only the
    page's sessions are grouped."""
    per_page = AGREEMENTS_PER_PAGE
    order = (Agreement.start_date.desc(), Agreement.id)
    ranked = (
        select(
            Agreement.id,
            func.row_number().over(order_by=order).label("position"),
            func.count().over().label("total"),
        )
        .where(Agreement.org_id == org_id, Agreement.status != AgreementStatus.DRAFT)
        .subquery()
    )
    # The page asked for starts after ``skipped`` rows; past the end, the last page's start.
    skipped = (page - 1) * per_page
    last_page_start = (ranked.c.total - 1) // per_page * per_page
    start = case((ranked.c.total > skipped, skipped), else_=last_page_start)
    on_page = (
        select(ranked)
        .where(ranked.c.position > start, ranked.c.position <= start + per_page)
        .cte("on_page")
    )
    s = SupervisionSession
    counts = (
        select(
            s.agreement_id,
            func.count().filter(s.status == SessionStatus.HELD).label("held"),
            func.count().filter(s.status == SessionStatus.PLANNED).label("planned"),
            func.count().filter(s.status.in_(CANCELLED)).label("cancelled"),
            func.count().filter(uses_quota_sql()).label("used"),
            func.count().label("sessions"),
        )
        .join(on_page, on_page.c.id == s.agreement_id)
        .where(s.kind == MeetingKind.SESSION)
        .group_by(s.agreement_id)
        .subquery()
    )
    rows = await db.execute(
        select(
            Agreement,
            on_page.c.total,
            counts.c.held,
            counts.c.planned,
            counts.c.cancelled,
            counts.c.used,
            counts.c.sessions,
        )
        .join(on_page, on_page.c.id == Agreement.id)
        .outerjoin(counts, counts.c.agreement_id == Agreement.id)
        .order_by(on_page.c.position)
    )
    found = rows.tuples().all()
    items = [
        AgreementSummary(
            agreement, held or 0, planned or 0, cancelled or 0, used or 0, sessions or 0
        )
        for agreement, _total, held, planned, cancelled, used, sessions in found
    ]
    total = found[0][1] if found else 0
    number = max(1, min(page, Page.last_page(total, per_page)))
    return Page(items, number, per_page, total)


async def _reviews_due(db: AsyncSession, org_id: uuid.UUID) -> tuple[list[ReviewDue], int]:
    """The organisation's running agreements by their next review (then by start), the first
    :data:`REVIEWS_SHOWN` with their last review's date, and how many there are in all."""
    last_review = (
        select(func.max(Review.held_on))
        .select_from(Review)
        .where(Review.agreement_id == Agreement.id)
        .correlate(Agreement)
        .scalar_subquery()
    )
    rows = await db.execute(
        select(Agreement, last_review, func.count().over())
        .where(
            Agreement.org_id == org_id,
            Agreement.status.in_(REVIEWED_STATUSES),
            Agreement.review_due_on.is_not(None),
        )
        .order_by(Agreement.review_due_on, Agreement.start_date, Agreement.id)
        .limit(REVIEWS_SHOWN)
    )
    found = rows.tuples().all()
    reviews = [
        ReviewDue(agreement, agreement.review_due_on, last_review_on)
        for agreement, last_review_on, _total in found
        if agreement.review_due_on is not None  # always, by the condition
    ]
    return reviews, found[0][2] if found else 0


async def agreement_sessions(
    db: AsyncSession, org: ClientOrg, agreement_id: uuid.UUID
) -> tuple[Agreement, list[SessionLine]]:
    """One of ``org``'s agreements (drafts aside) and the dates and statuses of its supervision
    sessions, the earliest first: what the portal lists when the contact opens an agreement's
    sessions. Another organisation's agreement, or a draft, is :class:`NotFound`."""
    agreement = await db.scalar(
        select(Agreement).where(
            Agreement.id == agreement_id,
            Agreement.org_id == org.id,
            Agreement.status != AgreementStatus.DRAFT,
        )
    )
    if agreement is None:
        raise NotFound("agreement")
    s = SupervisionSession
    rows = await db.execute(
        select(s.starts_at, s.status)
        .where(s.agreement_id == agreement.id, s.kind == MeetingKind.SESSION)
        .order_by(s.starts_at, s.id)
    )
    return agreement, [SessionLine(starts_at, status) for starts_at, status in rows.tuples()]


async def _add_names(
    db: AsyncSession, summaries: list[AgreementSummary], reviews: list[ReviewDue]
) -> None:
    """The supervisors' and supervisees' names of the listed agreements, in one statement (the
    two sources by UNION ALL). Supervisors by the name they show clients (their profile), else
    their account's."""
    ids = list({s.agreement.id for s in summaries} | {r.agreement.id for r in reviews})
    if not ids:
        return
    supervisors = (
        select(
            literal("supervisor").label("side"),
            AgreementSupervisor.agreement_id.label("agreement_id"),
            func.coalesce(func.nullif(StaffProfile.display_name, ""), User.name).label("name"),
        )
        .select_from(AgreementSupervisor)
        .outerjoin(Membership, Membership.id == AgreementSupervisor.membership_id)
        .outerjoin(User, User.id == Membership.user_id)
        .outerjoin(StaffProfile, StaffProfile.membership_id == AgreementSupervisor.membership_id)
        .where(AgreementSupervisor.agreement_id.in_(ids))
    )
    supervisees = (
        select(literal("supervisee"), AgreementSupervisee.agreement_id, ClientPerson.name)
        .select_from(AgreementSupervisee)
        .join(
            ClientPerson,
            and_(
                ClientPerson.tenant_id == AgreementSupervisee.tenant_id,
                ClientPerson.id == AgreementSupervisee.person_id,
            ),
        )
        .where(AgreementSupervisee.agreement_id.in_(ids))
    )
    names = union_all(supervisors, supervisees).subquery()
    rows = await db.execute(select(names.c.side, names.c.agreement_id, names.c.name))
    found: dict[tuple[str, uuid.UUID], list[str]] = {}
    for side, agreement_id, name in rows.tuples():
        if name:
            found.setdefault((side, agreement_id), []).append(name)
    for summary in summaries:
        summary.supervisors = sorted(found.get(("supervisor", summary.agreement.id), []))
        summary.supervisees = sorted(found.get(("supervisee", summary.agreement.id), []))
    for review in reviews:
        review.supervisees = sorted(found.get(("supervisee", review.agreement.id), []))


async def contact_view(
    db: AsyncSession, actor: Membership, page: int = 1
) -> tuple[ClientPerson, PortalView]:
    """The portal of the signed-in HR contact: their own organisation, nothing else."""
    person = await contact_person(db, actor)
    return person, await portal_view(db, person.org, page)


async def preview(
    db: AsyncSession, actor: Membership, org_id: uuid.UUID, page: int = 1
) -> PortalView:
    """The portal of ``org_id`` as its HR contacts see it, for the firm's owners and admins."""
    if not permissions.can_manage_clients(actor):
        raise Forbidden("portal")
    return await portal_view(db, await organisations.get_org(db, actor, org_id), page)


async def preview_org_of_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> ClientOrg:
    """The organisation of one of the firm's agreements, for its owners and admins to preview
    the agreement's sessions as the organisation's contacts see them."""
    if not permissions.can_manage_clients(actor):
        raise Forbidden("portal")
    org_id = await db.scalar(select(Agreement.org_id).where(Agreement.id == agreement_id))
    if org_id is None:
        raise NotFound("agreement")
    return await organisations.get_org(db, actor, org_id)


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
