"""A visitor finds a supervisor on the demo firm's public page; the list updates in place."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_place_search_updates_the_list_in_place(page: Page, live_server: str) -> None:
    page.goto(live_server + "/f/demo/")
    expect(page.get_by_role("heading", name="Demo Työnohjaus Oy", level=1)).to_be_visible()
    results = page.locator("#directory-results")
    expect(results).to_contain_text("Juha Järvinen")  # everyone, before any filter
    # A full page load would lose this; an in-place update keeps it.
    page.evaluate("document.body.dataset.marker = 'kept'")

    place = page.locator("#place")
    place.press_sequentially("Hämeen", delay=40)
    suggestion = page.locator('#place-options option[value="Hämeenlinna (Kanta-Häme)"]')
    expect(suggestion).to_have_count(1)  # the autocomplete offered it
    place.fill("Hämeenlinna (Kanta-Häme)")  # what choosing the suggestion puts in the box
    page.locator("#directory-filters button[type=submit]").click()

    expect(page).to_have_url(re.compile(r"/f/demo/\?place=H%C3%A4meenlinna"))
    expect(results).not_to_contain_text("Juha Järvinen")  # Lapland only
    expect(results).to_contain_text("Ville Ohjaaja")  # Kanta-Häme
    expect(results).to_contain_text("Aino Ohjaaja")  # the firm's area "Etelä-Suomi"
    expect(results).to_contain_text("Kaisu Kettunen")  # remote, anywhere in Finland
    expect(results).not_to_contain_text("Elina Eskola")  # inactive
    assert page.evaluate("document.body.dataset.marker") == "kept"

    page.locator("#kind").select_option("group")  # a select updates the list on change
    expect(page).to_have_url(re.compile(r"kind=group"))
    expect(results).not_to_contain_text("Aino Ohjaaja")
    expect(results).to_contain_text("Ville Ohjaaja")
    assert page.evaluate("document.body.dataset.marker") == "kept"

    # The URL is shareable: opened afresh, it shows the same list and filters.
    shared = page.url
    page.goto(shared)
    expect(page.locator("#place")).to_have_value("Hämeenlinna (Kanta-Häme)")
    expect(page.locator("#kind")).to_have_value("group")
    expect(results).to_contain_text("Ville Ohjaaja")
    expect(results).not_to_contain_text("Aino Ohjaaja")

    results.get_by_role("link", name="Ville Ohjaaja").click()
    expect(page.get_by_role("heading", name="Ville Ohjaaja", level=1)).to_be_visible()
    expect(page.locator("a[href='tel:+358405550102']").first).to_be_visible()
