"""What the dashboards show: the day's and week's sessions and what needs attention.

Owners and admins see the whole firm; a supervisor sees their own sessions and agreements.
Nothing here is content: times, names, counts and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import clock, permissions
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.sessions.models import SESSION_NAMES, SessionStatus, SupervisionSession

AWAITING_LIMIT = 20


@dataclass
class Agenda:
    today: list[SupervisionSession] = field(default_factory=list)
    rest_of_week: list[SupervisionSession] = field(default_factory=list)
    awaiting_marking: list[SupervisionSession] = field(default_factory=list)  # past, planned
    whole_firm: bool = False


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
    this_week = and_(s.starts_at >= _local_midnight(today), s.starts_at < _local_midnight(week_end))
    # The latest that have started, for "waiting to be marked".
    awaiting = (
        select(s.id)
        .where(*planned, s.starts_at < now)
        .order_by(s.starts_at.desc())
        .limit(AWAITING_LIMIT)
        .scalar_subquery()
    )
    awaits = s.id.in_(awaiting)
    # Both lists in one statement, each row saying which it belongs to (it may be both).
    rows = await db.execute(
        select(s, this_week.label("this_week"), awaits.label("awaits"))
        .where(*planned, or_(this_week, awaits))
        .order_by(s.starts_at)
        .options(*SESSION_NAMES)
    )
    tomorrow = _local_midnight(today + timedelta(days=1))
    agenda = Agenda(whole_firm=whole_firm)
    for session, in_week, to_mark in rows.tuples():
        if in_week:
            (agenda.today if session.starts_at < tomorrow else agenda.rest_of_week).append(session)
        if to_mark and _ended(session, now):
            agenda.awaiting_marking.insert(0, session)  # the latest first
    return agenda


def _ended(session: SupervisionSession, now: datetime) -> bool:
    return session.starts_at + timedelta(minutes=session.duration_minutes) <= now


def agreement_names(agreement: Agreement) -> str:
    """The organisation and supervisees of an agreement, for a line in a list."""
    people = ", ".join(link.person.name for link in agreement.supervisees)
    return f"{agreement.org.name}: {people}" if people else agreement.org.name
