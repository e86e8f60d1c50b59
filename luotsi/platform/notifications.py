"""In-app notifications: what happened that a member should look at, and who chose e-mail too.

A domain module calls :func:`notify` where its event already happens (an inquiry received, an
agreement accepted, a session cancelled by the supervisee...), or its scheduled job does for
what comes due (a review, an overdue invoice): one statement writes the rows of every
recipient, and an e-mail is queued in the same transaction only for the recipients who chose
e-mail for that kind (:class:`NotificationSettings`, defaults :data:`DEFAULT_EMAIL_KINDS`).

A notification keeps only what its line needs (names, numbers, dates: never supervision
content), and the line is written in the reader's language when shown (:func:`line`). Its
target is a path inside the workspace. A job's notification names its ``subject`` (an
agreement's due date, an invoice), unique per recipient and kind, so a subject is notified
of once however often the job runs.

Each row also names the recipient's user: the header's unread count is read in the statement
that resolves the workspace, before the firm is set on the connection, through the
``own_rows`` policy that also shows a user their memberships (migration 0025).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.db import Base, CodeSet, OwnRows, TenantScoped
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page, paginate
from luotsi.platform.tenancy import Membership, Tenant, active_member


class NotificationKind(LabelledEnum):
    INQUIRY = "inquiry", N_("A new inquiry")
    AGREEMENT_ACCEPTED = "agreement_accepted", N_("An agreement accepted by every party")
    CHANGE_REQUESTED = "change_requested", N_("A change requested to an agreement")
    REVIEW_DUE = "review_due", N_("A review of continuation coming due")
    SESSION_CANCELLED = "session_cancelled", N_("A session cancelled by the supervisee")
    ERASURE_REQUEST = "erasure_request", N_("An erasure request")
    INVOICE_OVERDUE = "invoice_overdue", N_("An invoice overdue")


# E-mail as well, unless the member chose otherwise: what asks for an answer soon.
DEFAULT_EMAIL_KINDS = frozenset(
    {
        NotificationKind.INQUIRY,
        NotificationKind.AGREEMENT_ACCEPTED,
        NotificationKind.CHANGE_REQUESTED,
        NotificationKind.REVIEW_DUE,
        NotificationKind.SESSION_CANCELLED,
    }
)
# The hours ahead a firm or a member may choose for session reminders.
MIN_REMINDER_HOURS, MAX_REMINDER_HOURS = 1, 168
PER_PAGE = 25


def _recipient_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", "recipient_id"], ["memberships.tenant_id", "memberships.id"]
    )


class Notification(TenantScoped, OwnRows, Base):
    """One line in a member's notification list."""

    __tablename__ = "notifications"
    __table_args__ = (
        _recipient_fk(),
        Index("ix_notifications_tenant_recipient", "tenant_id", "recipient_id", "read_at"),
        UniqueConstraint("tenant_id", "recipient_id", "kind", "subject"),
    )

    recipient_id: Mapped[uuid.UUID]
    # The recipient's account (the own_rows policy): always the recipient membership's user.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))  # a NotificationKind
    target: Mapped[str] = mapped_column(String(200))  # a path inside the workspace
    words: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # names and ISO dates
    subject: Mapped[str | None] = mapped_column(String(80))  # what a job notified of, once
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]

    @property
    def line(self) -> str:
        return line(self)


class NotificationSettings(TenantScoped, Base):
    """A member's choices; a member without a row has the defaults."""

    __tablename__ = "notification_settings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "membership_id"], ["memberships.tenant_id", "memberships.id"]
        ),
        UniqueConstraint("tenant_id", "membership_id"),
    )

    membership_id: Mapped[uuid.UUID]
    email_kinds: Mapped[frozenset[str]] = mapped_column(CodeSet, default=frozenset)
    reminder_hours: Mapped[int | None] = mapped_column(Integer)  # None: the firm's default


# --- the line, in the reader's language -----------------------------------------------------

_LINES: dict[NotificationKind, str] = {
    NotificationKind.INQUIRY: N_("New inquiry from {name}, {organisation}"),
    NotificationKind.AGREEMENT_ACCEPTED: N_(
        "The agreement with {organisation} was accepted by every party"
    ),
    NotificationKind.CHANGE_REQUESTED: N_(
        "{person} asked for a change to the agreement with {organisation}"
    ),
    NotificationKind.REVIEW_DUE: N_(
        "The review of the agreement with {organisation} is due on {due}"
    ),
    NotificationKind.SESSION_CANCELLED: N_("{person} cancelled the session of {starts}"),
    NotificationKind.ERASURE_REQUEST: N_("{person} asked the firm to erase their data"),
    NotificationKind.INVOICE_OVERDUE: N_("Invoice {number} to {organisation} was due on {due}"),
}


def line(notification: Notification) -> str:
    """What the notification says, in the current language; dates as the reader writes them."""
    words: dict[str, str] = {}
    for key, value in (notification.words or {}).items():
        words[key] = _readable(key, value)
    return _(_LINES[NotificationKind(notification.kind)]).format_map(_Missing(words))


def _readable(key: str, value: str) -> str:
    if key == "due":
        return i18n.format_date(date.fromisoformat(value))
    if key == "starts":
        return i18n.format_datetime(datetime.fromisoformat(value).astimezone(clock.HELSINKI))
    return value


class _Missing(dict[str, str]):
    """Words by name; one a line names but a row lacks is left out, not an error."""

    def __missing__(self, key: str) -> str:
        return ""


def words_of(**values: str | date | datetime) -> dict[str, str]:
    """The words of a line as stored: text as it is, dates and times in ISO form."""
    return {
        key: value.isoformat() if isinstance(value, date | datetime) else value
        for key, value in values.items()
    }


# --- creating them --------------------------------------------------------------------------

# Renders a kind's own e-mail for one recipient; None: the plain notification e-mail.
EmailRenderer = Callable[[Membership, User], dict[str, Any] | None]


async def notify(
    db: AsyncSession,
    tenant: Tenant,
    recipients: Iterable[uuid.UUID],
    kind: NotificationKind,
    target: str,
    words: dict[str, str],
    *,
    base_url: str,
    subject: str | None = None,
    email: EmailRenderer | None = None,
) -> int:
    """Notify the members ``recipients`` (membership ids) of ``kind``, linking to ``target``.

    Members who left or whose account is closed are skipped. One statement reads the
    recipients with their choices, one writes every row; those who chose e-mail for ``kind``
    get ``email(member, user)`` (or the plain notification e-mail) queued in the same transaction.
    Returns how many were notified.
    """
    ids = set(recipients)
    if not ids:
        return 0
    rows = (
        await db.execute(
            select(Membership, User, NotificationSettings)
            .join(User, User.id == Membership.user_id)
            .outerjoin(NotificationSettings, NotificationSettings.membership_id == Membership.id)
            .where(Membership.id.in_(ids), active_member(), User.is_active.is_(True))
            .order_by(User.email)
        )
    ).tuples()
    found = list(rows)
    if not found:
        return 0
    now = clock.now()
    await db.execute(
        insert(Notification).values(
            [
                {
                    "tenant_id": tenant.id,
                    "id": uuid.uuid4(),
                    "recipient_id": member.id,
                    "user_id": user.id,
                    "kind": kind.value,
                    "target": target,
                    "words": words,
                    "subject": subject,
                    "created_at": now,
                }
                for member, user, _choices in found
            ]
        )
    )
    for member, user, choices in found:
        chosen = DEFAULT_EMAIL_KINDS if choices is None else choices.email_kinds
        if kind.value not in chosen:
            continue
        message = email(member, user) if email is not None else None
        if message is None:
            message = _plain_email(tenant, user, kind, target, words, base_url)
        enqueue_email(db, message, tenant_id=tenant.id)
    return len(found)


def _plain_email(
    tenant: Tenant,
    user: User,
    kind: NotificationKind,
    target: str,
    words: dict[str, str],
    base_url: str,
) -> dict[str, Any]:
    with i18n.language(user.locale):
        text = line(Notification(kind=kind.value, words=words))
    return render_email(
        "notification",
        user.email,
        user.locale,
        firm=tenant.name,
        line=text,
        link=f"{base_url}/t/{tenant.slug}/{target}",
    )


# --- reading them ---------------------------------------------------------------------------


def unread_count_of(member_id: Any, tenant_id: Any) -> ColumnElement[int]:
    """SQL: how many unread notifications the member has (a correlated scalar subquery, to
    fold into the statement that finds the member)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.tenant_id == tenant_id,
            Notification.recipient_id == member_id,
            Notification.read_at.is_(None),
        )
        .scalar_subquery()
    )


def _own(actor: Membership) -> list[ColumnElement[bool]]:
    if not permissions.can_receive_notifications(actor):
        raise NotFound("notifications")
    return [Notification.recipient_id == actor.id]


async def list_notifications(
    db: AsyncSession, actor: Membership, *, page: int = 1
) -> Page[Notification]:
    """``actor``'s notifications, newest first."""
    order = [Notification.created_at.desc(), Notification.id]
    return await paginate(db, Notification, _own(actor), order, page, PER_PAGE)


async def open_notification(
    db: AsyncSession, actor: Membership, notification_id: uuid.UUID
) -> Notification:
    """``actor``'s notification, marked read (another's is not found)."""
    notification = await db.scalar(
        select(Notification).where(Notification.id == notification_id, *_own(actor))
    )
    if notification is None:
        raise NotFound("notification")
    if notification.read_at is None:
        notification.read_at = clock.now()
        await db.flush()
    return notification


async def mark_all_read(db: AsyncSession, actor: Membership) -> None:
    """Mark every unread notification of ``actor`` read."""
    await db.execute(
        update(Notification)
        .where(*_own(actor), Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )


# --- choices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    email_kinds: frozenset[str]
    reminder_hours: int | None


async def choices_of(db: AsyncSession, actor: Membership) -> Choices:
    """``actor``'s choices, or the defaults."""
    _own(actor)
    row = await db.scalar(
        select(NotificationSettings).where(NotificationSettings.membership_id == actor.id)
    )
    if row is None:
        return Choices(frozenset(DEFAULT_EMAIL_KINDS), None)
    return Choices(row.email_kinds, row.reminder_hours)


def parse_reminder_hours(raw: str, field: str = "reminder_hours") -> int | None:
    """Hours ahead for session reminders from a form (empty: None); refused out of range."""
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or not MIN_REMINDER_HOURS <= int(raw) <= MAX_REMINDER_HOURS:
        raise Invalid.field(
            field,
            _("Enter whole hours from {low} to {high}.").format(
                low=MIN_REMINDER_HOURS, high=MAX_REMINDER_HOURS
            ),
        )
    return int(raw)


async def save_choices(
    db: AsyncSession, actor: Membership, email_kinds: Iterable[str], reminder_hours: str
) -> Choices:
    """Keep which kinds ``actor`` gets by e-mail and their session reminders' hours (empty:
    the firm's default). Unknown kinds are refused."""
    _own(actor)
    kinds = frozenset(email_kinds)
    if not kinds <= {k.value for k in NotificationKind}:
        raise Invalid.field("email_kinds", _("Choose from the kinds listed."))
    hours = parse_reminder_hours(reminder_hours)
    row = await db.scalar(
        select(NotificationSettings).where(NotificationSettings.membership_id == actor.id)
    )
    if row is None:
        row = NotificationSettings(membership_id=actor.id)
        db.add(row)
    row.email_kinds, row.reminder_hours = kinds, hours
    await db.flush()
    return Choices(kinds, hours)


async def reminder_hours_overrides(db: AsyncSession) -> dict[uuid.UUID, int]:
    """The members who chose their own hours for session reminders, and those hours."""
    rows = await db.execute(
        select(NotificationSettings.membership_id, NotificationSettings.reminder_hours).where(
            NotificationSettings.reminder_hours.is_not(None)
        )
    )
    return {member_id: int(hours) for member_id, hours in rows.tuples() if hours is not None}


async def set_firm_reminder_hours(db: AsyncSession, actor: Membership, raw: str) -> int:
    """The owner sets how many hours ahead the firm's session reminders go out by default."""
    if not permissions.can_manage_firm_settings(actor):
        raise NotFound("reminder hours")
    hours = parse_reminder_hours(raw)
    if hours is None:
        raise Invalid.field("reminder_hours", _("Enter how many hours ahead."))
    tenant = await db.get_one(Tenant, actor.tenant_id)
    tenant.reminder_hours = hours
    await db.flush()
    return hours
