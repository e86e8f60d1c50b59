"""What the dashboards show: the day's and week's sessions and what needs attention.

Owners and admins see the whole firm; a supervisor sees their own sessions and agreements.
Nothing here is content: times, names, counts and dates only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
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
    upcoming = list(
        await db.scalars(
            select(SupervisionSession)
            .where(
                *mine,
                SupervisionSession.starts_at >= _local_midnight(today),
                SupervisionSession.starts_at < _local_midnight(week_end),
                SupervisionSession.status == SessionStatus.PLANNED,
            )
            .order_by(SupervisionSession.starts_at)
            .options(*SESSION_NAMES)
        )
    )
    tomorrow = _local_midnight(today + timedelta(days=1))
    awaiting = list(
        await db.scalars(
            select(SupervisionSession)
            .where(
                *mine,
                SupervisionSession.starts_at < now,
                SupervisionSession.status == SessionStatus.PLANNED,
            )
            .order_by(SupervisionSession.starts_at.desc())
            .limit(AWAITING_LIMIT)
            .options(*SESSION_NAMES)
        )
    )
    return Agenda(
        today=[s for s in upcoming if s.starts_at < tomorrow],
        rest_of_week=[s for s in upcoming if s.starts_at >= tomorrow],
        awaiting_marking=[s for s in awaiting if _ended(s, now)],
        whole_firm=whole_firm,
    )


def _ended(session: SupervisionSession, now: datetime) -> bool:
    return session.starts_at + timedelta(minutes=session.duration_minutes) <= now


def agreement_names(agreement: Agreement) -> str:
    """The organisation and supervisees of an agreement, for a line in a list."""
    people = ", ".join(link.person.name for link in agreement.supervisees)
    return f"{agreement.org.name}: {people}" if people else agreement.org.name
