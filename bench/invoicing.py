"""Benchmark: an invoice run for a firm with 500 agreements, and issuing 1,000 invoices.

Not part of the test suite; run it by hand and write the figures down (bench/README.md):

    .venv/bin/python -m bench.invoicing                     # embedded SQLite
    .venv/bin/python -m bench.invoicing --database-url postgresql://postgres@127.0.0.1:5432/bench

It migrates a fresh database (PostgreSQL: the database is emptied first), loads the demo firm
and gives it ``--orgs`` more client organisations (500), each with one agreement priced per
session and a held session every week of the two whole months before this one. Then it runs
the invoice run of each of those months to the end, as the worker would (chunk by chunk,
each chunk its own transaction), and issues every draft the runs made, one transaction each
as the invoice page does. It prints the wall time and the peak of Python's allocations
(tracemalloc) for each step, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import tempfile
import time as timer
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path

from dateutil.relativedelta import relativedelta
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.statements import fresh_demo
from luotsi.billing.invoices import issue
from luotsi.billing.models import Invoice
from luotsi.billing.runs import start_run, work_on_run
from luotsi.demo import DEMO_DOMAIN, DEMO_SLUG
from luotsi.platform import clock
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.identity import User
from luotsi.platform.settings import load_settings
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.agreements.models import (
    Agreement,
    AgreementStatus,
    AgreementSupervisee,
    AgreementSupervisor,
)
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.kinds import SupervisionKind
from luotsi.tenants.sessions.models import SessionStatus, SupervisionSession
from tests.backends import settings_env

OWNER = f"omistaja@{DEMO_DOMAIN}"


@asynccontextmanager
async def scoped(
    maker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID
) -> AsyncIterator[AsyncSession]:
    """One transaction of the firm's, committed at the end of the block."""
    async with maker() as db, db.begin():
        db.info[TENANT_KEY] = tenant_id
        yield db


async def _firm(maker: async_sessionmaker[AsyncSession]) -> tuple[uuid.UUID, uuid.UUID]:
    async with maker() as db:
        db.info[UNSCOPED_KEY] = True
        tenant_id = await db.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
        owner_id = await db.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(User.email == OWNER, Membership.tenant_id == tenant_id)
        )
    assert tenant_id is not None and owner_id is not None
    return tenant_id, owner_id


async def _grow(
    maker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, orgs: int, first: date
) -> int:
    """``orgs`` organisations, each with an agreement and a held session every week from
    ``first`` for two months; returns how many sessions."""
    sessions = 0
    async with scoped(maker, tenant_id) as db:
        supervisor_id = await db.scalar(
            select(Membership.id).where(Membership.role == Role.SUPERVISOR).limit(1)
        )
        for n in range(orgs):
            org = ClientOrg(
                name=f"Asiakas {n:04d} Oy",
                billing_street="Laskutuskuja 1",
                billing_postal_code="00100",
                billing_city="Helsinki",
                invoice_email=f"laskut{n}@asiakas.example",
            )
            db.add(org)
            await db.flush()
            person = ClientPerson(org_id=org.id, role=PersonRole.SUPERVISEE, name=f"Ohjattava {n}")
            agreement = Agreement(
                org_id=org.id,
                kind=SupervisionKind.INDIVIDUAL,
                start_date=first,
                end_date=first + relativedelta(years=1),
                session_minutes=60,
                cadence_weeks=1,
                session_quota=None,
                price_cents=12000,
                status=AgreementStatus.ACTIVE,
            )
            db.add(person)
            await db.flush()
            agreement.supervisors = [AgreementSupervisor(membership_id=supervisor_id)]
            agreement.supervisees = [AgreementSupervisee(person_id=person.id)]
            db.add(agreement)
            await db.flush()
            day = first
            while day < first + relativedelta(months=2):
                starts = datetime.combine(day, time(9 + n % 8), clock.HELSINKI)
                db.add(
                    SupervisionSession(
                        agreement_id=agreement.id,
                        supervisor_id=supervisor_id,
                        starts_at=starts,
                        duration_minutes=60,
                        status=SessionStatus.HELD,
                        billable=True,
                        actual_minutes=60,
                        uid=f"{uuid.uuid4()}@luotsi",
                    )
                )
                sessions += 1
                day += timedelta(weeks=1)
    return sessions


class Step:
    """Wall time and tracemalloc's peak of one step, printed when it ends."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> Step:
        tracemalloc.reset_peak()
        self.started = timer.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        seconds = timer.perf_counter() - self.started
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        print(f"{self.name}: {seconds:.1f} s, Python allocations peak {peak:.0f} MiB")


async def _run_month(
    maker: async_sessionmaker[AsyncSession],
    tenant_id: uuid.UUID,
    owner_id: uuid.UUID,
    month: date,
) -> int:
    """Run the month's invoice run to its end, chunk by chunk; returns the drafts made."""
    async with scoped(maker, tenant_id) as db:
        owner = (await db.scalars(select(Membership).where(Membership.id == owner_id))).one()
        end = month + relativedelta(months=1) - timedelta(days=1)
        run_id = (await start_run(db, owner, month, end)).id
    while True:
        async with scoped(maker, tenant_id) as db:
            run = await work_on_run(db, run_id)
            if run.finished_at is not None:
                assert not run.error, run.error
                return run.drafts


async def run(database_url: str | None, orgs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = load_settings(settings_env(Path(tmp), url), env_file="")
        await fresh_demo(settings, postgres=database_url is not None)
        engine = make_engine(settings.owner_database_url)
        maker = make_sessionmaker(engine)
        try:
            tenant_id, owner_id = await _firm(maker)
            this_month = clock.today().replace(day=1)
            first = this_month - relativedelta(months=2)
            tracemalloc.start()
            with Step(f"seeding {orgs} organisations and agreements"):
                sessions = await _grow(maker, tenant_id, orgs, first)
            print(f"  {sessions} held sessions")
            if database_url is not None:
                # A firm's sessions accumulate over months and autovacuum keeps the planner's
                # statistics up to date; a bulk insert followed at once by the run does not
                # give it the time. Without this the statistics still say "empty tables" and
                # the drafting query reads every invoice line once per session (quadratic:
                # 100 organisations took 113 s here instead of 23 s; docs/performance.md).
                async with engine.begin() as conn:
                    await conn.execute(text("ANALYZE"))
            drafts = 0
            for month in (first, first + relativedelta(months=1)):
                with Step(f"invoice run {month:%Y-%m} ({orgs} agreements)"):
                    drafts += await _run_month(maker, tenant_id, owner_id, month)
            async with scoped(maker, tenant_id) as db:
                ids = list(await db.scalars(select(Invoice.id).where(Invoice.number.is_(None))))
            with Step(f"issuing {len(ids)} invoices ({drafts} drafts made by the runs)"):
                for invoice_id in ids:
                    async with scoped(maker, tenant_id) as db:
                        await issue(
                            db,
                            (
                                await db.scalars(
                                    select(Membership).where(Membership.id == owner_id)
                                )
                            ).one(),
                            invoice_id,
                        )
            peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"process peak resident memory: {peak_rss:.0f} MiB")
        finally:
            await engine.dispose()


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--orgs", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.orgs))


if __name__ == "__main__":
    main()
