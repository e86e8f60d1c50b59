"""Benchmark: what encrypting confidential content costs.

Not part of the test suite; run it by hand and write the figures down (bench/README.md):

    .venv/bin/python -m bench.content                     # embedded SQLite in a temp dir
    .venv/bin/python -m bench.content --database-url postgresql://postgres@127.0.0.1:5432/bench

It measures, on the machine it runs on:

1. the cipher alone: encrypt and decrypt of a 1,000-character text (AES-256-GCM; the tenant's
   HKDF-derived key is cached after its first use);
2. reading an agreement's goals as its supervisor: 10 goals with 12 evaluations each, decrypted,
   audited (one row per value) and drawn as SVG charts, the work behind the agreement page;
3. ``luotsi keys rotate`` over 2,000 session notes (values re-encrypted per second).

It builds its data with the test suite's factories (two firms with people and an agreement).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text

from luotsi.platform.crypto import Binding, ContentCipher, MasterKeys
from luotsi.platform.db import TENANT_KEY, make_engine, make_sessionmaker
from luotsi.platform.migrate import upgrade
from luotsi.platform.settings import load_settings
from luotsi.platform.storage import make_file_store
from luotsi.tenants import content
from luotsi.web.charts import progress_svg
from tests.backends import settings_env
from tests.conftest import Backend
from tests.factories import Firm, make_two_firms

TEXT = ("Keskustelimme työpäivän rajaamisesta ja palautumisesta. " * 20)[:1000]
GOALS, EVALUATIONS, NOTES = 10, 12, 2_000


def _timed(label: str, runs: list[float], unit: str = "ms", scale: float = 1e3) -> None:
    median = statistics.median(runs) * scale
    best = min(runs) * scale
    print(f"{label}: median {median:.2f} {unit}, best {best:.2f} {unit} ({len(runs)} runs)")


def cipher_figures() -> None:
    keys = MasterKeys.parse(f"1:{MasterKeys.new_key()}")
    cipher = ContentCipher(keys)
    binding = Binding(uuid.uuid4(), "session_notes", uuid.uuid4(), "body")
    blob = cipher.encrypt(TEXT, binding)
    for label, fn in (
        ("encrypt 1,000 chars", lambda: cipher.encrypt(TEXT, binding)),
        ("decrypt 1,000 chars", lambda: cipher.decrypt(blob, binding)),
    ):
        runs = []
        for _ in range(2_000):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        _timed(label, runs, "µs", 1e6)


async def _scoped(backend: Backend, firm: Firm, work: Callable[..., Awaitable[object]]) -> object:
    maker = make_sessionmaker(make_engine(backend.settings.runtime_database_url))
    async with maker() as db, db.begin():
        db.info[TENANT_KEY] = firm.tenant.id
        return await work(db)


async def page_figures(backend: Backend, firm: Firm) -> None:
    staff = content.Reader(firm.supervisor, backend.settings.content_keys)

    async def arrange(db: object) -> None:
        for number in range(GOALS):
            goal = await content.add_goal(
                db,  # type: ignore[arg-type]
                staff,
                firm.agreement.id,
                content.GoalSource.OWN,
                f"Tavoite {number}: {TEXT[:200]}",
            )
            for step in range(EVALUATIONS):
                await content.record_evaluation(
                    db,  # type: ignore[arg-type]
                    staff,
                    goal.id,
                    1 + step % 5,
                    TEXT[:300],
                    evaluated_on=date(2026, 1, 5) + timedelta(weeks=3 * step),
                )

    await _scoped(backend, firm, arrange)

    async def read(db: object) -> None:
        goals = await content.list_goals(db, staff, firm.agreement.id)  # type: ignore[arg-type]
        for goal in goals:
            progress_svg([(e.evaluated_on, e.rating) for e in goal.evaluations], "x")

    runs = []
    for _ in range(20):
        start = time.perf_counter()
        await _scoped(backend, firm, read)
        runs.append(time.perf_counter() - start)
    _timed(f"agreement page content ({GOALS} goals x {EVALUATIONS} evaluations)", runs)


async def rotation_figures(backend: Backend, firm: Firm) -> None:
    staff = content.Reader(firm.supervisor, backend.settings.content_keys)

    async def arrange(db: object) -> None:
        for _ in range(NOTES):
            await content.write_note(db, staff, firm.session.id, TEXT)  # type: ignore[arg-type]

    await _scoped(backend, firm, arrange)
    current = backend.settings.content_keys.render()
    newer = MasterKeys.parse(f"{current},99:{MasterKeys.new_key()}")
    maker = make_sessionmaker(make_engine(backend.settings.runtime_database_url))
    start = time.perf_counter()
    result = await content.rotate_keys_all_tenants(maker, newer)
    seconds = time.perf_counter() - start
    print(
        f"keys rotate: {result.reencrypted} values in {seconds:.2f} s "
        f"({result.reencrypted / seconds:.0f} values/s)"
    )


async def main(database_url: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        url = database_url or f"sqlite:///{var_dir / 'bench.db'}"
        settings = load_settings(settings_env(var_dir, url), env_file="")
        await upgrade(settings)
        owner = make_engine(settings.owner_database_url)
        name = "postgres" if settings.is_postgres else "sqlite"
        backend = Backend(name, settings, owner, make_file_store(settings))
        try:
            if settings.is_postgres:
                async with owner.begin() as conn:
                    await conn.execute(text("TRUNCATE tenants, users CASCADE"))
            firms = await make_two_firms(backend)
            print(f"backend: {backend.name}")
            cipher_figures()
            await page_figures(backend, firms.a)
            await rotation_figures(backend, firms.a)
        finally:
            await owner.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="", help="an empty PostgreSQL database")
    asyncio.run(main(parser.parse_args().database_url))
