"""Supervision sessions, evaluation and review meetings: access, days and participants.

The tables are in :mod:`.models`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import holidays
from babel.dates import format_time as format_babel_time
from sqlalchemy import (
    ColumnElement,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from luotsi.platform import clock, i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import HELSINKI, parse_date, parse_time
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import User
from luotsi.platform.mail import calendar_attachment, render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.paging import Page, paginate
from luotsi.platform.search import contains, search_words
from luotsi.platform.settings import Settings
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Tenant
from luotsi.platform.webhooks import WebhookEvent, emit
from luotsi.tenants.agreements.models import (
    AGREEMENT_NAMES,
    AGREEMENT_WHOLE,
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson
from luotsi.tenants.directory.hours import Window, working_windows
from luotsi.tenants.sessions import ics
from luotsi.tenants.sessions.models import (
    CANCELLED,
    SESSION_NAMES,
    SESSION_WHOLE,
    MeetingKind,
    SessionChange,
    SessionStatus,
    SupervisionSession,
    uses_quota,
)

# agreement (``can_manage_agreements``), a supervisor on the agreements they are on. Anything
# else is "not found". Quota: "used" is held sessions plus billable cancellations and no-shows,
# "planned" the sessions still ahead; only supervision sessions count, not evaluation or review
# meetings.

SESSION_MINUTES = (15, 240)  # a planned meeting's length
HELD_MINUTES = (1, 240)  # the recorded length of a held one
MAX_EVERY_WEEKS = 12
MAX_SERIES = 200
FEED_HISTORY = timedelta(days=60)  # the private feed's window: 60 days back, a year ahead
FEED_AHEAD = timedelta(days=365)
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
    agreement = (
        (
            await db.scalars(
                select(Agreement).where(Agreement.id == agreement_id).options(*AGREEMENT_WHOLE)
            )
        )
        .unique()
        .one_or_none()
    )
    if agreement is None or not _works_on(actor, agreement):
        raise NotFound("agreement")
    return agreement


async def agreements_to_plan_on(
    db: AsyncSession, actor: Membership, supervisor_id: uuid.UUID | None = None
) -> list[Agreement]:
    """Active agreements ``actor`` may plan a meeting on (those of ``supervisor_id`` only, if
    given), by organisation name: the choice before a one-off meeting from the calendar."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("agreement")
    query = select(Agreement).where(Agreement.status == AgreementStatus.ACTIVE)
    for membership_id in (
        supervisor_id,
        None if permissions.can_manage_agreements(actor) else actor.id,
    ):
        if membership_id is not None:
            query = query.where(
                Agreement.id.in_(
                    select(AgreementSupervisor.agreement_id).where(
                        AgreementSupervisor.membership_id == membership_id
                    )
                )
            )
    rows = await db.scalars(
        query.join(ClientOrg, Agreement.org)
        .order_by(ClientOrg.name, Agreement.start_date, Agreement.id)
        .options(*AGREEMENT_NAMES)
    )
    return list(rows.unique())


async def get_session(
    db: AsyncSession, actor: Membership, session_id: uuid.UUID
) -> SupervisionSession:
    """One session of an agreement ``actor`` works on (or holds); not found otherwise."""
    if not permissions.can_work_on_agreements(actor):
        raise NotFound("session")
    session = (
        (
            await db.scalars(
                select(SupervisionSession)
                .where(SupervisionSession.id == session_id)
                .options(*SESSION_WHOLE)
            )
        )
        .unique()
        .one_or_none()
    )
    if session is None or not (
        session.supervisor_id == actor.id or _works_on(actor, session.agreement)
    ):
        raise NotFound("session")
    return session


async def sessions_of_agreement(
    db: AsyncSession, actor: Membership, agreement: Agreement
) -> list[SupervisionSession]:
    """Every session and meeting of an agreement (one loaded with its parties), earliest
    first; not found unless ``actor`` works on it."""
    if not permissions.can_work_on_agreements(actor) or not _works_on(actor, agreement):
        raise NotFound("agreement")
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
        elif uses_quota(status, is_billable):
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
    """What speaks against a meeting's day and time. A public holiday, a weekend, a clash or
    the supervisor being away (an absence, or a day off in their week) make the planner move
    the date; a time outside the supervisor's working hours only warns (another day has the
    same hours, and the firm may meet a client in the evening on purpose)."""

    holiday: str
    weekend: bool
    clash: Busy | None
    away: bool = False
    outside: tuple[datetime, datetime] | None = None  # the day's working hours it falls outside

    @property
    def blocked(self) -> bool:
        return bool(self.holiday or self.weekend or self.clash or self.away)

    @property
    def ok(self) -> bool:
        return not (self.blocked or self.outside)


def check_day(
    start: datetime, minutes: int, busy: Iterable[Busy], hours: Window | None
) -> DayCheck:
    """Check a meeting from ``start`` against the calendar, the supervisor's other meetings
    (``busy``) and their working hours that day (``hours``, None: they do not work then; from
    :func:`luotsi.tenants.directory.hours.working_windows`)."""
    day = to_local(start).date()
    end = start + timedelta(minutes=minutes)
    weekend = day.weekday() >= 5
    outside = None
    if hours is not None:
        opens, closes = from_local(day, hours[0]), from_local(day, hours[1])
        if start < opens or end > closes:
            outside = (opens, closes)
    return DayCheck(
        holiday=holiday_name(day),
        weekend=weekend,
        clash=clash(start, end, busy),
        away=hours is None and not weekend,  # a weekend says enough by itself
        outside=outside,
    )


def next_free_day(
    day: date,
    at: time,
    minutes: int,
    busy: Iterable[Busy],
    last: date,
    hours: Callable[[date], Window | None],
) -> datetime | None:
    """The next working day after ``day`` (up to ``last``) on which the supervisor works and
    has ``at`` free; else None. The time of day stays what the user chose."""
    busy = list(busy)
    candidate = day + timedelta(days=1)
    while candidate <= last:
        if is_working_day(candidate) and hours(candidate) is not None:
            start = from_local(candidate, at)
            if clash(start, start + timedelta(minutes=minutes), busy) is None:
                return start
        candidate += timedelta(days=1)
    return None


async def supervisor_hours(
    db: AsyncSession, supervisor_id: uuid.UUID, first: date, last: date
) -> Callable[[date], Window | None]:
    """The supervisor's working hours on each day of ``first..last`` (two statements)."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    windows = await working_windows(db, [supervisor_id], days)
    return lambda day: windows.get((supervisor_id, day))


def day_errors(
    check: DayCheck, day: date, errors: dict[str, str], *, anyway_day: bool, anyway_time: bool
) -> None:
    """A clash is an error; a weekend, holiday, the supervisor away or a time outside their
    hours only unless the user says "anyway" (``anyway_day`` for the day, ``anyway_time`` for
    the time of day)."""
    if check.clash is not None:
        errors["time"] = _(
            "The supervisor has another meeting at %(start)s–%(end)s that day. Choose another time."
        ) % {"start": format_time(check.clash.starts_at), "end": format_time(check.clash.ends_at)}
    if not anyway_day:
        if check.holiday:
            errors["date"] = _(
                "%(date)s is a public holiday (%(holiday)s). Choose another day, or tick "
                "“Plan it on this day anyway”."
            ) % {"date": i18n.format_date(day), "holiday": check.holiday}
        elif check.weekend:
            errors["date"] = _(
                "%(date)s is a weekend day. Choose another day, or tick “Plan it on this day "
                "anyway”."
            ) % {"date": i18n.format_date(day)}
        elif check.away:
            errors["date"] = _(
                "The supervisor is not working on %(date)s (an absence or a day off). Choose "
                "another day, or tick “Plan it on this day anyway”."
            ) % {"date": i18n.format_date(day)}
    if not anyway_time and check.outside is not None and "time" not in errors:
        errors["time"] = _(
            "The supervisor works %(start)s–%(end)s that day. Choose a time within those hours, "
            "or tick “Plan it on this day anyway”."
        ) % {"start": format_time(check.outside[0]), "end": format_time(check.outside[1])}


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
    supervisor = await db.scalar(
        select(Membership)
        .where(Membership.id == session.supervisor_id)
        .options(joinedload(Membership.user))
    )
    if supervisor is not None and supervisor.user.is_active:
        user = supervisor.user
        people.append(Participant(user.email, user.name, user.locale, "supervisor"))
    return people


def meeting_context(session: SupervisionSession, tenant: Tenant) -> dict[str, Any]:
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


async def send_invitations(
    db: AsyncSession,
    session: SupervisionSession,
    mailing: Mailing,
    method: str,
    *,
    update: bool = False,
    only: Iterable[Participant] | None = None,
    everyone: Iterable[Participant] | None = None,
    manager_joins: bool | None = None,
) -> None:
    """Queue the invitation (or cancellation) with its .ics to each participant.

    ``update``: the time or place changed. ``manager_joins`` (True or False): only the
    participants changed, the manager now takes part or no longer does.
    """
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
            context = meeting_context(session, tenant)
        link = ""
        if person.role == "supervisor":
            link = f"{mailing.base_url}/t/{tenant.slug}/sessions/{session.id}"
        payload = render_email(
            template,
            person.email,
            person.language,
            update=update,
            link=link,
            manager_joins=manager_joins,
            manager=session.agreement.manager.name if session.agreement.manager else "",
            **context,
        )
        payload["attachments"] = [calendar_attachment(calendar, method)]
        enqueue_email(db, payload, tenant_id=tenant.id)


async def invite_if_ahead(
    db: AsyncSession,
    session: SupervisionSession,
    mailing: Mailing,
    method: str,
    now: datetime,
    *,
    update: bool = False,
) -> None:
    """Send the invitations unless the meeting has already begun."""
    # A meeting that has already begun gets no calendar invitation.
    if session.starts_at > now:
        await send_invitations(db, session, mailing, method, update=update)


def new_session(
    agreement: Agreement,
    supervisor_id: uuid.UUID,
    kind: MeetingKind,
    starts_at: datetime,
    minutes: int,
    place: Place,
) -> SupervisionSession:
    """A new planned meeting of ``agreement``, not yet added to the database session."""
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


def record_change(
    db: AsyncSession,
    actor: Membership,
    session: SupervisionSession,
    kind: str,
    old: datetime | None = None,
    new: datetime | None = None,
) -> None:
    """Add an entry to the meeting's history (``kind``: planned, rescheduled, held...)."""
    db.add(
        SessionChange(
            session_id=session.id,
            actor_user_id=actor.user_id,
            kind=kind,
            old_starts_at=old,
            new_starts_at=new,
        )
    )


async def announce(
    db: AsyncSession, event: WebhookEvent, sessions: Iterable[SupervisionSession]
) -> None:
    """Send ``event`` of each meeting to the firm's webhooks, in the change's transaction.

    Ids, times, kind and status only: never the place, the link or anyone's name.
    """
    await emit(
        db,
        event,
        *(
            {
                "session_id": session.id,
                "agreement_id": session.agreement_id,
                "kind": session.kind.value,
                "status": session.status.value,
                "starts_at": session.starts_at,
                "duration_minutes": session.duration_minutes,
                "actual_minutes": session.actual_minutes,
                "billable": session.billable,
                "late_cancellation": session.late_cancellation,
                "cancelled_at": session.cancelled_at,
            }
            for session in sessions
        ),
    )


def choose_supervisor(
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


def check_when(
    agreement: Agreement, date_text: str, time_text: str, minutes_text: str, errors: dict[str, str]
) -> tuple[date | None, time | None, int | None]:
    """A meeting's day (within the agreement's period), time and length as typed; what is
    refused goes into ``errors`` (fields ``date``, ``time``, ``minutes``) and comes back None."""
    day = parse_date(date_text)
    if day is None:
        errors["date"] = _("Enter the date, e.g. 3.12.2026.")
    else:
        check_in_period(agreement, day, "date", errors)
    at = parse_time(time_text)
    if at is None:
        errors["time"] = _("Enter the time as hours and minutes, e.g. 10:00.")
    minutes = parse_int(minutes_text, *SESSION_MINUTES)
    if minutes is None:
        errors["minutes"] = _("Enter the length in minutes, from %(low)d to %(high)d.") % {
            "low": SESSION_MINUTES[0],
            "high": SESSION_MINUTES[1],
        }
    return day, at, minutes


def check_in_period(agreement: Agreement, day: date, field: str, errors: dict[str, str]) -> None:
    """Note an error on ``field`` unless ``day`` is within the agreement's term."""
    if day < agreement.start_date or day > agreement.end_date:
        errors[field] = _("Choose a date within the agreement, %(start)s–%(end)s.") % {
            "start": i18n.format_date(agreement.start_date),
            "end": i18n.format_date(agreement.end_date),
        }


async def supervisor_names(
    db: AsyncSession, only: Collection[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """Names of the firm's staff by membership id (``only`` these, if given)."""
    statement = (
        select(Membership.id, User.name)
        .join(User, Membership.user_id == User.id)
        .where(Membership.role.in_(STAFF_ROLES))
    )
    if only is not None:
        statement = statement.where(Membership.id.in_(only))
    return dict((await db.execute(statement)).tuples().all())


# --- lists and calendars --------------------------------------------------------------------


@dataclass
class SessionFilter:
    when: str = "upcoming"  # upcoming, past, all
    status: str = ""
    supervisor: str = ""  # a membership id, for those who see every calendar
    text: str = ""  # organisation or supervisee name


def visible_sessions(actor: Membership) -> list[Any]:
    """Conditions limiting sessions to those ``actor`` holds or works on (:func:`get_session`)."""
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


MAX_CHOSEN = 100  # sessions a bulk action takes in one go (a page of the list at most)


async def chosen_sessions(
    db: AsyncSession,
    actor: Membership,
    session_ids: Iterable[uuid.UUID],
    *conditions: ColumnElement[bool],
) -> list[SupervisionSession]:
    """Of the sessions chosen for a bulk action, the planned ones ``actor`` holds or works on
    that also meet ``conditions``, earliest first, with their agreements' names loaded (at most
    :data:`MAX_CHOSEN`); any other id chooses nothing. One statement."""
    ids = list(dict.fromkeys(session_ids))[:MAX_CHOSEN]
    if not ids:
        return []
    rows = await db.scalars(
        select(SupervisionSession)
        .where(
            SupervisionSession.id.in_(ids),
            SupervisionSession.status == SessionStatus.PLANNED,
            *conditions,
            *visible_sessions(actor),
        )
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
        .options(*SESSION_NAMES)
    )
    return list(rows.unique())


def _listed(
    actor: Membership, filters: SessionFilter, now: datetime
) -> tuple[list[ColumnElement[bool]], list[Any]]:
    """The conditions and order of the session list (and of its export): upcoming soonest
    first, past latest first."""
    conditions = visible_sessions(actor)
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
    for word in search_words(filters.text):
        by_org = select(Agreement.id).join(ClientOrg, Agreement.org_id == ClientOrg.id)
        by_org = by_org.where(contains(ClientOrg.name, word))
        by_person = (
            select(AgreementSupervisee.agreement_id)
            .join(ClientPerson, AgreementSupervisee.person_id == ClientPerson.id)
            .where(contains(ClientPerson.name, word))
        )
        conditions.append(
            or_(
                SupervisionSession.agreement_id.in_(by_org),
                SupervisionSession.agreement_id.in_(by_person),
            )
        )
    return conditions, order


# The sessions list counts this many pages past the one shown, then says "more": a large firm
# plans hundreds of thousands of meetings, and an exact count of them cost more than the page.
SESSION_PAGES_COUNTED = 20


async def list_sessions(
    db: AsyncSession,
    actor: Membership,
    filters: SessionFilter,
    page: int = 1,
    per_page: int = 25,
    *,
    now: datetime | None = None,
) -> Page[SupervisionSession]:
    """Sessions ``actor`` may see that match ``filters`` (see :func:`_listed`)."""
    conditions, order = _listed(actor, filters, now or clock.now())
    return await paginate(
        db,
        SupervisionSession,
        conditions,
        order,
        page,
        per_page,
        SESSION_NAMES,
        pages_ahead=SESSION_PAGES_COUNTED,
    )


@dataclass
class SessionExportRow:
    """One session in the list's export: times, names and states, never content."""

    starts_at: datetime
    duration_minutes: int
    actual_minutes: int | None
    kind: MeetingKind
    status: SessionStatus
    billable: bool
    late_cancellation: bool
    remote: bool
    org_name: str
    agreement_title: str
    supervisees: str
    supervisor: str


async def export_sessions(
    db: AsyncSession, actor: Membership, filters: SessionFilter, *, now: datetime | None = None
) -> list[SessionExportRow]:
    """Every session the list shows with ``filters`` (all pages), in its order: one statement,
    the supervisees' names gathered in it."""
    conditions, order = _listed(actor, filters, now or clock.now())
    s = SupervisionSession
    supervisees = (
        select(func.aggregate_strings(ClientPerson.name, ", "))
        .select_from(AgreementSupervisee)
        .join(ClientPerson, AgreementSupervisee.person_id == ClientPerson.id)
        .where(AgreementSupervisee.agreement_id == s.agreement_id)
        .correlate(s)
        .scalar_subquery()
    )
    rows = await db.execute(
        select(
            s.starts_at,
            s.duration_minutes,
            s.actual_minutes,
            s.kind,
            s.status,
            s.billable,
            s.late_cancellation,
            s.remote,
            ClientOrg.name,
            Agreement.title,
            func.coalesce(supervisees, ""),
            func.coalesce(User.name, ""),
        )
        .join(Agreement, Agreement.id == s.agreement_id)
        .join(ClientOrg, ClientOrg.id == Agreement.org_id)
        .join(Membership, Membership.id == s.supervisor_id)
        .outerjoin(User, User.id == Membership.user_id)
        .where(*conditions)
        .order_by(*order)
    )
    return [SessionExportRow(*row) for row in rows.tuples()]
