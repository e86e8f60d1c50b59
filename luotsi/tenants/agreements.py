"""Agreements (sopimukset): who is supervised by whom, for how long, on what terms.

An agreement moves draft -> pending (sent for acceptance) -> active -> (paused) -> ended, and
every move is an :class:`AgreementEvent` with who and when. It is extended or ended only through
a recorded continuation :class:`Review` (supervisee, supervisor and manager decide together).
Nothing here is confidential content: content (notes, goals, evaluations) lives elsewhere.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, deferred, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import i18n, permissions
from luotsi.platform.db import Base, TenantScoped, str_enum, utcnow
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, new_token, token_hash
from luotsi.platform.jobs import scheduled
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Role, Tenant
from luotsi.tenants.agreement_pdf import AgreementSheet, render_agreement_pdf
from luotsi.tenants.clients import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.kinds import SupervisionKind

DEFAULT_VAT_BASIS_POINTS = 2550  # 25.5 % (general rate since 1 Sept 2024)
DEFAULT_CANCELLATION_HOURS = 24
DEFAULT_REVIEW_MONTHS = 6
DEFAULT_CADENCE_WEEKS = 3
MIN_SESSION_MINUTES, MAX_SESSION_MINUTES = 45, 90


class AgreementStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING = "pending"  # sent to the parties for acceptance
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return i18n.gettext(_STATUS_LABELS[self])


_STATUS_LABELS = {
    AgreementStatus.DRAFT: N_("Draft"),
    AgreementStatus.PENDING: N_("Waiting for acceptance"),
    AgreementStatus.ACTIVE: N_("Active"),
    AgreementStatus.PAUSED: N_("Paused"),
    AgreementStatus.ENDED: N_("Ended"),
}


class Party(enum.StrEnum):
    """Who accepts an agreement besides the firm."""

    SUPERVISEE = "supervisee"
    MANAGER = "manager"
    HR_CONTACT = "hr_contact"

    @property
    def label(self) -> str:
        return i18n.gettext(_PARTY_LABELS[self])


_PARTY_LABELS = {
    Party.SUPERVISEE: N_("Supervisee"),
    Party.MANAGER: N_("Manager"),
    Party.HR_CONTACT: N_("HR contact"),
}


class AcceptanceResponse(enum.StrEnum):
    """What became of one party's acceptance link (``Acceptance.response``)."""

    ACCEPTED = "accepted"
    CHANGE_REQUESTED = "change_requested"
    # Withdrawn by the office, or another party of the same round asked for a change.
    VOIDED = "voided"

    @property
    def label(self) -> str:
        return i18n.gettext(_RESPONSE_LABELS[self])


_RESPONSE_LABELS = {
    AcceptanceResponse.ACCEPTED: N_("Accepted"),
    AcceptanceResponse.CHANGE_REQUESTED: N_("Asked for a change"),
    AcceptanceResponse.VOIDED: N_("Link withdrawn"),
}


class ReviewDecision(enum.StrEnum):
    CONTINUE = "continue"
    EXTEND = "extend"
    END = "end"

    @property
    def label(self) -> str:
        return i18n.gettext(_DECISION_LABELS[self])


_DECISION_LABELS = {
    ReviewDecision.CONTINUE: N_("Continue as agreed"),
    ReviewDecision.EXTEND: N_("Extend"),
    ReviewDecision.END: N_("End"),
}


class EventKind(enum.StrEnum):
    """The steps written to an agreement's history (``AgreementEvent.kind``)."""

    CREATED = "created"
    EDITED = "edited"
    SENT = "sent"
    WITHDRAWN = "withdrawn"
    ACCEPTED = "accepted"
    CHANGE_REQUESTED = "change_requested"
    ACCEPTED_ON_PAPER = "accepted_on_paper"
    ACTIVATED = "activated"
    PAUSED = "paused"
    RESUMED = "resumed"
    REVIEWED = "reviewed"
    EXTENDED = "extended"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return i18n.gettext(_EVENT_LABELS[self])


_EVENT_LABELS = {
    EventKind.CREATED: N_("Drafted"),
    EventKind.EDITED: N_("Draft edited"),
    EventKind.SENT: N_("Sent for acceptance"),
    EventKind.WITHDRAWN: N_("Withdrawn from acceptance"),
    EventKind.ACCEPTED: N_("Accepted by a party"),
    EventKind.CHANGE_REQUESTED: N_("A party asked for a change"),
    EventKind.ACCEPTED_ON_PAPER: N_("Marked as accepted on paper"),
    EventKind.ACTIVATED: N_("Became active"),
    EventKind.PAUSED: N_("Paused"),
    EventKind.RESUMED: N_("Resumed"),
    EventKind.REVIEWED: N_("Review of continuation recorded"),
    EventKind.EXTENDED: N_("Extended"),
    EventKind.ENDED: N_("Ended"),
}


class Agreement(TenantScoped, Base):
    __tablename__ = "agreements"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "org_id"], ["client_orgs.tenant_id", "client_orgs.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "manager_id"], ["client_people.tenant_id", "client_people.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "hr_contact_id"], ["client_people.tenant_id", "client_people.id"]
        ),
        Index("ix_agreements_tenant_org", "tenant_id", "org_id"),
        Index("ix_agreements_tenant_status", "tenant_id", "status"),
    )

    org_id: Mapped[uuid.UUID]
    kind: Mapped[SupervisionKind] = mapped_column(str_enum(SupervisionKind))
    title: Mapped[str] = mapped_column(String(200), default="")  # e.g. the team's name
    manager_id: Mapped[uuid.UUID | None]
    hr_contact_id: Mapped[uuid.UUID | None]
    start_date: Mapped[date]
    end_date: Mapped[date]
    session_minutes: Mapped[int] = mapped_column(default=60)
    cadence_weeks: Mapped[int] = mapped_column(default=DEFAULT_CADENCE_WEEKS)
    session_quota: Mapped[int | None]  # None: open-ended until the end date
    price_cents: Mapped[int] = mapped_column(default=0)  # per session, VAT excluded
    vat_basis_points: Mapped[int] = mapped_column(default=DEFAULT_VAT_BASIS_POINTS)
    cancellation_hours: Mapped[int] = mapped_column(default=DEFAULT_CANCELLATION_HOURS)
    review_interval_months: Mapped[int] = mapped_column(default=DEFAULT_REVIEW_MONTHS)
    reminders_enabled: Mapped[bool] = mapped_column(default=True)  # 48 h before sessions
    status: Mapped[AgreementStatus] = mapped_column(
        str_enum(AgreementStatus), default=AgreementStatus.DRAFT
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_changed_by: Mapped[uuid.UUID | None]  # a user id
    # The review due date the last reminder was sent for: one reminder per due date.
    review_reminder_for: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    org: Mapped[ClientOrg] = relationship(lazy="joined", viewonly=True)
    manager: Mapped[ClientPerson | None] = relationship(
        lazy="joined",
        viewonly=True,
        primaryjoin="and_(ClientPerson.tenant_id == Agreement.tenant_id,"
        " ClientPerson.id == foreign(Agreement.manager_id))",
    )
    hr_contact: Mapped[ClientPerson | None] = relationship(
        lazy="joined",
        viewonly=True,
        primaryjoin="and_(ClientPerson.tenant_id == Agreement.tenant_id,"
        " ClientPerson.id == foreign(Agreement.hr_contact_id))",
    )
    supervisors: Mapped[list[AgreementSupervisor]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )
    supervisees: Mapped[list[AgreementSupervisee]] = relationship(
        lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def price_with_vat_cents(self) -> int:
        """The price of one session with VAT, rounded half up to a cent."""
        return (self.price_cents * (10_000 + self.vat_basis_points) + 5_000) // 10_000

    @property
    def supervisee_people(self) -> list[ClientPerson]:
        return sorted((s.person for s in self.supervisees), key=lambda p: p.name)

    @property
    def is_running(self) -> bool:
        """Active or paused: in force, reviewed, may be extended or ended by a review."""
        return self.status in (AgreementStatus.ACTIVE, AgreementStatus.PAUSED)


class AgreementSupervisor(TenantScoped, Base):
    """A supervisor (a staff membership) on an agreement."""

    __tablename__ = "agreement_supervisors"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "agreement_id", "membership_id"),
        Index("ix_agreement_supervisors_tenant_membership", "tenant_id", "membership_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    # A plain id: a supervisor who leaves the firm stays in the agreement's history.
    membership_id: Mapped[uuid.UUID]


class AgreementSupervisee(TenantScoped, Base):
    """A supervisee (a client person) on an agreement: one for individual, several for group."""

    __tablename__ = "agreement_supervisees"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "person_id"], ["client_people.tenant_id", "client_people.id"]
        ),
        UniqueConstraint("tenant_id", "agreement_id", "person_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    person_id: Mapped[uuid.UUID]

    person: Mapped[ClientPerson] = relationship(lazy="joined", viewonly=True)


class AgreementEvent(TenantScoped, Base):
    """One step in an agreement's life: created, sent, accepted, activated, paused, ended..."""

    __tablename__ = "agreement_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
        Index("ix_agreement_events_tenant_agreement", "tenant_id", "agreement_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None]  # None: a party through an acceptance link
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # never confidential content


class Acceptance(TenantScoped, Base):
    """One party's single-use link to accept an agreement or ask for a change."""

    __tablename__ = "agreement_acceptances"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "person_id"], ["client_people.tenant_id", "client_people.id"]
        ),
    )

    agreement_id: Mapped[uuid.UUID] = mapped_column(index=True)
    party: Mapped[Party] = mapped_column(str_enum(Party))
    person_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    response: Mapped[str] = mapped_column(String(20), default="")  # accepted, change_requested
    comment: Mapped[str] = mapped_column(Text, default="")

    person: Mapped[ClientPerson] = relationship(lazy="joined", viewonly=True)

    def link_state(self, now: datetime) -> str:
        """``open``, ``expired`` or what the response was (an :class:`AcceptanceResponse`)."""
        if self.response:
            return self.response
        return "open" if self.expires_at > now else "expired"


class AgreementDocument(TenantScoped, Base):
    """The PDF of an agreement as accepted (terms and parties only, no content)."""

    __tablename__ = "agreement_documents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
    )

    agreement_id: Mapped[uuid.UUID] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(String(120))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))


class Review(TenantScoped, Base):
    """A three-party continuation review and its decision.

    The only way an agreement is extended or ended. ``note`` is an administrative summary
    ("continue as agreed"), never what was discussed.
    """

    __tablename__ = "agreement_reviews"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            ondelete="CASCADE",
        ),
        Index("ix_agreement_reviews_tenant_agreement", "tenant_id", "agreement_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    held_on: Mapped[date]
    decision: Mapped[ReviewDecision] = mapped_column(str_enum(ReviewDecision))
    new_end_date: Mapped[date | None]
    supervisee_present: Mapped[bool] = mapped_column(default=True)
    supervisor_present: Mapped[bool] = mapped_column(default=True)
    manager_present: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[uuid.UUID | None]  # a user id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def present_labels(self) -> list[str]:
        """Who took part, in the current language."""
        present = (
            (self.supervisee_present, Party.SUPERVISEE.label),
            (self.supervisor_present, _("Supervisor")),
            (self.manager_present, Party.MANAGER.label),
        )
        return [label for was, label in present if was]


def event_label(kind: str) -> str:
    """The label of an :class:`AgreementEvent` kind (an unknown one as stored)."""
    return EventKind(kind).label if kind in EventKind._value2member_map_ else kind


def response_label(response: str) -> str:
    """The label of an acceptance's response (``Acceptance.response``)."""
    known = AcceptanceResponse._value2member_map_
    return AcceptanceResponse(response).label if response in known else response


# --- services -------------------------------------------------------------------------------
#
# Every service takes the database session (scoped to the firm) and the acting membership,
# checks the permission and raises domain errors. Owners and admins see and manage every
# agreement; a supervisor sees only the agreements they are on, and any other is "not found".

MAX_TERM = relativedelta(years=3)  # an agreement runs at most three years from its start
DEFAULT_TERM = relativedelta(years=1)
ACCEPTANCE_LIFETIME = timedelta(days=30)
REVIEW_DUE_SOON_DAYS = 14
MAX_PRICE_CENTS = 10_000_000  # 100 000 € per session: anything above is a typing error
MAX_QUOTA = 500
MAX_TITLE, MAX_NOTE, MAX_COMMENT = 200, 1000, 2000
PARTY_ORDER = {Party.SUPERVISEE: 0, Party.MANAGER: 1, Party.HR_CONTACT: 2}


def helsinki_today(now: datetime | None = None) -> date:
    """The date in Finland now (reviews, terms and reminders are counted in local days)."""
    return (now or utcnow()).astimezone(i18n.HELSINKI).date()


def max_end_date(start: date) -> date:
    """The last day an agreement starting on ``start`` may run (three years)."""
    return start + MAX_TERM - timedelta(days=1)


def default_end_date(start: date) -> date:
    """One year: 1.9.2026 -> 31.8.2027."""
    return start + DEFAULT_TERM - timedelta(days=1)


def _require(allowed: bool, what: str) -> None:
    if not allowed:
        raise Forbidden(what)


def _visible_to(actor: Membership) -> list[ColumnElement[bool]]:
    """Conditions limiting agreements to those ``actor`` may see."""
    if permissions.can_manage_agreements(actor):
        return []
    return [
        Agreement.id.in_(
            select(AgreementSupervisor.agreement_id).where(
                AgreementSupervisor.membership_id == actor.id
            )
        )
    ]


async def get_agreement(db: AsyncSession, actor: Membership, agreement_id: uuid.UUID) -> Agreement:
    """One agreement ``actor`` may see; any other (or none) is :class:`NotFound`."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("agreement")
    agreement = await db.scalar(
        select(Agreement).where(Agreement.id == agreement_id, *_visible_to(actor))
    )
    if agreement is None:
        raise NotFound("agreement")
    return agreement


def _set_status(agreement: Agreement, status: AgreementStatus, user_id: uuid.UUID | None) -> None:
    agreement.status = status
    agreement.status_changed_at = utcnow()
    agreement.status_changed_by = user_id


def _event(
    db: AsyncSession,
    agreement: Agreement,
    kind: EventKind,
    *,
    actor: Membership | None = None,
    name: str = "",
    note: str = "",
) -> AgreementEvent:
    event = AgreementEvent(
        agreement_id=agreement.id,
        kind=kind.value,
        actor_user_id=actor.user_id if actor else None,
        actor_name=(actor.user.name if actor else name)[:120],
        note=note,
    )
    db.add(event)
    return event


async def staff_names(
    db: AsyncSession, membership_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of staff memberships (someone who has left the firm is simply missing)."""
    ids = set(membership_ids)
    if not ids:
        return {}
    rows = await db.execute(
        select(Membership.id, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.id.in_(ids))
    )
    return dict(rows.tuples().all())


async def staff_choices(db: AsyncSession) -> list[tuple[uuid.UUID, str]]:
    """The firm's staff as (membership id, name), for choosing supervisors."""
    rows = await db.execute(
        select(Membership.id, User.name)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role.in_(STAFF_ROLES))
        .order_by(User.name)
    )
    return list(rows.tuples().all())


async def org_choices(db: AsyncSession, *, include_archived: bool = False) -> list[ClientOrg]:
    """Organisations an agreement can be drafted for (not archived), by name.

    ``include_archived``: every organisation, for filtering lists that include old agreements.
    """
    query = select(ClientOrg).order_by(ClientOrg.name, ClientOrg.id)
    if not include_archived:
        query = query.where(ClientOrg.archived_at.is_(None))
    return list(await db.scalars(query))


async def people_choices(
    db: AsyncSession, org_id: uuid.UUID | None
) -> dict[PersonRole, list[ClientPerson]]:
    """The organisation's current people by role (supervisees, managers, HR contacts)."""
    found: dict[PersonRole, list[ClientPerson]] = {role: [] for role in PersonRole}
    if org_id is None:
        return found
    rows = await db.scalars(
        select(ClientPerson)
        .where(ClientPerson.org_id == org_id, ClientPerson.archived_at.is_(None))
        .order_by(ClientPerson.name)
    )
    for person in rows:
        found[person.role].append(person)
    return found


# --- quota and review dates -----------------------------------------------------------------


class QuotaUsage(NamedTuple):
    """Sessions of an agreement against its quota.

    ``used``: held sessions plus billable cancellations and no-shows; ``planned``: sessions
    still planned; ``remaining``: what the quota leaves to plan (never below 0), or None for an
    open-ended agreement.
    """

    used: int
    planned: int
    remaining: int | None


def _usage(agreement: Agreement, used: int, planned: int) -> QuotaUsage:
    if agreement.session_quota is None:
        return QuotaUsage(used, planned, None)
    return QuotaUsage(used, planned, max(0, agreement.session_quota - used - planned))


async def _session_counts(
    db: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(used, planned) supervision sessions per agreement; other meetings do not count."""
    # Imported here: sessions.py builds on this module's models.
    from luotsi.tenants.sessions import MeetingKind, SessionStatus, SupervisionSession

    if not agreement_ids:
        return {}
    s = SupervisionSession
    used = or_(
        s.status == SessionStatus.HELD,
        s.status == SessionStatus.NO_SHOW,
        and_(s.status == SessionStatus.CANCELLED_BY_CLIENT, s.billable.is_(True)),
    )
    rows = await db.execute(
        select(
            s.agreement_id,
            func.sum(case((used, 1), else_=0)),
            func.sum(case((s.status == SessionStatus.PLANNED, 1), else_=0)),
        )
        .where(s.agreement_id.in_(agreement_ids), s.kind == MeetingKind.SESSION)
        .group_by(s.agreement_id)
    )
    return {aid: (int(u or 0), int(p or 0)) for aid, u, p in rows.tuples()}


async def quota_usage(db: AsyncSession, agreement: Agreement) -> QuotaUsage:
    """Used, planned and remaining sessions of ``agreement`` (see :class:`QuotaUsage`)."""
    used, planned = (await _session_counts(db, [agreement.id])).get(agreement.id, (0, 0))
    return _usage(agreement, used, planned)


async def quota_overruns(db: AsyncSession, actor: Membership) -> list[tuple[Agreement, QuotaUsage]]:
    """Active agreements ``actor`` may see whose used and planned sessions exceed the quota."""
    if not permissions.can_work_on_agreements(actor):
        return []
    running = list(
        await db.scalars(
            select(Agreement).where(Agreement.status == AgreementStatus.ACTIVE, *_visible_to(actor))
        )
    )
    counts = await _session_counts(db, [a.id for a in running])
    overruns = []
    for agreement in running:
        used, planned = counts.get(agreement.id, (0, 0))
        quota = agreement.session_quota
        if quota is not None and used + planned > quota:
            overruns.append((agreement, _usage(agreement, used, planned)))
    return overruns


async def sessions_allowed(db: AsyncSession, agreement: Agreement, count: int) -> int:
    """How many of ``count`` new sessions the quota still allows (all of them if open-ended).

    For session planning: plan at most this many; the end date is checked with
    :func:`within_term`.
    """
    usage = await quota_usage(db, agreement)
    if usage.remaining is None:
        return max(0, count)
    return max(0, min(count, usage.remaining))


def within_term(agreement: Agreement, day: date) -> bool:
    """Whether ``day`` (a date in Finland) falls within the agreement's start and end date."""
    return agreement.start_date <= day <= agreement.end_date


def _end_of_term_utc(agreement: Agreement) -> datetime:
    """The first moment after the end date, in UTC (the end date is a day in Finland)."""
    after = datetime.combine(agreement.end_date + timedelta(days=1), time(0), i18n.HELSINKI)
    return after.astimezone(UTC)


async def quota_warnings(db: AsyncSession, agreement: Agreement) -> list[str]:
    """Notices for the agreement page: planned sessions beyond the quota or the end date."""
    from luotsi.tenants.sessions import MeetingKind, SessionStatus, SupervisionSession

    warnings = []
    usage = await quota_usage(db, agreement)
    quota = agreement.session_quota
    if quota is not None and usage.used + usage.planned > quota:
        warnings.append(
            _(
                "%(used)d sessions used and %(planned)d planned exceed the quota of %(quota)d"
                " sessions."
            )
            % {"used": usage.used, "planned": usage.planned, "quota": quota}
        )
    late = await db.scalar(
        select(func.count())
        .select_from(SupervisionSession)
        .where(
            SupervisionSession.agreement_id == agreement.id,
            SupervisionSession.kind == MeetingKind.SESSION,
            SupervisionSession.status == SessionStatus.PLANNED,
            SupervisionSession.starts_at >= _end_of_term_utc(agreement),
        )
    )
    if late:
        warnings.append(
            i18n.ngettext(
                "%(num)d planned session falls after the end date %(date)s.",
                "%(num)d planned sessions fall after the end date %(date)s.",
                late,
            )
            % {"num": late, "date": i18n.format_date(agreement.end_date)}
        )
    return warnings


def next_review_due(agreement: Agreement, reviews: Iterable[Review]) -> date:
    """When the next continuation review is due (see :func:`review_due_after`).

    ``reviews`` are the agreement's reviews in any order; others are ignored.
    """
    held = [r.held_on for r in reviews if r.agreement_id == agreement.id]
    return review_due_after(agreement, max(held) if held else None)


def review_state(due: date, today: date) -> str:
    """``overdue`` (past), ``due`` (within two weeks) or ``""``."""
    if due < today:
        return "overdue"
    if due <= today + timedelta(days=REVIEW_DUE_SOON_DAYS):
        return "due"
    return ""


async def _last_reviews(
    db: AsyncSession, agreement_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, date]:
    if not agreement_ids:
        return {}
    rows = await db.execute(
        select(Review.agreement_id, func.max(Review.held_on))
        .where(Review.agreement_id.in_(agreement_ids))
        .group_by(Review.agreement_id)
    )
    return dict(rows.tuples().all())


def review_due_after(agreement: Agreement, last_review: date | None) -> date:
    """The last review's date (or the start date) plus the review interval, at the latest the
    end date: continuation must be decided before the agreement runs out."""
    since = last_review or agreement.start_date
    due: date = since + relativedelta(months=agreement.review_interval_months)
    return min(due, agreement.end_date)


async def reviews_due(
    db: AsyncSession, actor: Membership, within_days: int, *, today: date | None = None
) -> list[tuple[Agreement, date]]:
    """Active agreements ``actor`` may see whose review is due within ``within_days`` days or
    overdue, as (agreement, due date), the earliest first."""
    if not permissions.can_work_on_agreements(actor):
        return []
    today = today or helsinki_today()
    running = list(
        await db.scalars(
            select(Agreement).where(Agreement.status == AgreementStatus.ACTIVE, *_visible_to(actor))
        )
    )
    last = await _last_reviews(db, [a.id for a in running])
    horizon = today + timedelta(days=within_days)
    due = [(a, review_due_after(a, last.get(a.id))) for a in running]
    return sorted(((a, d) for a, d in due if d <= horizon), key=lambda pair: (pair[1], pair[0].id))


async def agreements_ending_within(
    db: AsyncSession, actor: Membership, days: int, *, today: date | None = None
) -> list[Agreement]:
    """Active or paused agreements ``actor`` may see that end within ``days`` days."""
    if not permissions.can_work_on_agreements(actor):
        return []
    today = today or helsinki_today()
    rows = await db.scalars(
        select(Agreement)
        .where(
            Agreement.status.in_((AgreementStatus.ACTIVE, AgreementStatus.PAUSED)),
            Agreement.end_date >= today,
            Agreement.end_date <= today + timedelta(days=days),
            *_visible_to(actor),
        )
        .order_by(Agreement.end_date, Agreement.id)
    )
    return list(rows)


# --- the list -------------------------------------------------------------------------------

STATUS_FILTERS = ("current", "all", *(s.value for s in AgreementStatus))


def _like(word: str) -> str:
    return f"%{word.replace('!', '!!').replace('%', '!%').replace('_', '!_')}%"


@dataclass
class AgreementFilter:
    """What the agreement list can be narrowed by. ``current``: everything not yet ended."""

    status: str = "current"
    kind: str = ""
    org_id: uuid.UUID | None = None
    supervisor_id: uuid.UUID | None = None
    text: str = ""

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status == "current":
            conditions.append(Agreement.status != AgreementStatus.ENDED)
        elif self.status in {s.value for s in AgreementStatus}:
            conditions.append(Agreement.status == AgreementStatus(self.status))
        if self.kind in {k.value for k in SupervisionKind}:
            conditions.append(Agreement.kind == SupervisionKind(self.kind))
        if self.org_id is not None:
            conditions.append(Agreement.org_id == self.org_id)
        if self.supervisor_id is not None:
            conditions.append(
                Agreement.id.in_(
                    select(AgreementSupervisor.agreement_id).where(
                        AgreementSupervisor.membership_id == self.supervisor_id
                    )
                )
            )
        for word in self.text.strip().lower().split()[:5]:
            like = _like(word)
            orgs = select(ClientOrg.id).where(func.lower(ClientOrg.name).like(like, escape="!"))
            supervisees = (
                select(AgreementSupervisee.agreement_id)
                .join(
                    ClientPerson,
                    and_(
                        ClientPerson.tenant_id == AgreementSupervisee.tenant_id,
                        ClientPerson.id == AgreementSupervisee.person_id,
                    ),
                )
                .where(func.lower(ClientPerson.name).like(like, escape="!"))
            )
            conditions.append(
                or_(
                    Agreement.org_id.in_(orgs),
                    Agreement.id.in_(supervisees),
                    func.lower(Agreement.title).like(like, escape="!"),
                )
            )
        return conditions


@dataclass
class AgreementSummary:
    """One row of the agreement list."""

    agreement: Agreement
    supervisor_names: list[str]
    next_review: date | None  # None unless active or paused
    review_state: str  # "", "due", "overdue"
    quota: QuotaUsage


async def summarise(
    db: AsyncSession, agreements: list[Agreement], *, today: date | None = None
) -> list[AgreementSummary]:
    """Supervisor names, next review and quota numbers for each agreement, in a few queries."""
    today = today or helsinki_today()
    ids = [a.id for a in agreements]
    names = await staff_names(db, [s.membership_id for a in agreements for s in a.supervisors])
    last = await _last_reviews(db, ids)
    counts = await _session_counts(db, ids)
    result = []
    for agreement in agreements:
        due = review_due_after(agreement, last.get(agreement.id)) if agreement.is_running else None
        result.append(
            AgreementSummary(
                agreement=agreement,
                supervisor_names=sorted(
                    names[s.membership_id]
                    for s in agreement.supervisors
                    if s.membership_id in names
                ),
                next_review=due,
                review_state=review_state(due, today) if due else "",
                quota=_usage(agreement, *counts.get(agreement.id, (0, 0))),
            )
        )
    return result


async def search_agreements(
    db: AsyncSession,
    actor: Membership,
    filters: AgreementFilter,
    page: int = 1,
    per_page: int = 20,
) -> Page[AgreementSummary]:
    """Agreements ``actor`` may see that match ``filters``, by organisation name."""
    if not permissions.can_work_on_agreements(actor):
        raise Forbidden("agreements")
    conditions = [*filters.conditions(), *_visible_to(actor)]
    total = await db.scalar(select(func.count()).select_from(Agreement).where(*conditions)) or 0
    page = max(1, min(page, Page.last_page(total, per_page)))
    org = aliased(ClientOrg)
    rows = await db.scalars(
        select(Agreement)
        .join(org, and_(org.tenant_id == Agreement.tenant_id, org.id == Agreement.org_id))
        .where(*conditions)
        .order_by(org.name, Agreement.start_date.desc(), Agreement.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    agreements = list(rows.unique())
    return Page(await summarise(db, agreements), page, per_page, total)


# --- drafting -------------------------------------------------------------------------------


@dataclass
class AgreementInput:
    """An agreement as typed into the form; :func:`check_agreement` validates every part."""

    kind: str = SupervisionKind.INDIVIDUAL.value
    org_id: str = ""
    title: str = ""
    supervisor_ids: list[str] = field(default_factory=list)
    supervisee_ids: list[str] = field(default_factory=list)
    manager_id: str = ""
    hr_contact_id: str = ""
    start_date: str = ""
    end_date: str = ""  # empty: one year from the start
    session_minutes: str = "60"
    cadence_weeks: str = str(DEFAULT_CADENCE_WEEKS)
    session_quota: str = ""
    open_ended: bool = False
    price: str = ""  # euros: "120", "120,50", "1 234,50"
    vat_rate: str = "25,5"  # per cent
    cancellation_hours: str = str(DEFAULT_CANCELLATION_HOURS)
    review_interval_months: str = str(DEFAULT_REVIEW_MONTHS)
    reminders_enabled: bool = True

    @classmethod
    def of(cls, agreement: Agreement) -> AgreementInput:
        """The saved agreement as form values."""
        return cls(
            kind=agreement.kind.value,
            org_id=str(agreement.org_id),
            title=agreement.title,
            supervisor_ids=[str(s.membership_id) for s in agreement.supervisors],
            supervisee_ids=[str(s.person_id) for s in agreement.supervisees],
            manager_id=str(agreement.manager_id or ""),
            hr_contact_id=str(agreement.hr_contact_id or ""),
            start_date=agreement.start_date.isoformat(),
            end_date=agreement.end_date.isoformat(),
            session_minutes=str(agreement.session_minutes),
            cadence_weeks=str(agreement.cadence_weeks),
            session_quota=str(agreement.session_quota or ""),
            open_ended=agreement.session_quota is None,
            price=decimal_text(agreement.price_cents, cents=True),
            vat_rate=decimal_text(agreement.vat_basis_points, cents=False),
            cancellation_hours=str(agreement.cancellation_hours),
            review_interval_months=str(agreement.review_interval_months),
            reminders_enabled=agreement.reminders_enabled,
        )


def decimal_text(hundredths: int, *, cents: bool) -> str:
    """A form value: 12050 -> "120,50" (``cents``), 2550 -> "25,5", 12000 -> "120".

    The decimal comma in Finnish and Swedish, a point in English; both are read back.
    """
    whole, part = divmod(hundredths, 100)
    separator = "," if i18n.current_language() in ("fi", "sv") else "."
    if part == 0:
        return str(whole)
    digits = f"{part:02d}" if cents else f"{part:02d}".rstrip("0")
    return f"{whole}{separator}{digits}"


_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_HUNDREDTHS = re.compile(r"^(\d{1,9})(?:[.,](\d{1,2}))?$")


def parse_hundredths(text: str) -> int | None:
    """ "1 234,50" -> 123450; "120" -> 12000; "25,5" -> 2550. None if it is not a number."""
    match = _HUNDREDTHS.match(_SPACES.sub("", text).removesuffix("€").removesuffix("%"))
    if not match:
        return None
    whole, part = match.groups()
    return int(whole) * 100 + int((part or "0").ljust(2, "0"))


_FINNISH_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def parse_date(text: str) -> date | None:
    """A date typed as 1.9.2026 or sent by a date field as 2026-09-01; None otherwise."""
    text = text.strip()
    try:
        if match := _FINNISH_DATE.match(text):
            day, month, year = (int(g) for g in match.groups())
            value = date(year, month, day)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = date.fromisoformat(text)
        else:
            return None
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2100 else None


def _int_in(errors: dict[str, str], name: str, text: str, low: int, high: int, message: str) -> int:
    text = text.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        errors[name] = message
        return low
    return int(text)


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _uuids(values: list[str]) -> set[uuid.UUID] | None:
    parsed = {_uuid(v) for v in values if v.strip()}
    return None if None in parsed else {p for p in parsed if p is not None}


@dataclass
class _Terms:
    """Checked values, ready to be written to an agreement."""

    columns: dict[str, Any]  # Agreement attributes
    supervisor_ids: list[uuid.UUID]
    supervisee_ids: list[uuid.UUID]


# Whole-number terms: (field, lowest, highest, message).
_WHOLE_NUMBERS = (
    (
        "session_minutes",
        MIN_SESSION_MINUTES,
        MAX_SESSION_MINUTES,
        N_("A session lasts 45 to 90 minutes."),
    ),
    ("cadence_weeks", 1, 12, N_("Enter how many weeks apart the sessions are, 1 to 12.")),
    ("cancellation_hours", 0, 168, N_("Enter the hours before a session, 0 to 168.")),
    ("review_interval_months", 1, 12, N_("Enter the review interval in months, 1 to 12.")),
)


async def check_agreement(db: AsyncSession, data: AgreementInput) -> _Terms:
    """Validate a drafted agreement; raises :class:`Invalid` with a message per field."""
    errors: dict[str, str] = {}
    columns: dict[str, Any] = {"reminders_enabled": data.reminders_enabled}
    known_kinds = {k.value for k in SupervisionKind}
    kind = SupervisionKind(data.kind) if data.kind in known_kinds else None
    if kind is None:
        errors["kind"] = _("Choose the form of supervision.")
    columns["kind"] = kind
    columns["title"] = data.title.strip()
    if len(columns["title"]) > MAX_TITLE:
        errors["title"] = _("Shorten this to %(n)d characters.") % {"n": MAX_TITLE}
    supervisor_ids, supervisee_ids = await _check_parties(db, errors, columns, data, kind)
    _check_term(errors, columns, data)
    for name, low, high, message in _WHOLE_NUMBERS:
        columns[name] = _int_in(errors, name, getattr(data, name), low, high, _(message))
    columns["session_quota"] = None
    if not data.open_ended:
        columns["session_quota"] = _int_in(
            errors,
            "session_quota",
            data.session_quota,
            1,
            MAX_QUOTA,
            _("Enter the number of sessions (1 to %(n)d) or choose open-ended.") % {"n": MAX_QUOTA},
        )
    columns["price_cents"] = price = parse_hundredths(data.price)
    if price is None or price > MAX_PRICE_CENTS:
        errors["price"] = _("Enter the price in euros, e.g. 120 or 120,50.")
    columns["vat_basis_points"] = vat = parse_hundredths(data.vat_rate)
    if vat is None or vat >= 10_000:
        errors["vat_rate"] = _("Enter the VAT rate in per cent, e.g. 25,5 or 0.")
    if errors:
        raise Invalid(errors)
    return _Terms(columns, sorted(supervisor_ids), sorted(supervisee_ids))


async def _check_parties(
    db: AsyncSession,
    errors: dict[str, str],
    columns: dict[str, Any],
    data: AgreementInput,
    kind: SupervisionKind | None,
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """The organisation, supervisors and the organisation's people in their roles."""
    org_id = _uuid(data.org_id)
    org = None
    if org_id is not None:
        org = await db.scalar(
            select(ClientOrg).where(ClientOrg.id == org_id, ClientOrg.archived_at.is_(None))
        )
    if org is None:
        errors["org_id"] = _("Choose the client organisation.")
    columns["org_id"] = org.id if org else None

    supervisor_ids = _uuids(data.supervisor_ids)
    staff = {m for m, _n in await staff_choices(db)} if supervisor_ids else set()
    if not supervisor_ids or not supervisor_ids <= staff:
        errors["supervisor_ids"] = _("Choose at least one supervisor from the firm's staff.")

    people = await people_choices(db, org.id if org else None)
    supervisee_ids = _uuids(data.supervisee_ids)
    allowed = {p.id for p in people[PersonRole.SUPERVISEE]}
    if org is not None:
        if supervisee_ids is None or not supervisee_ids <= allowed:
            errors["supervisee_ids"] = _("Choose supervisees among the organisation's people.")
        elif kind == SupervisionKind.INDIVIDUAL and len(supervisee_ids) != 1:
            errors["supervisee_ids"] = _("Individual supervision has exactly one supervisee.")
        elif not supervisee_ids:
            errors["supervisee_ids"] = _("Choose at least one supervisee.")
    columns["manager_id"] = _person_choice(
        errors,
        "manager_id",
        data.manager_id,
        people[PersonRole.MANAGER],
        _("Choose the manager among the organisation's managers."),
    )
    if org is not None and columns["manager_id"] is None and kind == SupervisionKind.INDIVIDUAL:
        errors.setdefault("manager_id", _("Individual supervision needs the supervisee's manager."))
    columns["hr_contact_id"] = _person_choice(
        errors,
        "hr_contact_id",
        data.hr_contact_id,
        people[PersonRole.HR_CONTACT],
        _("Choose the HR contact among the organisation's HR contacts."),
    )
    return supervisor_ids or set(), supervisee_ids or set()


def _check_term(errors: dict[str, str], columns: dict[str, Any], data: AgreementInput) -> None:
    """Start and end date: the end after the start, one year by default, three at most."""
    start = parse_date(data.start_date)
    end = parse_date(data.end_date) if data.end_date.strip() else None
    if start is None:
        errors["start_date"] = _("Enter the start date, e.g. 1.9.2026.")
    if data.end_date.strip() and end is None:
        errors["end_date"] = _("Enter the end date, e.g. 31.8.2027, or leave it empty.")
    if start is not None:
        end = end or default_end_date(start)
        if end <= start:
            errors["end_date"] = _("The end date must be after the start date.")
        elif end > max_end_date(start):
            errors["end_date"] = _(
                "An agreement runs at most three years: end it by %(date)s at the latest."
            ) % {"date": i18n.format_date(max_end_date(start))}
    columns["start_date"], columns["end_date"] = start, end


def _person_choice(
    errors: dict[str, str], name: str, text: str, allowed: list[ClientPerson], message: str
) -> uuid.UUID | None:
    if not text.strip():
        return None
    chosen = _uuid(text)
    if chosen is None or chosen not in {p.id for p in allowed}:
        errors[name] = message
        return None
    return chosen


def _apply(agreement: Agreement, terms: _Terms) -> None:
    for name, value in terms.columns.items():
        setattr(agreement, name, value)
    # Keep the links that stay: a flush inserts before it deletes, and a link is unique.
    kept_staff = [s for s in agreement.supervisors if s.membership_id in terms.supervisor_ids]
    have = {s.membership_id for s in kept_staff}
    agreement.supervisors = kept_staff + [
        AgreementSupervisor(membership_id=m) for m in terms.supervisor_ids if m not in have
    ]
    kept_people = [s for s in agreement.supervisees if s.person_id in terms.supervisee_ids]
    have = {s.person_id for s in kept_people}
    agreement.supervisees = kept_people + [
        AgreementSupervisee(person_id=p) for p in terms.supervisee_ids if p not in have
    ]


async def create_agreement(db: AsyncSession, actor: Membership, data: AgreementInput) -> Agreement:
    """Draft a new agreement (status draft)."""
    _require(permissions.can_manage_agreements(actor), "agreements")
    terms = await check_agreement(db, data)
    agreement = Agreement(status=AgreementStatus.DRAFT, status_changed_by=actor.user_id)
    agreement.supervisors = []
    agreement.supervisees = []
    _apply(agreement, terms)
    db.add(agreement)
    await db.flush()
    _event(db, agreement, EventKind.CREATED, actor=actor)
    await db.flush()
    await db.refresh(agreement)  # load the organisation and people for the caller
    return agreement


def not_editable_message() -> str:
    return _(
        "Only a draft can be edited. The terms of an agreement sent for acceptance or in force"
        " stay as accepted; its end date changes only through a review of continuation."
    )


async def update_draft(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, data: AgreementInput
) -> Agreement:
    """Change a draft's terms. Any other agreement refuses (see :func:`not_editable_message`)."""
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.DRAFT:
        raise Invalid.field("status", not_editable_message())
    terms = await check_agreement(db, data)
    _apply(agreement, terms)
    _event(db, agreement, EventKind.EDITED, actor=actor)
    await db.flush()
    await db.refresh(agreement)
    return agreement


# --- acceptance by the parties --------------------------------------------------------------


def _parties(agreement: Agreement) -> list[tuple[Party, ClientPerson]]:
    parties = [(Party.SUPERVISEE, p) for p in agreement.supervisee_people]
    if agreement.manager is not None:
        parties.append((Party.MANAGER, agreement.manager))
    if agreement.hr_contact is not None:
        parties.append((Party.HR_CONTACT, agreement.hr_contact))
    return parties


async def current_acceptances(db: AsyncSession, agreement: Agreement) -> list[Acceptance]:
    """The acceptances of the latest sending (one round shares its ``sent_at``)."""
    latest = await db.scalar(
        select(func.max(Acceptance.sent_at)).where(Acceptance.agreement_id == agreement.id)
    )
    if latest is None:
        return []
    rows = await db.scalars(
        select(Acceptance).where(
            Acceptance.agreement_id == agreement.id, Acceptance.sent_at == latest
        )
    )
    return sorted(rows, key=lambda a: (PARTY_ORDER[a.party], a.person.name))


async def _void_open_links(db: AsyncSession, agreement: Agreement, now: datetime) -> None:
    for acceptance in await db.scalars(
        select(Acceptance).where(Acceptance.agreement_id == agreement.id, Acceptance.response == "")
    ):
        acceptance.response = AcceptanceResponse.VOIDED
        acceptance.responded_at = now


def _mail_language(org: ClientOrg) -> str:
    return org.invoice_language if org.invoice_language in i18n.LANGUAGES else "fi"


def _email(
    db: AsyncSession, tenant: Tenant, template: str, to: str, language: str, **context: object
) -> None:
    """Queue an e-mail from the firm; dates in ``context`` are written as the reader writes them."""
    with i18n.language(language):
        context = {
            key: i18n.format_date(value)
            if isinstance(value, date) and not isinstance(value, datetime)
            else value
            for key, value in context.items()
        }
    message = render_email(template, to, language, firm=tenant.name, **context)
    enqueue_email(db, message, tenant_id=tenant.id)


async def send_for_acceptance(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, *, base_url: str
) -> list[Acceptance]:
    """Draft -> pending: e-mail each party (supervisees, manager, HR contact) a single-use link.

    The links are valid for 30 days; only their hashes are stored. Every party must have an
    e-mail address.
    """
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.DRAFT:
        raise Invalid.field("send", _("Only a draft can be sent for acceptance."))
    try:
        await check_agreement(db, AgreementInput.of(agreement))
    except Invalid:
        raise Invalid.field(
            "send",
            _("Some terms are no longer valid (a person may have been archived): edit the draft."),
        ) from None
    parties = _parties(agreement)
    missing = [person.name for _party, person in parties if not person.email]
    if missing:
        raise Invalid.field(
            "send",
            _("Add an e-mail address for %(names)s under Clients first.")
            % {"names": ", ".join(missing)},
        )
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    now = utcnow()
    sent = []
    language = _mail_language(agreement.org)
    for party, person in parties:
        token, hashed = new_token()
        acceptance = Acceptance(
            agreement_id=agreement.id,
            party=party,
            person_id=person.id,
            token_hash=hashed,
            sent_at=now,
            expires_at=now + ACCEPTANCE_LIFETIME,
        )
        db.add(acceptance)
        sent.append(acceptance)
        _email(
            db,
            tenant,
            "agreement_acceptance",
            person.email,
            language,
            agreement=agreement,
            person=person,
            party=party,
            link=f"{base_url}/accept/{tenant.slug}/{token}",
            expires=helsinki_today(acceptance.expires_at),
        )
    _set_status(agreement, AgreementStatus.PENDING, actor.user_id)
    _event(db, agreement, EventKind.SENT, actor=actor, note=", ".join(p.name for _x, p in parties))
    await db.flush()
    return sent


async def withdraw_from_acceptance(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> Agreement:
    """Pending -> draft: the open links stop working, so the draft can be corrected."""
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != AgreementStatus.PENDING:
        raise Invalid.field(
            "status", _("Only an agreement waiting for acceptance can be withdrawn.")
        )
    await _void_open_links(db, agreement, utcnow())
    _set_status(agreement, AgreementStatus.DRAFT, actor.user_id)
    _event(db, agreement, EventKind.WITHDRAWN, actor=actor)
    await db.flush()
    return agreement


async def acceptance_by_token(db: AsyncSession, token: str) -> Acceptance:
    """The acceptance behind a link, in the firm the session is scoped to; else NotFound."""
    if not token or len(token) > 100:
        raise NotFound("acceptance")
    acceptance = await db.scalar(
        select(Acceptance).where(Acceptance.token_hash == token_hash(token))
    )
    if acceptance is None:
        raise NotFound("acceptance")
    return acceptance


async def agreement_of(db: AsyncSession, acceptance: Acceptance) -> Agreement:
    """The agreement an acceptance link is for (the link itself is the permission)."""
    return await db.get_one(Agreement, (acceptance.tenant_id, acceptance.agreement_id))


async def respond_to_acceptance(
    db: AsyncSession,
    acceptance: Acceptance,
    *,
    accept: bool,
    comment: str = "",
    base_url: str,
) -> Agreement:
    """Record a party's answer through their link.

    Accepting: when every party of the round has accepted, the agreement becomes active and
    its PDF is kept. Asking for a change (a comment is required): the agreement goes back to
    draft and the other open links of the round stop working.
    """
    now = utcnow()
    comment = comment.strip()
    if not accept and not comment:
        raise Invalid.field("comment", _("Tell the firm what should be changed."))
    if len(comment) > MAX_COMMENT:
        raise Invalid.field("comment", _("Shorten this to %(n)d characters.") % {"n": MAX_COMMENT})
    # Parties may answer at the same moment: one at a time per agreement.
    agreement = await db.scalar(
        select(Agreement)
        .where(Agreement.id == acceptance.agreement_id)
        .with_for_update(of=Agreement)
        .execution_options(populate_existing=True)
    )
    await db.refresh(acceptance)
    if agreement is None or acceptance.link_state(now) != "open":
        raise Invalid.field("link", acceptance.link_state(now))
    if agreement.status != AgreementStatus.PENDING:
        raise Invalid.field("link", AcceptanceResponse.VOIDED)
    acceptance.responded_at = now
    name = f"{acceptance.person.name} ({acceptance.party.label})"
    if not accept:
        acceptance.response = AcceptanceResponse.CHANGE_REQUESTED
        acceptance.comment = comment
        await _void_open_links(db, agreement, now)
        _set_status(agreement, AgreementStatus.DRAFT, None)
        _event(db, agreement, EventKind.CHANGE_REQUESTED, name=name)
        await db.flush()
        await _notify_office_of_change_request(db, agreement, acceptance, base_url)
        return agreement
    acceptance.response = AcceptanceResponse.ACCEPTED
    _event(db, agreement, EventKind.ACCEPTED, name=name)
    await db.flush()
    round_ = await current_acceptances(db, agreement)
    if all(a.response == AcceptanceResponse.ACCEPTED for a in round_):
        await _activate(db, agreement, None, base_url=base_url)
    return agreement


async def _office(db: AsyncSession) -> list[User]:
    rows = await db.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_((Role.OWNER, Role.ADMIN)), User.is_active.is_(True))
        .order_by(User.email)
    )
    return list(rows)


async def _supervisor_users(db: AsyncSession, agreement: Agreement) -> list[User]:
    ids = [s.membership_id for s in agreement.supervisors]
    if not ids:
        return []
    rows = await db.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.id.in_(ids), User.is_active.is_(True))
        .order_by(User.email)
    )
    return list(rows)


async def _notify_office_of_change_request(
    db: AsyncSession, agreement: Agreement, acceptance: Acceptance, base_url: str
) -> None:
    # The comment itself is read in Luotsi: nothing a party types is e-mailed onwards.
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    for user in await _office(db):
        _email(
            db,
            tenant,
            "agreement_change_requested",
            user.email,
            user.locale,
            agreement=agreement,
            person=acceptance.person,
            party=acceptance.party,
            link=f"{base_url}/t/{tenant.slug}/agreements/{agreement.id}",
        )


async def mark_accepted_on_paper(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    *,
    confirmed: bool,
    note: str = "",
    base_url: str,
) -> Agreement:
    """Activate a draft or pending agreement whose parties signed it outside Luotsi.

    Owners and admins only, with an explicit confirmation; open links stop working.
    """
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status not in (AgreementStatus.DRAFT, AgreementStatus.PENDING):
        raise Invalid.field("status", _("Only a draft or a pending agreement can be accepted."))
    errors = {}
    if not confirmed:
        errors["confirm"] = _("Confirm that the parties have signed the agreement.")
    if len(note.strip()) > MAX_NOTE:
        errors["note"] = _("Shorten this to %(n)d characters.") % {"n": MAX_NOTE}
    if errors:
        raise Invalid(errors)
    await _void_open_links(db, agreement, utcnow())
    _event(db, agreement, EventKind.ACCEPTED_ON_PAPER, actor=actor, note=note.strip())
    await db.flush()
    await _activate(db, agreement, actor, base_url=base_url)
    return agreement


async def _activate(
    db: AsyncSession, agreement: Agreement, actor: Membership | None, *, base_url: str
) -> AgreementDocument:
    """Make the agreement active, keep its PDF and tell its supervisors."""
    _set_status(agreement, AgreementStatus.ACTIVE, actor.user_id if actor else None)
    _event(db, agreement, EventKind.ACTIVATED, actor=actor)
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    await db.flush()
    filename, pdf = await _render_pdf(db, agreement, tenant, kept=True)
    document = AgreementDocument(agreement_id=agreement.id, filename=filename, pdf=pdf)
    db.add(document)
    for user in await _supervisor_users(db, agreement):
        _email(
            db,
            tenant,
            "agreement_activated",
            user.email,
            user.locale,
            agreement=agreement,
            start=agreement.start_date,
            end=agreement.end_date,
            link=f"{base_url}/t/{tenant.slug}/agreements/{agreement.id}",
        )
    await db.flush()
    return document


# --- terms as shown to people, and the PDF --------------------------------------------------


def agreement_terms(agreement: Agreement, supervisor_names: list[str]) -> list[tuple[str, str]]:
    """The agreement's terms as (label, value) rows in the current language.

    The one wording of the terms: the acceptance page, the agreement page and the PDF show
    these rows. Terms and parties only, never content.
    """
    rows = [
        (_("Client organisation"), agreement.org.name),
        (_("Form of supervision"), agreement.kind.label),
    ]
    if agreement.title:
        rows.append((_("Group or team"), agreement.title))
    rows += [
        (_("Supervisors"), ", ".join(supervisor_names) or "–"),
        (_("Supervisees"), ", ".join(p.name for p in agreement.supervisee_people) or "–"),
        (_("Manager"), agreement.manager.name if agreement.manager else "–"),
        (_("HR contact"), agreement.hr_contact.name if agreement.hr_contact else "–"),
        (
            _("Term"),
            f"{i18n.format_date(agreement.start_date)} – {i18n.format_date(agreement.end_date)}",
        ),
        (_("Session length"), _("%(n)d minutes") % {"n": agreement.session_minutes}),
        (
            _("Cadence"),
            i18n.ngettext("Every week", "Every %(num)d weeks", agreement.cadence_weeks)
            % {"num": agreement.cadence_weeks},
        ),
        (
            _("Sessions"),
            i18n.ngettext("%(num)d session", "%(num)d sessions", agreement.session_quota)
            % {"num": agreement.session_quota}
            if agreement.session_quota is not None
            else _("Open-ended, until the end date"),
        ),
        (_("Price per session"), price_text(agreement)),
        (_("Cancellations"), cancellation_text(agreement.cancellation_hours)),
        (
            _("Review of continuation"),
            i18n.ngettext("Every month", "Every %(num)d months", agreement.review_interval_months)
            % {"num": agreement.review_interval_months},
        ),
    ]
    return rows


async def terms_of(db: AsyncSession, agreement: Agreement) -> list[tuple[str, str]]:
    """:func:`agreement_terms` with the supervisors' names looked up."""
    names = await staff_names(db, [s.membership_id for s in agreement.supervisors])
    return agreement_terms(agreement, sorted(names.values()))


def vat_text(basis_points: int) -> str:
    return f"{decimal_text(basis_points, cents=False)} %"


def price_text(agreement: Agreement) -> str:
    """ "120,00 € + VAT 25,5 % = 150,60 €"."""
    return _("%(price)s + VAT %(vat)s = %(total)s") % {
        "price": i18n.format_money(agreement.price_cents),
        "vat": vat_text(agreement.vat_basis_points),
        "total": i18n.format_money(agreement.price_with_vat_cents),
    }


def cancellation_text(hours: int) -> str:
    if hours == 0:
        return _("A cancelled session is billable only as a no-show.")
    return i18n.ngettext(
        "A session cancelled later than %(num)d hour before it is billable.",
        "A session cancelled later than %(num)d hours before it is billable.",
        hours,
    ) % {"num": hours}


async def _render_pdf(
    db: AsyncSession, agreement: Agreement, tenant: Tenant, *, kept: bool
) -> tuple[str, bytes]:
    """The agreement as a PDF in the organisation's language: terms, parties, acceptances."""
    names = await staff_names(db, [s.membership_id for s in agreement.supervisors])
    supervisors = sorted(names.values())
    acceptances = (
        [a for a in await current_acceptances(db, agreement) if a.responded_at]
        if agreement.status != AgreementStatus.DRAFT
        else []
    )
    paper = await db.scalar(
        select(AgreementEvent)
        .where(
            AgreementEvent.agreement_id == agreement.id,
            AgreementEvent.kind == EventKind.ACCEPTED_ON_PAPER.value,
        )
        .order_by(AgreementEvent.at.desc())
        .limit(1)
    )
    with i18n.language(_mail_language(agreement.org)):
        accepted_rows = [
            (a.party.label, a.person.name, i18n.format_datetime(a.responded_at))
            for a in acceptances
            if a.response == AcceptanceResponse.ACCEPTED
        ]
        if paper is not None:
            status_line = _("Signed on paper; recorded in Luotsi by %(name)s on %(when)s.") % {
                "name": paper.actor_name,
                "when": i18n.format_datetime(paper.at),
            }
        elif kept:
            status_line = _("Accepted by every party through Luotsi.")
        else:
            status_line = _("%(status)s. This copy shows the terms as they are now.") % {
                "status": agreement.status.label
            }
        sheet = AgreementSheet(
            title=_("Supervision agreement"),
            firm=f"{tenant.name} ({tenant.business_id})",
            client=(
                f"{agreement.org.name} ({agreement.org.business_id})"
                if agreement.org.business_id
                else agreement.org.name
            ),
            terms=agreement_terms(agreement, supervisors),
            acceptance_heading=_("Acceptance"),
            acceptances=accepted_rows,
            status_line=status_line,
            footer=_("Made with Luotsi on %(when)s. Reference %(ref)s.")
            % {"when": i18n.format_datetime(utcnow()), "ref": str(agreement.id)[:8]},
            labels=(_("Supervision firm"), _("Client"), _("Party"), _("Name"), _("Accepted")),
        )
        filename = f"{_('agreement')}-{str(agreement.id)[:8]}.pdf"
    return filename, render_agreement_pdf(sheet)


async def latest_document(db: AsyncSession, agreement: Agreement) -> AgreementDocument | None:
    """The kept PDF of the agreement as accepted, if any (without its bytes)."""
    return await db.scalar(
        select(AgreementDocument)
        .where(AgreementDocument.agreement_id == agreement.id)
        .order_by(AgreementDocument.created_at.desc())
        .limit(1)
    )


async def agreement_pdf(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> tuple[str, bytes]:
    """(filename, PDF) for download: the copy kept at acceptance or, for an agreement that has
    none (a draft, or one entered as already running), the terms as they are now."""
    agreement = await get_agreement(db, actor, agreement_id)
    document = await latest_document(db, agreement)
    if document is not None:
        await db.refresh(document, ["pdf"])
        return document.filename, document.pdf
    tenant = await db.get_one(Tenant, agreement.tenant_id)
    return await _render_pdf(db, agreement, tenant, kept=False)


# --- status changes -------------------------------------------------------------------------


async def pause_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, note: str = ""
) -> Agreement:
    """Active -> paused (e.g. the supervisee's long leave); recorded with who and when."""
    return await _change_status(
        db,
        actor,
        agreement_id,
        AgreementStatus.ACTIVE,
        AgreementStatus.PAUSED,
        EventKind.PAUSED,
        note,
    )


async def resume_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID, note: str = ""
) -> Agreement:
    """Paused -> active."""
    return await _change_status(
        db,
        actor,
        agreement_id,
        AgreementStatus.PAUSED,
        AgreementStatus.ACTIVE,
        EventKind.RESUMED,
        note,
    )


async def _change_status(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    source: AgreementStatus,
    target: AgreementStatus,
    kind: EventKind,
    note: str,
) -> Agreement:
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != source:
        raise Invalid.field(
            "status",
            _("This agreement is %(status)s; that change is not possible now.")
            % {"status": agreement.status.label.lower()},
        )
    if len(note.strip()) > MAX_NOTE:
        raise Invalid.field("note", _("Shorten this to %(n)d characters.") % {"n": MAX_NOTE})
    _set_status(agreement, target, actor.user_id)
    _event(db, agreement, kind, actor=actor, note=note.strip())
    await db.flush()
    return agreement


# --- continuation reviews -------------------------------------------------------------------


@dataclass
class ReviewInput:
    """A review as typed into the form; :func:`record_review` validates it."""

    held_on: str = ""
    decision: str = ReviewDecision.CONTINUE.value
    new_end_date: str = ""
    supervisee_present: bool = True
    supervisor_present: bool = True
    manager_present: bool = True
    note: str = ""


def can_record_review(actor: Membership, agreement: Agreement) -> bool:
    """Staff who can see the agreement record its reviews while it is active or paused."""
    return permissions.can_work_on_agreements(actor) and agreement.is_running


async def record_review(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: ReviewInput,
    *,
    today: date | None = None,
) -> Review:
    """Record a three-party continuation review and apply its decision.

    The only way an agreement's end date changes or an agreement ends. ``continue`` changes
    nothing (the review clock restarts from the review date); ``extend`` moves the end date to
    a later one within three years of the start; ``end`` ends the agreement on the review date
    (or its end date, if that is earlier).
    """
    agreement = await get_agreement(db, actor, agreement_id)
    _require(permissions.can_work_on_agreements(actor), "agreement")
    if not agreement.is_running:
        raise Invalid.field(
            "status", _("Reviews are recorded for active and paused agreements only.")
        )
    today = today or helsinki_today()
    errors: dict[str, str] = {}
    held_on = parse_date(data.held_on)
    if held_on is None:
        errors["held_on"] = _("Enter the date the review was held, e.g. 2.11.2026.")
    elif held_on > today:
        errors["held_on"] = _("Record a review once it has been held; the date is in the future.")
    elif held_on < agreement.start_date:
        errors["held_on"] = _("The review date is before the agreement started.")
    decision = (
        ReviewDecision(data.decision)
        if data.decision in {d.value for d in ReviewDecision}
        else None
    )
    if decision is None:
        errors["decision"] = _("Choose the decision.")
    new_end = None
    if decision == ReviewDecision.EXTEND:
        new_end = parse_date(data.new_end_date)
        limit = max_end_date(agreement.start_date)
        if new_end is None:
            errors["new_end_date"] = _("Enter the new end date, e.g. 31.8.2028.")
        elif new_end <= agreement.end_date:
            errors["new_end_date"] = _(
                "The new end date must be after the current one, %(date)s."
            ) % {"date": i18n.format_date(agreement.end_date)}
        elif new_end > limit:
            errors["new_end_date"] = _(
                "An agreement runs at most three years from its start: %(date)s at the latest."
            ) % {"date": i18n.format_date(limit)}
    if not (data.supervisee_present or data.supervisor_present or data.manager_present):
        errors["present"] = _("Tick who took part in the review.")
    note = data.note.strip()
    if len(note) > MAX_NOTE:
        errors["note"] = _("Shorten this to %(n)d characters.") % {"n": MAX_NOTE}
    if errors:
        raise Invalid(errors)
    assert held_on is not None and decision is not None

    review = Review(
        agreement_id=agreement.id,
        held_on=held_on,
        decision=decision,
        new_end_date=new_end,
        supervisee_present=data.supervisee_present,
        supervisor_present=data.supervisor_present,
        manager_present=data.manager_present,
        note=note,
        recorded_by=actor.user_id,
    )
    db.add(review)
    _event(db, agreement, EventKind.REVIEWED, actor=actor, note=decision.label)
    if decision == ReviewDecision.EXTEND and new_end is not None:
        old = agreement.end_date
        agreement.end_date = new_end
        _event(
            db,
            agreement,
            EventKind.EXTENDED,
            actor=actor,
            note=f"{i18n.format_date(old)} → {i18n.format_date(new_end)}",
        )
    elif decision == ReviewDecision.END:
        agreement.end_date = min(agreement.end_date, held_on)
        _set_status(agreement, AgreementStatus.ENDED, actor.user_id)
        _event(
            db, agreement, EventKind.ENDED, actor=actor, note=i18n.format_date(agreement.end_date)
        )
    await db.flush()
    return review


async def list_reviews(db: AsyncSession, agreement: Agreement) -> list[Review]:
    """The agreement's reviews, the latest first."""
    rows = await db.scalars(
        select(Review)
        .where(Review.agreement_id == agreement.id)
        .order_by(Review.held_on.desc(), Review.created_at.desc())
    )
    return list(rows)


async def list_events(db: AsyncSession, agreement: Agreement) -> list[AgreementEvent]:
    """The agreement's history, the latest first."""
    rows = await db.scalars(
        select(AgreementEvent)
        .where(AgreementEvent.agreement_id == agreement.id)
        .order_by(AgreementEvent.at.desc(), AgreementEvent.id)
    )
    return list(rows)


@dataclass
class AgreementOverview:
    """Everything the agreement page shows."""

    agreement: Agreement
    summary: AgreementSummary
    terms: list[tuple[str, str]]
    warnings: list[str]
    acceptances: list[Acceptance]
    reviews: list[Review]
    events: list[AgreementEvent]
    document: AgreementDocument | None
    user_names: dict[uuid.UUID, str]  # who recorded reviews


async def agreement_overview(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> AgreementOverview:
    """The agreement page: terms, quota and review dates, acceptances, reviews, history."""
    agreement = await get_agreement(db, actor, agreement_id)
    (summary,) = await summarise(db, [agreement])
    reviews = await list_reviews(db, agreement)
    recorders = {r.recorded_by for r in reviews if r.recorded_by}
    user_names = (
        dict(
            (await db.execute(select(User.id, User.name).where(User.id.in_(recorders))))
            .tuples()
            .all()
        )
        if recorders
        else {}
    )
    return AgreementOverview(
        agreement=agreement,
        summary=summary,
        terms=agreement_terms(agreement, summary.supervisor_names),
        warnings=await quota_warnings(db, agreement)
        if agreement.status != AgreementStatus.ENDED
        else [],
        acceptances=await current_acceptances(db, agreement),
        reviews=reviews,
        events=await list_events(db, agreement),
        document=await latest_document(db, agreement),
        user_names=user_names,
    )


# --- review reminders -----------------------------------------------------------------------


@scheduled("review_reminders", 3600)
async def send_review_reminders(db: AsyncSession, tenant: Tenant, now: datetime) -> int:
    """E-mail the supervisors and the HR contact when a review is due within two weeks.

    Once per due date (``Agreement.review_reminder_for``); a review moves the due date, so the
    next one is reminded of in its turn. Returns how many agreements were reminded of.
    """
    today = helsinki_today(now)
    active = list(
        await db.scalars(select(Agreement).where(Agreement.status == AgreementStatus.ACTIVE))
    )
    last = await _last_reviews(db, [a.id for a in active])
    reminded = 0
    for agreement in active:
        due = review_due_after(agreement, last.get(agreement.id))
        if (
            due - today > timedelta(days=REVIEW_DUE_SOON_DAYS)
            or agreement.review_reminder_for == due
        ):
            continue
        recipients = [(u.email, u.locale, True) for u in await _supervisor_users(db, agreement)]
        hr = agreement.hr_contact
        if hr is not None and hr.email and hr.archived_at is None:
            recipients.append((hr.email, _mail_language(agreement.org), False))
        for email, language, staff in recipients:
            _email(
                db,
                tenant,
                "review_reminder",
                email,
                language,
                agreement=agreement,
                due=due,
                end=agreement.end_date,
                overdue=due < today,
                staff=staff,
            )
        agreement.review_reminder_for = due
        reminded += 1
    await db.flush()
    return reminded
