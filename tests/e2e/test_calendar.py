"""The calendar's time grid in a browser: plan a meeting from an empty time, then move it by
keyboard and by dragging, each ending on the reschedule form with the new time."""

from __future__ import annotations

from datetime import date, time, timedelta

from playwright.sync_api import Locator, Page, Position, expect

from luotsi.platform import clock
from luotsi.tenants.sessions.grid import SLOT_MINUTES
from luotsi.tenants.sessions.service import is_working_day
from tests.e2e.conftest import sign_in
from tests.e2e.test_sessions import SUPERVISOR, agreement_for


def _free_day(today: date, ahead: int) -> date:
    """A working Monday to Thursday at least ``ahead`` days on (the next day is in its week)."""
    day = today + timedelta(days=ahead)
    while not is_working_day(day) or day.weekday() > 3:
        day += timedelta(days=1)
    return day


def _row_middle(column: Locator, at: time) -> tuple[Position, float]:
    """Where ``at`` is in a column of the grid (the middle of its row, from the column's top
    left), and the rows' height: the rows have no elements of their own, the column is
    ``data-rows`` of them from the day's quarter hour ``data-first``."""
    box = column.bounding_box()
    assert box is not None
    first = int(column.get_attribute("data-first") or "")
    rows = int(column.get_attribute("data-rows") or "")
    row = (at.hour * 60 + at.minute) // SLOT_MINUTES - first
    assert 0 <= row < rows, at
    height = box["height"] / rows
    return {"x": box["width"] * 3 / 4, "y": (row + 0.5) * height}, height


def _plan_from_the_grid(page: Page, base: str, agreement_id: str, day: date) -> None:
    """Plan a meeting at 14.00 on ``day`` by choosing that empty time in the day view."""
    page.goto(f"{base}/t/demo/calendar/?view=day&day={day.isoformat()}")
    column = page.locator(".cal-slots[data-new]")
    at, height = _row_middle(column, time(14))
    column.hover(position=at)
    # One marker shows the row under the pointer.
    marker = column.locator(".cal-mark")
    expect(marker).to_have_count(1)
    box, mark = column.bounding_box(), marker.bounding_box()
    assert box is not None and mark is not None
    assert mark["y"] < box["y"] + at["y"] < mark["y"] + mark["height"]
    assert abs(mark["height"] - height) < 1
    column.click(position=at)
    page.get_by_label("Agreement").select_option(agreement_id)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_label("Date")).to_have_value(day.isoformat())
    expect(page.get_by_label("Time (Helsinki)")).to_have_value("14:00")
    page.get_by_role("textbox", name="Address").fill("Ruututie 1, Hyvinkää")
    page.get_by_role("button", name="Plan and send the invitations").click()
    expect(page.get_by_role("status")).to_contain_text("The meeting has been planned")


def test_plan_from_an_empty_time_and_move_the_meeting_by_keyboard(
    page: Page, live_server: str, live_database_url: str
) -> None:
    today = clock.today()
    agreement_id = agreement_for(live_database_url, SUPERVISOR, today, "Ruudukkokunta")
    day = _free_day(today, 15)
    sign_in(page, live_server, SUPERVISOR)
    _plan_from_the_grid(page, live_server, str(agreement_id), day)

    year, week, _weekday = day.isocalendar()
    page.goto(f"{live_server}/t/demo/calendar/?week={year}-W{week:02d}")
    entry = page.locator("a.cal-entry[data-move]", has_text="Ruudukkokunta")
    expect(entry).to_have_count(1)
    entry.focus()
    for key in ("ArrowDown", "ArrowDown", "ArrowRight"):
        page.keyboard.press(key)
    following = day + timedelta(days=1)
    expect(page.locator("#cal-move-status")).to_contain_text(f"{following.isoformat()} 14:30")
    expect(entry).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url(lambda url: "/reschedule?" in url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Change the time or place")
    expect(page.get_by_label("New date")).to_have_value(following.isoformat())
    expect(page.get_by_label("New time (Helsinki)")).to_have_value("14:30")


def test_drag_a_meeting_to_another_time(
    page: Page, live_server: str, live_database_url: str
) -> None:
    today = clock.today()
    agreement_id = agreement_for(live_database_url, SUPERVISOR, today, "Raahauskunta")
    day = _free_day(today, 22)
    sign_in(page, live_server, SUPERVISOR)
    _plan_from_the_grid(page, live_server, str(agreement_id), day)

    page.set_viewport_size({"width": 1280, "height": 1400})  # the whole working day in view
    page.goto(f"{live_server}/t/demo/calendar/?view=day&day={day.isoformat()}")
    entry = page.locator("a.cal-entry[data-move]", has_text="Raahauskunta")
    column = page.locator(".cal-slots[data-new]")
    to, _height = _row_middle(column, time(15, 15))
    box, top = entry.bounding_box(), column.bounding_box()
    assert box is not None and top is not None
    page.mouse.move(box["x"] + 10, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, top["y"] + to["y"], steps=8)
    page.mouse.up()

    page.wait_for_url(lambda url: "/reschedule?" in url)
    expect(page.get_by_label("New date")).to_have_value(day.isoformat())
    expect(page.get_by_label("New time (Helsinki)")).to_have_value("15:15")
