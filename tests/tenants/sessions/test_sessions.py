"""Sessions as services: series planning, statuses, billability, reschedules and reminders."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import HELSINKI, parse_date
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Membership, Role
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.clients.models import ClientOrg, PersonRole
from luotsi.tenants.sessions import calendars
from luotsi.tenants.sessions import changes as session_changes
from luotsi.tenants.sessions import planning as session_planning
from luotsi.tenants.sessions import service as session_service
from luotsi.tenants.sessions.changes import CancelInput, RescheduleInput
from luotsi.tenants.sessions.models import (
    SESSION_WHOLE,
    MeetingKind,
    SessionChange,
    SessionStatus,
    SupervisionSession,
)
from luotsi.tenants.sessions.planning import MeetingInput, SeriesInput
from luotsi.tenants.sessions.service import Mailing
from tests import clock
from tests.conftest import Backend
from tests.factories import (
    Firm,
    Firms,
    add_agreement,
    add_client_org,
    add_member,
    add_person,
    add_session,
    make_user,
)

MAILING = Mailing("https://luotsi.example", "Luotsi <no-reply@luotsi.example>")
NOW = clock.now()  # the suite's now (read as the module loads), before every planned date below
# Tests of calendar facts (Christmas, Midsummer, DST, a holiday) keep their fixed dates: they own
# all of their time, with an agreement and a supervisor of their own and this moment as now.
FIXED_NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

Opener = Callable[[Firm], AsyncSession]


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Helsinki wall-clock time as the UTC instant it is stored as."""
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


@pytest.fixture
async def open_db(clean_db: Backend) -> AsyncIterator[Opener]:
    """App sessions (the runtime role, so RLS applies on PostgreSQL) scoped to one firm."""
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)

    def open_for(firm: Firm) -> AsyncSession:
        db = maker()
        db.info[TENANT_KEY] = firm.tenant.id
        return db

    yield open_for
    await engine.dispose()


async def _calendar_of_its_own(
    backend: Backend, firm: Firm, start: date, end: date, **fields: object
) -> tuple[Agreement, Membership]:
    """An agreement with an explicit term and a supervisor with nothing else in their calendar
    (the fixture session lies relative to today), for a test on fixed dates."""
    user = await make_user(backend.owner, "kalenteri@alfa.example", "Kaisa Kalenteri")
    supervisor = await add_member(backend.owner, firm.tenant, user, Role.SUPERVISOR)
    agreement = await add_agreement(
        backend.owner,
        firm.tenant,
        firm.org,
        supervisor,
        [firm.supervisee],
        start_date=start,
        end_date=end,
        **fields,
    )
    return agreement, supervisor


def _working_day_after(day: date) -> date:
    """The first working day (Mon-Fri, not a Finnish holiday) after ``day``."""
    return clock.working_day((day - clock.today()).days + 1)


def _free_day(firm: Firm, *later: int) -> date:
    """The first working day after the firm's fixture session whose days ``later`` days on are
    working days too: nothing else of the supervisor's, no weekend and no holiday is in the way
    of what the test plans."""
    day = _working_day_after(firm.session.starts_at.astimezone(HELSINKI).date())
    while any(
        _working_day_after(day + timedelta(days=k - 1)) != day + timedelta(days=k) for k in later
    ):
        day = _working_day_after(day)
    return day


async def _member(db: AsyncSession, membership_id: uuid.UUID) -> Membership:
    member = await db.scalar(select(Membership).where(Membership.id == membership_id))
    assert member is not None
    return member


def _series(**fields: str) -> SeriesInput:
    values = {"time": "10:00", "every_weeks": "1", "minutes": "60", "address": "Kunnantie 1"}
    values.update(fields)
    return SeriesInput(**values)


async def _preview(
    open_db: Opener,
    firm: Firm,
    agreement_id: uuid.UUID,
    actor: Membership | None = None,
    now: datetime = NOW,
    **f: str,
) -> session_planning.SeriesPreview:
    async with open_db(firm) as db, db.begin():
        member = await _member(db, (actor or firm.supervisor).id)
        return await session_planning.preview_series(
            db, member, agreement_id, _series(**f), now=now
        )


async def _plan(
    open_db: Opener,
    firm: Firm,
    agreement_id: uuid.UUID,
    actor: Membership | None = None,
    now: datetime = NOW,
    **f: str,
) -> list[SupervisionSession]:
    preview = await _preview(open_db, firm, agreement_id, actor, now, **f)
    async with open_db(firm) as db, db.begin():
        member = await _member(db, (actor or firm.supervisor).id)
        return await session_planning.plan_series(
            db,
            member,
            agreement_id,
            _series(**f),
            [p.index for p in preview.proposals],
            preview.digest,
            MAILING,
            now=now,
        )


async def _call(open_db: Opener, firm: Firm, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a service as the firm's supervisor in one transaction."""
    async with open_db(firm) as db, db.begin():
        member = await _member(db, kwargs.pop("actor_id", firm.supervisor.id))
        return await fn(db, member, *args, **kwargs)


async def _outbox(backend: Backend) -> list[dict[str, Any]]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [row.payload for row in rows]


async def _load(backend: Backend, firm: Firm, session_id: uuid.UUID) -> SupervisionSession:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        row = await db.scalar(select(SupervisionSession).where(SupervisionSession.id == session_id))
        assert row is not None
        return row


# --- parsing --------------------------------------------------------------------------------


def test_dates_times_and_numbers_are_read_as_typed_or_refused() -> None:
    assert parse_date("2026-12-03") == parse_date("3.12.2026") == date(2026, 12, 3)
    for bad in ("", "31.2.2027", "0001-01-01", "1.1.10000", "3/12/2026", "٣.١٢.٢٠٢٦"):
        assert parse_date(bad) is None, bad
    assert i18n.parse_time("9.05") == i18n.parse_time("09:05")
    assert i18n.parse_time("24:00") is None and i18n.parse_time("10") is None
    assert session_service.parse_int("60", 1, 240) == 60
    for bad in ("0", "241", "²", "1e3", "-5", "9" * 20):
        assert session_service.parse_int(bad, 1, 240) is None, bad
    assert session_service.check_meeting_url("https://meet.example.fi/a?b=c") is not None
    for bad in (
        "http://meet.example.fi",
        "https://localhost/x",
        "https://u:p@x.fi",
        "https://a b.fi",
    ):
        assert session_service.check_meeting_url(bad) is None, bad


# --- planning a series ----------------------------------------------------------------------


async def test_series_across_christmas_and_new_year_moves_to_the_next_working_day(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    agreement, supervisor = await _calendar_of_its_own(
        clean_db, a, date(2026, 11, 1), date(2027, 10, 31)
    )
    preview = await _preview(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="18.12.2026", count="4"
    )
    flagged = [(p.check.holiday, p.starts_at) for p in preview.proposals]
    assert flagged == [
        ("", local(2026, 12, 18)),
        ("Joulupäivä", local(2026, 12, 28)),  # Fri 25.12 -> (Sat, Sun, 26.12) -> Mon 28.12
        ("Uudenvuodenpäivä", local(2027, 1, 4)),  # Fri 1.1 -> Mon 4.1
        ("", local(2027, 1, 8)),
    ]
    assert [p.moved for p in preview.proposals] == [False, True, True, False]

    created = await _plan(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="18.12.2026", count="4"
    )
    assert sorted(s.starts_at for s in created) == [p.starts_at for p in preview.proposals]
    stored = await _load(clean_db, a, created[1].id)
    assert stored.starts_at.astimezone(HELSINKI).strftime("%d.%m.%Y %H:%M") == "28.12.2026 10:00"
    assert stored.status == SessionStatus.PLANNED and stored.sequence == 0


async def test_midsummer_eve_moves_and_weekends_are_flagged(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    agreement, supervisor = await _calendar_of_its_own(
        clean_db, a, date(2027, 1, 1), date(2027, 12, 31)
    )
    preview = await _preview(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="18.6.2027", count="3"
    )
    midsummer = preview.proposals[1]
    assert midsummer.check.holiday == "Juhannusaatto"
    assert midsummer.starts_at == local(2027, 6, 28)  # Mon after Midsummer Day (Sat)
    sunday = await _preview(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="2027-01-10", count="1"
    )
    assert sunday.proposals[0].check.weekend
    assert sunday.proposals[0].starts_at == local(2027, 1, 11)


async def test_a_clash_with_the_supervisors_other_agreement_moves_the_date(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    org = await add_client_org(clean_db.owner, a.tenant, "Toinen Oy")
    person = await add_person(clean_db.owner, a.tenant, org, PersonRole.SUPERVISEE, "Olli Other")
    other = await add_agreement(clean_db.owner, a.tenant, org, a.supervisor, [person])
    day = _free_day(a, 7)
    await add_session(
        clean_db.owner,
        a.tenant,
        other,
        a.supervisor,
        starts_at=clock.at(day, 10, 30),
        kind=MeetingKind.REVIEW,
    )
    # A colleague's meeting at the same time is no clash for this supervisor.
    colleague = await add_member(
        clean_db.owner,
        a.tenant,
        await make_user(clean_db.owner, "k@alfa.example", "K"),
        Role.SUPERVISOR,
    )
    week_later = day + timedelta(weeks=1)
    await add_session(clean_db.owner, a.tenant, other, colleague, starts_at=clock.at(week_later))

    preview = await _preview(open_db, a, a.agreement.id, first_date=clock.fi(day), count="2")
    clash, free = preview.proposals
    assert clash.check.clash is not None and clash.check.clash.starts_at == clock.at(day, 10, 30)
    assert clash.starts_at == clock.at(_working_day_after(day))  # the next one, same time
    assert free.flagged is False and free.starts_at == clock.at(week_later)
    # Meetings that touch end to start do not clash.
    touching = await _preview(
        open_db, a, a.agreement.id, first_date=clock.fi(day), count="1", time="9:30", minutes="60"
    )
    assert touching.proposals[0].flagged is False


async def test_a_cancelled_session_does_not_block_the_time(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _free_day(a)
    await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(day),
        status=SessionStatus.CANCELLED_BY_SUPERVISOR,
    )
    preview = await _preview(open_db, a, a.agreement.id, first_date=clock.fi(day), count="1")
    assert preview.proposals[0].flagged is False


async def test_series_stops_at_the_quota_counting_used_and_planned(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    agreement = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], session_quota=5
    )
    for status, billable in (
        (SessionStatus.HELD, True),
        (SessionStatus.CANCELLED_BY_CLIENT, True),  # late: counts as used
        (SessionStatus.CANCELLED_BY_CLIENT, False),  # on time: does not count
        (SessionStatus.PLANNED, False),
    ):
        await add_session(
            clean_db.owner,
            a.tenant,
            agreement,
            a.supervisor,
            starts_at=clock.at(clock.days(-30 if status != SessionStatus.PLANNED else 60)),
            status=status,
            billable=billable,
        )
    await add_session(  # evaluation meetings are not sessions of the quota
        clean_db.owner,
        a.tenant,
        agreement,
        a.supervisor,
        starts_at=clock.at(clock.days(61)),
        kind=MeetingKind.EVALUATION,
    )
    first = clock.fi(clock.working_day(14))
    preview = await _preview(open_db, a, agreement.id, first_date=first)
    assert (preview.counts.used, preview.counts.planned, preview.counts.remaining) == (2, 1, 2)
    assert len(preview.proposals) == 2 and preview.stopped_by == "quota"
    assert not preview.over_quota

    asked = await _preview(open_db, a, agreement.id, first_date=first, count="6")
    assert len(asked.proposals) == 2 and asked.over_quota

    await _plan(open_db, a, agreement.id, first_date=first)
    with pytest.raises(Invalid) as full:
        await _preview(open_db, a, agreement.id, first_date=first)
    assert "series" in full.value.errors


async def test_series_stops_at_the_end_date_and_a_move_never_passes_it(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    agreement, supervisor = await _calendar_of_its_own(
        clean_db, a, date(2026, 11, 1), date(2026, 12, 24), session_quota=None
    )
    preview = await _preview(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="3.12.2026", count="10"
    )
    assert [p.proposed_at for p in preview.proposals] == [
        local(2026, 12, 3),
        local(2026, 12, 10),
        local(2026, 12, 17),
        local(2026, 12, 24),
    ]
    assert preview.stopped_by == "end_date" and preview.past_end
    last = preview.proposals[-1]
    assert last.check.holiday == "Jouluaatto" and last.starts_at is None  # no day left
    created = await _plan(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date="3.12.2026", count="10"
    )
    assert len(created) == 3


@pytest.mark.parametrize(
    ("first", "second", "utc_hours"),
    [
        ("25.3.2027", "1.4.2027", (8, 7)),  # summer time starts on Sunday 28.3.2027
        ("28.10.2027", "4.11.2027", (7, 8)),  # and ends on Sunday 31.10.2027
    ],
)
async def test_a_weekly_series_keeps_local_time_across_dst(
    open_db: Opener,
    firms: Firms,
    clean_db: Backend,
    first: str,
    second: str,
    utc_hours: tuple[int, int],
) -> None:
    a = firms.a
    agreement, supervisor = await _calendar_of_its_own(
        clean_db, a, date(2027, 3, 1), date(2028, 2, 28)
    )
    created = await _plan(
        open_db, a, agreement.id, supervisor, FIXED_NOW, first_date=first, count="2"
    )
    stored = [await _load(clean_db, a, s.id) for s in sorted(created, key=lambda s: s.starts_at)]
    assert tuple(s.starts_at.astimezone(UTC).hour for s in stored) == utc_hours
    assert [s.starts_at.astimezone(HELSINKI).strftime("%H:%M") for s in stored] == ["10:00"] * 2
    assert stored[1].starts_at.astimezone(HELSINKI).date() == parse_date(second)


async def test_a_stale_preview_is_not_planned(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _free_day(a, 7)
    preview = await _preview(open_db, a, a.agreement.id, first_date=clock.fi(day), count="2")
    await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(day + timedelta(weeks=1)),
    )
    with pytest.raises(session_planning.SeriesChanged) as changed:
        await _call(
            open_db,
            a,
            session_planning.plan_series,
            a.agreement.id,
            _series(first_date=clock.fi(day), count="2"),
            [0, 1],
            preview.digest,
            MAILING,
            now=NOW,
        )
    assert changed.value.preview.proposals[1].moved


AFTER_THE_AGREEMENT = "the day after the agreement ends"  # filled in by the test


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"first_date": "31.2.2027"}, "first_date"),
        ({"first_date": AFTER_THE_AGREEMENT}, "first_date"),
        ({"time": "25:00"}, "time"),
        ({"every_weeks": "0"}, "every_weeks"),
        ({"minutes": "9999"}, "minutes"),
        ({"count": "-1"}, "count"),
        (
            {"place": "remote", "meeting_url": "http://x.fi"},
            "meeting_url",
        ),
        (
            {"place": "remote", "meeting_url": "javascript:x"},
            "meeting_url",
        ),
        ({"address": "  "}, "address"),
        ({"supervisor": "not-a-uuid"}, "supervisor"),
    ],
)
async def test_bad_series_input_is_refused_by_field(
    open_db: Opener, firms: Firms, clean_db: Backend, fields: dict[str, str], bad: str
) -> None:
    # Only the field named is wrong: the first date is a working day within the agreement.
    typed = {"first_date": clock.fi(clock.working_day(14)), **fields}
    if typed["first_date"] == AFTER_THE_AGREEMENT:
        typed["first_date"] = clock.fi(firms.a.agreement.end_date + timedelta(days=1))
    with pytest.raises(Invalid) as caught:
        await _preview(open_db, firms.a, firms.a.agreement.id, **typed)
    assert bad in caught.value.errors


async def test_only_active_agreements_are_planned(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    draft = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], status=AgreementStatus.DRAFT
    )
    with pytest.raises(Invalid) as caught:
        await _preview(open_db, a, draft.id, first_date=clock.fi(clock.working_day(14)))
    assert "agreement" in caught.value.errors


async def test_a_supervisor_of_another_agreement_finds_nothing(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    user = await make_user(clean_db.owner, "toinen@alfa.example", "Toini Toinen")
    other = await add_member(clean_db.owner, a.tenant, user, Role.SUPERVISOR)
    with pytest.raises(NotFound):
        await _preview(
            open_db, a, a.agreement.id, actor=other, first_date=clock.fi(clock.working_day(14))
        )
    with pytest.raises(NotFound):
        await _call(open_db, a, session_service.get_session, a.session.id, actor_id=other.id)
    with pytest.raises(NotFound):
        await _call(open_db, a, session_changes.mark_held, a.session.id, "60", actor_id=other.id)
    # The owner works on every agreement of the firm.
    found = await _call(open_db, a, session_service.get_session, a.session.id, actor_id=a.owner.id)
    assert found.id == a.session.id


# --- one-off meetings -----------------------------------------------------------------------


async def test_a_single_meeting_on_a_holiday_needs_the_anyway_box_and_never_clashes(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    agreement, supervisor = await _calendar_of_its_own(
        clean_db, a, date(2026, 11, 1), date(2027, 10, 31)
    )
    await add_session(clean_db.owner, a.tenant, agreement, supervisor, starts_at=local(2026, 12, 3))
    own = {"actor_id": supervisor.id, "now": FIXED_NOW}
    data = MeetingInput(kind="review", date="6.12.2026", time="12:00", minutes="90", address="X 1")
    with pytest.raises(Invalid) as holiday:
        await _call(open_db, a, session_planning.plan_meeting, agreement.id, data, MAILING, **own)
    assert "Itsenäisyyspäivä" in holiday.value.errors["date"]
    data.anyway = "on"
    review = await _call(
        open_db, a, session_planning.plan_meeting, agreement.id, data, MAILING, **own
    )
    assert review.kind == MeetingKind.REVIEW and review.duration_minutes == 90

    clash = MeetingInput(kind="session", date="3.12.2026", time="10:30", minutes="60", address="Y")
    with pytest.raises(Invalid) as caught:
        await _call(open_db, a, session_planning.plan_meeting, agreement.id, clash, MAILING, **own)
    assert set(caught.value.errors) == {"time"}


# --- statuses and billability ---------------------------------------------------------------


async def _cancel(
    open_db: Opener, firm: Firm, session_id: uuid.UUID, by: str, at: datetime, now: datetime
) -> SupervisionSession:
    when = at.astimezone(HELSINKI)
    data = CancelInput(by=by, date=when.strftime("%Y-%m-%d"), time=when.strftime("%H:%M"))
    return await _call(  # type: ignore[no-any-return]
        open_db, firm, session_changes.cancel_session, session_id, data, MAILING, now=now
    )


@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        (timedelta(hours=24), False),  # exactly the agreement's 24 hours: on time
        (timedelta(hours=23, minutes=59), True),
        (timedelta(days=3), False),
        (timedelta(hours=1), True),
    ],
)
async def test_a_client_cancellation_is_billable_only_when_late(
    open_db: Opener, firms: Firms, clean_db: Backend, before_start: timedelta, late: bool
) -> None:
    a = firms.a
    start = a.session.starts_at
    cancelled = await _cancel(
        open_db, a, a.session.id, "client", start - before_start, now=start - timedelta(minutes=30)
    )
    assert cancelled.status == SessionStatus.CANCELLED_BY_CLIENT
    assert (cancelled.late_cancellation, cancelled.billable) == (late, late)
    assert cancelled.cancelled_at == start - before_start
    assert cancelled.sequence == 1


async def test_a_supervisors_cancellation_is_never_billable(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    start = a.session.starts_at
    cancelled = await _cancel(
        open_db, a, a.session.id, "supervisor", start - timedelta(hours=1), now=start
    )
    assert cancelled.status == SessionStatus.CANCELLED_BY_SUPERVISOR
    assert not cancelled.billable and not cancelled.late_cancellation


async def test_a_cancellation_from_the_future_or_by_nobody_is_refused(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    with pytest.raises(Invalid) as caught:
        await _cancel(open_db, a, a.session.id, "client", NOW + timedelta(days=1), now=NOW)
    assert "cancelled_at" in caught.value.errors
    with pytest.raises(Invalid) as nobody:
        await _cancel(open_db, a, a.session.id, "someone", NOW, now=NOW)
    assert "by" in nobody.value.errors


async def test_a_no_show_is_billable_and_only_from_its_day_on(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    with pytest.raises(Invalid):
        await _call(open_db, a, session_changes.mark_no_show, a.session.id, now=NOW)
    missed = await _call(
        open_db, a, session_changes.mark_no_show, a.session.id, now=a.session.starts_at
    )
    assert missed.status == SessionStatus.NO_SHOW and missed.billable


async def test_held_records_the_length_and_held_cannot_move_nor_cancelled_be_held(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    after = a.session.starts_at + timedelta(hours=2)
    with i18n.language("en"):
        for bad in ("0", "241", "abc", ""):
            with pytest.raises(Invalid) as caught:
                await _call(open_db, a, session_changes.mark_held, a.session.id, bad, now=after)
            assert "actual_minutes" in caught.value.errors
        held = await _call(open_db, a, session_changes.mark_held, a.session.id, "55", now=after)
        assert (held.status, held.actual_minutes, held.billable) == (SessionStatus.HELD, 55, True)
        move = RescheduleInput(
            date=clock.working_day(14).isoformat(), time="10:00", minutes="60", address="X"
        )
        with pytest.raises(Invalid) as caught:
            await _call(
                open_db,
                a,
                session_changes.reschedule_session,
                a.session.id,
                move,
                MAILING,
                now=after,
            )
        assert caught.value.errors == {"status": "A held session can't be rescheduled."}

        other_day = clock.working_day(14)
        other = await add_session(
            clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(other_day)
        )
        await _cancel(open_db, a, other.id, "supervisor", NOW, now=NOW)
        day_after = clock.at(other_day + timedelta(days=1))
        with pytest.raises(Invalid) as cancelled:
            await _call(open_db, a, session_changes.mark_held, other.id, "60", now=day_after)
        assert cancelled.value.errors == {"status": "A cancelled session can't be marked held."}


async def test_reschedule_keeps_the_history_and_raises_the_sequence(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    original = a.session.starts_at
    day = clock.working_day(14)
    moved_to = clock.at(day, 12, 15)
    first = RescheduleInput(date=day.isoformat(), time="12:15", minutes="60", address="Kunnantie 1")
    await _call(
        open_db, a, session_changes.reschedule_session, a.session.id, first, MAILING, now=NOW
    )
    second = RescheduleInput(
        date=day.isoformat(),
        time="12:15",
        minutes="45",
        place="remote",
        meeting_url="https://meet.example.fi/abc",
    )
    moved = await _call(
        open_db, a, session_changes.reschedule_session, a.session.id, second, MAILING, now=NOW
    )
    assert moved.sequence == 2 and moved.remote and moved.duration_minutes == 45
    assert moved.starts_at == moved_to
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        changes = list(
            await db.scalars(
                select(SessionChange)
                .where(SessionChange.session_id == a.session.id)
                .order_by(SessionChange.at)
            )
        )
    assert [(c.kind, c.old_starts_at, c.new_starts_at) for c in changes] == [
        ("rescheduled", original, moved_to),
        ("changed", moved_to, moved_to),
    ]
    assert all(c.actor_user_id == a.supervisor.user_id for c in changes)
    unchanged = RescheduleInput(
        date=day.isoformat(),
        time="12:15",
        minutes="45",
        place="remote",
        meeting_url="https://meet.example.fi/abc",
    )
    with pytest.raises(Invalid):
        await _call(
            open_db,
            a,
            session_changes.reschedule_session,
            a.session.id,
            unchanged,
            MAILING,
            now=NOW,
        )


async def test_a_rescheduled_session_gets_a_new_reminder(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = a.tenant.id
        row = await db.get(SupervisionSession, (a.tenant.id, a.session.id))
        assert row is not None
        row.reminder_sent_at = NOW
    move = RescheduleInput(
        date=clock.working_day(14).isoformat(), time="10:00", minutes="60", address="Kunnantie 1"
    )
    moved = await _call(
        open_db, a, session_changes.reschedule_session, a.session.id, move, MAILING, now=NOW
    )
    assert moved.reminder_sent_at is None
    # The reminder is due 48 hours before the new time, not the old one (firm B's session
    # stays at the old time).
    old_start, new_start = a.session.starts_at, moved.starts_at
    assert await _remind(clean_db, old_start - timedelta(hours=47)) == 1  # B's only
    assert await _remind(clean_db, new_start - timedelta(hours=49)) == 0
    assert await _remind(clean_db, new_start - timedelta(hours=47)) == 1
    stored = await _load(clean_db, a, a.session.id)
    assert stored.reminder_sent_at == new_start - timedelta(hours=47)


# --- evaluation meetings and the manager ----------------------------------------------------


async def test_a_staff_request_for_the_manager_invites_nobody(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    data = MeetingInput(
        kind="evaluation",
        date=clock.working_day(14).isoformat(),
        time="13:00",
        minutes="60",
        address="X",
    )
    evaluation = await _call(
        open_db, a, session_planning.plan_meeting, a.agreement.id, data, MAILING, now=NOW
    )
    sent = [p["to"] for p in await _outbox(clean_db)]
    assert sorted(sent) == ["sanna@alfa-client.example", "supervisor@alfa.example"]

    requested = await _call(open_db, a, session_changes.request_manager_invitation, evaluation.id)
    assert requested.manager_invited_by is None and requested.sequence == 0
    async with open_db(a) as db:
        row = (
            (
                await db.scalars(
                    select(SupervisionSession)
                    .where(SupervisionSession.id == evaluation.id)
                    .options(*SESSION_WHOLE)
                )
            )
            .unique()
            .one_or_none()
        )
        assert row is not None
        assert sorted(p.role for p in await session_service.participants(db, row)) == [
            "supervisee",
            "supervisor",
        ]
        assert await session_changes.pending_manager_requests(db, [evaluation.id]) == {
            evaluation.id
        }
    assert "manager@alfa-client.example" not in [p["to"] for p in await _outbox(clean_db)]
    with pytest.raises(Invalid):  # once is enough
        await _call(open_db, a, session_changes.request_manager_invitation, evaluation.id)


async def test_the_manager_can_be_requested_only_for_an_evaluation_meeting(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    with pytest.raises(Invalid) as caught:
        await _call(open_db, a, session_changes.request_manager_invitation, a.session.id)
    assert "manager" in caught.value.errors


# --- reminders ------------------------------------------------------------------------------


async def _remind(backend: Backend, now: datetime) -> int:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        return await run_job(
            make_sessionmaker(engine), backend.settings, JOBS["session_reminders"], now=now
        )
    finally:
        await engine.dispose()


async def test_reminders_go_once_48_hours_before_in_the_clients_language(
    firms: Firms, clean_db: Backend
) -> None:
    start = firms.a.session.starts_at  # both firms have a session at this time
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        org = await db.get(ClientOrg, (firms.a.tenant.id, firms.a.org.id))
        assert org is not None
        org.invoice_language = "en"
    assert await _remind(clean_db, start - timedelta(hours=49)) == 0  # too early
    assert await _remind(clean_db, start - timedelta(hours=47)) == 2
    assert await _remind(clean_db, start - timedelta(hours=46)) == 0  # once only
    mails = {p["to"]: p for p in await _outbox(clean_db)}
    assert set(mails) == {"sanna@alfa-client.example", "sanna@beeta-client.example"}
    assert mails["sanna@alfa-client.example"]["language"] == "en"
    assert mails["sanna@alfa-client.example"]["subject"].startswith("Reminder")
    assert mails["sanna@beeta-client.example"]["language"] == "fi"
    stored = await _load(clean_db, firms.a, firms.a.session.id)
    assert stored.reminder_sent_at == start - timedelta(hours=47)


async def test_no_reminders_when_switched_off_cancelled_or_already_begun(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    start = firms.a.session.starts_at
    async with make_sessionmaker(clean_db.owner)() as db, db.begin():
        db.info[TENANT_KEY] = firms.a.tenant.id
        agreement = await db.get(Agreement, (firms.a.tenant.id, firms.a.agreement.id))
        assert agreement is not None
        agreement.reminders_enabled = False
    await _cancel(open_db, firms.b, firms.b.session.id, "supervisor", NOW, now=NOW)
    assert await _remind(clean_db, start - timedelta(hours=10)) == 0
    assert await _remind(clean_db, start + timedelta(minutes=1)) == 0
    for firm in (firms.a, firms.b):
        assert (await _load(clean_db, firm, firm.session.id)).reminder_sent_at is None


async def test_a_bounded_calendar_counts_what_it_does_not_load(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    first = a.session.starts_at.astimezone(HELSINKI).date()  # the fixture's meeting, 10.00
    second = first + timedelta(days=1)
    for day, hour in ((first, 11), (first, 12), (second, 10)):
        await add_session(
            clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(day, hour)
        )
    async with open_db(a) as db:
        owner = await db.scalar(select(Membership).where(Membership.id == a.owner.id))
        assert owner is not None
        days = await calendars.calendar_days(db, owner, first, second, None, per_day=2)
        assert len(days.entries) == 3  # 12.00 on the first day is counted, not loaded
        assert [e.starts.hour for e in days.by_day[first]] == [10, 11]
        assert [e.starts.hour for e in days.by_day[second]] == [10]
        assert days.more == {first: 1}
        whole = await calendars.calendar_days(db, owner, first, second, None)
        assert len(whole.entries) == 4 and whole.more == {}
