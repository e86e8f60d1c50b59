"""The application's one clock.

Every "now" and "today" in Luotsi comes from here, so that a reader finds the single place
time enters the system. Finnish firms live in Europe/Helsinki: "today" is the date there, not
in UTC (between midnight and 02:00/03:00 Helsinki time the two differ).

Tests move this clock, with the rest of the process, through time-machine (see
``tests/clock.py``); nothing in the application knows about that.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


def now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def today(instant: datetime | None = None) -> date:
    """Today's date in Finland (or the date in Finland at ``instant``)."""
    return (instant or now()).astimezone(HELSINKI).date()
