"""The sales and VAT summary per month: sums in SQL, as the page and the CSV show them."""

from __future__ import annotations

import csv
import io

import pytest
from litestar import Litestar

from luotsi.billing import invoices
from tests import clock
from tests.billing.arrange import Row, complete_profile
from tests.conftest import Backend, Client
from tests.factories import Firms
from tests.web.billing.test_invoice_pages import firm_db, issue, owner_of, text_of

BASE = "/t/alfa/billing/summary"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def arrange(backend: Backend, firms: Firms) -> None:
    """Four invoices this month and a credit note of the first (the fixture draft stays a
    draft and is left out)."""
    a = firms.a
    async with firm_db(backend, a) as db:
        await complete_profile(db, next_number=7000)
        first = await issue(db, a, a.org, Row("Työnohjaus", 10001))  # VAT 25,5 % 25,50
        await issue(db, a, a.org, Row("Aineisto", 1999, "3", 1400))  # 59,97, VAT 14 % 8,40
        # 1,03 at 25,5 % is 0,26 on each invoice: 0,52, though 2,06 would make 0,53.
        await issue(db, a, a.org, Row("Pieni", 103))
        await issue(db, a, a.org, Row("Pieni", 103))
        note = await invoices.credit(db, a.owner, first.id)
        await invoices.issue(db, a.owner, note.id)


def month() -> str:
    today = clock.today()
    return f"{today.year}-{today.month:02d}"


async def test_the_months_sales_and_vat_per_rate_with_totals(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await arrange(clean_db, firms)
    await owner_of(client, firms.a)
    page = await client.get(f"{BASE}?from={month()}&to={month()}")
    assert page.status_code == 200
    text = text_of(page)
    today = clock.today()
    label = f"{today.month}/{today.year}"
    assert "VAT 25,5 % VAT 14 % VAT Total" in text
    assert f"{label} Invoice 4 162,04 € 26,02 € 8,40 € 34,42 € 196,46 €" in text
    assert f"{label} Credit note 1 -100,01 € -25,50 € 0,00 € -25,50 € -125,51 €" in text
    assert "Total All 5 62,03 € 0,52 € 8,40 € 8,92 € 70,95 €" in text
    # The default period is this year until this month: the same documents.
    assert "Total All 5 62,03 €" in text_of(await client.get(BASE))


async def test_the_csv_is_what_finnish_excel_reads(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await arrange(clean_db, firms)
    await owner_of(client, firms.a)
    export = await client.get(f"{BASE}.csv?from={month()}&to={month()}")
    assert export.status_code == 200
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in export.headers["content-disposition"]
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [
        ["Month", "Kind", "Count", "Net", "VAT 25,5 %", "VAT 14 %", "VAT", "Total"],
        [month(), "Invoice", "4", "162,04", "26,02", "8,40", "34,42", "196,46"],
        [month(), "Credit note", "1", "-100,01", "-25,50", "0,00", "-25,50", "-125,51"],
        ["Total", "Invoice", "4", "162,04", "26,02", "8,40", "34,42", "196,46"],
        ["Total", "Credit note", "1", "-100,01", "-25,50", "0,00", "-25,50", "-125,51"],
        ["Total", "All", "5", "62,03", "0,52", "8,40", "8,92", "70,95"],
    ]


async def test_months_before_the_issue_dates_have_nothing_and_bad_months_are_refused(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await arrange(clean_db, firms)
    await owner_of(client, firms.a)
    earlier = f"{clock.today().year - 1}-01"
    empty = await client.get(f"{BASE}?from={earlier}&to={earlier}")
    assert empty.status_code == 200 and "Nothing was issued in these months." in text_of(empty)
    bad = await client.get(f"{BASE}?from=2026-13&to={month()}")
    assert bad.status_code == 422 and "Give the period as a year and a month" in text_of(bad)
    backwards = await client.get(f"{BASE}?from={month()}&to={earlier}")
    assert backwards.status_code == 422 and "The last month is before the first." in backwards.text
    assert (await client.get(f"{BASE}.csv?from=x&to=y")).status_code == 422


async def test_a_supervisor_is_refused(app: Litestar, firms: Firms) -> None:
    supervisor = Client(app)
    await supervisor.login(firms.a.supervisor.user.email)
    assert (await supervisor.get(BASE)).status_code == 403
    assert (await supervisor.get(BASE + ".csv")).status_code == 403
