"""the JSON API's lists read in creation order through an index

The API lists organisations, people, agreements, sessions and invoices oldest first
(``created_at``, then ``id``) a page at a time. Without an index in that order every page read
and sorted all of the firm's rows: 112 ms for the largest benchmark firm's 323,515 sessions,
2 requests a second under load (docs/performance.md). ``(tenant_id, created_at, id)`` on each
makes a page an index range scan.

Revision ID: 0033
Revises: 0026
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0026"
branch_labels = None
depends_on = None

# (table, index): the tables luotsi.web.api lists with oldest_first().
INDEXES = [
    ("client_orgs", "ix_client_orgs_tenant_created"),
    ("client_people", "ix_client_people_tenant_created"),
    ("agreements", "ix_agreements_tenant_created"),
    ("supervision_sessions", "ix_sessions_tenant_created"),
    ("invoices", "ix_invoices_tenant_created"),
]


def upgrade() -> None:
    for table, name in INDEXES:
        op.create_index(name, table, ["tenant_id", "created_at", "id"])


def downgrade() -> None:
    for table, name in reversed(INDEXES):
        op.drop_index(name, table_name=table)
