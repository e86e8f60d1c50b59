"""Alembic environment: always run through :func:`luotsi.platform.migrate.upgrade`."""

from __future__ import annotations

from alembic import context

import luotsi.models  # noqa: F401  (registers every table on the metadata)
from luotsi.platform.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `luotsi db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
