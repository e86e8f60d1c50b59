"""Sessions through HTTP: planning, marking, the calendars and the private feed."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import holidays
import pytest
import time_machine
from babel.dates import format_date
from dateutil.relativedelta import relativedelta
from icalendar import Calendar
from litestar import Litestar
from markupsafe import escape
from sqlalchemy import func, select

from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.i18n import HELSINKI
from luotsi.platform.outbox import OutboxMessage
from luotsi.platform.tenancy import Role
from luotsi.tenants.agreements.models import AgreementStatus
from luotsi.tenants.sessions import service as session_service
from luotsi.tenants.sessions.models import MeetingKind, SessionStatus, SupervisionSession
from luotsi.tenants.sessions.service import is_working_day
from luotsi.web.sessions import sessions as sessions_web
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms, add_agreement, add_member, add_session, make_user


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    """Messages are asserted in English; the default language is Finnish."""
    client.client.cookies.set("luotsi_lang", "en")


def local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HELSINKI).astimezone(UTC)


def series_form(**fields: str) -> dict[str, str]:
    values = {
        "time": "10:00",
        "every_weeks": "1",
        "minutes": "60",
        "place": "address",
        "address": "Kunnantie 1, Hyvinkää",
        "meeting_url": "",
        "count": "",
        "supervisor": "",
    }
    values.update(fields)
    return values


def move_form(day: str, at: str) -> dict[str, str]:
    return {"date": day, "time": at, "minutes": "60", "place": "address", "address": "X"}


def digest_in(html: str) -> str:
    match = re.search(r'name="digest" value="([0-9a-f]+)"', html)
    assert match, "no preview on the page"
    return match.group(1)


async def _sessions_of(backend: Backend, firm: Firm, agreement_id: Any) -> list[SupervisionSession]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        rows = await db.scalars(
            select(SupervisionSession)
            .where(SupervisionSession.agreement_id == agreement_id)
            .order_by(SupervisionSession.starts_at)
        )
        return list(rows.unique())


async def _session(backend: Backend, firm: Firm, session_id: Any) -> SupervisionSession:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        row = await db.scalar(select(SupervisionSession).where(SupervisionSession.id == session_id))
        assert row is not None
        return row


def _next_working_day(after: date) -> date:
    day = after
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def _fixture_day(firm: Firm) -> date:
    """The Helsinki day of the firm's fixture session (a working day about a week ahead)."""
    return firm.session.starts_at.astimezone(HELSINKI).date()


def _next_holiday() -> tuple[date, str]:
    """The first Finnish public holiday after today, with its English name."""
    year = clock.today().year
    names = holidays.country_holidays("FI", years=[year, year + 1], language="en_US")
    day = min(d for d in names if d > clock.today())
    return day, names[day]


# --- planning -------------------------------------------------------------------------------


@time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False)
async def test_a_supervisor_previews_and_plans_a_series_over_midsummer(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    # Midsummer 2027 on fixed dates: the test owns its time (the clock, an agreement with its
    # term and a supervisor whose calendar holds only this agreement's planned session).
    a = firms.a
    user = await make_user(clean_db.owner, "kalenteri@alfa.example", "Kaisa Kalenteri")
    supervisor = await add_member(clean_db.owner, a.tenant, user, Role.SUPERVISOR)
    agreement = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        supervisor,
        [a.supervisee],
        start_date=date(2026, 11, 1),
        end_date=date(2027, 10, 31),
    )
    await add_session(clean_db.owner, a.tenant, agreement, supervisor, starts_at=local(2026, 12, 3))
    await client.login(user.email)
    url = f"/t/alfa/sessions/plan/{agreement.id}"
    page = await client.get(url)
    assert page.status_code == 200
    assert "15 sessions: 0 used, 1 planned, 14 left" in page.text
    assert 'value="3"' in page.text  # the agreement's cadence is suggested

    form = series_form(first_date="2027-06-18", count="3")
    preview = await client.post(url, form)
    assert preview.status_code == 200
    assert "Public holiday: Midsummer Eve" in preview.text
    assert "Moved to Monday 28 Jun 2027" in preview.text
    assert preview.text.count('name="include"') == 3
    assert len(await _sessions_of(clean_db, a, agreement.id)) == 1  # nothing saved yet

    # The user leaves the last date out.
    confirm = await client.post(
        url + "/confirm", {**form, "digest": digest_in(preview.text), "include": ["0", "1"]}
    )
    assert confirm.status_code == 303
    planned = await _sessions_of(clean_db, a, agreement.id)
    assert [s.starts_at for s in planned] == [
        local(2026, 12, 3),
        local(2027, 6, 18),
        local(2027, 6, 28),
    ]
    assert all(s.supervisor_id == supervisor.id for s in planned)
    after = await client.get(confirm.headers["location"])
    assert "The sessions have been planned" in after.text
    assert "15 sessions: 0 used, 3 planned, 12 left" in after.text


async def test_confirming_sends_invitations_with_calendar_files(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    today = clock.now().astimezone(HELSINKI).date()
    agreement = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee],
        start_date=today,
        end_date=today + timedelta(days=365),
    )
    first = _next_working_day(today + timedelta(days=14))
    await client.login(a.supervisor.user.email)
    url = f"/t/alfa/sessions/plan/{agreement.id}"
    form = series_form(
        first_date=first.isoformat(),
        count="1",
        place="remote",
        meeting_url="https://meet.example.fi/abc",
    )
    preview = await client.post(url, form)
    confirm = await client.post(
        url + "/confirm", {**form, "digest": digest_in(preview.text), "include": "0"}
    )
    assert confirm.status_code == 303
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        payloads = [r.payload for r in await db.scalars(select(OutboxMessage))]
    assert sorted(p["to"] for p in payloads) == [
        "sanna@alfa-client.example",
        "supervisor@alfa.example",
    ]
    calendar = Calendar.from_ical(payloads[0]["attachments"][0]["text"])
    assert str(calendar["method"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["url"]) == "https://meet.example.fi/abc"


async def test_bad_series_input_is_shown_with_the_values_kept(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    url = f"/t/alfa/sessions/plan/{firms.a.agreement.id}"
    response = await client.post(
        url,
        series_form(
            first_date="31.2.2027",
            time="25:61",
            every_weeks="x",
            place="remote",
            meeting_url="http://meet.example.fi/abc",
        ),
    )
    assert response.status_code == 422
    assert "Enter the date of the first session" in response.text
    assert "Enter the time as hours and minutes" in response.text
    assert "Enter a whole number of weeks" in response.text
    assert "full https address" in response.text
    assert 'value="http://meet.example.fi/abc"' in response.text
    # A tampered confirmation is refused too, not a server error.
    bad = await client.post(url + "/confirm", {**series_form(first_date="x"), "include": "zz"})
    assert bad.status_code == 422


async def test_confirming_with_every_date_unticked_asks_to_tick_one(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    today = clock.now().astimezone(HELSINKI).date()
    agreement = await add_agreement(
        clean_db.owner,
        a.tenant,
        a.org,
        a.supervisor,
        [a.supervisee],
        start_date=today,
        end_date=today + timedelta(days=365),
    )
    await client.login(a.supervisor.user.email)
    url = f"/t/alfa/sessions/plan/{agreement.id}"
    form = series_form(first_date=(today + timedelta(days=14)).isoformat(), count="2")
    preview = await client.post(url, form)
    # Every box unticked: the browser sends no "include" at all.
    confirm = await client.post(url + "/confirm", {**form, "digest": digest_in(preview.text)})
    assert confirm.status_code == 422
    assert "Tick at least one session to plan" in confirm.text
    assert await _sessions_of(clean_db, a, agreement.id) == []


async def test_the_preview_is_an_htmx_fragment(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    response = await client.post(
        f"/t/alfa/sessions/plan/{firms.a.agreement.id}",
        series_form(first_date=clock.working_day(14).isoformat(), count="2"),
        htmx=True,
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="planner"' in response.text


async def test_an_agreement_that_is_not_active_cannot_be_planned(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    draft = await add_agreement(
        clean_db.owner, a.tenant, a.org, a.supervisor, [a.supervisee], status=AgreementStatus.DRAFT
    )
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/sessions/plan/{draft.id}")
    assert page.status_code == 200
    assert "only for an active agreement" in page.text and 'id="series-form"' not in page.text
    refused = await client.post(
        f"/t/alfa/sessions/plan/{draft.id}",
        series_form(first_date=clock.working_day(14).isoformat()),
    )
    assert refused.status_code == 422
    assert (await client.get(f"/t/alfa/sessions/new/{draft.id}")).status_code == 200


async def test_a_supervisor_of_another_agreement_gets_404(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    user = await make_user(clean_db.owner, "toinen@alfa.example", "Toini Toinen")
    await add_member(clean_db.owner, a.tenant, user, Role.SUPERVISOR)
    await client.login("toinen@alfa.example")
    for path in (
        f"/t/alfa/sessions/plan/{a.agreement.id}",
        f"/t/alfa/sessions/new/{a.agreement.id}",
        f"/t/alfa/sessions/{a.session.id}",
        f"/t/alfa/sessions/{a.session.id}/cancel",
        f"/t/alfa/sessions/{a.session.id}/reschedule",
    ):
        assert (await client.get(path)).status_code == 404, path
    held = await client.post(f"/t/alfa/sessions/{a.session.id}/held", {"actual_minutes": "60"})
    assert held.status_code == 404
    assert (await _session(clean_db, a, a.session.id)).status == SessionStatus.PLANNED
    calendar = await client.get(f"/t/alfa/calendar/?week={_fixture_day(a):%G-W%V}")
    assert "Sanna Supervisee" not in calendar.text
    listing = await client.get("/t/alfa/sessions/?when=all")
    assert "No meetings match" in listing.text


# --- one session ----------------------------------------------------------------------------


async def _yesterdays_session(backend: Backend, firm: Firm) -> SupervisionSession:
    start = (clock.now() - timedelta(days=1)).replace(second=0, microsecond=0)
    return await add_session(
        backend.owner, firm.tenant, firm.agreement, firm.supervisor, starts_at=start
    )


async def test_marking_held_records_the_length_and_shows_on_the_calendar(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    session = await _yesterdays_session(clean_db, a)
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/sessions/{session.id}")
    assert page.status_code == 200 and "Mark held" in page.text
    bad = await client.post(f"/t/alfa/sessions/{session.id}/held", {"actual_minutes": "500"})
    assert bad.status_code == 422 and "from 1 to 240" in bad.text
    done = await client.post(f"/t/alfa/sessions/{session.id}/held", {"actual_minutes": "50"})
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert "The session is marked held." in shown.text and "50 min" in shown.text
    again = await client.post(f"/t/alfa/sessions/{session.id}/held", {"actual_minutes": "50"})
    assert again.status_code == 422 and "already marked held" in again.text
    moved = await client.post(
        f"/t/alfa/sessions/{session.id}/reschedule",
        {
            "date": clock.working_day(14).isoformat(),
            "time": "10:00",
            "minutes": "60",
            "place": "address",
            "address": "X",
        },
    )
    assert moved.status_code == 422 and "A held session can&#39;t be rescheduled." in moved.text
    week = session.starts_at.astimezone(HELSINKI).strftime("%G-W%V")
    calendar = await client.get(f"/t/alfa/calendar/?week={week}")
    assert "status-held" in calendar.text


async def test_a_late_client_cancellation_is_billable_and_cannot_be_held(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    session = await _yesterdays_session(clean_db, a)
    await client.login(a.supervisor.user.email)
    confirm = await client.get(f"/t/alfa/sessions/{session.id}/cancel")
    assert confirm.status_code == 200 and "late and billable" in confirm.text
    when = (session.starts_at - timedelta(hours=2)).astimezone(HELSINKI)
    response = await client.post(
        f"/t/alfa/sessions/{session.id}/cancel",
        {"by": "client", "date": when.strftime("%Y-%m-%d"), "time": when.strftime("%H:%M")},
    )
    assert response.status_code == 303
    stored = await _session(clean_db, a, session.id)
    assert stored.status == SessionStatus.CANCELLED_BY_CLIENT
    assert stored.late_cancellation and stored.billable
    page = await client.get(f"/t/alfa/sessions/{session.id}")
    assert "late" in page.text and 'id="billable">Yes' in page.text
    held = await client.post(f"/t/alfa/sessions/{session.id}/held", {"actual_minutes": "60"})
    assert held.status_code == 422
    assert "A cancelled session can&#39;t be marked held." in held.text


async def test_cancel_form_errors_keep_the_page(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    response = await client.post(
        f"/t/alfa/sessions/{firms.a.session.id}/cancel",
        {"by": "", "date": "nonsense", "time": "10:00"},
    )
    assert response.status_code == 422
    assert (
        "Choose who cancelled." in response.text and "Enter when the cancellation" in response.text
    )


async def test_a_no_show_is_confirmed_then_billable(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    session = await _yesterdays_session(clean_db, a)
    await client.login(a.supervisor.user.email)
    assert (await client.get(f"/t/alfa/sessions/{session.id}/no-show")).status_code == 200
    assert (await client.post(f"/t/alfa/sessions/{session.id}/no-show")).status_code == 303
    stored = await _session(clean_db, a, session.id)
    assert stored.status == SessionStatus.NO_SHOW and stored.billable
    future = await client.post(f"/t/alfa/sessions/{a.session.id}/no-show")  # a week ahead
    assert future.status_code == 422 and "on its day or later" in future.text


async def test_rescheduling_keeps_the_history(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    form = await client.get(f"/t/alfa/sessions/{a.session.id}/reschedule")
    assert (
        form.status_code == 200
        and f'value="{_fixture_day(a).isoformat()}"' in form.text
        and 'value="10:00"' in form.text
    )
    bad = await client.post(
        f"/t/alfa/sessions/{a.session.id}/reschedule",
        {
            "date": "2027-13-01",
            "time": "10:00",
            "minutes": "60",
            "place": "address",
            "address": "X",
        },
    )
    assert bad.status_code == 422 and "Enter the date" in bad.text
    holiday_day, holiday_name = _next_holiday()
    holiday = await client.post(
        f"/t/alfa/sessions/{a.session.id}/reschedule",
        {
            "date": holiday_day.isoformat(),
            "time": "10:00",
            "minutes": "60",
            "place": "address",
            "address": "X",
        },
    )
    assert holiday.status_code == 422 and escape(holiday_name) in holiday.text
    day = clock.working_day(14)
    done = await client.post(
        f"/t/alfa/sessions/{a.session.id}/reschedule",
        {
            "date": day.isoformat(),
            "time": "12:00",
            "minutes": "60",
            "place": "address",
            "address": "X",
        },
    )
    assert done.status_code == 303
    page = await client.get(f"/t/alfa/sessions/{a.session.id}")
    assert "Moved from" in page.text and "Maija Supervisor" in page.text
    stored = await _session(clean_db, a, a.session.id)
    assert stored.sequence == 1 and stored.starts_at == clock.at(day, 12)


async def test_staff_record_only_a_request_for_the_manager_at_an_evaluation_meeting(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    await client.login(a.supervisor.user.email)
    form = await client.get(f"/t/alfa/sessions/new/{a.agreement.id}?kind=evaluation")
    assert form.status_code == 200 and 'value="evaluation" selected' in form.text
    created = await client.post(
        f"/t/alfa/sessions/new/{a.agreement.id}",
        {
            "kind": "evaluation",
            "date": clock.working_day(14).isoformat(),
            "time": "13:00",
            "minutes": "60",
            "place": "address",
            "address": "Kunnantie 1",
        },
    )
    assert created.status_code == 303
    url = created.headers["location"]
    page = await client.get(url)
    assert "Evaluation meeting" in page.text and "Matti Manager" not in page.text
    assert "invited their manager" not in page.text  # no button to speak for the supervisee
    # The old "on behalf of the supervisee" invitation is gone.
    assert (
        await client.post(url + "/manager", {"supervisee": str(a.supervisee.id)})
    ).status_code in (404, 405)
    requested = await client.post(url + "/manager-request")
    assert requested.status_code == 303
    page = await client.get(url)
    assert "waits for the supervisee" in page.text
    participants = page.text.split('id="participants"')[1].split("</ul>")[0]
    assert "Matti Manager" not in participants
    history = html.unescape(page.text.split('id="session-history"')[1])
    assert "Recorded the supervisee's request to invite the manager" in history
    assert "Maija Supervisor" in history
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        sent = [r.payload["to"] for r in await db.scalars(select(OutboxMessage))]
    assert "manager@alfa-client.example" not in sent
    # Not for an ordinary session.
    refused = await client.post(f"/t/alfa/sessions/{a.session.id}/manager-request")
    assert refused.status_code == 422


async def test_the_owner_cannot_invite_the_manager_either(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    evaluation = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.now().replace(microsecond=0) + timedelta(days=10),
        kind=MeetingKind.EVALUATION,
    )
    await client.login(a.owner.user.email)
    page = await client.get(f"/t/alfa/sessions/{evaluation.id}")
    assert page.status_code == 200
    assert "Record the supervisee's request" in html.unescape(page.text)
    assert "invited their manager" not in page.text
    assert (await _session(clean_db, a, evaluation.id)).manager_invited_by is None


async def test_a_single_meeting_form_shows_errors(client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    response = await client.post(
        f"/t/alfa/sessions/new/{firms.a.agreement.id}",
        {"kind": "party", "date": "", "time": "x", "minutes": "5", "place": "moon"},
    )
    assert response.status_code == 422
    for message in ("Choose what kind of meeting", "Enter the date", "Enter the length"):
        assert message in response.text


# --- lists and calendars --------------------------------------------------------------------


async def test_the_session_list_filters_and_pages(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.admin.user.email)
    page = await client.get("/t/alfa/sessions/?when=all")
    assert page.status_code == 200 and "Esimerkkikunta" in page.text
    fragment = await client.get(
        "/t/alfa/sessions/?when=all&q=nobody", headers={"HX-Request": "true"}
    )
    assert "<html" not in fragment.text and "No meetings match" in fragment.text
    by_name = await client.get("/t/alfa/sessions/?when=all&q=sanna")
    assert "Esimerkkikunta" in by_name.text
    odd = await client.get("/t/alfa/sessions/?when=x&status=y&supervisor=z&page=-1")
    assert odd.status_code == 200


async def test_a_long_session_list_counts_some_pages_ahead_and_then_says_more(
    client: Client, firms: Firms, clean_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firm plans hundreds of thousands of meetings: the list counts a few pages past the
    one shown (here two pages of two) instead of all of them, and says "more than"."""
    monkeypatch.setattr(sessions_web, "PER_PAGE", 2)
    monkeypatch.setattr(session_service, "SESSION_PAGES_COUNTED", 2)
    a = firms.a
    for days in range(6):  # seven with the fixture's
        starts = clock.at(clock.working_day(20 + days), 9)
        await add_session(clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=starts)
    await client.login(a.admin.user.email)

    first = await client.get("/t/alfa/sessions/?when=all")
    assert "More than 4 meetings" in first.text and "Page 1 of more than 2" in first.text
    assert 'rel="next" href="?when=all&amp;page=2"' in first.text
    third = await client.get("/t/alfa/sessions/?when=all&page=3")
    assert "7 meetings" in third.text and "Page 3 of 4" in third.text
    past_the_end = await client.get("/t/alfa/sessions/?when=all&page=9")
    assert "Page 4 of 4" in past_the_end.text and 'rel="next"' not in past_the_end.text
    assert len(re.findall(r'<td><a href="/t/alfa/sessions/[0-9a-f-]{36}">', past_the_end.text)) == 1


async def test_a_supervisor_sees_their_own_week_and_an_admin_everyones(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _fixture_day(a)  # the supervisor's session at 10.00, the owner's at 14.15
    week = f"{day:%G-W%V}"
    await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=clock.at(day, 14, 15)
    )
    await client.login(a.supervisor.user.email)
    own = await client.get(f"/t/alfa/calendar/?week={week}")
    assert own.status_code == 200
    assert f"Week {day.isocalendar().week} ·" in own.text
    assert "10.00–11.00" in own.text and "14.15" not in own.text
    assert "Esimerkkikunta" in own.text and "Sanna Supervisee" in own.text
    assert 'id="supervisor-picker"' not in own.text
    sneaky = await client.get(f"/t/alfa/calendar/?week={week}&supervisor={a.owner.id}")
    assert "14.15" not in sneaky.text

    admin = Client(client.app)
    admin.client.cookies.set("luotsi_lang", "en")
    await admin.login(a.admin.user.email)
    everyone = await admin.get(f"/t/alfa/calendar/?week={week}")
    assert "10.00–11.00" in everyone.text and "14.15–15.15" in everyone.text
    one = await admin.get(f"/t/alfa/calendar/?week={week}&supervisor={a.supervisor.id}")
    assert "10.00–11.00" in one.text and "14.15" not in one.text
    previous, following = day - timedelta(weeks=1), day + timedelta(weeks=1)
    assert f"week={previous:%G-W%V}" in one.text and f"week={following:%G-W%V}" in one.text


async def test_the_month_view_and_the_empty_state(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    day = _fixture_day(firms.a)
    previous, following = day - relativedelta(months=1), day + relativedelta(months=1)
    await client.login(firms.a.supervisor.user.email)
    month = await client.get(f"/t/alfa/calendar/?view=month&month={day:%Y-%m}")
    assert month.status_code == 200
    assert format_date(day, "LLLL yyyy", locale="en") in month.text  # December 2026
    assert '<span class="cal-time">10.00</span> Esimerkkikunta' in month.text  # one line
    assert f"month={previous:%Y-%m}" in month.text and f"month={following:%Y-%m}" in month.text
    # ISO week numbers link to the week view
    assert f">{day.isocalendar().week}</a>" in month.text
    empty = await client.get(f"/t/alfa/calendar/?week={day + timedelta(weeks=3):%G-W%V}")
    assert "No meetings this week." in empty.text
    for odd in ("?view=month&month=2026-13", "?week=banana", "?view=month&month=99999-01"):
        assert (await client.get("/t/alfa/calendar/" + odd)).status_code == 200


async def test_a_busy_day_in_the_month_view_shows_four_meetings_and_links_to_the_rest(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _fixture_day(a)
    for hour in range(11, 17):  # six more on the fixture session's day: seven in all
        await add_session(
            clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(day, hour)
        )
    await client.login(a.supervisor.user.email)
    month = await client.get(f"/t/alfa/calendar/?view=month&month={day:%Y-%m}")
    assert month.status_code == 200
    assert month.text.count('class="cal-line') == 4
    assert ">10.00</span>" in month.text and ">13.00</span>" in month.text
    assert ">14.00</span>" not in month.text
    more = month.text.split('class="cal-more"')[1].split("</a>")[0]
    assert "+3 more" in more and f"view=day&amp;day={day.isoformat()}" in more
    week = await client.get(f"/t/alfa/calendar/?week={day:%G-W%V}")
    assert week.text.count('class="cal-entry r') == 7  # the week's grid shows them all
    one_day = await client.get(f"/t/alfa/calendar/?view=day&day={day.isoformat()}")
    assert one_day.text.count('class="cal-entry r') == 7


async def test_the_week_calendar_heads_each_day_with_its_stand_alone_name(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    year, week, _day = clock.now().astimezone(HELSINKI).isocalendar()
    expected = {
        "fi": [
            "Maanantai",
            "Tiistai",
            "Keskiviikko",
            "Torstai",
            "Perjantai",
            "Lauantai",
            "Sunnuntai",
        ],
        "sv": ["Måndag", "Tisdag", "Onsdag", "Torsdag", "Fredag", "Lördag", "Söndag"],
        "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    }
    for language, names in expected.items():
        client.client.cookies.set("luotsi_lang", language)
        page = await client.get(f"/t/alfa/calendar/?week={year}-W{week:02d}")
        headings = re.findall(
            r"class=\"cal-col-head\">\s*<a [^>]*>(\w+) <span class=\"cal-date\">", page.text
        )
        assert headings == names, language


async def test_a_meetings_weekday_is_its_stand_alone_name_in_finnish(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    today = clock.now().astimezone(HELSINKI).date()
    monday = today + timedelta(days=7 - today.weekday())
    meeting = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=datetime.combine(monday, datetime.min.time().replace(hour=10), HELSINKI),
    )
    await client.login(a.supervisor.user.email)
    client.client.cookies.set("luotsi_lang", "fi")
    page = await client.get(f"/t/alfa/sessions/{meeting.id}")
    assert f"maanantai {monday.day}.{monday.month}.{monday.year}" in page.text
    assert "maanantaina" not in page.text


async def test_the_private_feed_is_created_shown_once_and_revoked(
    app: Litestar, client: Client, firms: Firms, clean_db: Backend
) -> None:
    await client.login(firms.a.supervisor.user.email)
    created = await client.post("/t/alfa/calendar/feed")
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    match = re.search(r'value="https://testserver\.local(/ical/alfa/[^"]+\.ics)"', created.text)
    assert match, created.text
    feed_path = match.group(1)

    anonymous = Client(app)
    feed = await anonymous.get(feed_path)
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "set-cookie" not in feed.headers
    calendar = Calendar.from_ical(feed.text)
    assert [str(e["uid"]) for e in calendar.walk("VEVENT")] == [firms.a.session.uid]
    assert "Sanna" not in feed.text and "Esimerkkikunta" not in feed.text

    page = await client.get("/t/alfa/calendar/")
    assert "Your calendar address is on since" in page.text and feed_path not in page.text
    assert (await anonymous.get(feed_path.replace("/alfa/", "/beeta/"))).status_code == 404
    assert (await anonymous.get("/ical/alfa/" + "x" * 43 + ".ics")).status_code == 404
    assert (await anonymous.get(feed_path.removesuffix(".ics"))).status_code == 404

    confirm = await client.get("/t/alfa/calendar/feed/revoke")
    assert confirm.status_code == 200 and "Switch it off" in confirm.text
    revoked = await client.post("/t/alfa/calendar/feed/revoke")
    assert revoked.status_code == 303
    assert (await anonymous.get(feed_path)).status_code == 404
    assert "Create my calendar address" in (await client.get("/t/alfa/calendar/")).text


async def test_the_feed_names_its_charset_once(app: Litestar, client: Client, firms: Firms) -> None:
    await client.login(firms.a.supervisor.user.email)
    created = await client.post("/t/alfa/calendar/feed")
    match = re.search(r'value="https://testserver\.local(/ical/alfa/[^"]+\.ics)"', created.text)
    assert match, created.text
    feed = await Client(app).get(match.group(1))
    assert feed.headers["content-type"].replace(" ", "").lower() == "text/calendar;charset=utf-8"


async def test_owner_sees_every_page_of_the_fixture_session(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    for path in (
        "/t/alfa/sessions/",
        f"/t/alfa/sessions/plan/{firms.a.agreement.id}",
        f"/t/alfa/sessions/new/{firms.a.agreement.id}",
        f"/t/alfa/sessions/{firms.a.session.id}",
        f"/t/alfa/sessions/{firms.a.session.id}/cancel",
        f"/t/alfa/sessions/{firms.a.session.id}/no-show",
        f"/t/alfa/sessions/{firms.a.session.id}/reschedule",
        "/t/alfa/calendar/",
        "/t/alfa/calendar/?view=month",
        "/t/alfa/calendar/feed/revoke",
    ):
        assert (await client.get(path)).status_code == 200, path


async def test_counts_on_the_plan_page_follow_statuses(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    for status, billable in ((SessionStatus.HELD, True), (SessionStatus.NO_SHOW, True)):
        await add_session(
            clean_db.owner,
            a.tenant,
            a.agreement,
            a.supervisor,
            starts_at=clock.at(clock.days(-30)),
            status=status,
            billable=billable,
        )
    await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(clock.days(-23)),
        kind=MeetingKind.REVIEW,
    )
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/sessions/plan/{a.agreement.id}")
    assert "15 sessions: 2 used, 1 planned, 12 left" in page.text
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        total = await db.scalar(select(func.count()).select_from(SupervisionSession))
    assert total == 4


async def test_a_supervisor_marks_several_past_sessions_held_at_once(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    today = clock.today()
    past = [
        await add_session(
            clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(day, 9)
        )
        for day in (today - timedelta(days=3), today - timedelta(days=2), today - timedelta(days=1))
    ]
    tomorrow = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(today + timedelta(days=1), 9),
    )
    # An agreement of the admin's: its sessions are not the supervisor's to mark.
    others = await add_agreement(clean_db.owner, a.tenant, a.org, a.admin, [a.supervisee])
    not_mine = await add_session(
        clean_db.owner, a.tenant, others, a.admin, starts_at=clock.at(today - timedelta(days=1), 9)
    )
    await client.login(a.supervisor.user.email)

    listed = await client.get("/t/alfa/sessions/?when=past&status=planned")
    boxes = set(re.findall(r'name="session" value="([0-9a-f-]{36})"', listed.text))
    assert boxes == {str(s.id) for s in past}

    chosen = [*past, tomorrow, not_mine]
    query = "&".join(f"session={s.id}" for s in chosen) + "&session=not-an-id"
    confirm = await client.get(f"/t/alfa/sessions/held?{query}")
    assert confirm.status_code == 200
    assert "These 3 sessions are marked held" in confirm.text
    assert "The other chosen sessions are left as they are" in confirm.text
    assert set(re.findall(r'name="session" value="([0-9a-f-]{36})"', confirm.text)) == boxes

    done = await client.post("/t/alfa/sessions/held", {"session": [str(s.id) for s in chosen]})
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert "The chosen sessions are marked held" in shown.text
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        rows = {
            s.id: (s.status, s.actual_minutes, s.billable)
            for s in await db.scalars(select(SupervisionSession))
        }
    for session in past:
        assert rows[session.id] == (SessionStatus.HELD, session.duration_minutes, True)
    assert rows[tomorrow.id][0] == rows[not_mine.id][0] == SessionStatus.PLANNED

    again = await client.post("/t/alfa/sessions/held", {"session": [str(s.id) for s in past]})
    assert (
        "None of the chosen sessions could be marked held"
        in (await client.get(again.headers["location"])).text
    )


async def test_marking_several_held_is_for_the_firm_only(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    session = await _yesterdays_session(clean_db, a)
    await client.login(firms.b.owner.user.email)
    assert (await client.get(f"/t/alfa/sessions/held?session={session.id}")).status_code == 404
    # Their own workspace knows nothing of it: nothing is marked.
    theirs = await client.post("/t/beeta/sessions/held", {"session": [str(session.id)]})
    assert theirs.status_code == 303
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        status = await db.scalar(
            select(SupervisionSession.status).where(SupervisionSession.id == session.id)
        )
    assert status == SessionStatus.PLANNED


async def test_reminders_of_chosen_sessions_go_out_now_and_only_once(
    client: Client, firms: Firms, clean_db: Backend, outbox: Any
) -> None:
    a = firms.a
    soon = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(clock.today() + timedelta(days=4), 9),
    )
    over = await _yesterdays_session(clean_db, a)
    await client.login(a.supervisor.user.email)
    listed = await client.get("/t/alfa/sessions/?when=all")
    assert f'name="session" value="{soon.id}"' in listed.text
    assert "Send a reminder now" in listed.text

    confirm = await client.get(f"/t/alfa/sessions/remind?session={soon.id}&session={over.id}")
    assert "The supervisees of this session get a reminder by e-mail now" in confirm.text
    assert "The other chosen sessions get no reminder" in confirm.text
    sent = await client.post("/t/alfa/sessions/remind", {"session": [str(soon.id), str(over.id)]})
    assert sent.status_code == 303
    assert "The reminders are on their way" in (await client.get(sent.headers["location"])).text
    mail = await outbox.last_to(a.supervisee.email)
    assert a.tenant.name in mail.text
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = a.tenant.id
        reminded = await db.scalar(
            select(SupervisionSession.reminder_sent_at).where(SupervisionSession.id == soon.id)
        )
    assert reminded is not None  # the automatic reminder will not come again
