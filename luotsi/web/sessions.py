"""Sessions: planning series, marking them, the calendars and the ICS feeds."""

from __future__ import annotations

from litestar import Controller


class SessionsController(Controller):
    """Workspace: sessions of agreements, planning a series, status changes."""

    path = "/sessions"


class CalendarController(Controller):
    """Workspace: week and month views; the supervisor's feed URL (create, revoke)."""

    path = "/calendar"


class FeedController(Controller):
    """Public: a supervisor's private ICS feed by secret token."""

    path = "/ical/{tenant_slug:str}"
