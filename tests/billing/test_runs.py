"""Invoice runs: every billable organisation drafted once, in chunks, resumable; the command."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import runs
from luotsi.billing.models import Invoice, InvoiceRun, RunStatus
from luotsi.billing.runs import parse_period, start_run, work_on_run
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.errors import Forbidden, Invalid
from luotsi.platform.jobs import JOBS, JobContext, Registry, ensure_schedules, run_due_jobs
from luotsi.platform.tenancy import Role
from luotsi.tenants.clients.models import ClientOrg, PersonRole
from luotsi.tenants.sessions.models import SessionStatus
from tests import clock
from tests.billing.arrange import complete_profile
from tests.billing.test_drafts import held, last_month, scoped_a
from tests.conftest import Backend
from tests.factories import (
    Firms,
    add_agreement,
    add_client_org,
    add_member,
    add_person,
    add_session,
    make_firm,
    make_user,
)
from tests.platform.test_cli import luotsi


def test_a_period_is_a_month() -> None:
    assert parse_period("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert parse_period(" 2028-2 ") == (date(2028, 2, 1), date(2028, 2, 29))
    for bad in ("2026-13", "2026", "11/2026", "2026-11-01", "", "0999-01"):
        with pytest.raises(Invalid) as refused:
            parse_period(bad)
        assert "2026-11" in refused.value.errors["period"]


async def add_billable_orgs(backend: Backend, firms: Firms, count: int) -> list[ClientOrg]:
    """``count`` more organisations of firm A with a held session last month, and one idle."""
    a = firms.a
    start, _end = last_month()
    orgs = []
    for n in range(count):
        org = await add_client_org(backend.owner, a.tenant, f"Kunta {n}")
        person = await add_person(backend.owner, a.tenant, org, PersonRole.SUPERVISEE, "Eeva Oja")
        agreement = await add_agreement(backend.owner, a.tenant, org, a.supervisor, [person])
        await held(backend, a, clock.at(start + timedelta(days=n + 1)), agreement)
        orgs.append(org)
    await add_client_org(backend.owner, a.tenant, "Hiljainen kunta")
    return orgs


async def test_a_run_drafts_one_invoice_per_org_across_chunks(
    clean_db: Backend, firms: Firms
) -> None:
    start, end = last_month()
    orgs = [firms.a.org, *await add_billable_orgs(clean_db, firms, 2)]
    await held(clean_db, firms.a, clock.at(start + timedelta(days=3)))
    await held(clean_db, firms.b, clock.at(start + timedelta(days=3)))
    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        run = await start_run(db, firms.a.admin, start, end)
        await db.commit()
    assert (run.org_total, run.org_done, run.status) == (3, 0, RunStatus.RUNNING)

    progress = []
    while run.status is RunStatus.RUNNING:
        # Each chunk in its own session and transaction: the run resumes from its rows.
        async with scoped_a(clean_db, firms) as db:
            run = await work_on_run(db, run.id, chunk=1)
            await db.commit()
        progress.append((run.org_done, run.drafts, run.status))
    assert progress == [
        (1, 1, RunStatus.RUNNING),
        (2, 2, RunStatus.RUNNING),
        (3, 3, RunStatus.DONE),
    ]
    async with scoped_a(clean_db, firms) as db:
        drafted = list(await db.scalars(select(Invoice).where(Invoice.run_id == run.id)))
        assert sorted(i.org_id for i in drafted) == sorted(org.id for org in orgs)
        assert (await runs.get_run(db, run.id)).finished_at is not None
        # Nothing is drafted twice: the next run of the period finds nothing and is done.
        again = await start_run(db, firms.a.owner, start, end)
        assert (again.org_total, again.status) == (0, RunStatus.DONE)


async def test_a_run_is_refused_until_the_settings_are_complete(
    db: AsyncSession, firms: Firms
) -> None:
    start, end = last_month()
    with pytest.raises(Invalid) as refused:
        await start_run(db, firms.a.owner, start, end)
    assert "IBAN" in refused.value.errors["settings"]
    with pytest.raises(Forbidden):
        await start_run(db, firms.a.supervisor, start, end)
    assert list(await db.scalars(select(InvoiceRun))) == []


async def test_one_running_run_per_period(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    await held(clean_db, firms.a, clock.at(start + timedelta(days=1)))
    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        await start_run(db, firms.a.owner, start, end)
        with pytest.raises(Invalid) as refused:
            await start_run(db, firms.a.owner, start + timedelta(days=10), end + timedelta(days=5))
        assert "period" in refused.value.errors
        with pytest.raises(Invalid):
            await start_run(db, firms.a.owner, end, start)
        following = end + timedelta(days=1)
        later = await start_run(db, firms.a.owner, following, following + relativedelta(day=31))
        assert later.status is RunStatus.DONE  # nothing to bill there yet


async def test_the_worker_job_advances_running_runs(clean_db: Backend, firms: Firms) -> None:
    start, end = last_month()
    await add_billable_orgs(clean_db, firms, 2)
    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        run = await start_run(db, firms.a.owner, start, end)
        await db.commit()
    job = JOBS["invoice_runs"]
    assert job.run is runs.advance_invoice_runs
    async with scoped_a(clean_db, firms) as db:
        assert await job.run(JobContext(db, firms.a.tenant, clock.now(), clean_db.settings)) == 2
        await db.commit()
        run = await runs.get_run(db, run.id)
    assert (run.status, run.org_done, run.drafts) == (RunStatus.DONE, 2, 2)


async def test_starting_a_run_makes_the_worker_draft_it_at_once(
    clean_db: Backend, firms: Firms
) -> None:
    start, end = last_month()
    await add_billable_orgs(clean_db, firms, 2)
    engine = make_engine(clean_db.settings.runtime_database_url)
    maker = make_sessionmaker(engine)
    registry = Registry({"invoice_runs": JOBS["invoice_runs"]}, {})
    try:
        # The worker has looked for runs just now: the next look is minutes away.
        await ensure_schedules(maker, clock.now(), registry)
        assert await run_due_jobs(maker, clean_db.settings, "w", registry=registry) == 2
        assert await run_due_jobs(maker, clean_db.settings, "w", registry=registry) == 0
        async with scoped_a(clean_db, firms) as db:
            await complete_profile(db)
            run = await start_run(db, firms.a.owner, start, end)
            await db.commit()
        # Starting one woke the job for firm A: it drafts the run, then comes back at once
        # while it found work, and rests when there is none.
        ran = 0
        while worked := await run_due_jobs(maker, clean_db.settings, "w", registry=registry):
            ran += worked
        assert ran == 2
    finally:
        await engine.dispose()
    async with scoped_a(clean_db, firms) as db:
        run = await runs.get_run(db, run.id)
    assert (run.status, run.org_done, run.drafts) == (RunStatus.DONE, 2, 2)


async def test_a_failing_org_fails_the_run_briefly(
    clean_db: Backend, firms: Firms, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = last_month()
    await add_billable_orgs(clean_db, firms, 2)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Eeva Oja at line 12")

    async with scoped_a(clean_db, firms) as db:
        await complete_profile(db)
        run = await start_run(db, firms.a.owner, start, end)
        monkeypatch.setattr(runs, "draft_for_org", broken)
        run = await work_on_run(db, run.id)
        await db.commit()
    assert (run.status, run.org_done, run.drafts) == (RunStatus.FAILED, 0, 0)
    assert "Kunta " in run.error and "RuntimeError" in run.error
    assert "Eeva" not in run.error and "line 12" not in run.error


# --- the command line -----------------------------------------------------------------------


async def _arrange_firm(var_dir: Path, *, complete: bool) -> date:
    """Firm "alfa" with two organisations that held a session last month; returns the
    period's first day."""
    start, _end = last_month()
    engine = make_engine(f"sqlite+aiosqlite:///{var_dir / 'luotsi.db'}")
    try:
        tenant = await make_firm(engine, "alfa", "Alfa Työnohjaus Oy", "0737546-2")
        user = await make_user(engine, "ohjaaja@alfa.example", "Olli Ohjaaja")
        supervisor = await add_member(engine, tenant, user, Role.SUPERVISOR)
        for name in ("Esimerkkikunta", "Toinen kunta"):
            org = await add_client_org(engine, tenant, name)
            person = await add_person(engine, tenant, org, PersonRole.SUPERVISEE, "Sanna Kivi")
            agreement = await add_agreement(engine, tenant, org, supervisor, [person])
            await add_session(
                engine,
                tenant,
                agreement,
                supervisor,
                starts_at=clock.at(start + timedelta(days=1)),
                status=SessionStatus.HELD,
                billable=True,
            )
        if complete:
            async with make_sessionmaker(engine)() as db, db.begin():
                db.info[TENANT_KEY] = tenant.id
                await complete_profile(db)
    finally:
        await engine.dispose()
    return start


def test_billing_run_command_drafts_a_firms_period(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    assert luotsi(var_dir, "db", "upgrade").returncode == 0
    start = asyncio.run(_arrange_firm(var_dir, complete=True))
    period = f"{start.year}-{start.month:02d}"
    done = luotsi(var_dir, "billing", "run", "--period", period, "--firm", "alfa", "--chunk", "1")
    assert done.returncode == 0, done.stderr
    assert "2 organisations" in done.stdout
    assert "1/2 organisations, 1 drafts" in done.stdout
    assert "2/2 organisations, 2 drafts" in done.stdout
    assert "Done: 2 draft invoices." in done.stdout
    again = luotsi(var_dir, "billing", "run", "--period", period, "--firm", "alfa")
    assert again.returncode == 0 and "Done: 0 draft invoices." in again.stdout


def test_billing_run_command_refuses_clearly(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    assert luotsi(var_dir, "db", "upgrade").returncode == 0
    start = asyncio.run(_arrange_firm(var_dir, complete=False))
    period = f"{start.year}-{start.month:02d}"
    unknown = luotsi(var_dir, "billing", "run", "--period", period, "--firm", "nobody")
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
    bad = luotsi(var_dir, "billing", "run", "--period", "marraskuu", "--firm", "alfa")
    assert bad.returncode == 1 and "2026-11" in bad.stderr
    incomplete = luotsi(var_dir, "billing", "run", "--period", period, "--firm", "alfa")
    assert incomplete.returncode == 1 and "IBAN" in incomplete.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr + incomplete.stderr
