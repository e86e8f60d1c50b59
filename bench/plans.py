"""Plans: EXPLAIN ANALYZE of every query the main pages run, on the benchmark's data.

Not part of the test suite; run it by hand against a database filled by ``bench.seed``:

    LUOTSI_MASTER_KEYS=... LUOTSI_SECRET_KEY=... .venv/bin/python -m bench.plans \\
        --database-url postgresql://postgres@127.0.0.1:5432/luotsi_bench [--firm f0001]

It runs the app in this process, signs in as the firm's owner, its busiest supervisor and its
HR contact (as bench/load.py does), opens each page once to warm it, then once more while
listening on the app's engine: right after each SELECT has run, the same statement with the
same parameters is explained (``EXPLAIN ANALYZE``) on the same connection, in the same
transaction, so the firm's row-level security setting and the app's role apply as they did.
It prints, per page, each statement's execution time and the scans of its plan (the index or
table each reads), and with ``--full`` the whole plans.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar
from sqlalchemy import event

from bench.load import FirmPeople, firm_people
from bench.seed import BENCH_PASSWORD
from luotsi.platform.settings import load_settings
from luotsi.web.app import create_app
from tests.conftest import Client
from tests.queries import app_engine

SCAN = re.compile(
    r"(Index Only Scan|Index Scan(?: Backward)?|Bitmap Index Scan|Seq Scan)( using \S+)? on (\S+)"
)


@dataclass
class Plan:
    sql: str
    lines: list[str]

    @property
    def milliseconds(self) -> float:
        for line in reversed(self.lines):
            if line.startswith("Execution Time:"):
                return float(line.split()[2])
        return 0.0

    @property
    def scans(self) -> list[str]:
        found = []
        for line in self.lines:
            match = SCAN.search(line)
            if match:
                kind, index, table = match.groups()
                found.append(f"{kind} {table}" + (f" ({index.split()[-1]})" if index else ""))
        return found


@dataclass
class Explained:
    plans: list[Plan] = field(default_factory=list)


@asynccontextmanager
async def explaining(app: Litestar) -> AsyncIterator[Explained]:
    explained = Explained()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            return
        if "set_config" in statement:  # the tenant setting, not a query of the page
            return
        other = conn.connection.dbapi_connection.cursor()
        try:
            other.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
            lines = [row[0] for row in other.fetchall()]
        finally:
            other.close()
        explained.plans.append(Plan(" ".join(statement.split()), lines))

    engine = app_engine(app)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield explained
    finally:
        event.remove(engine, "after_cursor_execute", after)


def pages(people: FirmPeople) -> list[tuple[str, str, str]]:
    """(page, who, path) of each page explained."""
    ws = f"/t/{people.slug}"
    public = f"/f/{people.slug}/?{urlencode({'place': 'Uusimaa'})}"
    return [
        ("supervisor's dashboard", "supervisor", f"{ws}/"),
        ("calendar week (supervisor)", "supervisor", f"{ws}/calendar/?view=week"),
        ("agreement page", "supervisor", f"{ws}/agreements/{people.agreement_id}"),
        ("owner's dashboard", "owner", f"{ws}/"),
        ("calendar week, everyone (owner)", "owner", f"{ws}/calendar/?view=week&supervisor="),
        ("calendar month, everyone (owner)", "owner", f"{ws}/calendar/?view=month&supervisor="),
        ("sessions list (owner)", "owner", f"{ws}/sessions/"),
        ("agreements list (owner)", "owner", f"{ws}/agreements/"),
        ("clients list (owner)", "owner", f"{ws}/clients/"),
        ("inquiries (owner)", "owner", f"{ws}/inquiries/"),
        ("invoice list (owner)", "owner", f"{ws}/billing/invoices"),
        ("HR contact's portal", "hr", f"{ws}/portal/"),
        ("public directory, region filter", "anyone", public),
    ]


async def run(database_url: str, slug: str, full: bool) -> None:
    settings = load_settings({**os.environ, "LUOTSI_DATABASE_URL": database_url})
    people = await firm_people(database_url, slug)
    app = create_app(settings)
    async with app.lifespan():
        clients = {"anyone": Client(app)}
        for who, email in (
            ("owner", people.owner),
            ("supervisor", people.supervisor),
            ("hr", people.hr_contact),
        ):
            clients[who] = Client(app)
            await clients[who].login(email, BENCH_PASSWORD)
        for name, who, path in pages(people):
            client = clients[who]
            await client.get(path)
            async with explaining(app) as explained:
                response = await client.get(path)
            total = sum(p.milliseconds for p in explained.plans)
            print(
                f"\n### {name}: HTTP {response.status_code}, {len(explained.plans)} SELECTs, "
                f"{total:.1f} ms in the database\n"
            )
            for plan in explained.plans:
                scans = "; ".join(plan.scans) or "no table"
                print(f"- {plan.milliseconds:.2f} ms: {scans}")
                if full:
                    print(f"  ```\n  {plan.sql}\n  " + "\n  ".join(plan.lines) + "\n  ```")


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("LUOTSI_DATABASE_URL", ""))
    parser.add_argument("--firm", default="f0001")
    parser.add_argument("--full", action="store_true", help="print each statement and plan")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.firm, args.full))


if __name__ == "__main__":
    main()
