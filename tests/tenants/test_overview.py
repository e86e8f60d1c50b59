"""The dashboards' agenda: today, the rest of the week, and sessions waiting to be marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.tenants.overview import agenda
from luotsi.tenants.sessions import SessionStatus
from tests.conftest import Backend
from tests.factories import Firms, add_session

# Thursday 3.12.2026 09:00 UTC = 11:00 in Helsinki; the fixture's session is at 10:00 local.
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


async def test_agenda_of_a_supervisor_and_of_the_office(clean_db: Backend, firms: Firms) -> None:
    a = firms.a
    later_today = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=NOW + timedelta(hours=4)
    )
    friday = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=NOW + timedelta(days=1)
    )
    next_week = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=NOW + timedelta(days=5)
    )
    await add_session(  # a colleague's session: the office sees it, the supervisor does not
        clean_db.owner, a.tenant, a.agreement, a.admin, starts_at=NOW + timedelta(hours=2)
    )
    await add_session(  # cancelled: on no list
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=NOW + timedelta(hours=3),
        status=SessionStatus.CANCELLED_BY_CLIENT,
    )
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[TENANT_KEY] = a.tenant.id
            own = await agenda(db, a.supervisor, NOW)
            office = await agenda(db, a.admin, NOW)
    finally:
        await engine.dispose()
    ids = lambda sessions: [s.id for s in sessions]  # noqa: E731
    assert ids(own.today) == [a.session.id, later_today.id]
    assert ids(own.rest_of_week) == [friday.id]
    assert next_week.id not in ids(own.today + own.rest_of_week)
    assert ids(own.awaiting_marking) == [a.session.id]  # 10.00-11.00 is over, still planned
    assert not own.whole_firm and office.whole_firm
    assert len(office.today) == 3  # the colleague's session too; firm B's never
