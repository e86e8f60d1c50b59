"""Agreements (sopimukset): who is supervised by whom, for how long, on what terms.

An agreement moves draft -> pending (sent for acceptance) -> active -> (paused) -> ended, and
every move is an :class:`AgreementEvent` with who and when. It is extended or ended only through
a recorded continuation :class:`Review` (supervisee, supervisor and manager decide together).
Nothing here is confidential content: content (notes, goals, evaluations) lives elsewhere.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Tenant
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

    @property
    def in_sentence(self) -> str:
        """The party as a word inside a sentence ("ohjattava", "HR-yhteyshenkilö"): not the
        label lower-cased, which would make "hr-yhteyshenkilö" of the abbreviation."""
        return i18n.gettext(_PARTY_IN_SENTENCE[self])


_PARTY_LABELS = {
    Party.SUPERVISEE: N_("Supervisee"),
    Party.MANAGER: N_("Manager"),
    Party.HR_CONTACT: N_("HR contact"),
}
_PARTY_IN_SENTENCE = {
    Party.SUPERVISEE: N_("supervisee"),
    Party.MANAGER: N_("manager"),
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
    status_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    status_changed_by: Mapped[uuid.UUID | None]  # a user id
    # The review due date the last reminder was sent for: one reminder per due date.
    review_reminder_for: Mapped[date | None]
    # When the retention rule erased its confidential content (notes, goals...): kept facts only.
    content_erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

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
    at: Mapped[datetime] = mapped_column(default=clock.now)
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
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)
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
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
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
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

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


def term_end(start: date, term: relativedelta) -> date:
    """The last day of a term of ``term`` from ``start``: the day before its anniversary.

    The anniversary of 29 February in a year without one is 1 March, so such a term ends on
    28 February (relativedelta gives 28 February itself; a day less would cut the term short).
    """
    anniversary = start + term
    if anniversary.day != start.day:  # 29 February moved back to the 28th
        return anniversary
    return anniversary - timedelta(days=1)


def max_end_date(start: date) -> date:
    """The last day an agreement starting on ``start`` may run (three years)."""
    return term_end(start, MAX_TERM)


def default_end_date(start: date) -> date:
    """One year: 1.9.2026 -> 31.8.2027; 29.2.2028 -> 28.2.2029."""
    return term_end(start, DEFAULT_TERM)


def require(allowed: bool, what: str) -> None:
    """Raise :class:`Forbidden` for ``what`` unless the permission check ``allowed`` passed."""
    if not allowed:
        raise Forbidden(what)


def visible_to(actor: Membership) -> list[ColumnElement[bool]]:
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
        select(Agreement).where(Agreement.id == agreement_id, *visible_to(actor))
    )
    if agreement is None:
        raise NotFound("agreement")
    return agreement


def set_status(agreement: Agreement, status: AgreementStatus, user_id: uuid.UUID | None) -> None:
    """Move ``agreement`` to ``status``, noting when and by whom (None: a party or the system)."""
    agreement.status = status
    agreement.status_changed_at = clock.now()
    agreement.status_changed_by = user_id


def record_event(
    db: AsyncSession,
    agreement: Agreement,
    kind: EventKind,
    *,
    actor: Membership | None = None,
    name: str = "",
    note: str = "",
) -> AgreementEvent:
    """Add an entry to the agreement's history: by ``actor``, or by ``name`` (a party)."""
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


# --- e-mail from the firm ------------------------------------------------------------------


def mail_language(org: ClientOrg) -> str:
    """The language the organisation's people are written to (its invoice language)."""
    return org.invoice_language if org.invoice_language in i18n.LANGUAGES else "fi"


def queue_firm_email(
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


async def supervisor_users(db: AsyncSession, agreement: Agreement) -> list[User]:
    """The agreement's supervisors as active users (to e-mail), by e-mail address."""
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
    require(permissions.can_manage_agreements(actor), "agreement")
    if agreement.status != source:
        raise Invalid.field(
            "status",
            _("This agreement is %(status)s; that change is not possible now.")
            % {"status": agreement.status.label.lower()},
        )
    if len(note.strip()) > MAX_NOTE:
        raise Invalid.field("note", i18n.too_long(MAX_NOTE))
    set_status(agreement, target, actor.user_id)
    record_event(db, agreement, kind, actor=actor, note=note.strip())
    await db.flush()
    return agreement


async def list_events(db: AsyncSession, agreement: Agreement) -> list[AgreementEvent]:
    """The agreement's history, the latest first."""
    rows = await db.scalars(
        select(AgreementEvent)
        .where(AgreementEvent.agreement_id == agreement.id)
        .order_by(AgreementEvent.at.desc(), AgreementEvent.id)
    )
    return list(rows)
