"""A new owner: signs up, finds the "check your e-mail" page again after a reload, opens the
workspace, ticks a step of the setup checklist (supervising clients themself) and puts the
checklist away."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.test_accessibility import serious_violations
from tests.e2e.test_onboarding import open_latest_mail_link


def test_a_new_owner_goes_through_the_setup_checklist(page: Page, live_server: str) -> None:
    base = live_server
    page.goto(base + "/")
    page.get_by_role("button", name="EN").click()
    page.goto(base + "/signup/")
    page.get_by_label("Firm name").fill("Yksin Ohjaten Oy")
    page.get_by_label("Business ID (Y-tunnus)").fill("2077474-0")
    page.locator("#slug").fill("yksin-ohjaten")
    page.get_by_label("Your name").fill("Ylva Yksin")
    page.get_by_label("E-mail").fill("ylva@yksin.example")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create the workspace").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
    expect(page).to_have_url(base + "/signup/sent")
    page.reload()  # the page is its own address: a reload keeps it
    expect(page.get_by_text("ylva@yksin.example")).to_be_visible()
    assert serious_violations(page) == []

    page.goto(open_latest_mail_link(page, base, "Yksin Ohjaten Oy"))
    expect(page.get_by_role("heading", name="Yksin Ohjaten Oy")).to_be_visible()
    checklist = page.locator("#setup")
    expect(checklist.get_by_role("heading", name="Set up your firm")).to_be_visible()
    expect(checklist.locator("#setup-progress-text")).to_have_text("0 of 8 done")
    expect(checklist.locator("progress")).to_have_attribute("value", "0")
    supervisors = checklist.locator("#setup-supervisors")
    expect(supervisors).to_have_class("todo")
    assert serious_violations(page) == []

    # A one-person firm: the owner takes the clients.
    supervisors.get_by_role("link", name="or supervise clients yourself").click()
    page.get_by_label("I supervise clients myself").check()
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_role("status")).to_contain_text("The profile has been saved")

    page.goto(base + "/t/yksin-ohjaten/")
    expect(checklist.locator("#setup-progress-text")).to_have_text("1 of 8 done")
    expect(checklist.locator("progress")).to_have_attribute("value", "1")
    expect(supervisors).to_have_class("done")
    expect(supervisors).to_contain_text("done")

    checklist.get_by_role("button", name="Hide the checklist").click()
    expect(page.get_by_role("status")).to_contain_text("The setup checklist is put away")
    expect(page.locator("#setup")).to_have_count(0)
    page.reload()
    expect(page.locator("#setup")).to_have_count(0)
