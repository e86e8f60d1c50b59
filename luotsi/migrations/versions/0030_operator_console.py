"""the platform operator's console: support actions, plan overrides, a read-only role

- ``operator_actions``: what Luotsi support did to a firm (suspended, reactivated, overrode the
  plan, extended the trial), by which operator, when and why. A platform table (no row-level
  security, no content); the firm's own audit log gets the same event without the reason.
- ``subscriptions.plan_override``: a plan Luotsi support gave the firm (``complimentary``:
  unlimited, nothing charged), over what Stripe says; NULL for none.
- On PostgreSQL the role ``luotsi_operator_read`` (no login, BYPASSRLS, SELECT on the columns
  the console shows only), which the app's role may switch to inside a read-only transaction
  (:func:`luotsi.platform.operators.operator_reading_all_tenants`).

Revision ID: 0030
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import OPERATOR_READ_ROLE, grant_operator_reads

revision = "0030"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("operator_user_id", sa.Uuid(), nullable=True),
        sa.Column("operator_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_operator_actions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_actions")),
    )
    op.create_index(
        "ix_operator_actions_tenant_id_at", "operator_actions", ["tenant_id", "at"], unique=False
    )
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("plan_override", sa.String(length=20), nullable=True))
    grant_operator_reads()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The role is the cluster's (other databases may use it): only this database's
        # privileges go.
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {OPERATOR_READ_ROLE}")
        op.execute(f"REVOKE USAGE ON SCHEMA public FROM {OPERATOR_READ_ROLE}")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("plan_override")
    op.drop_index("ix_operator_actions_tenant_id_at", table_name="operator_actions")
    op.drop_table("operator_actions")
