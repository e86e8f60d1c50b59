"""The owner sets how long confidential content is kept; the retention job follows the setting."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update

from luotsi.platform import audit, clock
from luotsi.platform.audit import AuditEvent
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.jobs import JOBS, run_job
from luotsi.platform.tenancy import Tenant
from luotsi.tenants.agreements.models import Agreement, AgreementStatus
from luotsi.tenants.content import Goal, SessionNote
from tests.conftest import Backend, Client
from tests.factories import Firm, Firms, add_content

URL = "/t/alfa/settings/retention/"


@pytest.fixture(autouse=True)
def english(client: Client) -> None:
    client.client.cookies.set("luotsi_lang", "en")


async def retention_months(backend: Backend, tenant_id: uuid.UUID) -> int:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        months = await db.scalar(
            select(Tenant.content_retention_months).where(Tenant.id == tenant_id)
        )
    assert months is not None
    return months


async def settings_rows(backend: Backend) -> list[AuditEvent]:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[UNSCOPED_KEY] = True
        rows = await db.scalars(
            select(AuditEvent).where(AuditEvent.action == audit.SETTINGS_CHANGED)
        )
        return list(rows)


async def end_agreement(backend: Backend, firm: Firm, ended_at: datetime) -> None:
    async with backend.owner.begin() as conn:
        await conn.execute(
            update(Agreement)
            .where(Agreement.id == firm.agreement.id)
            .values(status=AgreementStatus.ENDED, status_changed_at=ended_at)
        )


async def count_rows(backend: Backend, firm: Firm, model: Any) -> int:
    async with make_sessionmaker(backend.owner)() as db:
        db.info[TENANT_KEY] = firm.tenant.id
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def run_retention(backend: Backend) -> int:
    engine = make_engine(backend.settings.runtime_database_url)
    try:
        return await run_job(
            make_sessionmaker(engine), backend.settings, JOBS["content_retention"], now=clock.now()
        )
    finally:
        await engine.dispose()


async def test_owner_sees_the_period_and_what_is_erased(client: Client, firms: Firms) -> None:
    await client.login(firms.a.owner.user.email)
    page = await client.get(URL)
    assert page.status_code == 200
    assert '<option value="24" selected>2 years (recommended)</option>' in page.text
    for label in ("6 months", "1 year", "3 years", "5 years"):
        assert f">{label}</option>" in page.text
    erased = page.text.split('id="what-is-erased"')[1]
    assert "private session notes" in erased and "limits of confidentiality" in erased
    assert "Invoices" in erased and "Sessions" in erased
    hub = await client.get("/t/alfa/settings/")
    assert f'href="{URL}"' in hub.text and 'href="/t/alfa/settings/erasure-requests/"' in hub.text


async def test_owner_changes_the_period_and_the_change_is_audited(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post(URL, {"months": "36"})
    assert response.status_code == 303
    assert response.headers["location"] == URL
    assert await retention_months(clean_db, firms.a.tenant.id) == 36
    assert await retention_months(clean_db, firms.b.tenant.id) == 24
    page = await client.get(response.headers["location"])
    assert "The retention period has been saved." in page.text
    assert '<option value="36" selected>' in page.text
    [row] = await settings_rows(clean_db)
    assert (row.tenant_id, row.object_type, row.object_id) == (
        firms.a.tenant.id,
        "tenant",
        firms.a.tenant.id,
    )
    assert (row.actor_user_id, row.actor_name) == (firms.a.owner.user_id, "Maija Owner")
    assert row.ip == "127.0.0.1"
    log = (await client.get("/t/alfa/audit/")).text
    assert "Changed the firm&#39;s settings" in log and ">Firm</span>" in log
    # Saving the same period again changes nothing and adds no row.
    assert (await client.post(URL, {"months": "36"})).status_code == 303
    assert len(await settings_rows(clean_db)) == 1


@pytest.mark.parametrize("months", ["7", "abc", "", "-24"])
async def test_a_period_not_on_the_list_is_refused(
    client: Client, clean_db: Backend, firms: Firms, months: str
) -> None:
    await client.login(firms.a.owner.user.email)
    response = await client.post(URL, {"months": months})
    assert response.status_code == 422
    assert "Choose one of the periods on the list." in response.text
    assert await retention_months(clean_db, firms.a.tenant.id) == 24
    assert await settings_rows(clean_db) == []


async def test_only_the_owner_sets_the_period(
    client_factory: Any, clean_db: Backend, firms: Firms
) -> None:
    for person, status in ((firms.a.admin, 403), (firms.a.supervisor, 403), (firms.b.owner, 404)):
        visitor = client_factory()
        await visitor.login(person.user.email)
        assert (await visitor.get(URL)).status_code == status
        assert (await visitor.post(URL, {"months": "6"})).status_code == status
    assert await retention_months(clean_db, firms.a.tenant.id) == 24
    assert await settings_rows(clean_db) == []
    admin = client_factory()
    await admin.login(firms.a.admin.user.email)
    hub = (await admin.get("/t/alfa/settings/")).text
    assert URL not in hub and "/t/alfa/settings/erasure-requests/" not in hub


async def test_shortening_that_would_erase_content_asks_first(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await end_agreement(clean_db, firms.a, clock.now() - relativedelta(months=18))
    await client.login(firms.a.owner.user.email)
    asked = await client.post(URL, {"months": "12"})
    assert asked.status_code == 200
    assert "1 ended agreement has been over for longer than that" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert await retention_months(clean_db, firms.a.tenant.id) == 24
    assert await settings_rows(clean_db) == []
    confirmed = await client.post(URL, {"months": "12", "confirmed": "yes"})
    assert confirmed.status_code == 303
    assert await retention_months(clean_db, firms.a.tenant.id) == 12
    assert len(await settings_rows(clean_db)) == 1


async def test_changes_that_erase_nothing_need_no_confirmation(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    # Ended six months ago: a one-year period still keeps its content.
    await end_agreement(clean_db, firms.a, clock.now() - relativedelta(months=6))
    await client.login(firms.a.owner.user.email)
    assert (await client.post(URL, {"months": "12"})).status_code == 303
    assert (await client.post(URL, {"months": "60"})).status_code == 303  # longer: never asks
    assert await retention_months(clean_db, firms.a.tenant.id) == 60


async def test_retention_job_follows_the_changed_period(
    client: Client, clean_db: Backend, firms: Firms
) -> None:
    await add_content(clean_db, firms.a)
    await add_content(clean_db, firms.b)
    for firm in (firms.a, firms.b):
        await end_agreement(clean_db, firm, clock.now() - relativedelta(months=18))
    assert await run_retention(clean_db) == 0  # two years: both still kept
    await client.login(firms.a.owner.user.email)
    await client.post(URL, {"months": "12", "confirmed": "yes"})
    assert await run_retention(clean_db) == 1  # firm A's only
    assert await count_rows(clean_db, firms.a, Goal) == 0
    assert await count_rows(clean_db, firms.a, SessionNote) == 0
    assert await count_rows(clean_db, firms.b, Goal) == 2
    assert await count_rows(clean_db, firms.b, SessionNote) == 1
    async with make_sessionmaker(clean_db.owner)() as db:
        db.info[TENANT_KEY] = firms.a.tenant.id
        agreement = await db.scalar(select(Agreement).where(Agreement.id == firms.a.agreement.id))
        assert agreement is not None and agreement.content_erased_at is not None
    assert await run_retention(clean_db) == 0  # done once
