"""webhooks: a firm's HTTPS endpoints for its events, and the log of each delivery attempt

- ``webhook_endpoints``: the address, the events it subscribes to (a code set), its signing
  secret, whether it is active, when created and when its secret was last rotated.
- ``webhook_deliveries``: one row per attempt of one delivery (its id is the
  ``Luotsi-Delivery`` header), the event, the attempt's number, time, status code or error,
  outcome and the next try; pruned after ``LUOTSI_RETENTION_WEBHOOK_DAYS``.

Both are firm tables with row-level security as every other.

Revision ID: 0029
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0029"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("events", luotsi.platform.db.CodeSet(), nullable=False),
        sa.Column("secret", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "secret_rotated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_endpoints_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_endpoints")),
    )
    enable_tenant_rls("webhook_endpoints")

    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("next_retry_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_endpoint_at",
        "webhook_deliveries",
        ["tenant_id", "endpoint_id", "at"],
    )
    op.create_index("ix_webhook_deliveries_tenant_at", "webhook_deliveries", ["tenant_id", "at"])
    enable_tenant_rls("webhook_deliveries")


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_tenant_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_tenant_endpoint_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
