"""The day the suite runs on, and dates relative to it.

By default the suite runs on the real today. ``LUOTSI_TEST_TODAY`` moves the whole process's
clock (and the browser tests' server) to another day, so that the suite can be run on any day:

    LUOTSI_TEST_TODAY=2029-02-28 make test
    LUOTSI_TEST_TODAY=2027-03-28T02:30+02:00 make test   # an exact instant (DST change night)

A date alone keeps the current time of day. The clock keeps ticking from there.
Tests never read the wall clock themselves: they build dates from :func:`today` and :func:`now`.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, time, timedelta

import holidays
import time_machine
from babel.dates import format_date

from luotsi.platform import clock

ENV = "LUOTSI_TEST_TODAY"


def shifted_instant() -> datetime | None:
    """The instant ``LUOTSI_TEST_TODAY`` names, or None when the suite runs on the real day."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if "T" in value:
        instant = datetime.fromisoformat(value)
        return instant if instant.tzinfo else instant.replace(tzinfo=clock.HELSINKI)
    day = date.fromisoformat(value)
    time_of_day = clock.now().astimezone(clock.HELSINKI).timetz()
    return datetime.combine(day, time_of_day.replace(tzinfo=None), clock.HELSINKI)


def start_travel() -> time_machine.travel | None:
    """Move this process's clock to ``LUOTSI_TEST_TODAY`` (if set); the caller stops it."""
    instant = shifted_instant()
    if instant is None:
        return None
    traveller = time_machine.travel(instant, tick=True)
    traveller.start()
    return traveller


def luotsi_command(*args: str) -> list[str]:
    """The ``luotsi`` command line for a child process that runs on the suite's day (its
    environment must carry :data:`ENV` on, as :func:`tests.backends.settings_env` does)."""
    return [sys.executable, "-m", "tests.clock", *args]


def today() -> date:
    return clock.today()


def now() -> datetime:
    return clock.now()


def days(n: int) -> date:
    """The date ``n`` days from today (negative: in the past)."""
    return today() + timedelta(days=n)


def working_day(n: int) -> date:
    """The first Monday-to-Friday, non-holiday date at least ``n`` days from today."""
    day = days(n)
    fi_holidays = holidays.country_holidays("FI", years=range(day.year - 1, day.year + 2))
    while day.weekday() >= 5 or day in fi_holidays:
        day += timedelta(days=1)
    return day


def fi(day: date) -> str:
    """``day`` as a Finn writes it: 4.12.2026."""
    return f"{day.day}.{day.month}.{day.year}"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` in Helsinki, as an aware datetime."""
    return datetime.combine(day, time(hour, minute), clock.HELSINKI)


if __name__ == "__main__":
    # `python -m tests.clock <luotsi command>`: a child process on the suite's day.
    from luotsi.cli import main

    start_travel()
    sys.argv = ["luotsi", *sys.argv[1:]]
    main()


def en_date(day: date) -> str:
    """A day as the English pages write it, with the month's name: 4 Dec 2026."""
    return format_date(day, "medium", locale="en_FI")
