"""The platform operator's list of firms at ``/platform/``: plans, seats and revenue."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from luotsi.billing.subscription.models import PlanInterval, PlanStatus
from luotsi.platform import i18n
from luotsi.platform.db import UNSCOPED_KEY, make_sessionmaker
from luotsi.platform.identity import User
from tests.conftest import Backend, Client
from tests.factories import Bind, Firms, make_firm, make_user, set_plan
from tests.queries import count_queries

URL = "/platform/"


def eur(cents: int) -> str:
    """An amount as the English page writes it (Finnish money: 87,00 €)."""
    i18n.set_language("en")
    return i18n.format_money(cents)


async def operator(backend: Backend, app: Litestar) -> Client:
    user = await make_user(backend.owner, "operaattori@luotsi.example", "Oona Operaattori")
    async with make_sessionmaker(backend.owner)() as db, db.begin():
        db.info[UNSCOPED_KEY] = True
        row = await db.get(User, user.id)
        assert row is not None
        row.is_operator = True
    client = Client(app)
    client.client.cookies.set("luotsi_lang", "en")
    await client.login(user.email)
    return client


def row_of(page: str, slug: str) -> str:
    """The table row of the firm ``slug``."""
    return page.split(f"<code>{slug}</code>", 1)[1].split("</tr>", 1)[0]


async def test_the_operator_sees_every_firm_with_its_plan_and_revenue(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    paid = {"customer_id": "cus_a", "stripe_subscription_id": "sub_a"}
    await set_plan(
        clean_db.owner,
        firms.a.tenant,
        **paid,
        status=PlanStatus.ACTIVE,
        interval=PlanInterval.MONTH,
        seats=3,
        seat_cents=2900,
    )
    await set_plan(
        clean_db.owner,
        firms.b.tenant,
        customer_id="cus_b",
        stripe_subscription_id="sub_b",
        status=PlanStatus.PAST_DUE,
        interval=PlanInterval.YEAR,
        seats=2,
        seat_cents=29000,
    )
    client = await operator(clean_db, stripe_app)
    assert 'href="/platform/"' in (await client.get("/")).text  # the way in
    page = await client.get(URL)
    assert page.status_code == 200
    alfa, beeta = row_of(page.text, "alfa"), row_of(page.text, "beeta")
    assert "Active" in alfa and "Monthly" in alfa and ">3<" in alfa and eur(8700) in alfa
    # 2 × 290,00 € a year is 48,33 € a month (rounded); a failed payment still counts.
    assert "Payment overdue" in beeta and "Yearly" in beeta and ">2<" in beeta
    assert eur(4833) in beeta
    assert f"Monthly recurring revenue in total: {eur(13533)}" in page.text
    assert "Alfa Työnohjaus Oy" in page.text and "Beeta Työnohjaus Oy" in page.text


async def test_a_canceled_plan_and_a_trial_bring_no_revenue(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(
        clean_db.owner,
        firms.a.tenant,
        customer_id="cus_a",
        stripe_subscription_id="sub_a",
        status=PlanStatus.CANCELED,
        seats=3,
        seat_cents=2900,
    )
    client = await operator(clean_db, stripe_app)
    page = await client.get(URL)
    assert "Canceled" in row_of(page.text, "alfa")
    assert "Trial" in row_of(page.text, "beeta")  # no row: Luotsi's own trial
    assert f"Monthly recurring revenue in total: {eur(0)}" in page.text


async def test_without_stripe_every_firm_is_unlimited(
    app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    await set_plan(
        clean_db.owner, firms.a.tenant, stripe_subscription_id="sub_a", seats=3, seat_cents=2900
    )
    page = await (await operator(clean_db, app)).get(URL)
    assert page.status_code == 200
    assert "Unlimited" in row_of(page.text, "alfa") and "Unlimited" in row_of(page.text, "beeta")
    assert eur(8700) not in page.text


async def test_search_finds_firms_by_name_or_address(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    client = await operator(clean_db, stripe_app)
    by_name = await client.get(URL, params={"q": "beeta työnohjaus"})
    assert "<code>beeta</code>" in by_name.text and "<code>alfa</code>" not in by_name.text
    by_slug = await client.get(URL, params={"q": "ALF"})
    assert "<code>alfa</code>" in by_slug.text and "<code>beeta</code>" not in by_slug.text
    fragment = await client.get(URL, params={"q": "%"}, headers={"HX-Request": "true"})
    assert "No firms." in fragment.text and "<html" not in fragment.text


async def test_a_firm_owner_and_an_anonymous_visitor_find_nothing(
    stripe_app: Litestar, clean_db: Backend, firms: Firms
) -> None:
    anonymous = Client(stripe_app)
    assert (await anonymous.get(URL)).status_code == 404
    owner = Client(stripe_app)
    await owner.login(firms.a.owner.user.email)
    assert (await owner.get(URL)).status_code == 404
    assert 'href="/platform/"' not in (await owner.get("/")).text
    await operator(clean_db, stripe_app)  # a positive control: the page is there
    assert (await owner.get(URL)).status_code == 404


async def _add_firms(conn: Bind, numbers: range) -> None:
    for i in numbers:
        tenant = await make_firm(conn, f"firma-{i:03d}", f"Firma {i:03d} Oy", "0737546-2")
        await set_plan(
            conn,
            tenant,
            customer_id=f"cus_{i}",
            stripe_subscription_id=f"sub_{i}",
            status=PlanStatus.ACTIVE,
            seats=i % 5 + 1,
            seat_cents=2900,
        )


async def test_the_list_costs_as_many_statements_for_30_firms_as_for_1(
    stripe_app: Litestar, clean_db: Backend
) -> None:
    client = await operator(clean_db, stripe_app)

    async def measure() -> Any:
        await client.get(URL)  # a first visit's work (a session touch) happens here
        async with count_queries(stripe_app) as counted:
            page = await client.get(URL)
        assert page.status_code == 200
        return counted, page.text

    async with clean_db.owner.begin() as conn:
        await _add_firms(conn, range(1))
    one, page = await measure()
    assert page.count('class="firm-row"') == 1
    async with clean_db.owner.begin() as conn:
        await _add_firms(conn, range(1, 30))
    thirty, page = await measure()
    assert page.count('class="firm-row"') == 30
    assert one.statements == thirty.statements, f"{one}\n\n{thirty}"


async def test_a_long_list_is_paged(stripe_app: Litestar, clean_db: Backend) -> None:
    async with clean_db.owner.begin() as conn:
        await _add_firms(conn, range(55))
    client = await operator(clean_db, stripe_app)
    first = await client.get(URL)
    assert first.text.count('class="firm-row"') == 50 and "Page 1 of 2" in first.text
    second = await client.get(URL, params={"page": "2"})
    assert second.text.count('class="firm-row"') == 5
    assert "<code>firma-054</code>" in second.text
