"""Feedback and robustness in the browser: an action in flight cannot be sent twice, an
expired session leads to the sign-in page and back, and a changed form is not left silently."""

from __future__ import annotations

from playwright.sync_api import Dialog, Page, Route, expect

from luotsi.demo import DEMO_PASSWORD as PASSWORD
from tests.e2e.conftest import DEMO_OWNER as OWNER
from tests.e2e.conftest import sign_in


def test_a_second_click_on_send_does_not_send_the_invitation_again(
    page: Page, live_server: str
) -> None:
    sign_in(page, live_server)
    page.goto(live_server + "/t/demo/members/")
    held: list[Route] = []
    page.route(
        "**/members/invite", lambda route: held.append(route)
    )  # the request waits on a slow network
    form = page.locator("#invite-form")
    form.get_by_label("E-mail").fill("kaksoisklikki@example.com")
    send = form.get_by_role("button", name="Send the invitation")
    send.click()
    expect(send).to_be_disabled()
    expect(form).to_have_attribute("aria-busy", "true")
    send.click(force=True)  # the impatient second click, on the disabled button
    page.wait_for_timeout(500)
    assert len(held) == 1
    with page.expect_response("**/members/invite") as answered:
        held[0].continue_()
    assert answered.value.ok
    fresh = page.locator("#invite-form").get_by_role("button", name="Send the invitation")
    expect(fresh).to_be_enabled()
    assert len(held) == 1


def test_an_expired_session_on_an_htmx_request_signs_in_again_and_comes_back(
    page: Page, live_server: str
) -> None:
    sign_in(page, live_server)
    page.goto(live_server + "/t/demo/agreements/?status=current")
    expect(page.get_by_role("heading", name="Agreements")).to_be_visible()
    page.context.clear_cookies(name="luotsi_session")  # the session has ended meanwhile
    page.get_by_label("Organisation or supervisee").press_sequentially("Kunta")  # htmx search
    page.wait_for_url(lambda url: "/login?next=" in url)
    assert page.url.endswith("/login?next=/t/demo/agreements/%3Fstatus%3Dcurrent")  # the page
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").last.click()
    page.wait_for_url(lambda url: url.endswith("/t/demo/agreements/?status=current"))
    expect(page.get_by_role("heading", name="Agreements")).to_be_visible()


def test_leaving_a_changed_form_asks_first(page: Page, live_server: str) -> None:
    sign_in(page, live_server)
    page.goto(live_server + "/t/demo/members/")
    email = page.locator("#invite-form").get_by_label("E-mail")
    email.click()  # the person is on the page (a browser asks only after an interaction)
    email.fill("kesken@example.com")
    asked: list[str] = []

    def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.once("dialog", stay)
    page.get_by_role("link", name="Calendar").first.click(no_wait_after=True)
    expect(page.locator("#invite-form").get_by_label("E-mail")).to_have_value("kesken@example.com")
    assert asked == ["beforeunload"]
    assert page.url.endswith("/t/demo/members/")


def test_switching_the_language_keeps_the_filters_of_the_list(page: Page, live_server: str) -> None:
    sign_in(page, live_server)
    page.goto(live_server + "/t/demo/clients/")
    page.get_by_label("Name or business ID").press_sequentially("hyvinvointi")  # htmx search
    page.wait_for_url(lambda url: "q=hyvinvointi" in url)
    expect(page.locator("#client-results tbody tr")).to_have_count(1)
    page.get_by_role("button", name="FI").click()
    page.wait_for_url(lambda url: "q=hyvinvointi" in url)
    expect(page.get_by_label("Nimi tai Y-tunnus")).to_have_value("hyvinvointi")
    expect(page.locator("#client-results tbody tr")).to_have_count(1)


def test_the_search_box_finds_across_the_workspace(page: Page, live_server: str) -> None:
    sign_in(page, live_server)
    page.goto(live_server + "/t/demo/calendar/")
    page.get_by_label("Search the workspace").fill("sari")
    page.get_by_label("Search the workspace").press("Enter")
    page.wait_for_url(lambda url: "/t/demo/search?q=sari" in url)
    people = page.get_by_role("region", name="People")
    expect(people.get_by_role("link", name="Sari Sosiaalityö")).to_be_visible()
    # Typing on the search page searches again without a reload.
    page.get_by_label("Name, business ID or invoice number").fill("hyvinvointialue")
    organisations = page.get_by_role("region", name="Client organisations")
    expect(organisations.get_by_role("link", name="Esimerkin hyvinvointialue")).to_be_visible()
    expect(page.get_by_role("region", name="People")).to_have_count(0)
    organisations.get_by_role("link", name="Esimerkin hyvinvointialue").click()
    expect(page.get_by_role("heading", name="Esimerkin hyvinvointialue")).to_be_visible()
