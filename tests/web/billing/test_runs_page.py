"""Invoice runs through the pages: started for a month, followed to the end, resumable."""

from __future__ import annotations

import calendar
import re
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar

from luotsi.billing import runs
from luotsi.billing.runs import RUNS_PER_PAGE
from luotsi.web.billing import runs as runs_page
from tests import clock
from tests.billing.arrange import complete_profile
from tests.billing.test_drafts import held, last_month
from tests.billing.test_runs import add_billable_orgs
from tests.conftest import Backend, Client
from tests.factories import Firms
from tests.web.billing.test_invoice_pages import firm_db, owner_of, text_of

BASE = "/t/alfa/billing/runs"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def test_the_form_offers_the_previous_month(client: Client, firms: Firms) -> None:
    await owner_of(client, firms.a)
    page = await client.get(BASE)
    assert page.status_code == 200
    start, _end = last_month()
    assert f'value="{start:%Y-%m}"' in page.text and 'type="month"' in page.text
    assert "No invoice runs yet." in text_of(page)
    for target in ("invoices", "runs", "payments", "summary", "settings"):
        assert f'href="/t/alfa/billing/{target}"' in page.text  # the billing navigation


async def test_a_run_is_followed_to_the_end_through_its_page(
    client: Client, clean_db: Backend, firms: Firms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_page, "PAGE_CHUNK", 1)  # one organisation per request
    start, _end = last_month()
    await add_billable_orgs(clean_db, firms, 2)
    await held(clean_db, firms.a, clock.at(start + timedelta(days=3)))
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)

    started = await client.post(BASE, {"period": f"{start:%Y-%m}"})
    assert started.status_code == 303
    run_path = started.headers["location"]
    assert re.fullmatch(BASE + r"/[0-9a-f-]{36}", run_path)

    # The page polls itself while running; each request drafts one more organisation.
    page = await client.get(run_path)
    assert page.status_code == 200 and "<html" in page.text
    assert 'hx-trigger="every 2s"' in page.text
    assert "2 of 3 organisations handled, 2 drafts made." in text_of(page)
    poll = await client.get(run_path, headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "<html" not in poll.text
    assert "3 of 3 organisations handled, 3 drafts made." in text_of(poll)
    assert "every 2s" not in poll.text  # done: the polling stops
    assert 'href="/t/alfa/billing/invoices?status=draft"' in poll.text

    listed = text_of(await client.get(BASE))
    assert "Done" in listed and "3/3 (100 %)" in listed and "Maija Owner" in listed
    drafts = await client.get("/t/alfa/billing/invoices?status=draft")
    text = text_of(drafts)
    assert "Draft Invoice Kunta 0" in text and "Draft Invoice Kunta 1" in text
    assert text.count("Draft Invoice") == 4  # the three drafted and the fixture's draft


async def test_leaving_and_coming_back_resumes_the_run(
    client: Client, clean_db: Backend, firms: Firms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs_page, "PAGE_CHUNK", 1)
    start, _end = last_month()
    await add_billable_orgs(clean_db, firms, 2)
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)
    run_path = (await client.post(BASE, {"period": f"{start:%Y-%m}"})).headers["location"]
    listed = text_of(await client.get(BASE))  # elsewhere meanwhile
    assert "Running" in listed and "1/2 (50 %)" in listed
    back = await client.get(run_path)
    assert "2 of 2 organisations handled" in text_of(back) and "The run is done." in back.text


async def test_a_run_is_refused_without_settings_with_a_link_to_them(
    client: Client, firms: Firms
) -> None:
    await owner_of(client, firms.a)
    start, _end = last_month()
    refused = await client.post(BASE, {"period": f"{start:%Y-%m}"})
    assert refused.status_code == 422
    assert "Complete the billing settings" in refused.text and "IBAN" in refused.text
    assert 'href="/t/alfa/billing/settings"' in refused.text
    assert "No invoice runs yet." in text_of(refused)


async def test_a_bad_period_is_refused_in_the_form(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)
    for bad in ("2026-13", "marraskuu", ""):
        refused = await client.post(BASE, {"period": bad})
        assert refused.status_code == 422, bad
        assert "Give the period as a year and a month" in refused.text
        assert 'aria-invalid="true"' in refused.text


async def test_a_supervisor_is_refused_and_another_firm_finds_nothing(
    app: Litestar, client: Client, clean_db: Backend, firms: Firms
) -> None:
    start, _end = last_month()
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)
    run_path = (await client.post(BASE, {"period": f"{start:%Y-%m}"})).headers["location"]
    supervisor = Client(app)
    await supervisor.login(firms.a.supervisor.user.email)
    assert (await supervisor.get(BASE)).status_code == 403
    assert (await supervisor.post(BASE, {"period": f"{start:%Y-%m}"})).status_code == 403
    assert (await supervisor.get(run_path)).status_code == 403
    other = Client(app)
    await other.login(firms.b.owner.user.email)
    assert (await other.get(run_path.replace("/alfa/", "/beeta/"))).status_code == 404
    assert (await other.get(run_path)).status_code == 404


async def test_the_list_of_runs_is_paged(client: Client, clean_db: Backend, firms: Firms) -> None:
    start, _end = last_month()
    months = []
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
        for back in range(RUNS_PER_PAGE + 1):  # nothing to bill: each run is done at once
            first = (start - timedelta(days=31 * back)).replace(day=1)
            last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
            months.append(first)
            await runs.start_run(db, firms.a.owner, first, last)
    await owner_of(client, firms.a)

    def listed(page: Any) -> list[str]:
        return re.findall(r'href="/t/alfa/billing/runs/[0-9a-f-]{36}">([^<]*)<', page.text)

    first_page = await client.get(BASE)
    assert len(listed(first_page)) == RUNS_PER_PAGE
    assert "Page 1 of 2" in text_of(first_page) and 'href="?page=2"' in first_page.text
    second_page = await client.get(f"{BASE}?page=2")
    assert len(listed(second_page)) == 1 and "Page 2 of 2" in text_of(second_page)
    periods = {text.split("–")[0].strip() for text in listed(first_page) + listed(second_page)}
    assert periods == {clock.en_date(month) for month in months}
    assert listed(await client.get(f"{BASE}?page=abc")) == listed(first_page)


async def test_a_run_with_nothing_to_bill_says_so(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    async with firm_db(clean_db, firms.a) as db:
        await complete_profile(db)
    await owner_of(client, firms.a)
    started = await client.post(BASE, {"period": "2020-01"})  # long before any work
    assert started.status_code == 303
    text = text_of(await client.get(started.headers["location"]))
    assert "Nothing to invoice in this period" in text
    assert "Review the drafts" not in text
