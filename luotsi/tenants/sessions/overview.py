"""What the dashboards show: the day's and week's sessions and what needs attention.

Owners and admins see the whole firm; a supervisor sees their own sessions and agreements.
Nothing here is content: times, names, counts and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, permissions
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.sessions.models import SESSION_NAMES, SessionStatus, SupervisionSession

AWAITING_LIMIT = 20
# The most sessions each of today's and the rest of the week's lists shows: the whole firm's
# week can hold thousands (the calendar shows them all).
AGENDA_LIMIT = 25


@dataclass
class Agenda:
    today: list[SupervisionSession] = field(default_factory=list)
    rest_of_week: list[SupervisionSession] = field(default_factory=list)
    awaiting_marking: list[SupervisionSession] = field(default_factory=list)  # past, planned
    whole_firm: bool = False
    today_total: int = 0  # of which ``today`` holds the first AGENDA_LIMIT
    rest_of_week_total: int = 0


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), HELSINKI)


async def agenda(db: AsyncSession, actor: Membership, now: datetime) -> Agenda:
    """Today's and the rest of this week's sessions (Helsinki time), and those to mark held."""
    whole_firm = permissions.can_view_all_calendars(actor)
    mine = [] if whole_firm else [SupervisionSession.supervisor_id == actor.id]
    today = clock.today(now)
    week_end = today + timedelta(days=7 - today.weekday())  # next Monday
    s = SupervisionSession
    planned = [*mine, s.status == SessionStatus.PLANNED]
    week_start, week_stop = _local_midnight(today), _local_midnight(week_end)
    this_week = and_(s.starts_at >= week_start, s.starts_at < week_stop)
    # The latest that have started, for "waiting to be marked".
    awaiting = (
        select(s.id, s.starts_at)
        .where(*planned, s.starts_at < now)
        .order_by(s.starts_at.desc())
        .limit(AWAITING_LIMIT)
        .subquery("awaiting")
    )
    awaits = s.id.in_(select(awaiting.c.id))
    # Both lists lie in one range of planned sessions: from the earliest waiting to be marked
    # (or today) to the week's end, so the firm's planned sessions are read by one index range.
    earliest = select(func.min(awaiting.c.starts_at)).scalar_subquery()
    # (Typed as the column, so that SQLite compares the stored form of the time.)
    since = case((earliest < week_start, earliest), else_=literal(week_start, s.starts_at.type))
    tomorrow = _local_midnight(today + timedelta(days=1))
    # Which of the week's lists a session is on (none: it only waits to be marked); each list
    # numbered and counted in the same statement, so only its first AGENDA_LIMIT are loaded.
    week_list = case((~this_week, None), (s.starts_at < tomorrow, 1), else_=2)
    ranked = (
        select(
            s.id,
            week_list.label("week_list"),
            awaits.label("awaits"),
            func.row_number().over(partition_by=week_list, order_by=(s.starts_at, s.id)).label("n"),
            func.count().over(partition_by=week_list).label("total"),
        )
        .select_from(s)
        .where(*planned, s.starts_at >= since, s.starts_at < week_stop, or_(this_week, awaits))
        .subquery("ranked")
    )
    # The lists in one statement, each row saying which it belongs to (it may be both).
    rows = await db.execute(
        select(s, ranked.c.week_list, ranked.c.awaits, ranked.c.n, ranked.c.total)
        .join(ranked, ranked.c.id == s.id)
        .where(
            or_(and_(ranked.c.week_list.is_not(None), ranked.c.n <= AGENDA_LIMIT), ranked.c.awaits)
        )
        .order_by(s.starts_at, s.id)
        .options(*SESSION_NAMES)
    )
    agenda = Agenda(whole_firm=whole_firm)
    for session, week_list_of, to_mark, number, total in rows.tuples():
        if week_list_of == 1 and number <= AGENDA_LIMIT:
            agenda.today.append(session)
            agenda.today_total = total
        elif week_list_of == 2 and number <= AGENDA_LIMIT:
            agenda.rest_of_week.append(session)
            agenda.rest_of_week_total = total
        if to_mark and _ended(session, now):
            agenda.awaiting_marking.insert(0, session)  # the latest first
    return agenda


def _ended(session: SupervisionSession, now: datetime) -> bool:
    return session.starts_at + timedelta(minutes=session.duration_minutes) <= now


def agreement_names(agreement: Agreement) -> str:
    """The organisation and supervisees of an agreement, for a line in a list."""
    people = ", ".join(link.person.name for link in agreement.supervisees)
    return f"{agreement.org.name}: {people}" if people else agreement.org.name
