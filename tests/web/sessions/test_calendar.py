"""The calendar's time grid through HTTP: where meetings sit, columns per supervisor, today's
line, empty times that plan a meeting and moved meetings that open the reschedule form."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import parse_qs

import pytest
import time_machine

from luotsi.platform.i18n import HELSINKI
from luotsi.platform.tenancy import Role
from luotsi.tenants.sessions.models import SessionStatus
from luotsi.web.sessions import calendar as calendar_web
from tests import clock
from tests.conftest import Backend, Client
from tests.factories import (
    Firm,
    Firms,
    add_absence,
    add_member,
    add_session,
    bind_supervisee_login,
    make_user,
)


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


def _day(firm: Firm) -> date:
    """The fixture session's Helsinki day: a working day about a week ahead, at 10.00-11.00."""
    return firm.session.starts_at.astimezone(HELSINKI).date()


def _entry(page: str, session_id: object) -> str:
    """The grid entry (its opening tag) of one session."""
    match = re.search(rf'<a class="cal-entry [^>]*href="[^"]*/sessions/{session_id}"[^>]*>', page)
    assert match, session_id
    return match.group(0)


def _column(page: str, day: date, who: object = "") -> str:
    """The slots of one column of the grid (up to the next column)."""
    start = page.rindex(
        '<div class="cal-slots', 0, page.index(f'data-day="{day.isoformat()}" data-who="{who}"')
    )
    end = page.find('<div class="cal-column', start)
    return page[start : end if end > 0 else page.index('id="cal-move-status"')]


def _new_meeting(page: str, day: date, who: object = "") -> str:
    """A column's address for a new meeting (data-new), to which luotsi.js adds the time of the
    empty row clicked."""
    match = re.search(r'<div class="cal-slots [^>]*data-new="([^"]*)"', _column(page, day, who))
    assert match, (day, who)
    return html.unescape(match.group(1))


async def test_the_week_grid_places_a_meeting_on_its_day_and_rows(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    day = _day(a)
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/calendar/?week={day:%G-W%V}")
    assert page.status_code == 200
    entry = _entry(page.text, a.session.id)
    # 8.00 is row 1; 10.00-11.00 starts on row 9 and spans four quarter hours.
    assert "cal-entry r9 h4 l0 w1 kind-session status-planned" in entry
    assert f'data-move="/t/alfa/sessions/{a.session.id}/reschedule"' in entry
    assert f'data-date="{day.isoformat()}" data-minute="600"' in entry
    assert str(a.session.id) in _column(page.text, day, a.supervisor.id)
    # The supervisor keeps the firm's usual hours, 8.00-16.00: the grid spans them.
    assert '<span class="cal-hour r1 h4">8.00</span>' in page.text
    assert '<span class="cal-hour r29 h4">15.00</span>' in page.text
    assert ">16.00</span>" not in page.text and ">7.00</span>" not in page.text
    # Narrow screens get the week as a list of days instead (CSS picks one).
    assert '<ol class="cal-week cal-narrow-only">' in page.text
    monday = day - timedelta(days=day.weekday())  # the fixture's week is not this one
    assert f'href="?view=day&amp;day={monday.isoformat()}"' in page.text  # "Day"


async def test_the_grid_spans_the_supervisors_own_hours_and_marks_days_away(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    monday = day - timedelta(days=day.weekday())
    away = monday if day != monday else monday + timedelta(days=1)
    await add_absence(clean_db.owner, a.tenant, a.supervisor, away, away)
    await client.login(a.supervisor.user.email)
    week = {"week": "own"} | {
        field: value
        for weekday in range(5)
        for field, value in (
            (f"works_{weekday}", "on"),
            (f"start_{weekday}", "07:00"),
            (f"end_{weekday}", "18:00"),
        )
    }
    saved = await client.post(f"/t/alfa/staff/{a.profile.id}/hours/", data=week)
    assert saved.status_code == 303
    page = await client.get(f"/t/alfa/calendar/?week={day:%G-W%V}")
    assert '<span class="cal-hour r1 h4">7.00</span>' in page.text
    assert ">17.00</span>" in page.text and ">18.00</span>" not in page.text
    assert "cal-entry r13 h4 " in _entry(page.text, a.session.id)  # 10.00 is row 13 now
    column_start = page.text.rindex(
        '<div class="cal-column',
        0,
        page.text.index(f'data-day="{away.isoformat()}" data-who="{a.supervisor.id}"'),
    )
    away_column = page.text[column_start : page.text.index("cal-slots", column_start)]
    assert " off" in away_column and "Not working" in away_column
    assert page.text.count("Not working") == 3  # the day away, Saturday and Sunday


async def test_a_meeting_outside_working_hours_widens_the_grid(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    early = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(day, 7, 15)
    )
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/calendar/?week={day:%G-W%V}")
    assert '<span class="cal-hour r1 h4">7.00</span>' in page.text
    # The grid starts at the full hour: 7.15 is the second row.
    assert "cal-entry r2 h4 " in _entry(page.text, early.id)
    assert "cal-entry r13 h4 " in _entry(page.text, a.session.id)


async def test_overlapping_meetings_sit_side_by_side(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    other = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=clock.at(day, 10, 30)
    )
    await client.login(a.admin.user.email)
    page = await client.get(f"/t/alfa/calendar/?week={day:%G-W%V}")
    assert "lanes2" in _column(page.text, day)
    assert " l0 w1 " in _entry(page.text, a.session.id)
    assert "cal-entry r11 h4 l1 w1 " in _entry(page.text, other.id)


async def test_a_cancelled_meeting_cannot_be_moved_from_the_grid(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    cancelled = await add_session(
        clean_db.owner,
        a.tenant,
        a.agreement,
        a.supervisor,
        starts_at=clock.at(day, 13),
        status=SessionStatus.CANCELLED_BY_SUPERVISOR,
    )
    await client.login(a.supervisor.user.email)
    page = await client.get(f"/t/alfa/calendar/?view=day&day={day.isoformat()}")
    entry = _entry(page.text, cancelled.id)
    assert "status-cancelled_by_firm" in entry and "data-move" not in entry


async def test_the_office_day_view_has_a_column_per_supervisor_and_filters(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    owners = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=clock.at(day, 14, 15)
    )
    await client.login(a.admin.user.email)
    page = await client.get(f"/t/alfa/calendar/?view=day&day={day.isoformat()}")
    assert page.status_code == 200
    for member in (a.owner, a.admin, a.supervisor):
        assert f'<h3 class="cal-col-head">\n      {html.escape(member.user.name)}' in page.text
    assert str(a.session.id) in _column(page.text, day, a.supervisor.id)
    assert str(owners.id) in _column(page.text, day, a.owner.id)
    assert str(owners.id) not in _column(page.text, day, a.supervisor.id)
    # An empty time in a supervisor's column plans a meeting for them, as the column's "+" does.
    for member in (a.supervisor, a.owner):
        new = f"/t/alfa/sessions/new?date={day.isoformat()}&supervisor={member.id}"
        assert _new_meeting(page.text, day, member.id) == new
        assert f'<a class="cal-add" href="{html.escape(new)}">' in page.text

    one = await client.get(
        f"/t/alfa/calendar/?view=day&day={day.isoformat()}&supervisor={a.supervisor.id}"
    )
    assert str(a.session.id) in one.text and str(owners.id) not in one.text
    assert one.text.count('<div class="cal-column') == 1


async def test_everyones_day_shows_a_large_firms_people_a_page_at_a_time(
    client: Client, firms: Firms, clean_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column a person does not scale to a firm of hundreds: the day shows a page of its
    people (two here) in the order of their names, each page with its people's meetings."""
    monkeypatch.setattr(calendar_web, "DAY_COLUMNS", 2)
    a = firms.a
    day = _day(a)
    owners = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=clock.at(day, 14, 15)
    )
    await client.login(a.admin.user.email)
    url = f"/t/alfa/calendar/?view=day&day={day.isoformat()}"
    first = (await client.get(url)).text
    found = re.search(r"Page 1 of (\d+)", first)
    assert found and int(found.group(1)) >= 2
    pages = [first] + [
        (await client.get(f"{url}&page={n}")).text for n in range(2, int(found.group(1)) + 1)
    ]
    people = [re.findall(r'data-day="[^"]+" data-who="([^"]+)"', page) for page in pages]
    assert all(len(shown) == 2 for shown in people[:-1]) and 1 <= len(people[-1]) <= 2
    everyone = [who for shown in people for who in shown]
    assert len(set(everyone)) == len(everyone)  # each person on one page
    assert {str(m.id) for m in (a.owner, a.admin, a.supervisor)} <= set(everyone)
    for member, meeting in ((a.owner, owners), (a.supervisor, a.session)):
        [page] = [
            page for page, shown in zip(pages, people, strict=True) if str(member.id) in shown
        ]
        assert str(meeting.id) in _column(page, day, member.id)
        assert sum(str(meeting.id) in other for other in pages) == 1  # on their page only
    pager = first.split('aria-label="Pages of people"', 1)[1].split("</nav>", 1)[0]
    nxt = re.search(r'<a rel="next" href="\?([^"]+)"', pager)
    assert nxt and parse_qs(html.unescape(nxt.group(1))) == {
        "view": ["day"],
        "day": [day.isoformat()],
        "page": ["2"],
    }
    assert f"Page 2 of {len(pages)}" in pages[1]
    past_end = (await client.get(f"{url}&page=99")).text  # the last page
    assert re.findall(r'data-day="[^"]+" data-who="([^"]+)"', past_end) == people[-1]
    # One person chosen is their day, unpaged; a page without meetings says so.
    chosen = await client.get(f"{url}&supervisor={a.supervisor.id}")
    assert "Page 1 of" not in chosen.text and str(a.session.id) in chosen.text
    monkeypatch.setattr(calendar_web, "DAY_COLUMNS", 1)
    admins = everyone.index(str(a.admin.id)) + 1  # a page each, in the same order
    quiet = (await client.get(f"{url}&page={admins}")).text
    assert f'data-who="{a.admin.id}"' in quiet and "cal-entry" not in quiet
    assert "None of these people has meetings this day." in quiet
    owners_page = (await client.get(f"{url}&page={everyone.index(str(a.owner.id)) + 1}")).text
    assert str(owners.id) in owners_page and "None of these people" not in owners_page


async def test_a_supervisor_sees_only_their_own_day(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    day = _day(a)
    owners = await add_session(
        clean_db.owner, a.tenant, a.agreement, a.owner, starts_at=clock.at(day, 14, 15)
    )
    await client.login(a.supervisor.user.email)
    page = await client.get(
        f"/t/alfa/calendar/?view=day&day={day.isoformat()}&supervisor={a.owner.id}"
    )
    assert str(a.session.id) in page.text and str(owners.id) not in page.text
    assert page.text.count('<div class="cal-column') == 1
    assert a.owner.user.name not in page.text
    assert 'id="supervisor-picker"' not in page.text


async def test_todays_line_marks_the_time_in_todays_column(client: Client, firms: Firms) -> None:
    today = clock.today()
    with time_machine.travel(clock.at(today, 9, 37), tick=False):
        await client.login(firms.a.supervisor.user.email)
        page = await client.get("/t/alfa/calendar/")
        column = _column(page.text, today, firms.a.supervisor.id)
        assert '<div class="cal-now r7 now-center" aria-hidden="true">' in column
        assert page.text.count('class="cal-now') == 1
    with time_machine.travel(clock.at(today, 18, 30), tick=False):
        evening = await client.get("/t/alfa/calendar/?view=day")
        assert 'class="cal-now' not in evening.text  # 18.30 is past the grid


async def test_an_empty_time_leads_to_the_meeting_form_with_the_time_filled_in(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    day = clock.working_day(10)
    await client.login(a.owner.user.email)
    grid = await client.get(f"/t/alfa/calendar/?view=day&day={day.isoformat()}")
    # What luotsi.js asks for on a click on the 9.15 row of the supervisor's column.
    wanted = _new_meeting(grid.text, day, a.supervisor.id) + "&time=09%3A15"
    choose = await client.get(wanted)
    assert choose.status_code == 200
    assert 'id="choose-agreement"' in choose.text and "Esimerkkikunta" in choose.text
    assert f'<option value="{a.agreement.id}">' in choose.text
    assert f'name="supervisor" value="{a.supervisor.id}"' in choose.text

    chosen = await client.get(f"{wanted}&agreement={a.agreement.id}", follow_redirects=False)
    assert chosen.status_code in (302, 303)
    form_url = chosen.headers["location"]
    assert form_url.startswith(f"/t/alfa/sessions/new/{a.agreement.id}?")
    form = await client.get(form_url)
    assert form.status_code == 200 and 'id="meeting-form"' in form.text
    assert f'value="{day.isoformat()}"' in form.text and 'value="09:15"' in form.text


async def test_an_empty_time_of_another_supervisor_offers_only_their_agreements(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    await client.login(a.owner.user.email)
    page = await client.get(f"/t/alfa/sessions/new?supervisor={a.admin.id}")
    assert page.status_code == 200
    assert str(a.agreement.id) not in page.text and 'id="no-agreements"' in page.text


async def test_an_unknown_agreement_or_odd_time_is_refused_without_an_error_page(
    client: Client, firms: Firms
) -> None:
    await client.login(firms.a.supervisor.user.email)
    odd = await client.get(
        "/t/alfa/sessions/new?date=2026-13-45&time=25:99&supervisor=x"
        f"&agreement={firms.b.agreement.id}"
    )
    assert odd.status_code == 422 and "Choose the agreement." in odd.text
    assert 'name="date"' not in odd.text and 'name="time"' not in odd.text


async def test_a_moved_meeting_opens_the_reschedule_form_with_the_new_time(
    client: Client, firms: Firms
) -> None:
    a = firms.a
    day = _day(a)
    await client.login(a.supervisor.user.email)
    moved = await client.get(
        f"/t/alfa/sessions/{a.session.id}/reschedule?date={day.isoformat()}&time=11:15"
    )
    assert moved.status_code == 200
    assert 'name="time" type="time" value="11:15"' in moved.text
    odd = await client.get(f"/t/alfa/sessions/{a.session.id}/reschedule?date=x&time=y")
    assert 'name="time" type="time" value="10:00"' in odd.text


async def test_the_grid_is_not_for_other_firms_or_client_people(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, b = firms.a, firms.b
    await client.login(b.owner.user.email)
    for path in ("calendar/?view=day", "sessions/new", f"sessions/new?agreement={a.agreement.id}"):
        assert (await client.get("/t/alfa/" + path)).status_code == 404, path
    supervisee = Client(client.app)
    await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.grid@example.fi")
    await supervisee.login("sanna.grid@example.fi")
    assert (await supervisee.get("/t/alfa/calendar/?view=day")).status_code == 403
    assert (await supervisee.get("/t/alfa/sessions/new")).status_code == 403


async def test_a_new_supervisor_gets_an_empty_column(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a = firms.a
    user = await make_user(clean_db.owner, "uusi@alfa.example", "Uuno Uusi")
    member = await add_member(clean_db.owner, a.tenant, user, Role.SUPERVISOR)
    await client.login(a.owner.user.email)
    page = await client.get(f"/t/alfa/calendar/?view=day&day={_day(a).isoformat()}")
    column = _column(page.text, _day(a), member.id)
    # Every quarter hour of the firm's usual day is free to plan for them: 8.00-16.00 is 32 rows
    # from the day's quarter hour 32 (8.00).
    assert "cal-entry" not in column
    assert 'data-first="32" data-rows="32"' in column
    new = f"/t/alfa/sessions/new?date={_day(a).isoformat()}&supervisor={member.id}"
    assert _new_meeting(page.text, _day(a), member.id) == new


async def test_everyones_week_shows_the_first_meetings_of_a_busy_day_and_counts_the_rest(
    client: Client, firms: Firms, clean_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A firm-wide week can hold thousands of meetings: a day's column shows its first ones
    (two here) and links the rest to the day view, which shows them all."""
    monkeypatch.setattr(calendar_web, "WEEK_DAY_LIMIT", 2)
    a = firms.a
    day = _day(a)  # the fixture's meeting at 10.00
    later = [
        await add_session(
            clean_db.owner, a.tenant, a.agreement, a.supervisor, starts_at=clock.at(day, hour)
        )
        for hour in (12, 14)
    ]
    await client.login(a.owner.user.email)
    year, week, _weekday = day.isocalendar()
    page = await client.get(f"/t/alfa/calendar/?week={year}-W{week:02d}")
    column = _column(page.text, day)
    assert str(a.session.id) in column and str(later[0].id) in column
    assert str(later[1].id) not in page.text
    more = f'<a class="cal-more" href="?view=day&amp;day={day.isoformat()}">+1 more</a>'
    assert page.text.count(more) == 2  # in the column's heading and in the narrow list

    mine = await client.get(
        f"/t/alfa/calendar/?week={year}-W{week:02d}&supervisor={a.supervisor.id}"
    )
    assert str(later[1].id) in mine.text and "cal-more" not in mine.text
    whole_day = await client.get(f"/t/alfa/calendar/?view=day&day={day.isoformat()}")
    assert all(str(s.id) in whole_day.text for s in (a.session, *later))
