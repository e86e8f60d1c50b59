"""Agreements (sopimukset): who is supervised by whom, for how long, on what terms.

An agreement moves draft -> pending (sent for acceptance) -> active -> (paused) -> ended, and
every move is an :class:`AgreementEvent` with who and when. It is extended or ended only through
a recorded continuation :class:`Review` (supervisee, supervisor and manager decide together).
Nothing here is confidential content: content (notes, goals, evaluations) lives elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    Date,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    case,
    event,
    func,
    inspect,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import (
    Mapped,
    Session,
    joinedload,
    mapped_column,
    relationship,
    selectinload,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from luotsi.platform import clock, i18n
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.platform.i18n import gettext as _
from luotsi.platform.search import trigram_index
from luotsi.platform.sqldates import add_months
from luotsi.platform.tenancy import Membership
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.kinds import SupervisionKind

DEFAULT_VAT_BASIS_POINTS = 2550  # 25.5 % (general rate since 1 Sept 2024)
DEFAULT_CANCELLATION_HOURS = 24
DEFAULT_REVIEW_MONTHS = 6
DEFAULT_CADENCE_WEEKS = 3
MIN_SESSION_MINUTES, MAX_SESSION_MINUTES = 45, 90


class Pricing(LabelledEnum):
    """How an agreement is priced: each billable session, or the whole process at once."""

    PER_SESSION = "per_session", N_("Per session")
    PER_PROCESS = "per_process", N_("Fixed price for the process")


class AgreementStatus(LabelledEnum):
    DRAFT = "draft", N_("Draft")
    PENDING = "pending", N_("Waiting for acceptance")  # sent to the parties for acceptance
    ACTIVE = "active", N_("Active")
    PAUSED = "paused", N_("Paused")
    ENDED = "ended", N_("Ended")


class Party(LabelledEnum):
    """Who accepts an agreement besides the firm."""

    SUPERVISEE = "supervisee", N_("Supervisee")
    MANAGER = "manager", N_("Manager")
    HR_CONTACT = "hr_contact", N_("HR contact")

    @property
    def in_sentence(self) -> str:
        """The party as a word inside a sentence ("ohjattava", "HR-yhteyshenkilö"): not the
        label lower-cased, which would make "hr-yhteyshenkilö" of the abbreviation."""
        return i18n.gettext(_PARTY_IN_SENTENCE[self])


_PARTY_IN_SENTENCE = {
    Party.SUPERVISEE: N_("supervisee"),
    Party.MANAGER: N_("manager"),
    Party.HR_CONTACT: N_("HR contact"),
}


class AcceptanceResponse(LabelledEnum):
    """What became of one party's acceptance link (``Acceptance.response``)."""

    ACCEPTED = "accepted", N_("Accepted")
    CHANGE_REQUESTED = "change_requested", N_("Asked for a change")
    # Withdrawn by the office, or another party of the same round asked for a change.
    VOIDED = "voided", N_("Link withdrawn")


class ReviewDecision(LabelledEnum):
    CONTINUE = "continue", N_("Continue as agreed")
    EXTEND = "extend", N_("Extend")
    END = "end", N_("End")


class EventKind(LabelledEnum):
    """The steps written to an agreement's history (``AgreementEvent.kind``)."""

    CREATED = "created", N_("Drafted")
    EDITED = "edited", N_("Draft edited")
    SENT = "sent", N_("Sent for acceptance")
    WITHDRAWN = "withdrawn", N_("Withdrawn from acceptance")
    ACCEPTED = "accepted", N_("Accepted by a party")
    CHANGE_REQUESTED = "change_requested", N_("A party asked for a change")
    ACCEPTED_ON_PAPER = "accepted_on_paper", N_("Marked as accepted on paper")
    ACTIVATED = "activated", N_("Became active")
    PAUSED = "paused", N_("Paused")
    RESUMED = "resumed", N_("Resumed")
    REVIEWED = "reviewed", N_("Review of continuation recorded")
    EXTENDED = "extended", N_("Extended")
    ENDED = "ended", N_("Ended")
    SUPERVISOR_CHANGED = "supervisor_changed", N_("Handed over to another supervisor")


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
        Index("ix_agreements_tenant_created", "tenant_id", "created_at", "id"),  # the API's list
        # The reviews due (dashboards, the review reminders): a range of one status's rows.
        Index("ix_agreements_tenant_status_review_due", "tenant_id", "status", "review_due_on"),
        # The agreements whose content the retention rule has still to erase.
        Index(
            "ix_agreements_tenant_ended_unerased",
            "tenant_id",
            "status_changed_at",
            postgresql_where=text("status = 'ended' AND content_erased_at IS NULL"),
            sqlite_where=text("status = 'ended' AND content_erased_at IS NULL"),
        ),
        trigram_index("agreements", "title"),
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
    pricing: Mapped[Pricing] = mapped_column(str_enum(Pricing), default=Pricing.PER_SESSION)
    price_cents: Mapped[int] = mapped_column(default=0)  # per session or process, VAT excluded
    vat_basis_points: Mapped[int] = mapped_column(default=DEFAULT_VAT_BASIS_POINTS)
    cancellation_hours: Mapped[int] = mapped_column(default=DEFAULT_CANCELLATION_HOURS)
    review_interval_months: Mapped[int] = mapped_column(default=DEFAULT_REVIEW_MONTHS)
    reminders_enabled: Mapped[bool] = mapped_column(default=True)  # the firm's hours before
    status: Mapped[AgreementStatus] = mapped_column(
        str_enum(AgreementStatus), default=AgreementStatus.DRAFT
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    status_changed_by: Mapped[uuid.UUID | None]  # a user id
    # When the next continuation review is due (reviews.review_due_after), kept by the database
    # session whenever the start or end date, the interval or the reviews change (see
    # luotsi.tenants.agreements.reviews), so that a query can filter and order by it.
    review_due_on: Mapped[date | None]
    # The review due date the last reminder was sent for: one reminder per due date.
    review_reminder_for: Mapped[date | None]
    # When the retention rule erased its confidential content (notes, goals...): kept facts only.
    content_erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    org: Mapped[ClientOrg] = relationship(lazy="raise", viewonly=True)
    manager: Mapped[ClientPerson | None] = relationship(
        lazy="raise",
        viewonly=True,
        primaryjoin="and_(ClientPerson.tenant_id == Agreement.tenant_id,"
        " ClientPerson.id == foreign(Agreement.manager_id))",
    )
    hr_contact: Mapped[ClientPerson | None] = relationship(
        lazy="raise",
        viewonly=True,
        primaryjoin="and_(ClientPerson.tenant_id == Agreement.tenant_id,"
        " ClientPerson.id == foreign(Agreement.hr_contact_id))",
    )
    supervisors: Mapped[list[AgreementSupervisor]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )
    supervisees: Mapped[list[AgreementSupervisee]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )

    @property
    def price_with_vat_cents(self) -> int:
        """The price (of one session, or of the process) with VAT, rounded half up to a cent."""
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
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        UniqueConstraint("tenant_id", "agreement_id", "membership_id"),
        Index("ix_agreement_supervisors_tenant_membership", "tenant_id", "membership_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    # A supervisor who leaves the firm is deactivated, never deleted: the history keeps them.
    membership_id: Mapped[uuid.UUID]

    membership: Mapped[Membership] = relationship(lazy="raise", viewonly=True)

    @property
    def name(self) -> str:
        """The supervisor's name (loaded with :data:`SUPERVISOR_NAMES`)."""
        return self.membership.user.name


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

    person: Mapped[ClientPerson] = relationship(lazy="raise", viewonly=True)


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
        # The link names its firm (/accept/{slug}/...): a token is unique within the firm.
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_agreement_acceptances_tenant_agreement", "tenant_id", "agreement_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    party: Mapped[Party] = mapped_column(str_enum(Party))
    person_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    response: Mapped[str] = mapped_column(String(20), default="")  # accepted, change_requested
    comment: Mapped[str] = mapped_column(Text, default="")

    person: Mapped[ClientPerson] = relationship(lazy="raise", viewonly=True)

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
        Index("ix_agreement_documents_tenant_agreement", "tenant_id", "agreement_id"),
    )

    agreement_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    filename: Mapped[str] = mapped_column(String(120))
    pdf_key: Mapped[str] = mapped_column(String(120))  # platform.storage


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


# --- the next review's due date, kept on the agreement ----------------------------------------


def review_due_sql() -> ColumnElement[date]:
    """When each agreement's next review is due, in SQL: the latest review (or the start
    date) plus the review interval, at the latest the end date (as
    ``reviews.review_due_after`` says in Python). What ``Agreement.review_due_on`` holds."""
    last_review = (
        select(func.max(Review.held_on))
        .select_from(Review)
        .where(Review.tenant_id == Agreement.tenant_id, Review.agreement_id == Agreement.id)
        .correlate(Agreement)
        .scalar_subquery()
    )
    since = func.coalesce(last_review, Agreement.start_date)
    due = add_months(since, Agreement.review_interval_months)
    return type_coerce(case((due < Agreement.end_date, due), else_=Agreement.end_date), Date)


# What moves an agreement's next review: its term and interval, and its reviews.
_TERMS = ("start_date", "end_date", "review_interval_months")
_REVIEW_FACTS = ("agreement_id", "held_on")
_DUE_PENDING = "luotsi_review_due_on"


def _changed(obj: object, names: Iterable[str]) -> bool:
    attrs = inspect(obj, raiseerr=True).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _agreements_whose_review_moved(session: Session) -> set[tuple[uuid.UUID, uuid.UUID]]:
    moved: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for obj in session.new:
        if isinstance(obj, Agreement | Review):
            moved.add((obj.tenant_id, obj.id if isinstance(obj, Agreement) else obj.agreement_id))
    for obj in session.dirty:
        if isinstance(obj, Agreement) and _changed(obj, _TERMS):
            moved.add((obj.tenant_id, obj.id))
        elif isinstance(obj, Review) and _changed(obj, _REVIEW_FACTS):
            moved.add((obj.tenant_id, obj.agreement_id))
    for obj in session.deleted:
        if isinstance(obj, Review):
            moved.add((obj.tenant_id, obj.agreement_id))
    return moved


@event.listens_for(Session, "after_flush")
def _keep_review_due_on(session: Session, flush_context: object) -> None:
    """Recompute ``review_due_on`` of the agreements this flush moved, in the flush's own
    transaction: one UPDATE from :func:`review_due_sql`, so no service can forget it."""
    moved = _agreements_whose_review_moved(session)
    if not moved:
        return
    found: dict[tuple[uuid.UUID, uuid.UUID], date | None] = {}
    for tenant_id in {tenant for tenant, _id in moved}:
        ids = [agreement for tenant, agreement in moved if tenant == tenant_id]
        rows = session.execute(
            update(Agreement)
            .where(Agreement.tenant_id == tenant_id, Agreement.id.in_(ids))
            .values(review_due_on=review_due_sql())
            .returning(Agreement.id, Agreement.review_due_on)
            .execution_options(synchronize_session=False)
        )
        found.update(((tenant_id, agreement_id), due) for agreement_id, due in rows.tuples())
    session.info.setdefault(_DUE_PENDING, {}).update(found)


@event.listens_for(Session, "after_flush_postexec")
def _show_review_due_on(session: Session, flush_context: object) -> None:
    """The agreements loaded in the session show the date the database now holds."""
    for key, due in session.info.pop(_DUE_PENDING, {}).items():
        agreement = session.identity_map.get(identity_key(Agreement, key))
        if agreement is not None:
            set_committed_value(agreement, "review_due_on", due)


# --- what a query loads with an agreement ---------------------------------------------------
# Every relationship is ``lazy="raise"`` (see tests/test_loading.py): a query names what it
# loads. Many-to-one in the same statement (joinedload); collections in one more (selectinload)
# for lists, in the same statement for one agreement's few parties.

AGREEMENT_NAMES = (
    joinedload(Agreement.org),
    selectinload(Agreement.supervisees).joinedload(AgreementSupervisee.person),
)
"""What a line in a list shows of an agreement: its organisation and supervisees."""

SUPERVISOR_NAMES = joinedload(AgreementSupervisor.membership).joinedload(Membership.user)
"""What an agreement's supervisors are loaded with: their names (former staff's too)."""

AGREEMENT_WHOLE = (
    joinedload(Agreement.org),
    joinedload(Agreement.supervisees).joinedload(AgreementSupervisee.person),
    joinedload(Agreement.manager),
    joinedload(Agreement.hr_contact),
    joinedload(Agreement.supervisors).options(SUPERVISOR_NAMES),
)
"""One agreement with every party, in one statement (a result of it needs ``unique()``): for
its own page and for the rules that read its parties."""
