"""The calendar page, the supervisor's private calendar feed and session reminders by e-mail."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from luotsi.platform import clock, i18n, notifications, permissions
from luotsi.platform.db import inline
from luotsi.platform.errors import Forbidden, NotFound
from luotsi.platform.identity import new_token, token_hash
from luotsi.platform.jobs import JobContext, claimed, scheduled
from luotsi.platform.mail import render_email
from luotsi.platform.outbox import enqueue_email
from luotsi.platform.tenancy import STAFF_ROLES, Membership, Tenant
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.sessions import ics
from luotsi.tenants.sessions.models import (
    SESSION_NAMES,
    CalendarFeed,
    SessionStatus,
    SupervisionSession,
)
from luotsi.tenants.sessions.service import (
    FEED_AHEAD,
    FEED_HISTORY,
    chosen_sessions,
    client_language,
    ends_at,
    from_local,
    meeting_context,
    supervisor_names,
    to_local,
)


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
    if not permissions.can_view_all_calendars(actor):
        own = await supervisor_names(db, only=[actor.id])
        return [(actor.id, own.get(actor.id, ""))]
    names = await supervisor_names(db)
    return sorted(names.items(), key=lambda pair: pair[1].lower())


def _calendar_conditions(
    actor: Membership, first_day: date, last_day: date, supervisor_id: uuid.UUID | None
) -> list[ColumnElement[bool]]:
    """Meetings from ``first_day`` to ``last_day`` (Helsinki days) of one supervisor: a
    supervisor always gets their own; owners and admins pick anyone, or everyone (None)."""
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
    return conditions


@dataclass(frozen=True)
class CalendarDays:
    """A calendar's meetings by Helsinki day, and per day how many are not shown."""

    entries: list[CalendarEntry]
    by_day: dict[date, list[CalendarEntry]]
    more: dict[date, int]


async def calendar_days(
    db: AsyncSession,
    actor: Membership,
    first_day: date,
    last_day: date,
    supervisor_id: uuid.UUID | None,
    *,
    per_day: int | None = None,
    names: dict[uuid.UUID, str] | None = None,
    among: Collection[uuid.UUID] | None = None,
) -> CalendarDays:
    """Meetings from ``first_day`` to ``last_day`` (Helsinki days) of one supervisor (or
    everyone's: None; ``among``: of these people only), the earliest first, by day. With
    ``per_day`` only the first that many of each day are loaded and the others counted in
    ``more``, for a "+3 more" link (a firm-wide week or month can hold thousands of meetings).
    ``names``: the staff's names when the caller has them already
    (:func:`calendar_supervisors`), else loaded.

    One statement: with ``per_day``, each meeting's day is the number of local midnights its
    start has passed (a CASE over the range's days, as SQLite knows no time zones), and window
    functions number and count the meetings of each day.
    """
    s = SupervisionSession
    conditions = _calendar_conditions(actor, first_day, last_day, supervisor_id)
    if among is not None:
        conditions.append(s.supervisor_id.in_(list(among)))
    query = select(s).where(*conditions).order_by(s.starts_at, s.id).options(*SESSION_NAMES)
    if per_day is not None:
        days = (last_day - first_day).days + 1
        day_of = case(
            *(
                (s.starts_at < from_local(first_day + timedelta(days=n + 1), time(0)), n)
                for n in range(days)
            )
        )
        ranked = (
            select(
                s.id,
                func.row_number()
                .over(partition_by=day_of, order_by=(s.starts_at, s.id))
                .label("n"),
                func.count().over(partition_by=day_of).label("total"),
            )
            .select_from(s)
            .where(*conditions)
            .subquery("ranked")
        )
        query = query.add_columns(ranked.c.total).join(ranked, ranked.c.id == s.id)
        query = query.where(ranked.c.n <= per_day)
    rows = (await db.execute(query)).unique().all()
    if names is None:
        names = await supervisor_names(db)
    entries: list[CalendarEntry] = []
    by_day: dict[date, list[CalendarEntry]] = {}
    totals: dict[date, int] = {}
    for row in rows:
        session = row[0]
        agreement = session.agreement
        entry = CalendarEntry(
            session=session,
            starts=to_local(session.starts_at),
            ends=to_local(ends_at(session)),
            organisation=agreement.org.name if agreement.org else "",
            supervisees=[link.person.name for link in agreement.supervisees],
            supervisor=names.get(session.supervisor_id, ""),
        )
        entries.append(entry)
        by_day.setdefault(entry.day, []).append(entry)
        if per_day is not None:
            totals[entry.day] = row[1]
    more = {
        day: total - len(by_day[day]) for day, total in totals.items() if total > len(by_day[day])
    }
    return CalendarDays(entries, by_day, more)


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
        old.revoked_at = clock.now()
    token, hashed = new_token()
    db.add(CalendarFeed(membership_id=actor.id, token_hash=hashed))
    await db.flush()
    return token


async def revoke_feed(db: AsyncSession, actor: Membership) -> None:
    """Switch ``actor``'s feed off: the address answers "not found" from now on."""
    feed = await active_feed(db, actor)
    if feed is None:
        raise NotFound("feed")
    feed.revoked_at = clock.now()
    await db.flush()


async def feed_calendar(
    db: AsyncSession, tenant: Tenant, token: str, *, now: datetime | None = None
) -> str:
    """The ICS feed behind a secret token: the holder's meetings from 60 days back to a year
    ahead, cancelled ones included (marked so, or a subscribed calendar would keep showing
    them).

    Unknown or revoked tokens, and people no longer on the staff, are not found.
    """
    now = now or clock.now()
    feed = await db.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == token_hash(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if feed is None:
        raise NotFound("feed")
    member = await db.scalar(
        select(Membership)
        .where(Membership.id == feed.membership_id)
        .options(joinedload(Membership.user))
    )
    if (
        member is None
        or member.role not in STAFF_ROLES
        or not member.is_active
        or not member.user.is_active
    ):
        raise NotFound("feed")
    sessions = await db.scalars(
        select(SupervisionSession)
        .where(
            SupervisionSession.supervisor_id == member.id,
            SupervisionSession.starts_at >= now - FEED_HISTORY,
            SupervisionSession.starts_at < now + FEED_AHEAD,
        )
        .order_by(SupervisionSession.starts_at, SupervisionSession.id)
    )
    with i18n.language(member.user.locale):
        return ics.feed(sessions.unique(), tenant.name, f"Luotsi · {tenant.name}", stamp=now)


# --- reminders ------------------------------------------------------------------------------


@scheduled("session_reminders", 900)
async def send_session_reminders(job: JobContext) -> int:
    """E-mail supervisees before each planned meeting (if the agreement wants it): the firm's
    hours ahead (``Tenant.reminder_hours``), or the hours the session's supervisor chose.

    Each session is reminded once: ``reminder_sent_at`` is set in the same transaction that
    queues the e-mail, and on PostgreSQL the rows are locked so parallel workers skip them.
    A reminder is due at a fixed time before the start, so the start is its due time: the
    partial index ``ix_sessions_tenant_unreminded_starts`` holds only the planned, not yet
    reminded sessions, and the job reads its range up to the longest hours anyone uses; the
    supervisors with hours of their own are a handful, named in the condition.
    """
    db, tenant, now = job.db, job.tenant, job.now
    query = (
        select(SupervisionSession)
        .join(Agreement, SupervisionSession.agreement_id == Agreement.id)
        .where(
            SupervisionSession.status == inline(SessionStatus.PLANNED),
            SupervisionSession.starts_at > now,
            *await _reminder_due(db, tenant, now),
            SupervisionSession.reminder_sent_at.is_(None),
            Agreement.reminders_enabled.is_(True),
        )
        .order_by(SupervisionSession.starts_at)
        .options(*SESSION_NAMES)
    )
    query = claimed(db, query, SupervisionSession)
    sent = 0
    for session in (await db.scalars(query)).unique():
        sent += _queue_reminder(db, tenant, session, now)
    await db.flush()
    return sent


async def _reminder_due(
    db: AsyncSession, tenant: Tenant, now: datetime
) -> list[ColumnElement[bool]]:
    """Conditions: the session's reminder is due by ``now``, under the firm's hours or its
    supervisor's own. The first bounds the start (the index's range) by the longest hours."""
    overrides = await notifications.reminder_hours_overrides(db)
    hours = {tenant.reminder_hours, *overrides.values()}
    by_hours: dict[int, list[uuid.UUID]] = {}
    for member_id, own in overrides.items():
        by_hours.setdefault(own, []).append(member_id)

    def starts_within(hours: int) -> ColumnElement[bool]:
        return SupervisionSession.starts_at <= now + timedelta(hours=hours)

    due = [
        and_(SupervisionSession.supervisor_id.in_(ids), starts_within(own))
        for own, ids in sorted(by_hours.items())
    ]
    firm_default = starts_within(tenant.reminder_hours)
    if overrides:
        firm_default = and_(SupervisionSession.supervisor_id.not_in(overrides), firm_default)
    return [starts_within(max(hours)), or_(firm_default, *due)]


def _queue_reminder(
    db: AsyncSession, tenant: Tenant, session: SupervisionSession, now: datetime
) -> int:
    """Queue the reminder of ``session`` (its agreement and supervisees loaded) to each of its
    supervisees with an address; returns how many e-mails were queued."""
    agreement = session.agreement
    language = client_language(agreement)
    with i18n.language(language):
        context = meeting_context(session, tenant)
        context["notice_hours"] = agreement.cancellation_hours
    sent = 0
    for link in agreement.supervisees:
        if link.person.email and link.person.archived_at is None:
            enqueue_email(
                db,
                render_email("session_reminder", link.person.email, language, **context),
                tenant_id=tenant.id,
            )
            sent += 1
    session.reminder_sent_at = now
    return sent


async def remindable_sessions(
    db: AsyncSession,
    actor: Membership,
    session_ids: Iterable[uuid.UUID],
    *,
    now: datetime | None = None,
) -> list[SupervisionSession]:
    """Of the chosen sessions, those ``actor`` may send a reminder of now: planned, ahead."""
    ahead = SupervisionSession.starts_at > (now or clock.now())
    return await chosen_sessions(db, actor, session_ids, ahead)


async def send_reminders_now(
    db: AsyncSession,
    actor: Membership,
    tenant: Tenant,
    session_ids: Iterable[uuid.UUID],
    *,
    now: datetime | None = None,
) -> int:
    """Remind the supervisees of the chosen sessions now (a bulk action of the session list),
    whatever their agreements' automatic reminders; a session reminded so gets no automatic
    reminder later. Returns how many e-mails were queued."""
    now = now or clock.now()
    sent = 0
    for session in await remindable_sessions(db, actor, session_ids, now=now):
        sent += _queue_reminder(db, tenant, session, now)
    await db.flush()
    return sent
