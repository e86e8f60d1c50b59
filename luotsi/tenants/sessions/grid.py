"""The calendar's time grid: which rows a day shows and where each meeting sits in it.

Pure layout maths, no database and no HTML: minutes of a day in, grid lines out. The page
places meetings with CSS grid classes (``r5`` starts on row 5, ``h4`` spans four rows, ``l1``
starts in the second lane, ``w2`` spans two lanes) because the Content-Security-Policy allows
no inline styles; :func:`stylesheet` writes those classes, and a test keeps the static file
equal to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Generic, TypeVar

SLOT_MINUTES = 15
DAY_MINUTES = 24 * 60
DAY_SLOTS = DAY_MINUTES // SLOT_MINUTES
MAX_LANES = 12  # meetings side by side with a lane of their own; more share the last ones

T = TypeVar("T")
K = TypeVar("K")


# The hours a grid shows when none of its people works on its days (a meeting outside them
# widens the grid); otherwise it spans the people's own working hours.
DEFAULT_HOURS = (time(8), time(17))


def minute_of_day(moment: datetime, day: date) -> int:
    """Minutes from ``day``'s midnight to ``moment`` (both in the same local time)."""
    return (moment.date() - day).days * DAY_MINUTES + moment.hour * 60 + moment.minute


@dataclass(frozen=True)
class Window:
    """The slots a grid shows: from slot ``first`` (0 is 00.00-00.15) up to, not including,
    slot ``last``."""

    first: int
    last: int

    @property
    def rows(self) -> int:
        return self.last - self.first

    def row_of(self, minute: int) -> int:
        """The grid line (1 = the first row) of the slot holding ``minute``."""
        return minute // SLOT_MINUTES - self.first + 1

    def slots(self) -> list[tuple[int, time]]:
        """Every row and the time its slot begins."""
        return [(row, _time_of(self.first + row - 1)) for row in range(1, self.rows + 1)]

    def hours(self) -> list[tuple[int, time]]:
        """The rows that begin a full hour, for the labels beside the grid."""
        return [(row, at) for row, at in self.slots() if at.minute == 0]


def _time_of(slot: int) -> time:
    minutes = slot * SLOT_MINUTES
    return time(minutes // 60, minutes % 60)


def grid_window(start: time, end: time, spans: Sequence[tuple[int, int]]) -> Window:
    """The working window from ``start`` to ``end``, widened to whole hours so that every
    meeting (``(first minute, minute after the last)`` of its day) fits; never past the day."""
    first = start.hour * 60 + start.minute
    last = end.hour * 60 + end.minute
    for begins, ends in spans:
        first = min(first, begins)
        last = max(last, ends, begins + 1)
    hour = 60 // SLOT_MINUTES
    first_slot = first // 60 * hour
    last_slot = -(-last // 60) * hour
    return Window(max(first_slot, 0), min(max(last_slot, first_slot + hour), DAY_SLOTS))


@dataclass(frozen=True)
class Placed(Generic[T]):
    """A meeting in its column: grid rows ``row`` to ``row + rows``, lanes ``lane`` to
    ``lane + width`` (lanes count from 0)."""

    item: T
    row: int
    rows: int
    lane: int
    width: int


@dataclass(frozen=True)
class Column(Generic[K, T]):
    """One column of the grid (a day, or a supervisor's day): its meetings and how many lanes
    side by side the busiest moment needs."""

    key: K
    placed: list[Placed[T]]
    lanes: int


def place(items: Sequence[tuple[T, int, int]], window: Window) -> Column[None, T]:
    """Rows and lanes for ``(item, first minute, minute after the last)`` in one column.

    Meetings that overlap (directly or through others) form a group that shares the column's
    width: each takes the first lane free at its start; the last lane of a group stretches to
    the column's right edge.
    """
    ordered = sorted(items, key=lambda one: (one[1], -one[2]))
    groups: list[list[tuple[T, int, int, int]]] = []  # (item, begins, ends, lane)
    group_end = 0
    lane_ends: list[int] = []
    for item, begins, ends in ordered:
        ends = max(ends, begins + 1)
        if not groups or begins >= group_end:
            groups.append([])
            lane_ends = []
        group_end = max(group_end, ends) if lane_ends else ends
        lane = next((i for i, free in enumerate(lane_ends) if free <= begins), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(ends)
        else:
            lane_ends[lane] = ends
        groups[-1].append((item, begins, ends, min(lane, MAX_LANES - 1)))
    lanes = max((1 + max(one[3] for one in group) for group in groups), default=1)
    placed = []
    limit = window.last * SLOT_MINUTES
    for group in groups:
        last_lane = max(one[3] for one in group)
        for item, begins, ends, lane in group:
            row = window.row_of(begins)
            rows = max(1, -(-min(ends, limit) // SLOT_MINUTES) - window.first - row + 1)
            width = lanes - lane if lane == last_lane else 1
            placed.append(Placed(item, row, rows, lane, width))
    return Column(None, placed, lanes)


def layout(
    columns: Sequence[tuple[K, Sequence[tuple[T, int, int]]]], start: time, end: time
) -> tuple[Window, list[Column[K, T]]]:
    """One window for all ``columns`` (key, meetings as for :func:`place`), and each placed."""
    window = grid_window(
        start, end, [(begins, ends) for _key, items in columns for _item, begins, ends in items]
    )
    placed = []
    for key, items in columns:
        column = place(items, window)
        placed.append(Column(key, column.placed, column.lanes))
    return window, placed


@dataclass(frozen=True)
class NowLine:
    """Where the current moment sits: in grid row ``row``, at its top, middle or bottom
    (``align`` is a CSS ``align-self`` value: close enough for a line within 15 minutes)."""

    row: int
    align: str


def now_line(minute: int, window: Window) -> NowLine | None:
    """The line for ``minute`` of today, or None when the grid does not show that time."""
    slot = minute // SLOT_MINUTES
    if not window.first <= slot < window.last:
        return None
    within = minute % SLOT_MINUTES
    align = "start" if within < 4 else "center" if within < 11 else "end"
    return NowLine(window.row_of(minute), align)


def stylesheet() -> str:
    """The grid's placement classes (``luotsi/web/static/calendar-grid.css``)."""
    lines = ["/* Written by luotsi.tenants.sessions.grid.stylesheet(); do not edit. */"]
    lines += [f".r{n}{{grid-row-start:{n}}}" for n in range(1, DAY_SLOTS + 1)]
    lines += [f".h{n}{{grid-row-end:span {n}}}" for n in range(1, DAY_SLOTS + 1)]
    lines += [f".l{n}{{grid-column-start:{n + 1}}}" for n in range(MAX_LANES)]
    lines += [f".w{n}{{grid-column-end:span {n}}}" for n in range(1, MAX_LANES + 1)]
    lines += [
        f".lanes{n}{{grid-template-columns:repeat({n},minmax(0,1fr))}}"
        for n in range(1, MAX_LANES + 1)
    ]
    return "\n".join(lines) + "\n"
