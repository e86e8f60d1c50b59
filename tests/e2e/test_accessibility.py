"""axe-core (from npm, a dev dependency) on the main pages of every role of the demo: no serious
or critical violation. axe is evaluated in the page through the DevTools protocol, which the
page's Content-Security-Policy does not govern; nothing is added to what Luotsi serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import DEMO_OPERATOR, DEMO_OWNER, sign_in

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DEMO_ADMIN = "toimisto@demo.luotsi.localhost"
DEMO_SUPERVISOR = "ville.ohjaaja@demo.luotsi.localhost"
DEMO_SUPERVISEE = "sari.sosiaalityo@asiakas.demo.luotsi.localhost"

# Pages by address, and pages reached by following the first link of a list (their ids differ
# from run to run): (the list's address, a CSS selector of the link).
STAFF_PAGES = [
    "/t/demo/",
    "/t/demo/calendar/?view=day",
    "/t/demo/calendar/?view=week",
    "/t/demo/calendar/?view=month",
    "/t/demo/sessions/new",
    "/t/demo/agreements/",
    ("/t/demo/agreements/", "table a[href*='/agreements/']"),
    "/t/demo/sessions/?when=all",
    ("/t/demo/sessions/?when=all", "table a[href*='/sessions/']"),
    "/t/demo/clients/",
    ("/t/demo/clients/", "table a[href*='/clients/']"),
    "/t/demo/clients/people/",
    "/t/demo/staff/",
    ("/t/demo/staff/", "a[href$='/hours/']"),  # one's own working hours and absences
    "/t/demo/inquiries/",
    "/t/demo/search?q=sari",
    "/t/demo/notifications/",
    "/t/demo/notifications/settings",
]
OFFICE_PAGES = [
    "/t/demo/billing/invoices",
    ("/t/demo/billing/invoices", "table a[href*='/billing/invoices/']"),
    "/t/demo/settings/",
    "/t/demo/members/",
    "/t/demo/audit/",
    "/t/demo/reports/",
    "/t/demo/exports/firm",
    "/t/demo/settings/reminders/",
    "/t/demo/settings/webhooks/",
    "/t/demo/settings/security/",
    "/t/demo/settings/privacy/",
    "/t/demo/settings/close/",
    "/t/demo/settings/api-tokens/",
    ("/t/demo/settings/api-tokens/", "table a[href*='/revoke']"),
]
ROLES: dict[str, tuple[str | None, list[Any]]] = {
    "public": (None, ["/login", "/signup/", "/f/demo/"]),
    "owner": (DEMO_OWNER, STAFF_PAGES + OFFICE_PAGES),
    "admin": (DEMO_ADMIN, ["/t/demo/", *OFFICE_PAGES[:1]]),
    "supervisor": (DEMO_SUPERVISOR, STAFF_PAGES),
    "supervisee": (
        DEMO_SUPERVISEE,
        [
            "/t/demo/me/",
            "/account",
            "/account/two-factor/",
            "/account/confirm?next=/account",
            "/account/sessions/end-all",
        ],
    ),
    "operator": (
        DEMO_OPERATOR,
        ["/platform/", "/platform/firms/demo", "/platform/firms/demo/suspend", "/platform/health"],
    ),
}

FIND_SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ` +
      v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(" | "));
}"""


def serious_violations(page: Page) -> list[str]:
    page.evaluate(AXE.read_text())
    found: list[str] = page.evaluate(FIND_SERIOUS)
    return found


@pytest.mark.parametrize("role", list(ROLES))
def test_main_pages_have_no_serious_accessibility_violations(
    page: Page, live_server: str, role: str
) -> None:
    email, pages = ROLES[role]
    if email:
        sign_in(page, live_server, email)
    problems: dict[str, list[str]] = {}
    for entry in pages:
        if isinstance(entry, tuple):
            listing, link = entry
            page.goto(live_server + listing)
            page.locator(link).first.click()
            page.wait_for_load_state()
        else:
            response = page.goto(live_server + entry)
            assert response is not None and response.ok, entry
        found = serious_violations(page)
        if found:
            problems[page.url.removeprefix(live_server)] = found
    assert problems == {}
