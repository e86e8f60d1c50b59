"""The databases the suite runs on: SQLite always, PostgreSQL when one answers.

PostgreSQL comes from ``LUOTSI_TEST_DATABASE_URL``, else the local server at
``postgresql://postgres@127.0.0.1:5432/test`` when it answers, else a testcontainers PostgreSQL
when a Docker engine answers. Each run gets a fresh database (created through that server,
dropped at the end), migrated as the owner; the app connects as the ``luotsi_app`` role so row
security applies to it. With ``CI=true`` an unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class PostgresServer:
    admin_url: str  # a superuser on some database of the server
    container: object | None = None
    databases: list[str] = field(default_factory=list)

    def url_for(self, database: str) -> str:
        base, _, _old = self.admin_url.rpartition("/")
        return f"{base}/{database}"

    async def create_database(self) -> str:
        name = f"luotsi_test_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        return name

    async def drop_databases(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            for name in self.databases:
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
    if asyncio.run(_answers(url)):
        return PostgresServer(admin_url=url), f"PostgreSQL at {url.split('@')[-1]}"
    if configured:
        return None, f"LUOTSI_TEST_DATABASE_URL={configured} does not answer"
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:16-alpine", driver=None)
        container.start()
        return (
            PostgresServer(admin_url=container.get_connection_url(), container=container),
            "PostgreSQL in a testcontainer",
        )
    return None, f"no PostgreSQL answers at {DEFAULT_PG} and no Docker engine answers"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def settings_env(var_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "LUOTSI_VAR_DIR": str(var_dir),
        "LUOTSI_DATABASE_URL": database_url,
        "LUOTSI_SECRET_KEY": "test-secret-key-not-for-production",
        "LUOTSI_BASE_URL": "https://testserver.local",
        "LUOTSI_ARGON2_TIME_COST": "1",
        "LUOTSI_ARGON2_MEMORY_KIB": "1024",
        "LUOTSI_WORKER_IN_PROCESS": "0",
        "LUOTSI_LOG_LEVEL": "WARNING",
    }
