"""Supervision sessions, evaluation and review meetings, and supervisors' calendar feeds.

Times are stored in UTC and shown in Europe/Helsinki. A rescheduled or cancelled session keeps
its history (:class:`SessionChange`) and its ICS identity (a stable ``uid``, a growing
``sequence``), so calendar invitations update in place.
"""

from __future__ import annotations

import enum
import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import holidays
from babel.dates import format_time as format_babel_time
from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from luotsi.platform import i18n, permissions
from luotsi.platform.db import Base, TenantScoped, str_enum, utcnow
from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import HELSINKI, N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User, new_token, token_hash
from luotsi.platform.jobs import scheduled
from luotsi.platform.mail import calendar_attachment, render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Tenant
from luotsi.tenants import ics
from luotsi.tenants.agreements import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients import ClientOrg, ClientPerson


class MeetingKind(enum.StrEnum):
    SESSION = "session"  # a supervision session
    EVALUATION = "evaluation"  # supervisee and supervisor evaluate progress (manager if invited)
    REVIEW = "review"  # three-party continuation review

    @property
    def label(self) -> str:
        return i18n.gettext(_KIND_LABELS[self])


_KIND_LABELS = {
    MeetingKind.SESSION: N_("Supervision session"),
    MeetingKind.EVALUATION: N_("Evaluation meeting"),
    MeetingKind.REVIEW: N_("Review of continuation"),
}


class SessionStatus(enum.StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED_BY_CLIENT = "cancelled_by_client"
    CANCELLED_BY_SUPERVISOR = "cancelled_by_firm"
    NO_SHOW = "no_show"

    @property
    def label(self) -> str:
        return i18n.gettext(_STATUS_LABELS[self])


_STATUS_LABELS = {
    SessionStatus.PLANNED: N_("Planned"),
    SessionStatus.HELD: N_("Held"),
    SessionStatus.CANCELLED_BY_CLIENT: N_("Cancelled by the client"),
    SessionStatus.CANCELLED_BY_SUPERVISOR: N_("Cancelled by the supervisor"),
    SessionStatus.NO_SHOW: N_("No-show"),
}


class SupervisionSession(TenantScoped, Base):
    __tablename__ = "supervision_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"], ["agreements.tenant_id", "agreements.id"]
        ),
        Index("ix_sessions_tenant_agreement_starts", "tenant_id", "agreement_id", "starts_at"),
        Index("ix_sessions_tenant_supervisor_starts", "tenant_id", "supervisor_id", "starts_at"),
        UniqueConstraint("tenant_id", "uid"),
    )

    agreement_id: Mapped[uuid.UUID]
    supervisor_id: Mapped[uuid.UUID]  # the staff membership who holds it (a plain id)
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    agreement: Mapped[Agreement] = relationship(lazy="joined", viewonly=True)


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
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_user_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(30))  # rescheduled, held, cancelled_by_client...
    old_starts_at: Mapped[datetime | None]
    new_starts_at: Mapped[datetime | None]


class CalendarFeed(TenantScoped, Base):
    """A supervisor's private calendar subscription URL (secret token, revocable)."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (Index("ix_calendar_feeds_tenant_membership", "tenant_id", "membership_id"),)

    membership_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


# === services ================================================================================
#
# Who may do what: staff with ``can_work_on_agreements``; owners and admins on every
# agreement (``can_manage_agreements``), a supervisor on the agreements they are on. Anything
# else is "not found". Quota: "used" is held sessions plus billable cancellations and no-shows,
# "planned" the sessions still ahead; only supervision sessions count, not evaluation or review
# meetings.

SESSION_MINUTES = (15, 240)  # a planned meeting's length
HELD_MINUTES = (1, 240)  # the recorded length of a held one
MAX_EVERY_WEEKS = 12
MAX_SERIES = 200
FEED_HISTORY = timedelta(days=60)
REMINDER_AHEAD = timedelta(hours=48)
CANCELLED = (SessionStatus.CANCELLED_BY_CLIENT, SessionStatus.CANCELLED_BY_SUPERVISOR)
_HOLIDAY_LANGUAGES = {"fi": "fi", "sv": "sv_FI", "en": "en_US"}
_BABEL_LOCALES = {"fi": "fi_FI", "sv": "sv_FI", "en": "en_FI"}


# --- times and places -----------------------------------------------------------------------


def to_local(value: datetime) -> datetime:
    """A stored UTC time as Helsinki wall-clock time (DST applied)."""
    return value.astimezone(HELSINKI)


def from_local(day: date, at: time) -> datetime:
    """The UTC instant of ``day`` at ``at`` in Helsinki (so 10:00 stays 10:00 across DST)."""
    return datetime.combine(day, at, tzinfo=HELSINKI).astimezone(UTC)


def format_time(value: datetime) -> str:
    """Helsinki time of day in the current language ("10.00", "10:00")."""
    return format_babel_time(
        value, "short", tzinfo=HELSINKI, locale=_BABEL_LOCALES[i18n.current_language()]
    )


def ends_at(session: SupervisionSession) -> datetime:
    return session.starts_at + timedelta(minutes=session.duration_minutes)


def parse_date(raw: str) -> date | None:
    """A date as a form sends it: ``2026-12-03`` (date input) or ``3.12.2026``."""
    raw = raw.strip()
    parsed = None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            parsed = date.fromisoformat(raw)
        match = re.fullmatch(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", raw)
        if match:
            day, month, year = (int(g) for g in match.groups())
            parsed = date(year, month, day)
    except ValueError:
        return None
    # Years far off are typing mistakes (and would overflow time zone arithmetic).
    return parsed if parsed is not None and 1900 <= parsed.year <= 2999 else None


def parse_time(raw: str) -> time | None:
    """A time of day: ``10:00`` or ``10.00``."""
    match = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})", raw.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None


def _uuid_or_none(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw.strip()) if raw.strip() else None
    except ValueError:
        return None


def parse_int(raw: str, low: int, high: int) -> int | None:
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        return None
    value = int(raw)
    return value if low <= value <= high else None


@dataclass(frozen=True)
class Place:
    remote: bool
    address: str = ""
    meeting_url: str = ""


def check_meeting_url(raw: str) -> str | None:
    """A meeting link: an https URL with a host name, no spaces, at most 500 characters."""
    url = raw.strip()
    if not url or len(url) > 500 or any(c.isspace() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme != "https" or "." not in host or parts.username or parts.password:
        return None
    return url


def check_place(kind: str, address: str, meeting_url: str, errors: dict[str, str]) -> Place | None:
    """The place of a meeting from the form (``place`` is ``address`` or ``remote``)."""
    if kind == "remote":
        url = check_meeting_url(meeting_url)
        if url is None:
            errors["meeting_url"] = _(
                "Enter the meeting link as a full https address, e.g. https://meet.example.fi/abc."
            )
            return None
        return Place(remote=True, meeting_url=url)
    if kind != "address":
        errors["place"] = _("Choose whether the meeting is at an address or remote.")
        return None
    address = " ".join(address.split())
    if not address:
        errors["address"] = _("Enter the address where you meet.")
        return None
    if len(address) > 300:
        errors["address"] = _("Shorten the address to %(n)d characters.") % {"n": 300}
        return None
    return Place(remote=False, address=address)


# --- access ---------------------------------------------------------------------------------


def _works_on(actor: Membership, agreement: Agreement) -> bool:
    return permissions.can_manage_agreements(actor) or any(
        s.membership_id == actor.id for s in agreement.supervisors
    )


async def agreement_for_work(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> Agreement:
    """An agreement ``actor`` may plan and mark sessions on; not found otherwise."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("agreement")
    agreement = await db.scalar(select(Agreement).where(Agreement.id == agreement_id))
    if agreement is None or not _works_on(actor, agreement):
        raise NotFound("agreement")
    return agreement


async def get_session(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> SupervisionSession:
    """One session of an agreement ``actor`` works on (or holds); not found otherwise."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("session")
    session = await db.scalar(select(SupervisionSession).where(SupervisionSession.id == session_id))
    if session is None or not (
        session.supervisor_id == actor.id or _works_on(actor, session.agreement)
    ):
        raise NotFound("session")
    return session


async def sessions_of_agreement(
    db: AsyncSession, actor: Membership, agreement_id: uuid.UUID
) -> list[SupervisionSession]:
    """Every session and meeting of an agreement, earliest first."""
    agreement = await agreement_for_work(db, actor, agreement_id)
    rows = await db.scalars(
        select(SupervisionSession)
        .where(SupervisionSession.agreement_id == agreement.id)
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
    )
    return list(rows)


def require_active(agreement: Agreement) -> None:
    if agreement.status != AgreementStatus.ACTIVE:
        raise Invalid.field("agreement", _("Sessions can be planned only for an active agreement."))


# --- quota ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionCounts:
    """Supervision sessions of one agreement by what they mean for the quota."""

    held: int
    billable_cancelled: int  # late cancellations by the client and no-shows
    planned: int
    cancelled: int  # on time or by the supervisor: not counted
    quota: int | None

    @property
    def used(self) -> int:
        return self.held + self.billable_cancelled

    @property
    def remaining(self) -> int | None:
        """Sessions still free to plan; None for an open-ended agreement."""
        if self.quota is None:
            return None
        return max(0, self.quota - self.used - self.planned)


async def session_counts(db: AsyncSession, agreement: Agreement) -> SessionCounts:
    """Used / planned / remaining sessions of ``agreement`` (evaluations and reviews excluded)."""
    rows = await db.execute(
        select(SupervisionSession.status, SupervisionSession.billable, func.count())
        .where(
            SupervisionSession.agreement_id == agreement.id,
            SupervisionSession.kind == MeetingKind.SESSION,
        )
        .group_by(SupervisionSession.status, SupervisionSession.billable)
    )
    held = billable = planned = cancelled = 0
    for status, is_billable, n in rows.tuples():
        if status == SessionStatus.HELD:
            held += n
        elif status == SessionStatus.PLANNED:
            planned += n
        elif is_billable or status == SessionStatus.NO_SHOW:
            billable += n
        else:
            cancelled += n
    return SessionCounts(held, billable, planned, cancelled, agreement.session_quota)


# --- the supervisor's days: holidays, weekends, clashes -------------------------------------


@cache
def _holidays(year: int, language: str) -> dict[date, str]:
    calendar = holidays.Finland(years=year, language=_HOLIDAY_LANGUAGES[language])
    return dict(calendar.items())


def holiday_name(day: date) -> str:
    """The Finnish public holiday on ``day`` in the current language ("" on other days)."""
    return _holidays(day.year, i18n.current_language()).get(day, "")


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not holiday_name(day)


@dataclass(frozen=True)
class Busy:
    """A time the supervisor already has a meeting."""

    session_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime


async def supervisor_busy(
    db: AsyncSession,
    supervisor_id: uuid.UUID,
    start: datetime,
    end: datetime,
    *,
    exclude: uuid.UUID | None = None,
) -> list[Busy]:
    """The supervisor's meetings (any agreement, any kind, not cancelled) near ``start..end``."""
    margin = timedelta(minutes=SESSION_MINUTES[1])
    conditions = [
        SupervisionSession.supervisor_id == supervisor_id,
        SupervisionSession.status.not_in(CANCELLED),
        SupervisionSession.starts_at < end,
        SupervisionSession.starts_at > start - margin,
    ]
    if exclude is not None:
        conditions.append(SupervisionSession.id != exclude)
    rows = await db.execute(
        select(
            SupervisionSession.id,
            SupervisionSession.starts_at,
            SupervisionSession.duration_minutes,
        ).where(*conditions)
    )
    return [
        Busy(session_id, starts, starts + timedelta(minutes=minutes))
        for session_id, starts, minutes in rows.tuples()
    ]


def clash(start: datetime, end: datetime, busy: Iterable[Busy]) -> Busy | None:
    """The first meeting in ``busy`` that overlaps ``start..end`` (touching ends do not)."""
    for other in busy:
        if other.starts_at < end and start < other.ends_at:
            return other
    return None


@dataclass(frozen=True)
class DayCheck:
    holiday: str
    weekend: bool
    clash: Busy | None

    @property
    def ok(self) -> bool:
        return not (self.holiday or self.weekend or self.clash)


def check_day(start: datetime, minutes: int, busy: Iterable[Busy]) -> DayCheck:
    day = to_local(start).date()
    return DayCheck(
        holiday=holiday_name(day),
        weekend=day.weekday() >= 5,
        clash=clash(start, start + timedelta(minutes=minutes), busy),
    )


def next_free_day(
    day: date, at: time, minutes: int, busy: Iterable[Busy], last: date
) -> datetime | None:
    """The next working day after ``day`` (up to ``last``) with ``at`` free; else None."""
    busy = list(busy)
    candidate = day + timedelta(days=1)
    while candidate <= last:
        if is_working_day(candidate):
            start = from_local(candidate, at)
            if clash(start, start + timedelta(minutes=minutes), busy) is None:
                return start
        candidate += timedelta(days=1)
    return None


# --- who takes part, and the e-mails they get -----------------------------------------------


@dataclass(frozen=True)
class Mailing:
    """Where links point and whom invitations come from (the app's settings)."""

    base_url: str
    sender: str  # the From address; invitations name it as their organizer

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailing:
        return cls(settings.base_url.rstrip("/"), settings.mail_from)


@dataclass(frozen=True)
class Participant:
    email: str
    name: str
    language: str
    role: str  # supervisee, manager, supervisor


def client_language(agreement: Agreement) -> str:
    """The client organisation's language (its invoice language), Finnish by default."""
    language = agreement.org.invoice_language if agreement.org else ""
    return language if language in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def manager_takes_part(session: SupervisionSession) -> bool:
    """A review is three-party; an evaluation includes the manager only when invited."""
    if session.kind == MeetingKind.REVIEW:
        return True
    return session.kind == MeetingKind.EVALUATION and session.manager_invited_by is not None


async def participants(db: AsyncSession, session: SupervisionSession) -> list[Participant]:
    """Who is invited: the supervisees, the manager when they take part, and the supervisor."""
    agreement = session.agreement
    language = client_language(agreement)
    people = [
        Participant(link.person.email, link.person.name, language, "supervisee")
        for link in agreement.supervisees
        if link.person.email and link.person.archived_at is None
    ]
    manager = agreement.manager
    if manager_takes_part(session) and manager is not None and manager.email:
        people.append(Participant(manager.email, manager.name, language, "manager"))
    supervisor = await db.scalar(select(Membership).where(Membership.id == session.supervisor_id))
    if supervisor is not None and supervisor.user.is_active:
        user = supervisor.user
        people.append(Participant(user.email, user.name, user.locale, "supervisor"))
    return people


def _meeting_context(session: SupervisionSession, tenant: Tenant) -> dict[str, Any]:
    """What every session e-mail says, in the current language. No content, no other names."""
    return {
        "firm": tenant.name,
        "kind": session.kind.label,
        "day": i18n.format_date(session.starts_at, "full"),
        "start": format_time(session.starts_at),
        "end": format_time(ends_at(session)),
        "minutes": session.duration_minutes,
        "remote": session.remote,
        "address": session.address,
        "meeting_url": session.meeting_url,
    }


async def _send_invitations(
    db: AsyncSession,
    session: SupervisionSession,
    mailing: Mailing,
    method: str,
    *,
    update: bool = False,
    only: Iterable[Participant] | None = None,
    everyone: Iterable[Participant] | None = None,
) -> None:
    """Queue the invitation (or cancellation) with its .ics to each participant."""
    tenant = await db.get(Tenant, session.tenant_id)
    assert tenant is not None
    everyone = list(everyone) if everyone is not None else await participants(db, session)
    recipients = list(only) if only is not None else everyone
    sender_email = parseaddr(mailing.sender)[1]
    organizer = ics.Attendee(sender_email, tenant.name)
    attendees = [ics.Attendee(p.email, p.name, chair=p.role == "supervisor") for p in everyone]
    template = "session_cancelled" if method == ics.CANCEL else "session_invitation"
    for person in recipients:
        with i18n.language(person.language):
            calendar = ics.invitation(session, tenant.name, method, organizer, attendees)
            context = _meeting_context(session, tenant)
        link = ""
        if person.role == "supervisor":
            link = f"{mailing.base_url}/t/{tenant.slug}/sessions/{session.id}"
        payload = render_email(
            template, person.email, person.language, update=update, link=link, **context
        )
        payload["attachments"] = [calendar_attachment(calendar, method)]
        enqueue_email(db, payload, tenant_id=tenant.id)


async def _invite_if_ahead(
    db: AsyncSession,
    session: SupervisionSession,
    mailing: Mailing,
    method: str,
    now: datetime,
    *,
    update: bool = False,
) -> None:
    # A meeting that has already begun gets no calendar invitation.
    if session.starts_at > now:
        await _send_invitations(db, session, mailing, method, update=update)


def _new_session(
    agreement: Agreement,
    supervisor_id: uuid.UUID,
    kind: MeetingKind,
    starts_at: datetime,
    minutes: int,
    place: Place,
) -> SupervisionSession:
    session = SupervisionSession(
        agreement_id=agreement.id,
        supervisor_id=supervisor_id,
        kind=kind,
        starts_at=starts_at,
        duration_minutes=minutes,
        status=SessionStatus.PLANNED,
        remote=place.remote,
        address=place.address,
        meeting_url=place.meeting_url,
        uid=f"{uuid.uuid4()}@luotsi",
        sequence=0,
        billable=False,
        late_cancellation=False,
    )
    # The relationship is view-only: give the new row its agreement for the e-mails.
    set_committed_value(session, "agreement", agreement)
    return session


def _record(
    db: AsyncSession,
    actor: Membership,
    session: SupervisionSession,
    kind: str,
    old: datetime | None = None,
    new: datetime | None = None,
) -> None:
    db.add(
        SessionChange(
            session_id=session.id,
            actor_user_id=actor.user_id,
            kind=kind,
            old_starts_at=old,
            new_starts_at=new,
        )
    )


def _choose_supervisor(
    agreement: Agreement, actor: Membership, raw: str, errors: dict[str, str]
) -> uuid.UUID | None:
    """The supervisor who holds the meetings: one of the agreement's supervisors."""
    on_agreement = [s.membership_id for s in agreement.supervisors]
    if not on_agreement:
        errors["supervisor"] = _("The agreement has no supervisor yet.")
        return None
    if not raw.strip():
        return actor.id if actor.id in on_agreement else on_agreement[0]
    try:
        chosen = uuid.UUID(raw.strip())
    except ValueError:
        chosen = None
    if chosen not in on_agreement:
        errors["supervisor"] = _("Choose one of the agreement's supervisors.")
        return None
    return chosen


def _check_in_period(agreement: Agreement, day: date, field: str, errors: dict[str, str]) -> None:
    if day < agreement.start_date or day > agreement.end_date:
        errors[field] = _("Choose a date within the agreement, %(start)s–%(end)s.") % {
            "start": i18n.format_date(agreement.start_date),
            "end": i18n.format_date(agreement.end_date),
        }


async def supervisor_names(db: AsyncSession) -> dict[uuid.UUID, str]:
    """Names of the firm's staff by membership id."""
    rows = await db.scalars(select(Membership).where(Membership.role.in_(STAFF_ROLES)))
    return {m.id: m.user.name for m in rows.unique()}


# --- planning a series ----------------------------------------------------------------------


@dataclass
class SeriesInput:
    """The series form as typed."""

    first_date: str = ""
    time: str = ""
    every_weeks: str = ""
    count: str = ""  # empty: as many as the end date and the quota allow
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    supervisor: str = ""

    @classmethod
    def defaults(
        cls, agreement: Agreement, actor: Membership, last: SupervisionSession | None, today: date
    ) -> SeriesInput:
        """A form that suggests the agreement's cadence and length and the last place used."""
        first = max(today, agreement.start_date)
        return cls(
            first_date=first.isoformat() if first <= agreement.end_date else "",
            time="",
            every_weeks=str(agreement.cadence_weeks),
            minutes=str(agreement.session_minutes),
            place="remote" if last is not None and last.remote else "address",
            address=last.address if last is not None else "",
            meeting_url=last.meeting_url if last is not None else "",
            supervisor=_default_supervisor(agreement, actor, last),
        )


def _default_supervisor(
    agreement: Agreement, actor: Membership, last: SupervisionSession | None
) -> str:
    """The actor if they supervise the agreement, else whoever held the last meeting."""
    if any(s.membership_id == actor.id for s in agreement.supervisors):
        return str(actor.id)
    return str(last.supervisor_id) if last is not None else ""


@dataclass(frozen=True)
class SeriesPlan:
    first_date: date
    at: time
    every_weeks: int
    count: int | None
    minutes: int
    place: Place
    supervisor_id: uuid.UUID


@dataclass(frozen=True)
class Proposal:
    """One date of a series: as the cadence gives it, and where it moves if it must."""

    index: int
    proposed_at: datetime  # UTC
    starts_at: datetime | None  # UTC after a move; None: no free working day before the end
    check: DayCheck
    past: bool

    @property
    def flagged(self) -> bool:
        return not self.check.ok

    @property
    def moved(self) -> bool:
        return self.starts_at is not None and self.starts_at != self.proposed_at


@dataclass(frozen=True)
class SeriesPreview:
    agreement: Agreement
    plan: SeriesPlan
    proposals: list[Proposal]
    counts: SessionCounts
    fit_before_end: int  # how many dates the cadence gives before the agreement ends
    stopped_by: str  # "quota", "end_date" or "count"

    @property
    def requested(self) -> int | None:
        return self.plan.count

    @property
    def over_quota(self) -> bool:
        room = self.counts.remaining
        return self.plan.count is not None and room is not None and self.plan.count > room

    @property
    def past_end(self) -> bool:
        return self.plan.count is not None and self.plan.count > self.fit_before_end

    @property
    def digest(self) -> str:
        """A fingerprint of the proposal; confirming a stale preview is refused."""
        parts = [p.starts_at.isoformat() if p.starts_at else "-" for p in self.proposals]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


class SeriesChanged(Invalid):
    """The calendar changed between the preview and the confirmation."""

    def __init__(self, errors: dict[str, str], preview: SeriesPreview) -> None:
        super().__init__(errors)
        self.preview = preview


def _check_series(agreement: Agreement, actor: Membership, data: SeriesInput) -> SeriesPlan:
    errors: dict[str, str] = {}
    first = parse_date(data.first_date)
    if first is None:
        errors["first_date"] = _("Enter the date of the first session, e.g. 3.12.2026.")
    else:
        _check_in_period(agreement, first, "first_date", errors)
    at = parse_time(data.time)
    if at is None:
        errors["time"] = _("Enter the time as hours and minutes, e.g. 10:00.")
    every = parse_int(data.every_weeks, 1, MAX_EVERY_WEEKS)
    if every is None:
        errors["every_weeks"] = _("Enter a whole number of weeks from 1 to %(n)d.") % {
            "n": MAX_EVERY_WEEKS
        }
    count = None
    if data.count.strip():
        count = parse_int(data.count, 1, MAX_SERIES)
        if count is None:
            errors["count"] = _("Enter how many sessions, from 1 to %(n)d, or leave it empty.") % {
                "n": MAX_SERIES
            }
    minutes = parse_int(data.minutes, *SESSION_MINUTES)
    if minutes is None:
        errors["minutes"] = _("Enter the length in minutes, from %(low)d to %(high)d.") % {
            "low": SESSION_MINUTES[0],
            "high": SESSION_MINUTES[1],
        }
    place = check_place(data.place, data.address, data.meeting_url, errors)
    supervisor_id = _choose_supervisor(agreement, actor, data.supervisor, errors)
    if errors:
        raise Invalid(errors)
    assert first and at and every and minutes and place and supervisor_id
    return SeriesPlan(first, at, every, count, minutes, place, supervisor_id)


async def preview_series(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: SeriesInput,
    *,
    now: datetime | None = None,
) -> SeriesPreview:
    """Step 1 of planning a series: the dates, each flagged and moved where it must be.

    The cadence gives a date every ``every_weeks`` weeks from the first date until the
    agreement's end date, the quota (existing used + planned sessions count) or the requested
    number, whichever comes first. A date on a weekend, a Finnish public holiday or over another
    meeting of the supervisor (any agreement) moves to the next free working day at the same
    Helsinki time; if none is left before the end date, it cannot be planned.
    """
    agreement = await agreement_for_work(db, actor, agreement_id)
    require_active(agreement)
    plan = _check_series(agreement, actor, data)
    counts = await session_counts(db, agreement)
    room = counts.remaining
    if room == 0:
        raise Invalid.field(
            "series",
            _("The quota of %(quota)d sessions is already used or planned.")
            % {"quota": agreement.session_quota},
        )
    days: list[date] = []
    day = plan.first_date
    while day <= agreement.end_date and len(days) < MAX_SERIES:
        days.append(day)
        day += timedelta(weeks=plan.every_weeks)
    limits = {"end_date": len(days)}
    if room is not None:
        limits["quota"] = room
    if plan.count is not None:
        limits["count"] = plan.count
    # The first of the tightest limits names why the series stops.
    stopped_by = min(limits, key=lambda k: (limits[k], ["count", "end_date", "quota"].index(k)))
    days = days[: limits[stopped_by]]

    now = now or utcnow()
    busy = await supervisor_busy(
        db,
        plan.supervisor_id,
        from_local(plan.first_date, time(0)),
        from_local(agreement.end_date + timedelta(days=1), time(0)),
    )
    proposals = []
    for index, day in enumerate(days):
        proposed = from_local(day, plan.at)
        check = check_day(proposed, plan.minutes, busy)
        starts: datetime | None = proposed
        if not check.ok:
            starts = next_free_day(day, plan.at, plan.minutes, busy, agreement.end_date)
        if starts is not None:
            # Later dates of the same series must not land on this one.
            busy.append(Busy(None, starts, starts + timedelta(minutes=plan.minutes)))
        proposals.append(Proposal(index, proposed, starts, check, past=proposed <= now))
    return SeriesPreview(agreement, plan, proposals, counts, limits["end_date"], stopped_by)


async def plan_series(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: SeriesInput,
    include: Iterable[int],
    digest: str,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> list[SupervisionSession]:
    """Step 2: create the ticked sessions of the preview, moves applied, and invite everyone.

    Raises :class:`SeriesChanged` (with a fresh preview) if the proposal is no longer what the
    user saw, e.g. another meeting was planned meanwhile.
    """
    now = now or utcnow()
    preview = await preview_series(db, actor, agreement_id, data, now=now)
    if digest != preview.digest:
        raise SeriesChanged(
            {"series": _("The calendar changed meanwhile. Check the dates again and confirm.")},
            preview,
        )
    chosen = set(include)
    wanted = [p for p in preview.proposals if p.index in chosen and p.starts_at is not None]
    if not wanted:
        raise SeriesChanged({"include": _("Tick at least one session to plan.")}, preview)
    plan = preview.plan
    created = []
    for proposal in wanted:
        assert proposal.starts_at is not None
        session = _new_session(
            preview.agreement,
            plan.supervisor_id,
            MeetingKind.SESSION,
            proposal.starts_at,
            plan.minutes,
            plan.place,
        )
        db.add(session)
        created.append(session)
    await db.flush()
    for session in created:
        _record(db, actor, session, "planned", new=session.starts_at)
        await _invite_if_ahead(db, session, mailing, ics.REQUEST, now)
    await db.flush()
    return created


# --- one-off meetings -----------------------------------------------------------------------


@dataclass
class MeetingInput:
    """A single session, evaluation meeting or review meeting as typed."""

    kind: str = MeetingKind.SESSION.value
    date: str = ""
    time: str = ""
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    supervisor: str = ""
    anyway: str = ""  # "on": plan it on a weekend or a public holiday all the same

    @classmethod
    def defaults(
        cls, agreement: Agreement, actor: Membership, last: SupervisionSession | None
    ) -> MeetingInput:
        return cls(
            minutes=str(agreement.session_minutes),
            place="remote" if last is not None and last.remote else "address",
            address=last.address if last is not None else "",
            meeting_url=last.meeting_url if last is not None else "",
            supervisor=_default_supervisor(agreement, actor, last),
        )


def _day_errors(check: DayCheck, day: date, anyway: bool, errors: dict[str, str]) -> None:
    """A clash is an error; a weekend or holiday only unless the user says "anyway"."""
    if check.clash is not None:
        errors["time"] = _(
            "The supervisor has another meeting at %(start)s–%(end)s that day. Choose another time."
        ) % {"start": format_time(check.clash.starts_at), "end": format_time(check.clash.ends_at)}
    if anyway:
        return
    if check.holiday:
        errors["date"] = _(
            "%(date)s is a public holiday (%(holiday)s). Choose another day, or tick "
            "“Plan it on this day anyway”."
        ) % {"date": i18n.format_date(day), "holiday": check.holiday}
    elif check.weekend:
        errors["date"] = _(
            "%(date)s is a weekend day. Choose another day, or tick “Plan it on this day anyway”."
        ) % {"date": i18n.format_date(day)}


async def plan_meeting(
    db: AsyncSession,
    actor: Membership,
    agreement_id: uuid.UUID,
    data: MeetingInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Plan one session, evaluation meeting or review meeting, and invite its participants.

    A supervision session needs room in the quota; any meeting must fall within the agreement
    and not over another meeting of the supervisor.
    """
    now = now or utcnow()
    agreement = await agreement_for_work(db, actor, agreement_id)
    require_active(agreement)
    errors: dict[str, str] = {}
    try:
        kind = MeetingKind(data.kind)
    except ValueError:
        kind = MeetingKind.SESSION
        errors["kind"] = _("Choose what kind of meeting this is.")
    day = parse_date(data.date)
    if day is None:
        errors["date"] = _("Enter the date, e.g. 3.12.2026.")
    else:
        _check_in_period(agreement, day, "date", errors)
    at = parse_time(data.time)
    if at is None:
        errors["time"] = _("Enter the time as hours and minutes, e.g. 10:00.")
    minutes = parse_int(data.minutes, *SESSION_MINUTES)
    if minutes is None:
        errors["minutes"] = _("Enter the length in minutes, from %(low)d to %(high)d.") % {
            "low": SESSION_MINUTES[0],
            "high": SESSION_MINUTES[1],
        }
    place = check_place(data.place, data.address, data.meeting_url, errors)
    supervisor_id = _choose_supervisor(agreement, actor, data.supervisor, errors)
    if kind == MeetingKind.SESSION and (await session_counts(db, agreement)).remaining == 0:
        errors["kind"] = _("The quota of %(quota)d sessions is already used or planned.") % {
            "quota": agreement.session_quota
        }
    if not errors:
        assert day and at and minutes and supervisor_id
        start = from_local(day, at)
        busy = await supervisor_busy(db, supervisor_id, start, start + timedelta(minutes=minutes))
        check = check_day(start, minutes, busy)
        _day_errors(check, day, data.anyway == "on", errors)
    if errors:
        raise Invalid(errors)
    assert day and at and minutes and place and supervisor_id
    session = _new_session(agreement, supervisor_id, kind, from_local(day, at), minutes, place)
    db.add(session)
    await db.flush()
    _record(db, actor, session, "planned", new=session.starts_at)
    await _invite_if_ahead(db, session, mailing, ics.REQUEST, now)
    await db.flush()
    return session


# --- status changes -------------------------------------------------------------------------

_NOT_PLANNED = {
    "held": {
        SessionStatus.HELD: N_("The session is already marked held."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("A cancelled session can't be marked held."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("A cancelled session can't be marked held."),
        SessionStatus.NO_SHOW: N_("A no-show can't be marked held."),
    },
    "reschedule": {
        SessionStatus.HELD: N_("A held session can't be rescheduled."),
        SessionStatus.CANCELLED_BY_CLIENT: N_(
            "A cancelled session can't be rescheduled. Plan a new one instead."
        ),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_(
            "A cancelled session can't be rescheduled. Plan a new one instead."
        ),
        SessionStatus.NO_SHOW: N_("A no-show can't be rescheduled. Plan a new session instead."),
    },
    "cancel": {
        SessionStatus.HELD: N_("A held session can't be cancelled."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("The session is already cancelled."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("The session is already cancelled."),
        SessionStatus.NO_SHOW: N_("A no-show can't be cancelled."),
    },
    "no_show": {
        SessionStatus.HELD: N_("A held session can't be a no-show."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("A cancelled session can't be a no-show."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("A cancelled session can't be a no-show."),
        SessionStatus.NO_SHOW: N_("The session is already marked as a no-show."),
    },
    "manager": {
        SessionStatus.HELD: N_("The meeting has been held."),
        SessionStatus.CANCELLED_BY_CLIENT: N_("The meeting is cancelled."),
        SessionStatus.CANCELLED_BY_SUPERVISOR: N_("The meeting is cancelled."),
        SessionStatus.NO_SHOW: N_("The meeting is marked as a no-show."),
    },
}


def _require_planned(session: SupervisionSession, action: str) -> None:
    if session.status != SessionStatus.PLANNED:
        raise Invalid.field("status", _(_NOT_PLANNED[action][session.status]))


def _require_started_day(session: SupervisionSession, now: datetime, message: str) -> None:
    """Held or missed is known from the meeting's day on, not before."""
    if to_local(session.starts_at).date() > to_local(now).date():
        raise Invalid.field("status", message)


def billable_kind(session: SupervisionSession) -> bool:
    """Only supervision sessions are billed; evaluation and review meetings are not."""
    return session.kind == MeetingKind.SESSION


async def mark_held(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    actual_minutes: str,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Record that a planned session took place and how long it lasted (1-240 minutes)."""
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "held")
    _require_started_day(session, now, _("A session can be marked held on its day or later."))
    minutes = parse_int(actual_minutes, *HELD_MINUTES)
    if minutes is None:
        raise Invalid.field(
            "actual_minutes",
            _("Enter the actual length in minutes, from %(low)d to %(high)d.")
            % {"low": HELD_MINUTES[0], "high": HELD_MINUTES[1]},
        )
    session.status = SessionStatus.HELD
    session.actual_minutes = minutes
    session.billable = billable_kind(session)
    _record(db, actor, session, SessionStatus.HELD.value)
    await db.flush()
    return session


async def mark_no_show(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID, *, now: datetime | None = None
) -> SupervisionSession:
    """The supervisee did not come and did not cancel: the session is billable."""
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "no_show")
    _require_started_day(
        session, now, _("A session can be marked as a no-show on its day or later.")
    )
    session.status = SessionStatus.NO_SHOW
    session.billable = billable_kind(session)
    _record(db, actor, session, SessionStatus.NO_SHOW.value)
    await db.flush()
    return session


@dataclass
class CancelInput:
    by: str = ""  # client or supervisor
    date: str = ""  # when the client cancelled (Helsinki); empty: now
    time: str = ""


def is_late_cancellation(session: SupervisionSession, cancelled_at: datetime) -> bool:
    """Late: less than the agreement's ``cancellation_hours`` before the start."""
    notice = timedelta(hours=session.agreement.cancellation_hours)
    return session.starts_at - cancelled_at < notice


async def cancel_session(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    data: CancelInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Cancel a planned meeting and send everyone the cancellation (``METHOD:CANCEL``).

    By the client: late (billable) when they cancelled less than the agreement's cancellation
    hours before the start, exactly that many hours is on time. By the supervisor: never billable.
    """
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "cancel")
    errors: dict[str, str] = {}
    if data.by not in ("client", "supervisor"):
        errors["by"] = _("Choose who cancelled.")
    cancelled_at = now
    if data.date.strip() or data.time.strip():
        day, at = parse_date(data.date), parse_time(data.time)
        if day is None or at is None:
            errors["cancelled_at"] = _(
                "Enter when the cancellation came as a date and a time, e.g. 2.12.2026 9:30."
            )
        else:
            cancelled_at = from_local(day, at)
            if cancelled_at > now + timedelta(minutes=1):
                errors["cancelled_at"] = _("The cancellation can't be in the future.")
    if errors:
        raise Invalid(errors)
    session.cancelled_at = cancelled_at
    if data.by == "client":
        session.status = SessionStatus.CANCELLED_BY_CLIENT
        session.late_cancellation = is_late_cancellation(session, cancelled_at)
        session.billable = session.late_cancellation and billable_kind(session)
    else:
        session.status = SessionStatus.CANCELLED_BY_SUPERVISOR
        session.late_cancellation = False
        session.billable = False
    session.sequence += 1
    _record(db, actor, session, session.status.value)
    await db.flush()
    await _invite_if_ahead(db, session, mailing, ics.CANCEL, now)
    await db.flush()
    return session


@dataclass
class RescheduleInput:
    date: str = ""
    time: str = ""
    minutes: str = ""
    place: str = "address"
    address: str = ""
    meeting_url: str = ""
    anyway: str = ""

    @classmethod
    def of(cls, session: SupervisionSession) -> RescheduleInput:
        local = to_local(session.starts_at)
        return cls(
            date=local.date().isoformat(),
            time=local.strftime("%H:%M"),
            minutes=str(session.duration_minutes),
            place="remote" if session.remote else "address",
            address=session.address,
            meeting_url=session.meeting_url,
        )


async def reschedule_session(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    data: RescheduleInput,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Move a planned meeting (time, length or place); the change is kept in its history.

    The ICS ``sequence`` grows and everyone gets the update; a new reminder goes out before the
    new time. Held, cancelled and missed sessions can't be moved.
    """
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "reschedule")
    agreement = session.agreement
    errors: dict[str, str] = {}
    day = parse_date(data.date)
    if day is None:
        errors["date"] = _("Enter the date, e.g. 3.12.2026.")
    else:
        _check_in_period(agreement, day, "date", errors)
    at = parse_time(data.time)
    if at is None:
        errors["time"] = _("Enter the time as hours and minutes, e.g. 10:00.")
    minutes = parse_int(data.minutes, *SESSION_MINUTES)
    if minutes is None:
        errors["minutes"] = _("Enter the length in minutes, from %(low)d to %(high)d.") % {
            "low": SESSION_MINUTES[0],
            "high": SESSION_MINUTES[1],
        }
    place = check_place(data.place, data.address, data.meeting_url, errors)
    if not errors:
        assert day and at and minutes
        start = from_local(day, at)
        busy = await supervisor_busy(
            db,
            session.supervisor_id,
            start,
            start + timedelta(minutes=minutes),
            exclude=session.id,
        )
        anyway = data.anyway == "on" or to_local(session.starts_at).date() == day
        _day_errors(check_day(start, minutes, busy), day, anyway, errors)
    if errors:
        raise Invalid(errors)
    assert day and at and minutes and place
    old = session.starts_at
    new = from_local(day, at)
    unchanged = (
        new == old
        and minutes == session.duration_minutes
        and place == Place(session.remote, session.address, session.meeting_url)
    )
    if unchanged:
        raise Invalid.field("date", _("Nothing changed: enter a new time, length or place."))
    session.starts_at = new
    session.duration_minutes = minutes
    session.remote, session.address, session.meeting_url = (
        place.remote,
        place.address,
        place.meeting_url,
    )
    session.sequence += 1
    if new != old:
        session.reminder_sent_at = None
    _record(db, actor, session, "rescheduled" if new != old else "changed", old=old, new=new)
    await db.flush()
    await _invite_if_ahead(db, session, mailing, ics.REQUEST, now, update=True)
    await db.flush()
    return session


async def invite_manager(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    supervisee: str,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """Record that a supervisee invited their manager to an evaluation meeting.

    Only then is the manager a participant: they get the invitation, the others an update.
    """
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    if session.kind != MeetingKind.EVALUATION:
        raise Invalid.field(
            "manager", _("Only the supervisee can invite their manager, to an evaluation meeting.")
        )
    _require_planned(session, "manager")
    agreement = session.agreement
    if agreement.manager is None:
        raise Invalid.field("manager", _("The agreement names no manager."))
    if session.manager_invited_by is not None:
        raise Invalid.field("manager", _("The manager is already invited."))
    people = {link.person_id for link in agreement.supervisees}
    try:
        inviter = uuid.UUID(supervisee.strip())
    except ValueError:
        inviter = None
    if inviter not in people:
        raise Invalid.field("supervisee", _("Choose the supervisee who invited their manager."))
    session.manager_invited_by = inviter
    session.manager_invited_at = now
    session.sequence += 1
    _record(db, actor, session, "manager_invited")
    await db.flush()
    await _invite_if_ahead(db, session, mailing, ics.REQUEST, now, update=True)
    await db.flush()
    return session


async def withdraw_manager_invitation(
    db: AsyncSession,
    actor: Membership,
    session_id: uuid.UUID,
    mailing: Mailing,
    *,
    now: datetime | None = None,
) -> SupervisionSession:
    """The supervisee took the invitation back: the manager gets a cancellation."""
    now = now or utcnow()
    session = await get_session(db, actor, session_id)
    _require_planned(session, "manager")
    if session.manager_invited_by is None:
        raise Invalid.field("manager", _("The manager is not invited."))
    before = await participants(db, session)
    session.manager_invited_by = None
    session.manager_invited_at = None
    session.sequence += 1
    _record(db, actor, session, "manager_uninvited")
    await db.flush()
    if session.starts_at > now:
        managers = [p for p in before if p.role == "manager"]
        await _send_invitations(db, session, mailing, ics.CANCEL, only=managers, everyone=before)
        await _send_invitations(db, session, mailing, ics.REQUEST, update=True)
    await db.flush()
    return session


@dataclass(frozen=True)
class HistoryLine:
    change: SessionChange
    actor_name: str


async def session_history(db: AsyncSession, session: SupervisionSession) -> list[HistoryLine]:
    """The session's changes, oldest first, with who made them."""
    changes = list(
        await db.scalars(
            select(SessionChange)
            .where(SessionChange.session_id == session.id)
            .order_by(SessionChange.at, SessionChange.id)
        )
    )
    user_ids = {c.actor_user_id for c in changes if c.actor_user_id}
    names = {}
    if user_ids:
        users = await db.scalars(select(User).where(User.id.in_(user_ids)))
        names = {u.id: u.name for u in users}
    return [
        HistoryLine(c, names.get(c.actor_user_id, "") if c.actor_user_id else "") for c in changes
    ]


# --- lists and calendars --------------------------------------------------------------------


@dataclass
class SessionFilter:
    when: str = "upcoming"  # upcoming, past, all
    status: str = ""
    supervisor: str = ""  # a membership id, for those who see every calendar
    text: str = ""  # organisation or supervisee name


async def _visible_conditions(db: AsyncSession, actor: Membership) -> list[Any]:
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("sessions")
    if permissions.can_manage_agreements(actor):
        return []
    own_agreements = select(AgreementSupervisor.agreement_id).where(
        AgreementSupervisor.membership_id == actor.id
    )
    return [
        or_(
            SupervisionSession.supervisor_id == actor.id,
            SupervisionSession.agreement_id.in_(own_agreements),
        )
    ]


async def list_sessions(
    db: AsyncSession,
    actor: Membership,
    filters: SessionFilter,
    page: int = 1,
    per_page: int = 25,
    *,
    now: datetime | None = None,
) -> Page[SupervisionSession]:
    """Sessions ``actor`` may see: upcoming soonest first, past latest first."""
    now = now or utcnow()
    conditions = await _visible_conditions(db, actor)
    order: list[Any] = [SupervisionSession.starts_at, SupervisionSession.id]
    if filters.when == "upcoming":
        conditions.append(SupervisionSession.starts_at >= now - timedelta(hours=4))
    elif filters.when == "past":
        conditions.append(SupervisionSession.starts_at < now)
        order = [SupervisionSession.starts_at.desc(), SupervisionSession.id]
    if filters.status in {s.value for s in SessionStatus}:
        conditions.append(SupervisionSession.status == SessionStatus(filters.status))
    supervisor = _uuid_or_none(filters.supervisor)
    if supervisor is not None and permissions.can_view_all_calendars(actor):
        conditions.append(SupervisionSession.supervisor_id == supervisor)
    text = filters.text.strip()
    if text:
        pattern = f"%{text.replace('!', '!!').replace('%', '!%').replace('_', '!_')}%"
        by_org = select(Agreement.id).join(ClientOrg, Agreement.org_id == ClientOrg.id)
        by_org = by_org.where(ClientOrg.name.ilike(pattern, escape="!"))
        by_person = (
            select(AgreementSupervisee.agreement_id)
            .join(ClientPerson, AgreementSupervisee.person_id == ClientPerson.id)
            .where(ClientPerson.name.ilike(pattern, escape="!"))
        )
        conditions.append(
            or_(
                SupervisionSession.agreement_id.in_(by_org),
                SupervisionSession.agreement_id.in_(by_person),
            )
        )
    total = (
        await db.scalar(select(func.count()).select_from(SupervisionSession).where(*conditions))
        or 0
    )
    page = max(1, min(page, Page.last_page(total, per_page)))
    rows = await db.scalars(
        select(SupervisionSession)
        .where(*conditions)
        .order_by(*order)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return Page(list(rows.unique()), page, per_page, total)


@dataclass(frozen=True)
class CalendarEntry:
    """A meeting as the calendar shows it: time, kind, organisation, supervisees (no content)."""

    session: SupervisionSession
    starts: datetime  # Helsinki
    ends: datetime  # Helsinki
    organisation: str
    supervisees: list[str]
    supervisor: str

    @property
    def day(self) -> date:
        return self.starts.date()


async def calendar_supervisors(db: AsyncSession, actor: Membership) -> list[tuple[uuid.UUID, str]]:
    """Whose calendars ``actor`` may open: everyone's for owners and admins, else their own."""
    names = await supervisor_names(db)
    if not permissions.can_view_all_calendars(actor):
        return [(actor.id, names.get(actor.id, ""))]
    return sorted(names.items(), key=lambda pair: pair[1].lower())


async def calendar_entries(
    db: AsyncSession,
    actor: Membership,
    first_day: date,
    last_day: date,
    supervisor_id: uuid.UUID | None,
) -> list[CalendarEntry]:
    """Meetings from ``first_day`` to ``last_day`` (Helsinki days) of one supervisor.

    A supervisor always gets their own; owners and admins pick anyone, or everyone (None).
    """
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("calendar")
    if not permissions.can_view_all_calendars(actor):
        supervisor_id = actor.id
    conditions = [
        SupervisionSession.starts_at >= from_local(first_day, time(0)),
        SupervisionSession.starts_at < from_local(last_day + timedelta(days=1), time(0)),
    ]
    if supervisor_id is not None:
        conditions.append(SupervisionSession.supervisor_id == supervisor_id)
    rows = await db.scalars(
        select(SupervisionSession)
        .where(*conditions)
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
    )
    names = await supervisor_names(db)
    entries = []
    for session in rows.unique():
        agreement = session.agreement
        entries.append(
            CalendarEntry(
                session=session,
                starts=to_local(session.starts_at),
                ends=to_local(ends_at(session)),
                organisation=agreement.org.name if agreement.org else "",
                supervisees=[link.person.name for link in agreement.supervisees],
                supervisor=names.get(session.supervisor_id, ""),
            )
        )
    return entries


# --- the supervisor's private feed ----------------------------------------------------------


async def active_feed(db: AsyncSession, actor: Membership) -> CalendarFeed | None:
    """``actor``'s feed, if they have one that is not revoked."""
    return await db.scalar(
        select(CalendarFeed)
        .where(CalendarFeed.membership_id == actor.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.created_at.desc())
        .limit(1)
    )


async def create_feed(db: AsyncSession, actor: Membership) -> str:
    """A new secret feed address for ``actor``; an older one stops working. Returns the token."""
    if not permissions.can_work_on_agreements(actor):
        raise Forbidden("feed")
    for old in await db.scalars(
        select(CalendarFeed).where(
            CalendarFeed.membership_id == actor.id, CalendarFeed.revoked_at.is_(None)
        )
    ):
        old.revoked_at = utcnow()
    token, hashed = new_token()
    db.add(CalendarFeed(membership_id=actor.id, token_hash=hashed))
    await db.flush()
    return token


async def revoke_feed(db: AsyncSession, actor: Membership) -> None:
    """Switch ``actor``'s feed off: the address answers "not found" from now on."""
    feed = await active_feed(db, actor)
    if feed is None:
        raise NotFound("feed")
    feed.revoked_at = utcnow()
    await db.flush()


async def feed_calendar(
    db: AsyncSession, tenant: Tenant, token: str, *, now: datetime | None = None
) -> str:
    """The ICS feed behind a secret token: the holder's meetings from 60 days back onward.

    Unknown or revoked tokens, and people no longer on the staff, are not found.
    """
    now = now or utcnow()
    feed = await db.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None:
        raise NotFound("feed")
    member = await db.scalar(select(Membership).where(Membership.id == feed.membership_id))
    if member is None or member.role not in STAFF_ROLES or not member.user.is_active:
        raise NotFound("feed")
    sessions = await db.scalars(
        select(SupervisionSession)
        .where(
            SupervisionSession.supervisor_id == member.id,
            SupervisionSession.status.not_in(CANCELLED),
            SupervisionSession.starts_at >= now - FEED_HISTORY,
        )
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
    )
    with i18n.language(member.user.locale):
        return ics.feed(sessions.unique(), tenant.name, f"Luotsi · {tenant.name}", stamp=now)


# --- reminders ------------------------------------------------------------------------------


@scheduled("session_reminders", 900)
async def send_session_reminders(db: AsyncSession, tenant: Tenant, now: datetime) -> int:
    """E-mail supervisees 48 hours before each planned meeting (if the agreement wants it).

    Each session is reminded once: ``reminder_sent_at`` is set in the same transaction that
    queues the e-mail, and on PostgreSQL the rows are locked so parallel workers skip them.
    """
    query = (
        select(SupervisionSession)
        .join(Agreement, SupervisionSession.agreement_id == Agreement.id)
        .where(
            SupervisionSession.status == SessionStatus.PLANNED,
            SupervisionSession.starts_at > now,
            SupervisionSession.starts_at <= now + REMINDER_AHEAD,
            SupervisionSession.reminder_sent_at.is_(None),
            Agreement.reminders_enabled.is_(True),
        )
        .order_by(SupervisionSession.starts_at)
    )
    if db.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=SupervisionSession)
    sent = 0
    for session in (await db.scalars(query)).unique():
        agreement = session.agreement
        language = client_language(agreement)
        with i18n.language(language):
            context = _meeting_context(session, tenant)
            context["notice_hours"] = agreement.cancellation_hours
        for link in agreement.supervisees:
            if link.person.email and link.person.archived_at is None:
                enqueue_email(
                    db,
                    render_email("session_reminder", link.person.email, language, **context),
                    tenant_id=tenant.id,
                )
                sent += 1
        session.reminder_sent_at = now
    await db.flush()
    return sent
