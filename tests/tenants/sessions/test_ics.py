"""ICS: invitations parsed back with icalendar, delivery over SMTP, and the private feed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.platform import i18n
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import NotFound
from luotsi.platform.mail import Mailer
from luotsi.platform.outbox import OutboxMessage, run_once
from luotsi.platform.tenancy import Membership, Tenant
from luotsi.tenants.portal import supervisee as supervisee_portal
from luotsi.tenants.sessions import calendars, ics
from luotsi.tenants.sessions import changes as session_changes
from luotsi.tenants.sessions import planning as session_planning
from luotsi.tenants.sessions.changes import CancelInput, RescheduleInput
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession
from luotsi.tenants.sessions.planning import MeetingInput
from luotsi.tenants.sessions.service import Mailing
from tests import clock
from tests.conftest import Backend
from tests.factories import Firm, Firms, add_session, bind_supervisee_login
from tests.platform.test_outbox import Inbox, free_port

MAILING = Mailing("https://luotsi.example", "Luotsi <no-reply@luotsi.example>")
NOW = clock.now()  # the suite's now (read as the module loads), before every meeting below
CONTENT = ("Esimerkkikunta", "Sanna Supervisee", "Matti Manager", "sanna@", "Maija")

Opener = Callable[[Firm], AsyncSession]


@pytest.fixture
async def open_db(clean_db: Backend) -> AsyncIterator[Opener]:
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)

    def open_for(firm: Firm) -> AsyncSession:
        db = maker()
        db.info[TENANT_KEY] = firm.tenant.id
        return db

    yield open_for
    await engine.dispose()


async def _call(open_db: Opener, firm: Firm, fn: Any, *args: Any, **kwargs: Any) -> Any:
    async with open_db(firm) as db, db.begin():
        actor_id = kwargs.pop("actor_id", firm.supervisor.id)
        member = await db.scalar(select(Membership).where(Membership.id == actor_id))
        return await fn(db, member, *args, **kwargs)


async def _payloads(backend: Backend, to: str) -> list[dict[str, Any]]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [r.payload for r in rows if r.payload["to"] == to]


def _event(text: str) -> tuple[Calendar, Any]:
    calendar = Calendar.from_ical(text)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def _attendees(event: Any) -> list[str]:
    found = event.get("attendee", [])
    found = found if isinstance(found, list) else [found]
    return sorted(str(a).removeprefix("mailto:") for a in found)


async def test_invitation_update_and_cancellation_parse_back(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = clock.working_day(14)
    next_day = clock.working_day((day - clock.today()).days + 1)  # the next working day
    data = MeetingInput(
        kind="session", date=day.isoformat(), time="13:00", minutes="60", address="K 1"
    )
    session = await _call(
        open_db, a, session_planning.plan_meeting, a.agreement.id, data, MAILING, now=NOW
    )
    move = RescheduleInput(date=next_day.isoformat(), time="14:30", minutes="90", address="K 1")
    await _call(open_db, a, session_changes.reschedule_session, session.id, move, MAILING, now=NOW)
    cancel = CancelInput(by="supervisor")
    await _call(open_db, a, session_changes.cancel_session, session.id, cancel, MAILING, now=NOW)

    mails = await _payloads(clean_db, "sanna@alfa-client.example")
    assert len(mails) == 3
    parsed = [_event(m["attachments"][0]["text"]) for m in mails]
    methods = [str(calendar["method"]) for calendar, _e in parsed]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert [m["attachments"][0]["params"]["method"] for m in mails] == methods
    events = [event for _c, event in parsed]
    assert {str(e["uid"]) for e in events} == {session.uid}  # one UID for life
    assert [int(e["sequence"]) for e in events] == [0, 1, 2]
    assert events[0].decoded("dtstart") == clock.at(day, 13)
    assert events[0].decoded("dtend") == clock.at(day, 14)
    assert events[1].decoded("dtstart") == clock.at(next_day, 14, 30)
    assert events[1].decoded("dtend") - events[1].decoded("dtstart") == timedelta(minutes=90)
    assert [str(e["status"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert str(events[0]["summary"]).endswith("· Alfa Työnohjaus Oy")
    assert str(events[0]["location"]) == "K 1"
    assert str(events[0]["organizer"]) == "mailto:no-reply@luotsi.example"
    assert _attendees(events[0]) == ["sanna@alfa-client.example", "supervisor@alfa.example"]
    assert "updated" not in mails[0]["subject"].lower()
    # The title and place say nothing about who or what: no organisation, no names.
    for event in events:
        for field in ("summary", "location", "description"):
            assert not any(word in str(event.get(field, "")) for word in CONTENT)
    # The supervisor gets the same invitations, with a link to the session.
    supervisor_mails = await _payloads(clean_db, "supervisor@alfa.example")
    assert len(supervisor_mails) == 3
    assert f"/t/alfa/sessions/{session.id}" in supervisor_mails[0]["text"]
    assert "/t/alfa/" not in mails[0]["text"]


async def test_a_remote_session_names_the_link_not_an_address(
    firms: Firms, clean_db: Backend
) -> None:
    session = SupervisionSession(
        uid="fixed@luotsi",
        sequence=3,
        kind=MeetingKind.SESSION,
        starts_at=clock.at(clock.working_day(14)),
        duration_minutes=45,
        remote=True,
        address="",
        meeting_url="https://meet.example.fi/room",
    )
    with i18n.language("en"):
        text = ics.invitation(
            session, "Firma Oy", ics.REQUEST, ics.Attendee("no-reply@x.fi", "Firma Oy"), []
        )
    _calendar, event = _event(text)
    assert str(event["location"]) == "Remote"
    assert str(event["url"]) == "https://meet.example.fi/room"
    assert "https://meet.example.fi/room" in str(event["description"])
    assert str(event["summary"]) == "Work supervision · Firma Oy"
    assert int(event["sequence"]) == 3
    with pytest.raises(ValueError):
        ics.invitation(session, "Firma Oy", "PUBLISH", ics.Attendee("a@b.fi", ""), [])


async def test_an_uninvited_manager_is_no_attendee_of_an_evaluation(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    data = MeetingInput(
        kind="evaluation",
        date=clock.working_day(14).isoformat(),
        time="13:00",
        minutes="60",
        address="K",
    )
    evaluation = await _call(
        open_db, a, session_planning.plan_meeting, a.agreement.id, data, MAILING, now=NOW
    )
    (first,) = await _payloads(clean_db, "sanna@alfa-client.example")
    _c, event = _event(first["attachments"][0]["text"])
    assert "manager@alfa-client.example" not in _attendees(event)
    assert await _payloads(clean_db, "manager@alfa-client.example") == []

    sanna = await bind_supervisee_login(clean_db, a, a.supervisee, "sanna@alfa-client.example")
    await _call(
        open_db,
        a,
        supervisee_portal.invite_own_manager,
        evaluation.id,
        MAILING,
        now=NOW,
        actor_id=sanna.id,
    )
    (to_manager,) = await _payloads(clean_db, "manager@alfa-client.example")
    _c, event = _event(to_manager["attachments"][0]["text"])
    assert "manager@alfa-client.example" in _attendees(event)
    assert int(event["sequence"]) == 1
    # The supervisee's calendar entry is updated with the manager among the attendees.
    _first, notice = await _payloads(clean_db, "sanna@alfa-client.example")
    _c, event = _event(notice["attachments"][0]["text"])
    assert "manager@alfa-client.example" in _attendees(event)
    assert int(event["sequence"]) == 1


async def test_invitations_travel_over_smtp_with_the_calendar_part(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = clock.working_day(14)
    data = MeetingInput(
        kind="session", date=day.isoformat(), time="13:00", minutes="60", address="K"
    )
    await _call(open_db, a, session_planning.plan_meeting, a.agreement.id, data, MAILING, now=NOW)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    engine = make_engine(clean_db.settings.runtime_database_url)
    try:
        settings = replace(clean_db.settings, smtp_host="127.0.0.1", smtp_port=port)
        assert await run_once(make_sessionmaker(engine), Mailer(settings)) == 2
    finally:
        controller.stop()
        await engine.dispose()
    message = next(m for m in inbox.messages if m["To"] == "sanna@alfa-client.example")
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "invite.ics"
    _c, event = _event(part.get_content())
    assert event.decoded("dtstart") == clock.at(day, 13)
    assert message["Content-Language"] == "fi"


async def _feed(open_db: Opener, firm: Firm, tenant: Tenant, token: str, now: datetime) -> str:
    async with open_db(firm) as db:
        return await calendars.feed_calendar(db, tenant, token, now=now)


async def test_the_feed_lists_the_supervisors_own_meetings_with_neutral_titles(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    start = a.session.starts_at
    old = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=start - timedelta(days=61)
    )
    recent = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=start - timedelta(days=59)
    )
    cancelled = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=start + timedelta(days=7),
        status=SessionStatus.CANCELLED_BY_CLIENT,
    )
    owners = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=start + timedelta(days=1)
    )
    token = await _call(open_db, a, calendars.create_feed)
    text = await _feed(open_db, a, a.tenant, token, now=start)
    calendar = Calendar.from_ical(text)
    uids = {str(e["uid"]) for e in calendar.walk("VEVENT")}
    assert uids == {a.session.uid, recent.uid, cancelled.uid}
    assert old.uid not in uids and owners.uid not in uids
    assert "Alfa Työnohjaus Oy" in str(calendar["x-wr-calname"])
    assert "ATTENDEE" not in text and "ORGANIZER" not in text
    assert not any(word in text for word in CONTENT)


async def test_the_feed_reaches_a_year_ahead_and_no_further(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    start = a.session.starts_at
    within = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=start + timedelta(days=364)
    )
    beyond = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=start + timedelta(days=366)
    )
    token = await _call(open_db, a, calendars.create_feed)
    text = await _feed(open_db, a, a.tenant, token, now=start)
    uids = {str(e["uid"]) for e in Calendar.from_ical(text).walk("VEVENT")}
    assert within.uid in uids
    assert beyond.uid not in uids


async def test_a_cancelled_meeting_stays_in_the_feed_marked_cancelled(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    now = clock.now().replace(microsecond=0)
    meeting = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=now + timedelta(days=9)
    )
    token = await _call(open_db, a, calendars.create_feed)

    def event_of(text: str) -> Any:
        return next(e for e in Calendar.from_ical(text).walk("VEVENT") if e["uid"] == meeting.uid)

    before = event_of(await _feed(open_db, a, a.tenant, token, now))
    assert str(before["status"]) == "CONFIRMED"
    await _call(
        open_db, a, session_changes.cancel_session, meeting.id, CancelInput(by="client"), MAILING
    )
    after = event_of(await _feed(open_db, a, a.tenant, token, now))
    assert str(after["status"]) == "CANCELLED"
    assert after["sequence"] > before["sequence"]
    (mailed,) = [
        p
        for p in await _payloads(clean_db, "sanna@alfa-client.example")
        if p["attachments"][0]["params"] == {"method": "CANCEL"}
    ]
    _c, cancel = _event(mailed["attachments"][0]["text"])
    assert after["sequence"] == cancel["sequence"]


def test_the_feed_asks_for_a_refresh_every_hour_as_durations() -> None:
    text = ics.feed([], "Alfa Työnohjaus Oy", "Luotsi · Alfa Työnohjaus Oy")
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "X-PUBLISHED-TTL:PT1H\r\n" in text


async def test_a_revoked_unknown_or_other_firms_token_finds_nothing(
    open_db: Opener, firms: Firms, clean_db: Backend
) -> None:
    a, b = firms.a, firms.b
    token = await _call(open_db, a, calendars.create_feed)
    assert await _feed(open_db, a, a.tenant, token, NOW)
    with pytest.raises(NotFound):
        await _feed(open_db, b, b.tenant, token, NOW)  # firm B knows no such token
    with pytest.raises(NotFound):
        await _feed(open_db, a, a.tenant, "x" * 43, NOW)
    # A new address replaces the old one.
    newer = await _call(open_db, a, calendars.create_feed)
    with pytest.raises(NotFound):
        await _feed(open_db, a, a.tenant, token, NOW)
    await _call(open_db, a, calendars.revoke_feed)
    with pytest.raises(NotFound):
        await _feed(open_db, a, a.tenant, newer, NOW)
    with pytest.raises(NotFound):
        await _call(open_db, a, calendars.revoke_feed)
    assert await _call(open_db, a, calendars.active_feed) is None
