"""Working hours and absences: what a week and an absence accept, who keeps them, and what
planning and calendars learn from :func:`working_windows`."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform.errors import Forbidden, Invalid, NotFound
from luotsi.platform.i18n import language
from luotsi.platform.tenancy import Membership
from luotsi.tenants.directory import hours, staff
from luotsi.tenants.directory.hours import AbsenceInput, WeekInput
from luotsi.tenants.directory.models import Absence, AbsenceKind, WorkingHours
from tests import clock
from tests.conftest import Backend, scoped
from tests.factories import Firms, add_absence


def _monday(weeks_ahead: int = 1) -> date:
    today = clock.today()
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks_ahead)


def _week(**days: tuple[str, str]) -> WeekInput:
    """An own week: ``mon=("9:00", "17:00")`` ... (weekday names to their hours)."""
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    chosen = {names.index(name): value for name, value in days.items()}
    return WeekInput(
        own=True,
        works=set(chosen),
        starts={d: v[0] for d, v in chosen.items()},
        ends={d: v[1] for d, v in chosen.items()},
    )


def _absence(first: date, last: date, kind: str = "holiday", note: str = "") -> AbsenceInput:
    return AbsenceInput(kind, first.isoformat(), last.isoformat(), note)


# --- the week ----------------------------------------------------------------------------------


async def test_without_an_own_week_everyone_works_the_firms_usual_hours(
    firms: Firms, db: AsyncSession
) -> None:
    supervisor = firms.a.supervisor
    monday = _monday()
    days = [monday + timedelta(days=n) for n in range(7)]
    windows = await hours.working_windows(db, [supervisor.id], days)
    assert [windows[supervisor.id, d] for d in days] == [(time(8), time(16))] * 5 + [None, None]


async def test_an_own_week_replaces_the_usual_hours_and_can_be_given_back(
    firms: Firms, db: AsyncSession
) -> None:
    supervisor = firms.a.supervisor
    await hours.save_week(
        db, supervisor, supervisor, _week(mon=("9:00", "17:30"), sat=("10.00", "14.00"))
    )
    monday = _monday()
    days = [monday + timedelta(days=n) for n in range(7)]
    windows = await hours.working_windows(db, [supervisor.id], days)
    assert [windows[supervisor.id, d] for d in days] == [
        (time(9), time(17, 30)),
        None,
        None,
        None,
        None,
        (time(10), time(14)),
        None,
    ]
    # Changing one day keeps the others' rows; the usual hours again removes them all.
    await hours.save_week(db, supervisor, supervisor, _week(mon=("8:00", "12:00")))
    assert await hours.own_week(db, supervisor.id) == {0: (time(8), time(12))}
    await hours.save_week(db, supervisor, supervisor, WeekInput(own=False))
    assert await hours.own_week(db, supervisor.id) == {}


async def test_the_office_sets_the_firms_usual_week_for_everyone_without_their_own(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    await hours.save_week(db, a.supervisor, a.supervisor, _week(sat=("10:00", "14:00")))
    firm_week = _week(mon=("8:00", "15:00"), tue=("8:00", "15:00"), wed=("12:00", "20:00"))
    await hours.save_firm_week(db, a.owner, firm_week)
    monday = _monday()
    days = [monday + timedelta(days=n) for n in range(7)]
    people = [a.admin.id, a.supervisor.id]
    windows = await hours.working_windows(db, people, days)
    usual = [(time(8), time(15))] * 2 + [(time(12), time(20))] + [None] * 4
    assert [windows[a.admin.id, d] for d in days] == usual
    assert [windows[a.supervisor.id, d] for d in days] == [None] * 5 + [(time(10), time(14)), None]
    assert hours.week_runs(await hours.firm_week(db)) == [
        (0, 1, (time(8), time(15))),
        (2, 2, (time(12), time(20))),
    ]
    async with scoped(clean_db, firms.b.tenant) as other:  # the other firm keeps its own
        assert await hours.firm_week(other) == hours.DEFAULT_WEEK
    await hours.save_firm_week(db, a.admin, WeekInput(own=False))  # back to Mon-Fri 8-16
    assert await hours.firm_week(db) == hours.DEFAULT_WEEK


async def test_everyones_span_reaches_from_the_earliest_start_to_the_latest_end(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    """Everyone's week calendar shows from the firm's earliest start to its latest end: the
    people's own weeks and the usual week (ours, until the firm sets one), but not the weeks of
    people who have left, nor another firm's."""
    a = firms.a
    assert await hours.working_span(db) == (time(8), time(16))
    await hours.save_week(db, a.supervisor, a.supervisor, _week(sat=("10:00", "18:30")))
    assert await hours.working_span(db) == (time(8), time(18, 30))
    await hours.save_week(db, a.admin, a.admin, _week(tue=("7:15", "12:00")))
    assert await hours.working_span(db) == (time(7, 15), time(18, 30))
    await hours.save_firm_week(db, a.owner, _week(mon=("9:00", "15:00")))
    assert await hours.working_span(db) == (time(7, 15), time(18, 30))  # the own weeks reach
    left = await db.scalar(select(Membership).where(Membership.id == a.admin.id))
    assert left is not None
    left.deactivate()
    await db.flush()
    assert await hours.working_span(db) == (time(9), time(18, 30))
    async with scoped(clean_db, firms.b.tenant) as other:
        assert await hours.working_span(other) == (time(8), time(16))


async def test_only_the_office_sets_the_firms_usual_week(firms: Firms, db: AsyncSession) -> None:
    with pytest.raises(Forbidden):
        await hours.save_firm_week(db, firms.a.supervisor, _week(mon=("8:00", "12:00")))
    assert await hours.firm_week(db) == hours.DEFAULT_WEEK


async def test_a_day_must_end_after_it_starts_and_times_must_be_times(
    firms: Firms, db: AsyncSession
) -> None:
    supervisor = firms.a.supervisor
    with language("en"), pytest.raises(Invalid) as raised:
        await hours.save_week(
            db, supervisor, supervisor, _week(mon=("16:00", "8:00"), tue=("25:00", "x"))
        )
    assert raised.value.errors == {
        "end_0": "The day must end after it starts.",
        "start_1": "Enter the time as hours and minutes, e.g. 8:00.",
        "end_1": "Enter the time as hours and minutes, e.g. 16:00.",
    }
    with pytest.raises(Invalid) as none_ticked:
        await hours.save_week(db, supervisor, supervisor, WeekInput(own=True))
    assert set(none_ticked.value.errors) == {"works"}
    assert await hours.own_week(db, supervisor.id) == {}


async def test_the_database_refuses_a_day_that_ends_before_it_starts(
    firms: Firms, db: AsyncSession
) -> None:
    db.add(
        WorkingHours(
            membership_id=firms.a.supervisor.id, weekday=0, starts_at=time(16), ends_at=time(8)
        )
    )
    with pytest.raises(IntegrityError):
        await db.flush()


async def test_the_office_keeps_anyones_hours_and_a_supervisor_only_their_own(
    firms: Firms, db: AsyncSession
) -> None:
    a = firms.a
    await hours.save_week(db, a.admin, a.supervisor, _week(fri=("8:00", "12:00")))
    assert await hours.own_week(db, a.supervisor.id) == {4: (time(8), time(12))}
    with pytest.raises(Forbidden):
        await hours.save_week(db, a.supervisor, a.owner, _week(fri=("8:00", "12:00")))
    with pytest.raises(Forbidden):
        await hours.add_absence(db, a.supervisor, a.admin, _absence(_monday(), _monday()))
    owners = await staff.profile_of_membership(db, a.owner.id)
    with pytest.raises(NotFound):  # a colleague's hours are not there to find
        await hours.keeper_profile(db, a.supervisor, owners.id)
    assert (await hours.keeper_profile(db, a.admin, owners.id)).id == owners.id


# --- absences ----------------------------------------------------------------------------------


async def test_an_absence_takes_its_days_out_of_the_week(firms: Firms, db: AsyncSession) -> None:
    supervisor = firms.a.supervisor
    monday = _monday()
    await hours.add_absence(
        db, supervisor, supervisor, _absence(monday + timedelta(days=1), monday + timedelta(2))
    )
    days = [monday + timedelta(days=n) for n in range(4)]
    windows = await hours.working_windows(db, [supervisor.id, firms.a.admin.id], days)
    assert [windows[supervisor.id, d] for d in days] == [
        (time(8), time(16)),
        None,
        None,
        (time(8), time(16)),
    ]
    assert all(windows[firms.a.admin.id, d] == (time(8), time(16)) for d in days)


async def test_absences_may_not_overlap_end_before_they_start_or_run_over_a_year(
    firms: Firms, db: AsyncSession
) -> None:
    supervisor = firms.a.supervisor
    monday = _monday()
    first = await hours.add_absence(
        db, supervisor, supervisor, _absence(monday, monday + timedelta(days=4), "sick_leave")
    )
    with language("en"):
        overlap = await _refused(
            db, supervisor, _absence(monday + timedelta(4), monday + timedelta(8))
        )
        assert "overlap another absence" in overlap["starts_on"]
        backwards = await _refused(db, supervisor, _absence(monday, monday - timedelta(days=1)))
        assert backwards == {"ends_on": "The last day can't be before the first."}
        too_long = await _refused(
            db, supervisor, _absence(monday + timedelta(10), monday + timedelta(10 + 366))
        )
        assert too_long["ends_on"].startswith("An absence can be at most 366 days long")
        odd = await _refused(db, supervisor, AbsenceInput("vacation", "next week", "", "x" * 301))
        assert set(odd) == {"kind", "starts_on", "ends_on", "note"}
    # The next day after it is free; another person's absence may overlap theirs.
    await hours.add_absence(
        db, supervisor, supervisor, _absence(monday + timedelta(5), monday + timedelta(5))
    )
    await hours.add_absence(db, firms.a.owner, firms.a.owner, _absence(monday, monday))
    # Changing an absence does not overlap itself.
    changed = await hours.change_absence(
        db,
        supervisor,
        supervisor,
        first.id,
        _absence(monday, monday + timedelta(days=3), "other", "Koulutus"),
    )
    assert (changed.kind, changed.ends_on, changed.note) == (
        AbsenceKind.OTHER,
        monday + timedelta(days=3),
        "Koulutus",
    )


async def _refused(db: AsyncSession, who: Any, data: AbsenceInput) -> dict[str, str]:
    with pytest.raises(Invalid) as raised:
        await hours.add_absence(db, who, who, data)
    return raised.value.errors


async def test_the_database_refuses_an_absence_that_ends_before_it_starts(
    firms: Firms, db: AsyncSession
) -> None:
    monday = _monday()
    db.add(
        Absence(
            membership_id=firms.a.supervisor.id,
            kind=AbsenceKind.HOLIDAY,
            starts_on=monday,
            ends_on=monday - timedelta(days=1),
        )
    )
    with pytest.raises(IntegrityError):
        await db.flush()


async def test_working_windows_load_in_two_statements_and_see_only_the_firms_rows(
    clean_db: Backend, firms: Firms, db: AsyncSession
) -> None:
    monday = _monday()
    # Firm B's supervisor is away all week, under the same membership id nowhere in firm A.
    await add_absence(
        clean_db.owner, firms.b.tenant, firms.b.supervisor, monday, monday + timedelta(days=6)
    )
    await add_absence(clean_db.owner, firms.a.tenant, firms.a.admin, monday, monday)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    days = [monday + timedelta(days=n) for n in range(28)]
    members = [firms.a.owner.id, firms.a.admin.id, firms.a.supervisor.id, firms.b.supervisor.id]
    await db.connection()  # the transaction (and its tenant setting) begins outside the count
    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        windows = await hours.working_windows(db, members, days)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2
    assert windows[firms.a.admin.id, monday] is None
    assert windows[firms.a.supervisor.id, monday] == (time(8), time(16))
    # Another firm's member is unknown here: the usual hours, not their absence.
    assert windows[firms.b.supervisor.id, monday] == (time(8), time(16))
    assert await hours.working_windows(db, [], days) == {}


async def test_absences_are_listed_latest_first_a_page_at_a_time(
    firms: Firms, db: AsyncSession
) -> None:
    supervisor = firms.a.supervisor
    start = _monday(2)
    for n in range(3):
        day = start + timedelta(weeks=n)
        await hours.add_absence(db, supervisor, supervisor, _absence(day, day))
    page = await hours.list_absences(db, supervisor, supervisor, 1, 2)
    assert [a.starts_on for a in page.items] == [
        start + timedelta(weeks=2),
        start + timedelta(weeks=1),
    ]
    assert page.total == 4 and page.next == 2  # with the fixture's holiday a year ago
    await hours.delete_absence(db, supervisor, supervisor, page.items[0].id)
    with pytest.raises(NotFound):
        await hours.get_absence(db, supervisor, supervisor, page.items[0].id)
    with pytest.raises(NotFound):  # someone else's absence through one's own page
        await hours.get_absence(db, firms.a.owner, firms.a.owner, firms.a.absence.id)


async def test_another_firms_absence_is_not_found(clean_db: Backend, firms: Firms) -> None:
    async with scoped(clean_db, firms.b.tenant) as db, db.begin():
        with pytest.raises(NotFound):
            await hours.get_absence(db, firms.b.owner, firms.b.supervisor, firms.a.absence.id)
