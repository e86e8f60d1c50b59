"""Fixtures: every database test runs on SQLite and on PostgreSQL, with two firms by default."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from luotsi.platform.db import TENANT_KEY, Base, make_engine, make_sessionmaker
from luotsi.platform.mail import MailboxEntry, Mailer, read_mailbox
from luotsi.platform.migrate import upgrade
from luotsi.platform.outbox import run_once
from luotsi.platform.settings import Settings, load_settings
from luotsi.platform.sharedstate import SharedState, open_shared_state
from luotsi.platform.storage import FileStore, make_file_store
from luotsi.platform.tenancy import Tenant
from luotsi.web.app import create_app
from tests import clock
from tests.backends import (
    TEMPLATE_ENV,
    PostgresServer,
    find_postgres,
    find_redis,
    in_ci,
    settings_env,
)
from tests.factories import Firms, make_two_firms
from tests.s3 import S3Server, running_s3

BASE_URL = "https://testserver.local"
REFERENCE_TABLES = {"regions", "municipalities"}  # loaded by the migrations, read-only
_state: dict[str, Any] = {"ran": set()}


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    # Runs in the xdist controller and in every worker: each process travels to the suite's day.
    _state["travel"] = clock.start_travel()
    server, how = find_postgres()
    _state["pg"] = server
    _state["pg_how"] = how
    _state["redis"], _state["redis_how"] = find_redis()
    if server is not None and not _is_xdist_worker(config):
        # Workers (started later, inheriting the environment) use the server found here,
        # e.g. this process's testcontainer, and the template named here, each copying its
        # own database from it.
        os.environ.setdefault("LUOTSI_TEST_DATABASE_URL", server.admin_url)
        os.environ.setdefault(TEMPLATE_ENV, server.template)
        if getattr(config.option, "numprocesses", None):
            # The controller runs no test: it migrates the template while the workers start.
            thread = threading.Thread(target=asyncio.run, args=(server.prepare_template(),))
            thread.start()
            _state["template_thread"] = thread


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last, all in one xdist worker (``--dist loadgroup``): Playwright's
    sync API keeps an event loop running in this thread until its fixtures end, and the
    async tests need the thread's loop free."""
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("e2e"))
    items.sort(key=lambda item: "/e2e/" in str(item.path))


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: tell the controller what ran here
        workeroutput["luotsi_backends"] = sorted(_state["ran"])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the xdist controller: collect the backends each worker ran for the summary."""
    _state["ran"].update(getattr(node, "workeroutput", {}).get("luotsi_backends", []))


def pytest_unconfigure(config: pytest.Config) -> None:
    import asyncio

    server: PostgresServer | None = _state.get("pg")
    if "template_thread" in _state:
        _state["template_thread"].join()
    if server is not None:
        # The template goes last, with the process that named it (every worker has ended).
        asyncio.run(server.drop_databases(template=not _is_xdist_worker(config)))
        if server.container is not None:
            server.container.stop()  # type: ignore[attr-defined]
    if _state.get("travel") is not None:
        _state["travel"].stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    ran = ", ".join(sorted(_state["ran"])) or "none"
    terminalreporter.write_sep("=", "database backends")
    terminalreporter.write_line(f"backends that ran: {ran}")
    terminalreporter.write_line(f"PostgreSQL: {_state['pg_how']}")
    terminalreporter.write_line(f"Redis: {_state['redis_how']}")
    moved = f" (moved by {clock.ENV})" if _state.get("travel") is not None else ""
    terminalreporter.write_line(f"the suite's today: {clock.today().isoformat()}{moved}")


# Row-level security and database roles exist only on PostgreSQL.
postgres_only = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
# Tests of stored files run on both stores: the local disk and an S3-compatible server.
both_stores = pytest.mark.parametrize("storage", ["local", "s3"], indirect=True)


@dataclass
class Backend:
    name: str
    settings: Settings
    owner: AsyncEngine  # connects as the schema owner: for arranging and inspecting only
    files: FileStore  # the store the settings name
    storage: str = "local"  # or "s3"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Backend]:
    name = request.param
    var_dir = tmp_path_factory.mktemp(name)
    if name == "sqlite":
        url = f"sqlite:///{var_dir / 'luotsi.db'}"
    else:
        server: PostgresServer | None = _state["pg"]
        if server is None:
            if in_ci():
                pytest.fail(f"PostgreSQL expected in CI but unreachable: {_state['pg_how']}")
            pytest.skip(f"PostgreSQL not available: {_state['pg_how']}")
        url = server.url_for(await server.create_database())
    settings = load_settings(settings_env(var_dir, url), env_file="")
    if name == "sqlite":
        # Each process migrates its own file (~0.8 s, the workers at the same time): a
        # copied template would save too little to be worth it (docs/decisions.md).
        await upgrade(settings)
    owner = make_engine(settings.owner_database_url)
    _state["ran"].add(name)
    yield Backend(name=name, settings=settings, owner=owner, files=make_file_store(settings))
    await owner.dispose()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for this test process (:mod:`tests.s3`)."""
    try:
        server = running_s3()
        started = server.__enter__()
    except Exception as exc:
        if in_ci():
            pytest.fail(f"the S3-compatible server (moto) did not start in CI: {exc!r}")
        pytest.skip(f"the S3-compatible server (moto) did not start: {exc!r}")
    yield started
    server.__exit__(None, None, None)


def on_s3(backend: Backend, s3: S3Server) -> Backend:
    """``backend`` with its files in the S3 server's bucket (a prefix per database)."""
    settings = s3.settings(backend.settings, backend.name)
    return replace(backend, settings=settings, files=make_file_store(settings), storage="s3")


@pytest.fixture
def storage(request: pytest.FixtureRequest) -> str:
    """Where the test's files are kept: the local disk unless ``both_stores`` says."""
    return str(getattr(request, "param", "local"))


@pytest.fixture
def stored_backend(backend: Backend, storage: str, request: pytest.FixtureRequest) -> Backend:
    if storage == "s3":
        return on_s3(backend, request.getfixturevalue("s3_server"))
    return backend


async def _clean(backend: Backend) -> None:
    tables = [
        t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in REFERENCE_TABLES
    ]
    # DELETE, children first, on both backends: on PostgreSQL a TRUNCATE of every table costs
    # ~0.15 s per test (it replaces each table's files), deleting the few rows a test made ~5 ms.
    async with backend.owner.begin() as conn:
        issued = await conn.scalar(text("SELECT 1 FROM invoices WHERE status = 'issued' LIMIT 1"))
        guards: list[str] = []
        if backend.is_postgres:
            # A transaction the app left open would block the cleanup forever: fail instead.
            await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            if issued:  # issued invoices are frozen by triggers, which a replica does not run
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
        elif issued:  # SQLite runs every trigger: the guards step aside and come back
            found = await conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            )
            for name, sql in found.tuples():
                if "_issued_" in name:
                    await conn.execute(text(f"DROP TRIGGER {name}"))
                    guards.append(sql)
        for table in tables:
            await conn.execute(text(f"DELETE FROM {table}"))
        for sql in guards:
            await conn.execute(text(sql))
    shutil.rmtree(backend.settings.outbox_dir, ignore_errors=True)


async def start_app(settings: Settings) -> tuple[Litestar, Callable[[], Awaitable[None]]]:
    """An app for ``settings`` with its lifespan entered, and the function that ends it."""
    application = create_app(settings)
    # The lifespan is entered and left by one task (anyio requires it); fixtures set up and
    # tear down in different tasks.
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await started.wait()

    async def end() -> None:
        stop.set()
        await task

    return application, end


@pytest.fixture(scope="session")
async def app(backend: Backend) -> AsyncIterator[Litestar]:
    application, end = await start_app(backend.settings)
    yield application
    await end()


# A Stripe key switches subscriptions on: workspaces then read their plan from the stored
# ``subscriptions`` row. The pages that only read that row make no call to Stripe.
STRIPE_TEST_KEY = "sk_test_luotsi"


def with_stripe(settings: Settings) -> Settings:
    return replace(settings, stripe_secret_key=STRIPE_TEST_KEY)


@pytest.fixture(scope="session")
async def stripe_app(backend: Backend) -> AsyncIterator[Litestar]:
    """The app with subscriptions on (a Stripe key), on the same database as ``app``."""
    application, end = await start_app(with_stripe(backend.settings))
    yield application
    await end()


@pytest.fixture(scope="session", params=["database", "redis"])
async def store_settings(
    request: pytest.FixtureRequest, backend: Backend
) -> AsyncIterator[Settings]:
    """The backend's settings with sign-in sessions and rate limits in the database, or in
    Redis under a key prefix of this process's own (removed at the end)."""
    if request.param == "database":
        yield backend.settings
        return
    url: str | None = _state["redis"]
    if url is None:
        if in_ci():
            pytest.fail(f"Redis expected in CI but unreachable: {_state['redis_how']}")
        pytest.skip(f"Redis not available: {_state['redis_how']}")
    prefix = f"luotsi-test-{secrets.token_hex(4)}:"
    settings = replace(backend.settings, redis_url=url, redis_prefix=prefix)
    _state["ran"].add("redis")
    yield settings
    await _clean_redis(settings)


async def _clean_redis(settings: Settings) -> None:
    if not settings.redis_url:
        return
    client = Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def shared(store_settings: Settings, clean_store: None) -> AsyncIterator[SharedState]:
    """The stores of sessions and rate limits (each store in turn), empty."""
    state = open_shared_state(store_settings)
    yield state
    await state.close()


@pytest.fixture(scope="session")
async def store_app(store_settings: Settings) -> AsyncIterator[Litestar]:
    """The app with sessions and rate limits in each store in turn. A module whose tests
    should run on both overrides ``app`` with it and uses ``clean_store``."""
    application, end = await start_app(store_settings)
    yield application
    await end()


@pytest.fixture(scope="session")
async def s3_app(backend: Backend, s3_server: S3Server) -> AsyncIterator[Litestar]:
    """The app with its files on the S3 server, on the same database as ``app``."""
    application, end = await start_app(on_s3(backend, s3_server).settings)
    yield application
    await end()


@pytest.fixture
async def clean_store(store_settings: Settings, clean_db: Backend) -> None:
    """Before a test: the database's rows gone (``clean_db``) and the test Redis keys too."""
    await _clean_redis(store_settings)


@pytest.fixture
async def clean_db(stored_backend: Backend) -> AsyncIterator[Backend]:
    await _clean(stored_backend)
    yield stored_backend


@pytest.fixture
def files(clean_db: Backend) -> FileStore:
    """The test's file store (the local disk unless ``both_stores`` says)."""
    return clean_db.files


@pytest.fixture
async def firms(clean_db: Backend) -> Firms:
    return await make_two_firms(clean_db)


@asynccontextmanager
async def scoped(backend: Backend, tenant: Tenant) -> AsyncIterator[AsyncSession]:
    """A session scoped to ``tenant``, through the app's database role (as requests are)."""
    engine = make_engine(backend.settings.runtime_database_url)
    session = make_sessionmaker(engine)()
    session.info[TENANT_KEY] = tenant.id
    try:
        yield session
    finally:
        await session.close()
        await engine.dispose()


@pytest.fixture
async def db(clean_db: Backend, firms: Firms) -> AsyncIterator[AsyncSession]:
    """Firm A's scoped session, for tests of the service layer."""
    async with scoped(clean_db, firms.a.tenant) as session:
        yield session


class Client:
    """One person's client: cookies, CSRF token on every unsafe request, and helpers."""

    def __init__(self, app: Litestar, address: str = "127.0.0.1") -> None:
        # httpx's ASGI transport runs the app in the test's own event loop (asyncpg needs
        # that; Litestar's test client runs it in another thread's loop).
        self.app = app
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 50000)), base_url=BASE_URL
        )

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.client.get(path, **kwargs)

    async def _csrf(self) -> str:
        token = self.client.cookies.get("__Host-luotsi_csrf")
        if not token:
            await self.client.get("/login")
            token = self.client.cookies.get("__Host-luotsi_csrf")
        assert token, "no CSRF cookie was set"
        return token

    async def post(
        self, path: str, data: dict[str, str] | None = None, htmx: bool = False, **kwargs: Any
    ) -> Any:
        headers = {"x-csrftoken": await self._csrf(), **kwargs.pop("headers", {})}
        if htmx:
            headers["HX-Request"] = "true"
        return await self.client.post(path, data=data or {}, headers=headers, **kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"x-csrftoken": await self._csrf()}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def login(self, email: str, password: str = "correct horse battery") -> Any:
        response = await self.post("/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text
        return response


@pytest.fixture
def client_factory(app: Litestar, clean_db: Backend, request: pytest.FixtureRequest) -> Any:
    """Clients of the app whose files are where the test's database keeps them."""
    if clean_db.storage == "s3":
        app = request.getfixturevalue("s3_app")

    def make(address: str = "127.0.0.1") -> Client:
        return Client(app, address)

    return make


@pytest.fixture
def client(client_factory: Any) -> Client:
    return client_factory()


@dataclass
class Outbox:
    backend: Backend

    async def deliver(self) -> list[MailboxEntry]:
        """Run the worker once; returns every e-mail in the local outbox folder."""
        engine = make_engine(self.backend.settings.runtime_database_url)
        try:
            await run_once(make_sessionmaker(engine), Mailer(self.backend.settings))
        finally:
            await engine.dispose()
        return read_mailbox(self.backend.settings.outbox_dir)

    async def last_to(self, address: str) -> MailboxEntry:
        for mail in await self.deliver():
            if mail.to == address:
                return mail
        raise AssertionError(f"no e-mail to {address}")


@pytest.fixture
def outbox(clean_db: Backend) -> Outbox:
    return Outbox(clean_db)


def link_in(mail: MailboxEntry) -> str:
    """The path of the first link to our site in an e-mail's text."""
    match = re.search(re.escape(BASE_URL) + r"(/\S+)", mail.text)
    assert match, f"no link in {mail.text!r}"
    return match.group(1)
