"""The reports page: figures for known data, filters, charts with tables, roles, isolation."""

from __future__ import annotations

import re
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from luotsi.billing import invoices
from luotsi.tenants.clients.models import PersonRole
from luotsi.tenants.sessions.models import SessionStatus
from tests import clock
from tests.billing.arrange import Row, add_draft, complete_profile
from tests.conftest import Backend, Client, scoped
from tests.factories import (
    Firm,
    Firms,
    add_agreement,
    add_client_org,
    add_person,
    add_session,
    bind_supervisee_login,
)


def last_month() -> date:
    """The 15th of last month: always inside the default period, never this month."""
    return clock.today().replace(day=1) - relativedelta(months=1) + timedelta(days=14)


def label(day: date) -> str:
    return f"{day.month}/{day.year}"


def _table(page: str, table: str) -> str:
    body = page[page.index(f'id="{table}"') :]
    return body[: body.index("</table>")]


def heads(page: str, table: str) -> list[str]:
    """The row headers of the table with id ``table``."""
    return re.findall(r'<th scope="row">(?:<a [^>]*>)?([^<]*)', _table(page, table))


def cells(page: str, table: str, row: str) -> list[str]:
    """The cells of the row headed ``row`` in the table with id ``table``."""
    head = rf'<th scope="row">(?:<a [^>]*>)?{re.escape(row)}(?:</a>)?(?:<br>.*?)?</th>(.*?)</tr>'
    found = re.search(head, _table(page, table))
    assert found, (table, row)
    return re.findall(r"<td[^>]*>(.*?)</td>", found[1])


async def _login(client: Client, email: str) -> Client:
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(email)
    return client


async def _sessions(backend: Backend, firm: Firm) -> None:
    """Last month: two held (90 min recorded, 60 planned), a cancellation, a late (billable)
    cancellation and a no-show; the month before, one held."""
    day = last_month()
    for hour, status, extra in (
        (8, SessionStatus.HELD, {"actual_minutes": 90}),
        (10, SessionStatus.HELD, {}),
        (12, SessionStatus.CANCELLED_BY_CLIENT, {}),
        (14, SessionStatus.CANCELLED_BY_CLIENT, {"late_cancellation": True, "billable": True}),
        (16, SessionStatus.NO_SHOW, {"billable": True}),
    ):
        await add_session(
            backend.owner,
            firm.tenant,
            firm.agreement,
            firm.supervisor,
            starts_at=clock.at(day, hour),
            status=status,
            **extra,
        )
    await add_session(
        backend.owner,
        firm.tenant,
        firm.agreement,
        firm.supervisor,
        starts_at=clock.at(day - relativedelta(months=1), 10),
        status=SessionStatus.HELD,
    )


async def test_the_report_counts_sessions_hours_and_quota_of_known_data(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await _sessions(clean_db, firms.a)
    await _sessions(clean_db, firms.b)  # the other firm's figures stay its own
    await _login(client, firms.a.admin.user.email)
    page = await client.get("/t/alfa/reports/")
    assert page.status_code == 200
    month = last_month()
    assert cells(page.text, "report-sessions", label(month)) == ["2", "1", "1", "1"]
    earlier = month - relativedelta(months=1)
    assert cells(page.text, "report-sessions", label(earlier)) == ["1", "0", "0", "0"]
    assert cells(page.text, "report-hours", "Maija Supervisor") == ["3", "3,5 h"]
    # Quota 15; used: 3 held, the no-show and the late cancellation; planned: the fixture's.
    assert cells(page.text, "report-quota", "Esimerkkikunta") == ["1", "15", "5", "1"]
    assert cells(page.text, "report-agreements", "Esimerkkikunta") == ["Active", "15", "5", "1"]
    assert '<span class="muted">Sanna Supervisee</span>' in page.text  # whose agreement it is


async def test_each_chart_is_an_accessible_image_beside_its_table(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await _sessions(clean_db, firms.a)
    await _login(client, firms.a.owner.user.email)
    page = (await client.get("/t/alfa/reports/")).text
    assert page.count('<svg class="bar-chart"') == 4  # no reviews are due: no chart for them
    assert page.count('role="img"') == 4
    titles = re.findall(r"<title>([^<]*)</title>", page)
    [sessions] = [t for t in titles if t.startswith("Sessions per month: ")]
    assert f"{label(last_month())}: Held 2, Cancelled 1, Cancelled late 1, No-show 1" in sessions
    assert any(
        t.startswith("Hours of held sessions per supervisor: Maija Supervisor") for t in titles
    )


async def test_reviews_due_and_overdue_are_counted_per_organisation(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    today = clock.today()
    org = await add_client_org(clean_db.owner, a.tenant, "Toinen kunta")
    person = await add_person(clean_db.owner, a.tenant, org, PersonRole.SUPERVISEE, "Olli")
    # Started 400 days ago and never reviewed: overdue. Started 6 months less 7 days ago: due.
    await add_agreement(
        clean_db.owner,
        a.tenant,
        org,
        a.supervisor,
        [person],
        start_date=today - timedelta(days=400),
        end_date=today + timedelta(days=60),
    )
    await add_agreement(
        clean_db.owner,
        a.tenant,
        org,
        a.supervisor,
        [person],
        start_date=today - relativedelta(months=6) + timedelta(days=7),
        end_date=today + timedelta(days=200),
    )
    await _login(client, a.owner.user.email)
    page = (await client.get("/t/alfa/reports/")).text
    assert cells(page, "report-reviews", "Toinen kunta") == ["1", "1"]
    assert "1 overdue, 1 due" in page
    assert heads(page, "report-reviews") == ["Toinen kunta"]  # only where reviews are due


async def test_revenue_and_receivables_per_month_of_issue(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    async with scoped(clean_db, a.tenant) as db:
        await complete_profile(db)
        first = await add_draft(db, a.org, Row(unit_cents=10000, vat_basis_points=0))
        await invoices.issue(db, a.owner, first.id)
        second = await add_draft(db, a.org, Row(unit_cents=5000, vat_basis_points=0))
        await invoices.issue(db, a.owner, second.id)
        note = await invoices.credit(db, a.owner, second.id)
        await invoices.issue(db, a.owner, note.id)
        await db.commit()
    await _login(client, a.owner.user.email)
    page = (await client.get("/t/alfa/reports/")).text
    # 100 + 50 - 50 invoiced this month; the first is open, the credited one is not.
    assert cells(page, "report-money", label(clock.today())) == ["100,00\xa0€", "100,00\xa0€"]
    assert cells(page, "report-money", label(last_month())) == ["0,00\xa0€", "0,00\xa0€"]


async def test_filters_narrow_the_figures(client: Client, clean_db: Backend, firms: Firms) -> None:
    a = firms.a
    await _sessions(clean_db, a)
    other = await add_client_org(clean_db.owner, a.tenant, "Toinen kunta")
    await _login(client, a.owner.user.email)
    month = last_month()
    period = f"from={month:%Y-%m}&to={month:%Y-%m}"
    only = (await client.get(f"/t/alfa/reports/?{period}")).text
    assert heads(only, "report-sessions") == [label(month)]
    assert cells(only, "report-hours", "Maija Supervisor") == ["2", "2,5 h"]
    by_org = (await client.get(f"/t/alfa/reports/?{period}&org={other.id}")).text
    assert cells(by_org, "report-sessions", label(month)) == ["0", "0", "0", "0"]
    assert "No sessions were held in this period." in by_org
    assert f'<option value="{other.id}" selected>Toinen kunta</option>' in by_org
    by_admin = (await client.get(f"/t/alfa/reports/?{period}&supervisor={a.admin.id}")).text
    assert cells(by_admin, "report-sessions", label(month)) == ["0", "0", "0", "0"]
    mine = (await client.get(f"/t/alfa/reports/?{period}&supervisor={a.supervisor.id}")).text
    assert cells(mine, "report-sessions", label(month)) == ["2", "1", "1", "1"]


async def test_a_bad_period_is_a_form_error(client: Client, firms: Firms) -> None:
    await _login(client, firms.a.owner.user.email)
    backwards = await client.get("/t/alfa/reports/?from=2026-05&to=2026-01")
    assert backwards.status_code == 422
    assert "The last month is before the first." in backwards.text
    garbage = await client.get("/t/alfa/reports/?from=soon&supervisor=nobody&org=x")
    assert garbage.status_code == 422
    assert "Give the period as a year and a month" in garbage.text
    too_long = await client.get("/t/alfa/reports/?from=2020-01&to=2026-01")
    assert too_long.status_code == 422
    assert "Choose at most 36 months at a time." in too_long.text


async def test_owners_and_admins_see_reports_and_the_link_others_do_not(
    client_factory: object, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    await bind_supervisee_login(clean_db, a, a.supervisee, "sanna.reports@alfa-client.example")
    for email, status in (
        (a.owner.user.email, 200),
        (a.admin.user.email, 200),
        (a.supervisor.user.email, 403),
        ("sanna.reports@alfa-client.example", 403),
        (firms.b.owner.user.email, 404),
    ):
        client = await _login(client_factory(), email)  # type: ignore[operator]
        assert (await client.get("/t/alfa/reports/")).status_code == status, email
        home = await client.get("/t/beeta/" if status == 404 else "/t/alfa/", follow_redirects=True)
        assert home.status_code == 200
        assert ('/reports/"' in home.text) == (status != 403), email


async def test_the_per_agreement_table_is_paged_and_keeps_the_filters(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    a = firms.a
    for number in range(1, 56):  # with the fixture's agreement, 56 in the organisation
        await add_agreement(
            clean_db.owner,
            a.tenant,
            a.org,
            a.supervisor,
            [a.supervisee],
            title=f"Tiimi {number:02d}",
        )
    await _login(client, a.admin.user.email)
    first = await client.get(f"/t/alfa/reports/?org={a.org.id}")
    assert cells(first.text, "report-quota", "Esimerkkikunta")[0] == "56"
    assert len(heads(first.text, "report-agreements")) == 50
    assert "Page 1 of 2" in first.text
    [following] = re.findall(r'rel="next" href="\?([^"]*)"', first.text)
    assert f"org={a.org.id}" in following  # the filter goes along to the next page
    second = await client.get(f"/t/alfa/reports/?{following.replace('&amp;', '&')}")
    rest = heads(second.text, "report-agreements")
    assert len(rest) == 6 and "Page 2 of 2" in second.text
    assert not set(rest) & set(heads(first.text, "report-agreements"))  # no row twice
