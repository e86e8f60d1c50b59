"""The dashboards' agenda: today, the rest of the week, and sessions waiting to be marked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from luotsi.platform.clock import HELSINKI
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.tenants.sessions import overview
from luotsi.tenants.sessions.models import SessionStatus
from luotsi.tenants.sessions.overview import agenda
from tests import clock
from tests.conftest import Backend
from tests.factories import Firms, add_session


async def test_agenda_of_a_supervisor_and_of_the_office(clean_db: Backend, firms: Firms) -> None:
    a = firms.a
    # The agenda as at 11.00 in Helsinki on the day of the fixture's session (a working day,
    # at 10.00); times below are Helsinki wall-clock times, whatever the UTC offset.
    day = a.session.starts_at.astimezone(HELSINKI).date()
    now = clock.at(day, 11)
    later_today = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=now + timedelta(hours=4)
    )
    tomorrow = await add_session(  # Tuesday to Saturday: still this week
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=now + timedelta(days=1)
    )
    next_monday = clock.at(day + timedelta(days=7 - day.weekday()), 11)
    next_week = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=next_monday
    )
    await add_session(  # a colleague's session: the office sees it, the supervisor does not
        clean_db.owner, a.tenant, a.agreement, a.admin, starts_at=now + timedelta(hours=2)
    )
    await add_session(  # cancelled: on no list
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=now + timedelta(hours=3),
        status=SessionStatus.CANCELLED_BY_CLIENT,
    )
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = a.tenant.id
            own = await agenda(db, a.supervisor, now)
            office = await agenda(db, a.admin, now)
    finally:
        await engine.dispose()
    ids = lambda sessions: [s.id for s in sessions]  # noqa: E731
    assert ids(own.today) == [a.session.id, later_today.id]
    assert ids(own.rest_of_week) == [tomorrow.id]
    assert next_week.id not in ids(own.today + own.rest_of_week)
    assert ids(own.awaiting_marking) == [a.session.id]  # 10.00-11.00 is over, still planned
    assert not own.whole_firm and office.whole_firm
    assert len(office.today) == 3  # the colleague's session too; firm B's never


async def test_each_list_of_the_week_shows_its_first_sessions_and_counts_them_all(
    clean_db: Backend, firms: Firms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole firm's week can hold thousands of sessions: each list loads its first ones
    (two here) and says how many it has; waiting to be marked is not cut by them."""
    monkeypatch.setattr(overview, "AGENDA_LIMIT", 2)
    a = firms.a
    day = a.session.starts_at.astimezone(HELSINKI).date()
    now = clock.at(day, 11)
    today = [a.session.id]
    for hours in (1, 2, 3):
        added = await add_session(
            clean_db.owner,
            a.tenant,
            a.agreement,
            a.supervisor,
            starts_at=now + timedelta(hours=hours),
        )
        today.append(added.id)
    earlier = await add_session(  # yesterday, still planned: waits to be marked
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=now - timedelta(days=1)
    )
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = a.tenant.id
            shown = await agenda(db, a.admin, now)
    finally:
        await engine.dispose()
    assert [s.id for s in shown.today] == today[:2] and shown.today_total == 4
    assert shown.rest_of_week_total == len(shown.rest_of_week)
    assert [s.id for s in shown.awaiting_marking] == [a.session.id, earlier.id]
