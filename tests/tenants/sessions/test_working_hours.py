"""Planning weighs the supervisor's absences and working hours as it weighs public holidays:
a day they are away moves (a series) or needs "anyway" (one meeting, a new time); a time
outside their hours is pointed out."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import HELSINKI, language
from luotsi.tenants.directory import hours
from luotsi.tenants.directory.hours import WeekInput
from luotsi.tenants.sessions import changes, planning
from luotsi.tenants.sessions.changes import RescheduleInput
from luotsi.tenants.sessions.planning import MeetingInput, SeriesInput
from luotsi.tenants.sessions.service import Mailing, from_local, is_working_day
from tests import clock
from tests.conftest import Backend
from tests.factories import Firms, add_absence

MAILING = Mailing("https://luotsi.example", "Luotsi <no-reply@luotsi.example>")


def _series_start(firms: Firms) -> date:
    """A working day a week or more after the fixture session: the supervisor's calendar is
    free then and the week after."""
    assert firms.a.session.starts_at.astimezone(HELSINKI).date() < clock.days(14)
    return clock.working_day(14)


async def _mornings_only(db: AsyncSession, firms: Firms) -> None:
    """The supervisor works Monday to Friday 8-12."""
    supervisor = firms.a.supervisor
    week = WeekInput(
        own=True,
        works=set(range(5)),
        starts=dict.fromkeys(range(5), "8:00"),
        ends=dict.fromkeys(range(5), "12:00"),
    )
    await hours.save_week(db, supervisor, supervisor, week)


async def test_a_series_date_in_an_absence_moves_to_the_first_day_back(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    first = _series_start(firms)
    second = first + timedelta(weeks=1)
    await add_absence(clean_db.owner, a.tenant, a.supervisor, second, second + timedelta(days=2))
    data = SeriesInput(
        first_date=first.isoformat(), time="10:00", every_weeks="1", count="2", minutes="60"
    )
    data.address = "Kunnantie 1"
    preview = await planning.preview_series(db, a.supervisor, a.agreement.id, data)
    kept, moved = preview.proposals
    assert kept.check.ok and not kept.moved
    assert moved.check.away and moved.moved
    back = second + timedelta(days=3)
    while not is_working_day(back):
        back += timedelta(days=1)
    assert moved.starts_at == from_local(back, time(10))


async def test_a_series_outside_working_hours_is_flagged_where_it_is(
    firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    await _mornings_only(db, firms)
    first = _series_start(firms)
    data = SeriesInput(
        first_date=first.isoformat(), time="11:30", every_weeks="1", count="1", minutes="60"
    )
    data.address = "Kunnantie 1"
    (proposal,) = (await planning.preview_series(db, a.supervisor, a.agreement.id, data)).proposals
    assert proposal.flagged and not proposal.check.blocked and not proposal.moved
    assert proposal.check.outside == (from_local(first, time(8)), from_local(first, time(12)))


async def test_one_meeting_on_an_absence_or_outside_hours_needs_the_anyway_box(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    away = _series_start(firms)
    await add_absence(clean_db.owner, a.tenant, a.supervisor, away, away)
    await _mornings_only(db, firms)
    absent = MeetingInput(date=away.isoformat(), time="9:00", minutes="60", address="Kunnantie 1")
    with language("en"), pytest.raises(Invalid) as caught:
        await planning.plan_meeting(db, a.supervisor, a.agreement.id, absent, MAILING)
    assert caught.value.errors["date"].startswith("The supervisor is not working on")
    late_day = away + timedelta(days=1)
    while not is_working_day(late_day):
        late_day += timedelta(days=1)
    late = MeetingInput(date=late_day.isoformat(), time="11:30", minutes="60", address="X 1")
    with language("en"), pytest.raises(Invalid) as outside:
        await planning.plan_meeting(db, a.supervisor, a.agreement.id, late, MAILING)
    assert outside.value.errors == {
        "time": "The supervisor works 8.00–12.00 that day. Choose a time within those hours, "
        "or tick “Plan it on this day anyway”."
    }
    absent.anyway = late.anyway = "on"
    await planning.plan_meeting(db, a.supervisor, a.agreement.id, absent, MAILING)
    await planning.plan_meeting(db, a.supervisor, a.agreement.id, late, MAILING)


async def test_rescheduling_into_an_absence_or_outside_hours_asks_again(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    day = a.session.starts_at.astimezone(HELSINKI).date()  # 10.00, within the usual hours
    away = day + timedelta(days=1)
    while not is_working_day(away):
        away += timedelta(days=1)
    await add_absence(clean_db.owner, a.tenant, a.supervisor, away, away)

    def move(to: date, at: str, anyway: str = "") -> RescheduleInput:
        return RescheduleInput(
            date=to.isoformat(), time=at, minutes="60", address="Kunnantie 1", anyway=anyway
        )

    with pytest.raises(Invalid) as absent:
        await changes.reschedule_session(
            db, a.supervisor, a.session.id, move(away, "10:00"), MAILING
        )
    assert set(absent.value.errors) == {"date"}
    # Later the same day: the day was already agreed, the evening hour was not.
    with pytest.raises(Invalid) as evening:
        await changes.reschedule_session(
            db, a.supervisor, a.session.id, move(day, "17:00"), MAILING
        )
    assert set(evening.value.errors) == {"time"}
    moved = await changes.reschedule_session(
        db, a.supervisor, a.session.id, move(day, "17:00", "on"), MAILING
    )
    assert moved.starts_at == from_local(day, time(17))
