"""Through a real PgBouncer in transaction mode: with ``LUOTSI_PGBOUNCER`` the app's engine
prepares no statement twice, and the tenant setting of one transaction never reaches the next
one on the same server connection (row security holds under transaction pooling)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from luotsi.platform.db import (
    PGBOUNCER_CONNECT_ARGS,
    make_engine,
    make_sessionmaker,
    tenant_session,
    unscoped_session,
)
from luotsi.platform.settings import Settings, load_settings
from luotsi.platform.tenancy import Membership
from luotsi.web.app import create_app
from tests.backends import in_ci
from tests.conftest import Backend, postgres_only
from tests.factories import Firms

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"

pytestmark = postgres_only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pgbouncer_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """PgBouncer on a free loopback port, pooling transactions onto two server connections per
    database and role; an idle client gets the server connection released last."""
    if not Path(PGBOUNCER).exists():
        if in_ci():
            pytest.fail("pgbouncer expected in CI (.ci/run installs it)")
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    port = _free_port()
    # PgBouncer drops root for the postgres user, who must read its files.
    folder = Path(tempfile.mkdtemp(prefix="luotsi-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text('"postgres" ""\n"luotsi_app" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        "* = host=127.0.0.1 port=5432\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 20\n"
        "server_round_robin = 0\n"
    )
    for path in folder.iterdir():
        path.chmod(0o644)
    as_user = ["-u", "postgres"] if os.geteuid() == 0 else []
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen(
        [PGBOUNCER, *as_user, str(folder / "pgbouncer.ini")], stdout=log, stderr=log
    )
    try:
        for _ in range(100):  # up to 10 s for the port to open
            if process.poll() is not None:
                raise RuntimeError((folder / "pgbouncer.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("pgbouncer did not open its port")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _through_pgbouncer(settings: Settings, port: int, *, pgbouncer: bool) -> Settings:
    """The same database and roles, reached through PgBouncer."""
    database = settings.database_url.rsplit("/", 1)[1]
    environ = {
        "LUOTSI_VAR_DIR": str(settings.var_dir),
        "LUOTSI_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/{database}",
        "LUOTSI_SECRET_KEY": settings.secret_key,
        "LUOTSI_MASTER_KEYS": settings.master_keys,
        "LUOTSI_WORKER_IN_PROCESS": "0",
        "LUOTSI_PGBOUNCER": "1" if pgbouncer else "",
    }
    return load_settings(environ, env_file="")


@pytest.fixture
async def app_engine(
    clean_db: Backend, firms: Firms, pgbouncer_port: int
) -> AsyncIterator[AsyncEngine]:
    """The engine of an app configured with LUOTSI_PGBOUNCER=1, through PgBouncer."""
    settings = _through_pgbouncer(clean_db.settings, pgbouncer_port, pgbouncer=True)
    assert settings.pgbouncer
    engine = create_app(settings).state.sessionmaker.kw["bind"]
    yield engine
    await engine.dispose()


async def _memberships_seen(engine: AsyncEngine, firms: Firms) -> list[set[object]]:
    """Each firm's transactions, alternating on the one server connection, and then a
    transaction without a tenant: which firms' memberships each one saw."""
    maker = make_sessionmaker(engine)
    seen: list[set[object]] = []
    for tenant in (firms.a.tenant, firms.b.tenant, firms.a.tenant, firms.b.tenant):
        async with tenant_session(maker, tenant.id) as db:
            seen.append(set((await db.scalars(select(Membership.tenant_id))).all()))
    async with unscoped_session(maker) as db, db.begin():
        # Row security hides every firm's rows from a transaction that set no firm.
        seen.append(set((await db.scalars(select(Membership.tenant_id))).all()))
    return seen


async def test_the_app_engine_gets_the_pgbouncer_options(app_engine: AsyncEngine) -> None:
    async with app_engine.connect() as conn:
        adapter = (await conn.get_raw_connection()).dbapi_connection
        assert adapter is not None
        assert adapter.driver_connection._stmt_cache.get_max_size() == 0  # asyncpg's cache
        assert adapter._prepared_statement_cache is None  # SQLAlchemy's adapter's cache
        assert (await conn.execute(select(1))).scalar() == 1
    name_func = PGBOUNCER_CONNECT_ARGS["prepared_statement_name_func"]
    assert adapter._prepared_statement_name_func is name_func
    assert name_func() != name_func()


async def test_tenant_settings_stay_in_their_transaction_under_transaction_pooling(
    app_engine: AsyncEngine, firms: Firms
) -> None:
    seen = await _memberships_seen(app_engine, firms)
    a, b = firms.a.tenant.id, firms.b.tenant.id
    assert seen == [{a}, {b}, {a}, {b}, set()]


async def test_a_client_connection_moves_between_server_connections(
    app_engine: AsyncEngine,
) -> None:
    await _move_between_server_connections(app_engine)


async def test_without_the_setting_a_prepared_statement_is_missing_on_the_next_server(
    clean_db: Backend, firms: Firms, pgbouncer_port: int
) -> None:
    # Positive control: asyncpg's and SQLAlchemy's statement caches reuse a statement
    # prepared on the server connection of an earlier transaction.
    settings = _through_pgbouncer(clean_db.settings, pgbouncer_port, pgbouncer=False)
    assert not settings.pgbouncer
    engine = make_engine(settings.runtime_database_url, pgbouncer=settings.pgbouncer)
    try:
        with pytest.raises(DBAPIError, match=r"prepared statement .* does not exist"):
            await _move_between_server_connections(engine)
    finally:
        await engine.dispose()


async def _move_between_server_connections(engine: AsyncEngine) -> None:
    """Client connection 2 prepares a statement on server connection S2 (S1 is busy with
    client 1); client 1 finishes last, so 2's next transaction runs on S1."""
    query = select(Membership.tenant_id).where(Membership.tenant_id.is_(None))
    async with engine.connect() as first, engine.connect() as second:
        await first.execute(select(1))  # holds S1 in its transaction
        await second.execute(query)  # S2
        await second.commit()
        await first.commit()  # S1 is now the server connection released last
        await second.execute(query)  # on S1
        await second.commit()
