"""The calendars (day and week as a time grid, month as lines; anyone's for the office) and
the private ICS feeds."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from litestar import Controller, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from luotsi.platform import clock, permissions
from luotsi.platform.db import scope_to_tenant
from luotsi.platform.errors import NotFound
from luotsi.platform.paging import Page, page_number
from luotsi.platform.tenancy import TenantStatus, get_tenant_by_slug
from luotsi.tenants.directory.hours import Window, working_span, working_windows
from luotsi.tenants.sessions import calendars, grid
from luotsi.tenants.sessions.calendars import CalendarEntry
from luotsi.tenants.sessions.models import SessionStatus
from luotsi.tenants.sessions.service import to_local
from luotsi.web.deps import DB, WS, Req
from luotsi.web.sessions.sessions import iso_week, session_helpers
from luotsi.web.templating import redirect, render
from luotsi.web.workspace import requires

VIEWS = ("day", "week", "month")
# The month view shows at most this many meetings a day, and everyone's week at most this
# many in a day's column ("+3 more" links to the day view): a firm-wide week can hold
# thousands. One supervisor's week and the day views show every meeting.
MONTH_DAY_LIMIT = 4
WEEK_DAY_LIMIT = 12
DAY_COLUMNS = 12  # people a page of everyone's day shows, each a column


@dataclass(frozen=True)
class CalendarRange:
    """What a calendar page shows: a day, a week or a month, and the links around it."""

    view: str
    first: date  # the first day shown (a Monday, but in the day view)
    last: date  # the last day shown (a Sunday, but in the day view)
    month: date | None  # the first of the month in the month view
    previous: str  # query value for the previous day, week or month
    next: str
    today: date

    @property
    def weeks(self) -> list[list[date]]:
        days = (self.last - self.first).days + 1
        every = [self.first + timedelta(days=i) for i in range(days)]
        return [every[i : i + 7] for i in range(0, len(every), 7)]


def _month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def _sane(day: date, today: date) -> date:
    return day if 1900 < day.year < 3000 else today


def calendar_range(view: str, key: str, today: date) -> CalendarRange:
    """The day (``2026-12-07``), week (``2026-W49``) or month (``2026-12``) asked for by
    ``key``; the current one if the value is odd."""
    if view == "day":
        try:
            day = _sane(date.fromisoformat(key), today)
        except ValueError:
            day = today
        one = timedelta(days=1)
        return CalendarRange(
            "day", day, day, None, (day - one).isoformat(), (day + one).isoformat(), today
        )
    if view == "month":
        try:
            year, number = (int(p) for p in key.split("-"))
            first_of_month = _sane(date(year, number, 1), today).replace(day=1)
        except ValueError:
            first_of_month = today.replace(day=1)
        next_month = (first_of_month + timedelta(days=32)).replace(day=1)
        previous_month = (first_of_month - timedelta(days=1)).replace(day=1)
        first = first_of_month - timedelta(days=first_of_month.weekday())
        last_of_month = next_month - timedelta(days=1)
        last = last_of_month + timedelta(days=6 - last_of_month.weekday())
        return CalendarRange(
            "month",
            first,
            last,
            first_of_month,
            _month_key(previous_month),
            _month_key(next_month),
            today,
        )
    monday = today - timedelta(days=today.weekday())
    try:
        iso_year, week_number = key.split("-W")
        monday = _sane(date.fromisocalendar(int(iso_year), int(week_number), 1), monday)
    except ValueError:
        pass
    return CalendarRange(
        "week",
        monday,
        monday + timedelta(days=6),
        None,
        iso_week(monday - timedelta(days=7)),
        iso_week(monday + timedelta(days=7)),
        today,
    )


@dataclass(frozen=True)
class GridColumn:
    """A column of the time grid: a day, or in the office's day view one supervisor's day."""

    day: date
    supervisor: uuid.UUID | None  # the column's supervisor (new meetings are theirs)
    heading: str  # the supervisor's name in the office's day view; empty otherwise


@dataclass(frozen=True)
class TimeGrid:
    """The day or week view: its rows, its columns with their meetings and today's line."""

    window: grid.Window
    columns: list[grid.Column[GridColumn, CalendarEntry]]
    now: grid.NowLine | None
    today: date
    off: set[GridColumn]  # columns whose person does not work that day (away, or a day off)


def time_grid(
    shown: CalendarRange,
    entries: list[CalendarEntry],
    supervisors: list[tuple[uuid.UUID, str]] | None,
    chosen: uuid.UUID | None,
    now: datetime,
    windows: dict[tuple[uuid.UUID, date], Window | None],
    span: Window | None = None,
) -> TimeGrid:
    """Lay out the day or week: a column per day, or per supervisor (``supervisors``) in the
    day view; the shown people's working hours (``windows``, see
    :func:`luotsi.tenants.directory.hours.working_windows`; everyone's week: their ``span``)
    widened to fit every meeting; a column whose person is not working that day is marked off;
    today's line if it shows."""
    keys: dict[object, GridColumn] = (
        {sid: GridColumn(shown.first, sid, name) for sid, name in supervisors}
        if supervisors is not None
        else {day: GridColumn(day, chosen, "") for day in shown.weeks[0]}
    )
    meetings: dict[GridColumn, list[tuple[CalendarEntry, int, int]]] = {}
    for entry in entries:
        if supervisors is None:
            key = keys[entry.day]
        else:  # a former supervisor's meeting still gets a column
            sid = entry.session.supervisor_id
            key = keys.setdefault(sid, GridColumn(shown.first, sid, entry.supervisor))
        begins = grid.minute_of_day(entry.starts, key.day)
        meetings.setdefault(key, []).append(
            (entry, begins, grid.minute_of_day(entry.ends, key.day))
        )
    hours = [w for w in windows.values() if w is not None] or [span or grid.DEFAULT_HOURS]
    window, columns = grid.layout(
        [(key, meetings.get(key, [])) for key in keys.values()],
        min(start for start, _end in hours),
        max(end for _start, end in hours),
    )
    off = {
        key
        for key in keys.values()
        if key.supervisor is not None and windows.get((key.supervisor, key.day), ()) is None
    }
    local = to_local(now)
    line = grid.now_line(grid.minute_of_day(local, local.date()), window)
    return TimeGrid(window, columns, line, local.date(), off)


class CalendarController(Controller):
    """Workspace: day, week and month views; the supervisor's feed URL (create, revoke)."""

    path = "/calendar"
    guards = [requires(permissions.can_work_on_agreements)]

    @get("/", name="calendar")
    async def index(self, request: Req, db: DB, ws: WS) -> Any:
        query = request.query_params
        view = query.get("view", "week")
        shown = calendar_range(
            view, query.get(view if view in VIEWS else "week", ""), clock.today()
        )
        supervisors = await calendars.calendar_supervisors(db, ws.membership)
        chosen: uuid.UUID | None = ws.membership.id
        if permissions.can_view_all_calendars(ws.membership):
            wanted = query.get("supervisor", "")
            ids = {str(i) for i, _n in supervisors}
            chosen = uuid.UUID(wanted) if wanted in ids else None  # None: everyone
        by_supervisor = supervisors if shown.view == "day" and chosen is None else None
        # Everyone's day has a column a person: a firm of more people than fit shows them a
        # page at a time (in the order of the picker), each page's meetings and working hours
        # only; the meetings of someone no longer on the staff then show in the week view.
        people: Page[tuple[uuid.UUID, str]] | None = None
        if by_supervisor is not None and len(by_supervisor) > DAY_COLUMNS:
            last = Page.last_page(len(by_supervisor), DAY_COLUMNS)
            number = min(page_number(query.get("page")), last)
            by_supervisor = by_supervisor[(number - 1) * DAY_COLUMNS : number * DAY_COLUMNS]
            people = Page(by_supervisor, number, DAY_COLUMNS, len(supervisors))
        per_day = {"month": MONTH_DAY_LIMIT, "week": WEEK_DAY_LIMIT if chosen is None else None}
        days = await calendars.calendar_days(
            db,
            ws.membership,
            shown.first,
            shown.last,
            chosen,
            per_day=per_day.get(shown.view),
            names=dict(supervisors),
            among=None if people is None else [sid for sid, _n in people.items],
        )
        # The grid's hours: the shown people's, each day's; everyone's week (a column a day)
        # needs only the span of them all, not every person's every day.
        everyones_week = shown.view == "week" and chosen is None
        windows = (
            {}
            if shown.view == "month" or everyones_week
            else await working_windows(
                db,
                [chosen] if chosen else [sid for sid, _n in by_supervisor or supervisors],
                shown.weeks[0],
            )
        )
        span = await working_span(db) if everyones_week else None
        context = {
            "ws": ws,
            "shown": shown,
            "entries": days.entries,
            "by_day": days.by_day,
            "more": days.more,
            "grid": None
            if shown.view == "month"
            else time_grid(shown, days.entries, by_supervisor, chosen, clock.now(), windows, span),
            "movable": SessionStatus.PLANNED,
            "supervisors": supervisors,
            "chosen": chosen,
            "people": people,
            "query": query,
            "feed": await calendars.active_feed(db, ws.membership),
            "in_month": (lambda d: shown.month is None or d.month == shown.month.month),
            **session_helpers(),
        }
        return render(request, "sessions/calendar.html", context)

    @post("/feed", name="create_calendar_feed")
    async def create_feed(self, request: Req, db: DB, ws: WS) -> Any:
        token = await calendars.create_feed(db, ws.membership)
        base = request.app.state["settings"].base_url.rstrip("/")
        url = f"{base}/ical/{ws.tenant.slug}/{token}.ics"
        # The address is shown once, on this response: only its hash is stored.
        response = render(request, "sessions/calendar_feed.html", {"ws": ws, "feed_url": url})
        response.headers["Cache-Control"] = "no-store"
        return response

    @get("/feed/revoke", name="confirm_revoke_calendar_feed")
    async def confirm_revoke(self, request: Req, db: DB, ws: WS) -> Any:
        feed = await calendars.active_feed(db, ws.membership)
        return render(request, "sessions/calendar_feed_revoke.html", {"ws": ws, "feed": feed})

    @post("/feed/revoke", name="revoke_calendar_feed")
    async def revoke(self, request: Req, db: DB, ws: WS) -> Any:
        with contextlib.suppress(NotFound):  # already off: the result the user wanted
            await calendars.revoke_feed(db, ws.membership)
        return redirect(request, ws.url("calendar/"), flash="calendar_feed_revoked")


class FeedController(Controller):
    """Public: a supervisor's private ICS feed by secret token."""

    path = "/ical/{tenant_slug:str}"

    # Calendar programs fetch this without cookies; no CSRF cookie may be set on it.
    @get("/{filename:str}", name="calendar_feed", opt={"exclude_from_csrf": True})
    async def feed(self, db: DB, tenant_slug: FromPath[str], filename: FromPath[str]) -> Any:
        token = filename.removesuffix(".ics")
        if token == filename or not 20 <= len(token) <= 100:
            raise NotFoundException()
        try:
            tenant = await get_tenant_by_slug(db, tenant_slug)
            if tenant.status != TenantStatus.ACTIVE:
                raise NotFound(tenant_slug)
            await scope_to_tenant(db, tenant.id)
            body = await calendars.feed_calendar(db, tenant, token)
        except NotFound:
            raise NotFoundException() from None
        return Response(
            body,
            media_type="text/calendar",  # Litestar adds "; charset=utf-8" to text types
            headers={
                "Cache-Control": "private, max-age=300",
                "Content-Disposition": 'inline; filename="luotsi.ics"',
                "X-Robots-Tag": "noindex",
            },
        )
