"""Dashboards: what needs attention today, for the office and for a supervisor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from luotsi.platform import clock
from tests.conftest import Backend, Client
from tests.factories import Firms, add_agreement, add_person, add_session


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def test_dashboard_shows_what_needs_attention(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, engine = firms.a, clean_db.owner
    today = clock.today()
    # Sessions planned two hours ago: over, still planned -> waiting to be marked.
    await add_session(
        engine, a.tenant, a.agreement, a.supervisor, starts_at=clock.now() - timedelta(hours=2)
    )
    # A review due in five days (six months from the start, no review yet).
    soon = await add_person(engine, a.tenant, a.org, "supervisee", "Ville Välittömästi")  # type: ignore[arg-type]
    due_soon = await add_agreement(
        engine,
        a.tenant,
        a.org,
        a.supervisor,
        [soon],
        start_date=today - relativedelta(months=6) + timedelta(days=5),
        end_date=today + relativedelta(months=6),
    )
    # An agreement ending in thirty days whose planned sessions overrun its quota of one.
    late = await add_person(engine, a.tenant, a.org, "supervisee", "Liisa Loppuva")  # type: ignore[arg-type]
    ending = await add_agreement(
        engine,
        a.tenant,
        a.org,
        a.supervisor,
        [late],
        start_date=today - relativedelta(months=3),
        end_date=today + timedelta(days=30),
        session_quota=1,
    )
    for days in (7, 14):
        await add_session(
            engine, a.tenant, ending, a.supervisor, starts_at=clock.now() + timedelta(days=days)
        )

    await client.login(a.supervisor.user.email)
    page = await client.get("/t/alfa/")
    assert page.status_code == 200
    waiting = page.text.split('id="to-mark"')[1].split("</section>")[0]
    assert "Sanna Supervisee" in waiting
    reviews = page.text.split('id="reviews-due"')[1].split("</section>")[0]
    assert "Ville Välittömästi" in reviews and f"/t/alfa/agreements/{due_soon.id}" in reviews
    assert "Sanna Supervisee" not in reviews  # reviewed a month ago: next due in five months
    ending_list = page.text.split('id="ending"')[1].split("</section>")[0]
    assert "Liisa Loppuva" in ending_list
    quota = page.text.split('id="quota"')[1].split("</section>")[0]
    assert "Liisa Loppuva" in quota and "0 used and 2 planned of 1" in quota

    # Firm B's owner sees none of firm A's.
    await client.login(firms.b.owner.user.email)
    other = await client.get("/t/beeta/")
    assert "Ville Välittömästi" not in other.text and "Liisa Loppuva" not in other.text


async def test_a_supervisor_sees_only_their_own_agreements(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, engine = firms.a, clean_db.owner
    today = clock.today()
    person = await add_person(engine, a.tenant, a.org, "supervisee", "Kalle Kollegan")  # type: ignore[arg-type]
    await add_agreement(  # the admin supervises this one
        engine,
        a.tenant,
        a.org,
        a.admin,
        [person],
        start_date=today - relativedelta(months=3),
        end_date=today + timedelta(days=20),
    )
    await client.login(a.supervisor.user.email)
    assert "Kalle Kollegan" not in (await client.get("/t/alfa/")).text
    await client.login(a.owner.user.email)
    assert "Kalle Kollegan" in (await client.get("/t/alfa/")).text


async def test_each_list_shows_the_first_ten_and_says_how_many_more(
    client: Client, firms: Firms, clean_db: Backend
) -> None:
    a, engine = firms.a, clean_db.owner
    today = clock.today()
    # Twelve agreements that started 13 months ago (review overdue), end within 30 days and
    # overrun a quota of one: each on all three lists.
    for i in range(12):
        person = await add_person(engine, a.tenant, a.org, "supervisee", f"Usea {i:02d}")  # type: ignore[arg-type]
        agreement = await add_agreement(
            engine,
            a.tenant,
            a.org,
            a.supervisor,
            [person],
            start_date=today - relativedelta(months=13),
            end_date=today + timedelta(days=20 + i),
            session_quota=1,
        )
        for days in (1, 2):
            await add_session(
                engine,
                a.tenant,
                agreement,
                a.supervisor,
                starts_at=clock.now() + timedelta(days=days),
            )
    await client.login(a.owner.user.email)
    page = await client.get("/t/alfa/")
    for section in ("reviews-due", "ending", "quota"):
        shown = page.text.split(f'id="{section}"')[1].split("</section>")[0]
        assert shown.count("<li") == 10, section
        assert "and 2 more" in shown, section
    ending = page.text.split('id="ending"')[1].split("</section>")[0]
    assert "Usea 09" in ending and "Usea 10" not in ending  # the soonest ten
