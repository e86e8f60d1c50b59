"""What the dashboards show: the day's and week's sessions and what needs attention.

Owners and admins see the whole firm; a supervisor sees their own sessions and agreements.
Nothing here is content: times, names, counts and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, case, func, literal, null, or_, select
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
    tomorrow = _local_midnight(today + timedelta(days=1))
    # Which of the week's lists a session is on: today's (1), the rest of the week's (2) or
    # none (it only waits to be marked). A row may be on a list and wait to be marked.
    week_list = case((~this_week, None), (s.starts_at < tomorrow, 1), else_=2)
    if whole_firm:
        # The firm's week can hold thousands: each list is numbered and counted in the
        # statement and only its first AGENDA_LIMIT are loaded. Both lists lie in one range of
        # planned sessions, from the earliest waiting to be marked (or today) to the week's
        # end, so the firm's planned sessions are read by one index range. (The bound is typed
        # as the column, so that SQLite compares the stored form of the time.)
        earliest = select(func.min(awaiting.c.starts_at)).scalar_subquery()
        since = case((earliest < week_start, earliest), else_=literal(week_start, s.starts_at.type))
        ranked = (
            select(
                s.id,
                week_list.label("week_list"),
                awaits.label("awaits"),
                func.row_number()
                .over(partition_by=week_list, order_by=(s.starts_at, s.id))
                .label("n"),
                func.count().over(partition_by=week_list).label("total"),
            )
            .select_from(s)
            .where(*planned, s.starts_at >= since, s.starts_at < week_stop, or_(this_week, awaits))
            .subquery("ranked")
        )
        listed = (
            select(s, ranked.c.week_list, ranked.c.awaits, ranked.c.total)
            .join(ranked, ranked.c.id == s.id)
            .where(
                or_(
                    and_(ranked.c.week_list.is_not(None), ranked.c.n <= AGENDA_LIMIT),
                    ranked.c.awaits,
                )
            )
        )
    else:
        # A supervisor's own week is a few dozen meetings: loaded whole, counted here (building
        # the ranked statement cost more of the page's time than it saves).
        listed = select(s, week_list, awaits, null()).where(*planned, or_(this_week, awaits))
    rows = await db.execute(listed.order_by(s.starts_at, s.id).options(*SESSION_NAMES))
    agenda = Agenda(whole_firm=whole_firm)
    counted = {1: 0, 2: 0}
    for session, week_list_of, to_mark, total in rows.tuples():
        if week_list_of in counted:
            shown = agenda.today if week_list_of == 1 else agenda.rest_of_week
            if len(shown) < AGENDA_LIMIT:
                shown.append(session)
            counted[week_list_of] = total if total is not None else counted[week_list_of] + 1
        if to_mark and _ended(session, now):
            agenda.awaiting_marking.insert(0, session)  # the latest first
    agenda.today_total, agenda.rest_of_week_total = counted[1], counted[2]
    return agenda


def _ended(session: SupervisionSession, now: datetime) -> bool:
    return session.starts_at + timedelta(minutes=session.duration_minutes) <= now


def agreement_names(agreement: Agreement) -> str:
    """The organisation and supervisees of an agreement, for a line in a list."""
    people = ", ".join(link.person.name for link in agreement.supervisees)
    return f"{agreement.org.name}: {people}" if people else agreement.org.name
