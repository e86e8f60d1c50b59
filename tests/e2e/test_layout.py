"""The main pages of every role fit the screen: on a phone (390×844) and on a laptop (1366×768)
nothing scrolls sideways and no table is wider than the page, so no column or button is cut
off. A screenshot of each phone page is kept in pytest's temporary directory for a look."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_OWNER, sign_in
from tests.e2e.test_accessibility import ROLES

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}

# What sticks out past the right edge of the window: the page itself, or any element that
# ends past it (a table cell, a button), named by a short CSS path for the failure message.
FIND_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width + 1) {
    found.push(`page ${document.documentElement.scrollWidth}px`);
  }
  for (const el of document.querySelectorAll("main *, header *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let clipped = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX === "auto" || style.overflowX === "scroll") { clipped = true; break; }
    }
    if (clipped) continue;
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "");
    found.push(`${name} ends at ${Math.round(box.right)}px`);
    if (found.length > 4) break;
  }
  return found;
}"""


def overflowing(page: Page) -> list[str]:
    found: list[str] = page.evaluate(FIND_OVERFLOW)
    return found


@pytest.mark.parametrize("size", ["phone", "laptop"])
@pytest.mark.parametrize("role", list(ROLES))
def test_main_pages_fit_the_screen(
    page: Page, live_server: str, role: str, size: str, tmp_path: Path
) -> None:
    email, pages = ROLES[role]
    if email:
        sign_in(page, live_server, email)
    page.set_viewport_size(PHONE if size == "phone" else LAPTOP)
    problems: dict[str, list[str]] = {}
    for number, entry in enumerate(pages):
        if isinstance(entry, tuple):
            listing, link = entry
            page.goto(live_server + listing)
            page.locator(link).first.click()
            page.wait_for_load_state()
        else:
            response = page.goto(live_server + entry)
            assert response is not None and response.ok, entry
        if size == "phone":
            page.screenshot(path=tmp_path / f"{role}-{number:02d}.png", full_page=True)
        found = overflowing(page)
        if found:
            problems[page.url.removeprefix(live_server)] = found
    assert problems == {}


def test_on_a_phone_the_links_fold_behind_a_menu_button(page: Page, live_server: str) -> None:
    sign_in(page, live_server, DEMO_OWNER)
    page.set_viewport_size(PHONE)
    page.goto(live_server + "/t/demo/clients/people/")
    menu = page.get_by_role("button", name="Menu")
    calendar = page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Calendar")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(calendar).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    calendar.click()
    expect(page).to_have_url(re.compile(r"/t/demo/calendar/"))

    # A list's rows are blocks, each value under its column's name (also in the page's text).
    page.goto(live_server + "/t/demo/clients/people/")
    cell = page.locator("table.table tbody tr").first.locator("td[data-label]").nth(1)
    label = cell.get_attribute("data-label")
    assert label and label.strip()
    shown = cell.evaluate("td => getComputedStyle(td, '::before').content")
    assert label in shown
    expect(page.locator("table.table thead")).to_be_hidden()


def test_on_a_laptop_the_header_shows_every_link(page: Page, live_server: str) -> None:
    sign_in(page, live_server, DEMO_OWNER)
    page.set_viewport_size(LAPTOP)
    page.goto(live_server + "/t/demo/clients/people/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Workspace")
    expect(nav.get_by_role("link", name="Calendar")).to_be_visible()
    expect(page.locator("table.table thead").first).to_be_visible()
