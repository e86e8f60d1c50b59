"""Supervision sessions and their history: the tables and the statuses.

Times are stored in UTC and shown in Europe/Helsinki. A rescheduled or cancelled session keeps
its history (:class:`SessionChange`) and its ICS identity (a stable ``uid``, a growing
``sequence``), so calendar invitations update in place.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from luotsi.platform import clock
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    AGREEMENT_WHOLE,
    Agreement,
)


class MeetingKind(LabelledEnum):
    SESSION = "session", N_("Supervision session")  # a supervision session
    EVALUATION = (
        "evaluation",
        N_("Evaluation meeting"),
    )  # supervisee and supervisor evaluate progress (manager if invited)
    REVIEW = "review", N_("Review of continuation")  # three-party continuation review


class SessionStatus(LabelledEnum):
    PLANNED = "planned", N_("Planned")
    HELD = "held", N_("Held")
    CANCELLED_BY_CLIENT = "cancelled_by_client", N_("Cancelled by the client")
    CANCELLED_BY_SUPERVISOR = "cancelled_by_firm", N_("Cancelled by the supervisor")
    NO_SHOW = "no_show", N_("No-show")


class SupervisionSession(TenantScoped, Base):
    __tablename__ = "supervision_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"], ["agreements.tenant_id", "agreements.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "supervisor_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "manager_invited_by"],
            ["client_people.tenant_id", "client_people.id"],
            name="fk_supervision_sessions_manager_invited_by",  # the convention's is too long
        ),
        Index("ix_sessions_tenant_agreement_starts", "tenant_id", "agreement_id", "starts_at"),
        Index("ix_sessions_tenant_supervisor_starts", "tenant_id", "supervisor_id", "starts_at"),
        # The whole firm's sessions in time order: the owner's calendar, the sessions list.
        Index("ix_sessions_tenant_starts", "tenant_id", "starts_at"),
        # Its planned ones: the owner's week ahead and the sessions waiting to be recorded
        # (planned, but their time has passed), which are few among a firm's past sessions.
        Index(
            "ix_sessions_tenant_planned_starts",
            "tenant_id",
            "starts_at",
            postgresql_where=text("status = 'planned'"),
            sqlite_where=text("status = 'planned'"),
        ),
        # The sessions whose reminder is still to send (session_reminders reads its next 48 h).
        Index(
            "ix_sessions_tenant_unreminded_starts",
            "tenant_id",
            "starts_at",
            postgresql_where=text("status = 'planned' AND reminder_sent_at IS NULL"),
            sqlite_where=text("status = 'planned' AND reminder_sent_at IS NULL"),
        ),
        # The JSON API's list, oldest first (luotsi.web.api.access.oldest_first).
        Index("ix_sessions_tenant_created", "tenant_id", "created_at", "id"),
        UniqueConstraint("tenant_id", "uid"),
    )

    agreement_id: Mapped[uuid.UUID]
    supervisor_id: Mapped[uuid.UUID]  # the staff membership who holds it
    kind: Mapped[MeetingKind] = mapped_column(str_enum(MeetingKind), default=MeetingKind.SESSION)
    starts_at: Mapped[datetime]  # UTC
    duration_minutes: Mapped[int]
    status: Mapped[SessionStatus] = mapped_column(
        str_enum(SessionStatus), default=SessionStatus.PLANNED
    )
    billable: Mapped[bool] = mapped_column(default=False)  # held, no-show, late cancellation
    late_cancellation: Mapped[bool] = mapped_column(default=False)
    cancelled_at: Mapped[datetime | None]
    actual_minutes: Mapped[int | None]  # recorded when held
    remote: Mapped[bool] = mapped_column(default=False)
    address: Mapped[str] = mapped_column(String(300), default="")
    meeting_url: Mapped[str] = mapped_column(String(500), default="")
    uid: Mapped[str] = mapped_column(String(100))  # ICS UID, never changes
    sequence: Mapped[int] = mapped_column(default=0)  # ICS SEQUENCE, +1 on every change
    # An evaluation meeting's manager joins only on the supervisee's invitation.
    manager_invited_by: Mapped[uuid.UUID | None]  # the inviting supervisee (a client person)
    manager_invited_at: Mapped[datetime | None]
    reminder_sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    agreement: Mapped[Agreement] = relationship(lazy="raise", viewonly=True)


class SessionChange(TenantScoped, Base):
    """A reschedule or a status change of a session, with who and when."""

    __tablename__ = "session_changes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            ondelete="CASCADE",
        ),
        Index("ix_session_changes_tenant_session", "tenant_id", "session_id"),
    )

    session_id: Mapped[uuid.UUID]
    at: Mapped[datetime] = mapped_column(default=clock.now)
    actor_user_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(30))  # rescheduled, held, cancelled_by_client...
    old_starts_at: Mapped[datetime | None]
    new_starts_at: Mapped[datetime | None]


class CalendarFeed(TenantScoped, Base):
    """A supervisor's private calendar subscription URL (secret token, revocable)."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        # The feed's URL names its firm (/ical/{slug}/...): a token is unique within the firm.
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_calendar_feeds_tenant_membership", "tenant_id", "membership_id"),
    )

    membership_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]


# === services ================================================================================
#
# Who may do what: staff with ``can_work_on_agreements``; owners and admins on every
CANCELLED = (SessionStatus.CANCELLED_BY_CLIENT, SessionStatus.CANCELLED_BY_SUPERVISOR)


def uses_quota(status: SessionStatus, billable: bool) -> bool:
    """Whether a supervision session counts as used: held, a no-show, or a billable (late)
    cancellation by the client. The one rule behind every quota figure."""
    return status in (SessionStatus.HELD, SessionStatus.NO_SHOW) or (
        status == SessionStatus.CANCELLED_BY_CLIENT and billable
    )


def uses_quota_sql() -> ColumnElement[bool]:
    """:func:`uses_quota` as an SQL condition on :class:`SupervisionSession`."""
    s = SupervisionSession
    return or_(
        s.status.in_((SessionStatus.HELD, SessionStatus.NO_SHOW)),
        and_(s.status == SessionStatus.CANCELLED_BY_CLIENT, s.billable.is_(True)),
    )


# --- what a query loads with a session (relationships are lazy="raise") ---------------------

SESSION_NAMES = (joinedload(SupervisionSession.agreement).options(*AGREEMENT_NAMES),)
"""A session in a list or calendar: its agreement's organisation and supervisees."""

SESSION_WHOLE = (joinedload(SupervisionSession.agreement).options(*AGREEMENT_WHOLE),)
"""One session with its whole agreement: for its page and for the rules that read it."""
