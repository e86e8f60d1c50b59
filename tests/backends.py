"""The databases the suite runs on: SQLite always, PostgreSQL when one answers.

PostgreSQL comes from ``LUOTSI_TEST_DATABASE_URL``, else the local server at
``postgresql://postgres@127.0.0.1:5432/test`` when it answers, else a testcontainers PostgreSQL
when a Docker engine answers. The run migrates one template database once, as the owner (the
xdist controller starts it while the workers start; a single process when it first needs it),
and each process gets a fresh copy of it; copies and template are dropped at the end. The app
connects as the ``luotsi_app`` role so row security applies to it. With ``CI=true`` an
unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis

from luotsi.platform.migrate import upgrade
from luotsi.platform.settings import load_settings
from tests import clock

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
# The run's template database: named by the xdist controller (or the only process) and
# inherited by the workers through the environment.
TEMPLATE_ENV = "LUOTSI_TEST_PG_TEMPLATE"


@dataclass
class PostgresServer:
    admin_url: str  # a superuser on some database of the server
    template: str  # the run's migrated template database
    container: object | None = None
    databases: list[str] = field(default_factory=list)

    def url_for(self, database: str) -> str:
        base, _, _old = self.admin_url.rpartition("/")
        return f"{base}/{database}"

    async def prepare_template(self) -> None:
        """Migrate the run's template database unless it is there already."""
        async with self._template_lock() as conn:
            await self._ensure_template(conn)

    async def create_database(self, *, migrated: bool = True) -> str:
        """A fresh database: a copy of the run's migrated template, or empty if not ``migrated``."""
        name = f"luotsi_test_{secrets.token_hex(4)}"
        async with self._template_lock() as conn:
            if migrated:
                await self._ensure_template(conn)
                await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            else:
                await conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return name

    @asynccontextmanager
    async def _template_lock(self) -> AsyncIterator[asyncpg.Connection]:
        """One process at a time creates, migrates or copies the template (an advisory lock)."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute("select pg_advisory_lock(hashtext($1))", self.template)
            try:
                yield conn
            finally:
                await conn.execute("select pg_advisory_unlock(hashtext($1))", self.template)
        finally:
            await conn.close()

    async def _ensure_template(self, conn: asyncpg.Connection) -> None:
        exists = "select 1 from pg_database where datname = $1"
        if await conn.fetchval(exists, self.template):
            return
        await conn.execute(f'CREATE DATABASE "{self.template}"')
        try:
            # upgrade() closes its connections: PostgreSQL copies a template only while
            # nobody is connected to it.
            with tempfile.TemporaryDirectory() as var_dir:
                environ = settings_env(Path(var_dir), self.url_for(self.template))
                await upgrade(load_settings(environ, env_file=""))
        except BaseException:
            await conn.execute(f'DROP DATABASE "{self.template}"')
            raise

    async def drop_databases(self, *, template: bool) -> None:
        """Drop this process's databases, and the run's template if ``template``."""
        conn = await asyncpg.connect(self.admin_url)
        try:
            for name in [*self.databases, *([self.template] if template else [])]:
                await conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1",
                    name,
                )
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await conn.close()


async def _answers(url: str) -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(url), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


def find_postgres() -> tuple[PostgresServer | None, str]:
    """A PostgreSQL server for the run, and how it was found (or why none was)."""
    configured = os.environ.get("LUOTSI_TEST_DATABASE_URL")
    url = configured or DEFAULT_PG
    url = url.replace("postgresql+asyncpg://", "postgresql://")
    template = os.environ.get(TEMPLATE_ENV) or f"luotsi_template_{secrets.token_hex(4)}"
    if asyncio.run(_answers(url)):
        return PostgresServer(url, template), f"PostgreSQL at {url.split('@')[-1]}"
    if configured:
        return None, f"LUOTSI_TEST_DATABASE_URL={configured} does not answer"
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver=None)
        container.start()
        return (
            PostgresServer(container.get_connection_url(), template, container=container),
            "PostgreSQL in a testcontainer",
        )
    return None, f"no PostgreSQL answers at {DEFAULT_PG} and no Docker engine answers"


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def find_redis() -> tuple[str | None, str]:
    """A Redis for the run (``LUOTSI_TEST_REDIS_URL``, else the local one), and how it was
    found or why none was. Tests keep their keys under a prefix of their own, so runs on one
    server do not meet."""
    url = os.environ.get("LUOTSI_TEST_REDIS_URL") or DEFAULT_REDIS
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        return None, f"no Redis answers at {url.split('@')[-1]}"
    finally:
        client.close()
    return url, f"Redis at {url.split('@')[-1]}"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# The keys every test app and worker shares, as every node of a deployment does (only the
# embedded mode, SQLite in debug, generates its own into var/).
TEST_SECRET_KEY = "test-secret-key-not-for-production"
TEST_MASTER_KEYS = "1:bHVvdHNpLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="  # 32 bytes, base64


def settings_env(var_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "LUOTSI_VAR_DIR": str(var_dir),
        "LUOTSI_DATABASE_URL": database_url,
        "LUOTSI_SECRET_KEY": TEST_SECRET_KEY,
        "LUOTSI_MASTER_KEYS": TEST_MASTER_KEYS,
        "LUOTSI_BASE_URL": "https://testserver.local",
        "LUOTSI_ARGON2_TIME_COST": "1",
        "LUOTSI_ARGON2_MEMORY_KIB": "1024",
        "LUOTSI_WORKER_IN_PROCESS": "0",
        "LUOTSI_LOG_LEVEL": "WARNING",
        **({clock.ENV: os.environ[clock.ENV]} if clock.ENV in os.environ else {}),
    }
