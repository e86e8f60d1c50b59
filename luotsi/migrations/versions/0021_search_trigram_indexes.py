"""trigram indexes for the search boxes on PostgreSQL

The workspace search and the list searches match words anywhere in a name
(``lower(column) LIKE '%word%'``, :mod:`luotsi.platform.search`); a B-tree index cannot answer
that, so a large firm's search read all of its rows. A GIN index on ``(tenant_id,
lower(column))`` with pg_trgm's operator class answers it within the firm's part of the index
(btree_gin lets the index lead with ``tenant_id``, as every index of a firm table does). Both
extensions ship with PostgreSQL and are trusted: a database owner may create them. SQLite has
no such index and scans the firm's rows.

Revision ID: 0021
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0018"
branch_labels = None
depends_on = None

SEARCHED = [
    ("client_orgs", "name"),
    ("client_people", "name"),
    ("client_people", "email"),
    ("staff_profiles", "display_name"),
    ("agreements", "title"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for table, column in SEARCHED:
        op.execute(
            f"CREATE INDEX ix_{table}_{column}_trgm ON {table} "
            f"USING gin (tenant_id, lower({column}) gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in SEARCHED:
        op.execute(f"DROP INDEX ix_{table}_{column}_trgm")
    # The extensions stay: other objects of the database may use them.
