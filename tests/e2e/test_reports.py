"""The owner opens the reports from the navigation, narrows them to one supervisor, and
exports the session list as CSV from its own filters."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in


def test_a_report_shows_its_chart_and_table_and_a_list_exports_csv(
    page: Page, live_server: str
) -> None:
    base = live_server
    sign_in(page, base)
    page.get_by_role("link", name="Reports", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    sessions = page.locator("section[aria-labelledby='sessions-heading']")
    chart = sessions.get_by_role("img")
    expect(chart).to_be_visible()
    expect(chart.locator("title")).to_contain_text("Sessions per month:")
    expect(sessions.locator("table#report-sessions tbody tr")).to_have_count(12)

    supervisor = page.get_by_label("Supervisor", exact=True)
    chosen = supervisor.locator("option").nth(1).inner_text()
    supervisor.select_option(label=chosen)
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"supervisor="))
    hours = page.locator("table#report-hours tbody th")
    if hours.count():
        expect(hours).to_have_text([chosen])

    page.goto(base + "/t/demo/sessions/?when=past&status=held")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Date;Starts;Ends;")
    assert len(lines) > 1 and all(";Held;" in line for line in lines[1:])
