"""Benchmark: what the busiest pages cost the database, in statements and loaded objects.

Not part of the test suite; run it by hand and write the figures down (bench/README.md):

    .venv/bin/python -m bench.statements                  # the demo firm, embedded SQLite
    .venv/bin/python -m bench.statements --grow 400       # the demo firm grown (see below)
    .venv/bin/python -m bench.statements --database-url postgresql://postgres@127.0.0.1:5432/bench

It migrates a fresh database, loads the demo firm (``luotsi demo``) and, with ``--grow N``,
gives its first client organisation N more people and N/10 more individual agreements, each
with a session on every working day of this month held by the demo supervisors. Then it signs in as
the owner, and as the supervisor with the demo's confidential content, and counts for the main
pages (issue 14's list, but the HR contact's portal: the demo has no HR login) the SQL statements
one request executes and the ORM objects it loads (``tests/queries.py``). Nothing is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import uuid
from pathlib import Path

from litestar import Litestar
from sqlalchemy import select, text

from luotsi.demo import (
    DEMO_CONTENT_SUPERVISOR,
    DEMO_DOMAIN,
    DEMO_PASSWORD,
    DEMO_SLUG,
    DEMO_SUPERVISEE,
    load_demo,
)
from luotsi.platform.db import TENANT_KEY, UNSCOPED_KEY, make_engine, make_sessionmaker
from luotsi.platform.migrate import upgrade
from luotsi.platform.settings import Settings, load_settings
from luotsi.platform.tenancy import Membership, Role, Tenant
from luotsi.tenants.agreements.models import Agreement, AgreementStatus, AgreementSupervisee
from luotsi.tenants.clients.models import ClientOrg, ClientPerson, PersonRole
from luotsi.tenants.kinds import SupervisionKind
from luotsi.web.app import create_app
from tests import clock
from tests.backends import settings_env
from tests.conftest import Client
from tests.factories import add_agreement, add_person, add_session
from tests.queries import count_queries

OWNER = f"omistaja@{DEMO_DOMAIN}"
SUPERVISOR = f"{DEMO_CONTENT_SUPERVISOR}@{DEMO_DOMAIN}"


async def _grow(settings: Settings, people: int) -> None:
    engine = make_engine(settings.owner_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[UNSCOPED_KEY] = True
            tenant = (await db.scalars(select(Tenant).where(Tenant.slug == DEMO_SLUG))).one()
            db.info.pop(UNSCOPED_KEY)
            db.info[TENANT_KEY] = tenant.id
            org = (await db.scalars(select(ClientOrg).order_by(ClientOrg.name))).first()
            supervisors = list(
                await db.scalars(select(Membership).where(Membership.role == Role.SUPERVISOR))
            )
        assert org is not None
        today = clock.today()
        days = [d for d in (today.replace(day=n) for n in range(1, 29)) if d.weekday() < 5]
        async with engine.begin() as conn:
            added = [
                await add_person(conn, tenant, org, PersonRole.SUPERVISEE, f"Kasvu {i:03d}")
                for i in range(people)
            ]
            for i in range(people // 10):
                supervisor = supervisors[i % len(supervisors)]
                agreement = await add_agreement(
                    conn, tenant, org, supervisor, [added[i]], session_quota=40
                )
                for day in days:
                    starts_at = clock.at(day, 8 + i % 9)
                    await add_session(conn, tenant, agreement, supervisor, starts_at=starts_at)
    finally:
        await engine.dispose()


async def _ids(settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """The demo's content agreement (the supervisor's) and first client organisation."""
    engine = make_engine(settings.owner_database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            db.info[UNSCOPED_KEY] = True
            agreement = await db.scalar(
                select(AgreementSupervisee.agreement_id)
                .join(ClientPerson, ClientPerson.id == AgreementSupervisee.person_id)
                .join(Agreement, Agreement.id == AgreementSupervisee.agreement_id)
                .where(
                    ClientPerson.name == DEMO_SUPERVISEE,
                    Agreement.kind == SupervisionKind.INDIVIDUAL,
                    Agreement.status == AgreementStatus.ACTIVE,
                )
            )
            org = await db.scalar(select(ClientOrg.id).order_by(ClientOrg.name).limit(1))
    finally:
        await engine.dispose()
    assert agreement is not None and org is not None
    return agreement, org


async def _measure(app: Litestar, settings: Settings) -> None:
    owner, supervisor, visitor = Client(app), Client(app), Client(app)
    await owner.login(OWNER, DEMO_PASSWORD)
    await supervisor.login(SUPERVISOR, DEMO_PASSWORD)
    agreement, org = await _ids(settings)
    month = clock.today().strftime("%Y-%m")
    ws = f"/t/{DEMO_SLUG}/"
    pages = {
        "dashboard (owner)": (owner, ws),
        "dashboard (supervisor)": (supervisor, ws),
        "sessions list": (owner, ws + "sessions/"),
        "calendar week": (owner, ws + "calendar/?view=week"),
        "month calendar": (owner, ws + f"calendar/?view=month&month={month}"),
        "agreement page (its supervisor)": (supervisor, ws + f"agreements/{agreement}"),
        "public directory by region": (visitor, f"/f/{DEMO_SLUG}/?place=Uusimaa"),
        "invoice list": (owner, ws + "billing/invoices"),
        "client organisation": (owner, ws + f"clients/{org}"),
    }
    for name, (client, path) in pages.items():
        await client.get(path)
        async with count_queries(app) as counted:
            response = await client.get(path)
        print(
            f"{name}: HTTP {response.status_code}, {counted.statements} statements, "
            f"{counted.objects} objects loaded"
        )


async def fresh_demo(settings: Settings, *, postgres: bool) -> None:
    """A migrated database holding the demo firm only (PostgreSQL: emptied first)."""
    if postgres:
        owner = make_engine(settings.owner_database_url)
        async with owner.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS audit_partitions CASCADE"))
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await owner.dispose()
    await upgrade(settings)
    await load_demo(settings)


async def run(database_url: str | None, grow: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = load_settings(settings_env(Path(tmp), url), env_file="")
        await fresh_demo(settings, postgres=database_url is not None)
        if grow:
            await _grow(settings, grow)
        app = create_app(settings)
        async with app.lifespan():
            await _measure(app, settings)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--grow", type=int, default=0, help="people to add (agreements: /10)")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.grow))


if __name__ == "__main__":
    main()
