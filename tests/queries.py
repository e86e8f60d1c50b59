"""Counting what a request costs the database: SQL statements and the objects they load.

``count_queries(app)`` listens on the app's own engine (the one its SQLAlchemy plugin and its
sessionmaker share), so it counts exactly what requests made through the ``client`` fixture
execute::

    async with count_queries(client.app) as counted:
        await client.get(...)
    assert counted.statements == ...

The test process runs one request at a time and the in-process worker is off in tests, so the
count is deterministic. Objects are counted with the ORM's ``load`` event on every model: a page
that materialises rows it does not show (a whole organisation's people behind a list of
sessions) shows up there even when the statement count stays low.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from sqlalchemy import event

from luotsi.platform.db import Base


@dataclass
class Counted:
    statements: int = 0
    objects: int = 0
    sql: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.statements} statements, {self.objects} objects:\n" + "\n".join(self.sql)


def app_engine(app: Litestar) -> Any:
    """The synchronous face of the app's engine (SQLAlchemy's events live there)."""
    return app.state["luotsi_db_config"].get_engine().sync_engine


@asynccontextmanager
async def count_queries(app: Litestar) -> AsyncIterator[Counted]:
    counted = Counted()

    def on_statement(*args: Any) -> None:
        counted.statements += 1
        counted.sql.append(args[2])  # (conn, cursor, statement, parameters, context, many)

    def on_load(*_args: Any) -> None:
        counted.objects += 1

    engine = app_engine(app)
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(Base, "load", on_load, propagate=True)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        event.remove(Base, "load", on_load)
