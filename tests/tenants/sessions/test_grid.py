"""The calendar grid's layout maths: windows, rows, lanes and today's line."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

from luotsi.tenants.sessions import grid

STATIC = Path(grid.__file__).parents[2] / "web" / "static" / "calendar-grid.css"


def _at(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


def test_the_default_window_is_eight_to_five_in_quarter_hour_rows() -> None:
    start, end = grid.DEFAULT_HOURS
    window = grid.grid_window(start, end, [])
    assert (window.first, window.last, window.rows) == (32, 68, 36)
    assert window.slots()[:2] == [(1, time(8)), (2, time(8, 15))]
    assert window.hours()[-1] == (33, time(16))


def test_a_meeting_outside_the_working_window_widens_it_to_whole_hours() -> None:
    early_and_late = [(_at(7, 10), _at(8, 10)), (_at(17, 30), _at(18, 5))]
    window = grid.grid_window(time(8), time(17), early_and_late)
    assert window.slots()[0] == (1, time(7))
    assert window.slots()[-1][1] == time(18, 45)  # the hour holding 18.05 is shown whole


def test_a_meeting_past_midnight_stops_at_the_end_of_the_day() -> None:
    window = grid.grid_window(time(8), time(17), [(_at(23), _at(25))])
    assert window.last == grid.DAY_SLOTS
    column = grid.place([("late", _at(23), _at(25))], window)
    (late,) = column.placed
    assert late.row + late.rows - 1 == window.rows


def test_a_meeting_gets_its_start_row_and_span() -> None:
    window = grid.grid_window(time(8), time(17), [])
    column = grid.place([("a", _at(10), _at(11)), ("b", _at(14, 15), _at(14, 20))], window)
    assert [(p.item, p.row, p.rows) for p in column.placed] == [("a", 9, 4), ("b", 26, 1)]
    assert column.lanes == 1 and all(p.lane == 0 and p.width == 1 for p in column.placed)


def test_overlapping_meetings_sit_side_by_side_and_the_rest_keep_the_whole_width() -> None:
    window = grid.grid_window(time(8), time(17), [])
    items = [
        ("long", _at(9), _at(11)),
        ("inside", _at(9, 30), _at(10)),
        ("after inside", _at(10), _at(10, 30)),  # reuses the lane "inside" left
        ("alone", _at(13), _at(14)),
    ]
    column = grid.place(items, window)
    lanes = {p.item: (p.lane, p.width) for p in column.placed}
    assert column.lanes == 2
    assert lanes == {
        "long": (0, 1),
        "inside": (1, 1),
        "after inside": (1, 1),
        "alone": (0, 2),
    }


def test_meetings_back_to_back_do_not_overlap() -> None:
    window = grid.grid_window(time(8), time(17), [])
    column = grid.place([("a", _at(9), _at(10)), ("b", _at(10), _at(11))], window)
    assert column.lanes == 1


def test_more_meetings_at_once_than_lanes_share_the_last_lane() -> None:
    window = grid.grid_window(time(8), time(17), [])
    items = [(n, _at(9), _at(10)) for n in range(grid.MAX_LANES + 3)]
    column = grid.place(items, window)
    assert column.lanes == grid.MAX_LANES
    assert max(p.lane for p in column.placed) == grid.MAX_LANES - 1


def test_layout_gives_every_column_the_same_window() -> None:
    window, columns = grid.layout(
        [("mon", [("a", _at(7), _at(8))]), ("tue", [("b", _at(12), _at(13))])],
        time(8),
        time(17),
    )
    assert window.slots()[0][1] == time(7)
    assert [c.key for c in columns] == ["mon", "tue"]
    assert columns[1].placed[0].row == 21  # 12.00 is the 21st row from 7.00


def test_minutes_of_day_count_on_past_midnight() -> None:
    day = date(2026, 12, 7)
    assert grid.minute_of_day(datetime(2026, 12, 7, 9, 30), day) == _at(9, 30)
    assert grid.minute_of_day(datetime(2026, 12, 8, 0, 30), day) == _at(24, 30)


def test_todays_line_sits_in_its_slot_or_nowhere_outside_the_grid() -> None:
    window = grid.grid_window(time(8), time(17), [])
    assert grid.now_line(_at(8), window) == grid.NowLine(1, "start")
    assert grid.now_line(_at(9, 37), window) == grid.NowLine(7, "center")
    assert grid.now_line(_at(9, 44), window) == grid.NowLine(7, "end")
    assert grid.now_line(_at(7, 59), window) is None
    assert grid.now_line(_at(17), window) is None


def test_the_static_stylesheet_is_the_one_the_grid_writes() -> None:
    assert STATIC.read_text(encoding="utf-8") == grid.stylesheet()
