"""the firm's usual working hours

One row per weekday the firm usually works; a firm without rows keeps Monday to Friday 8-16.
The week of everyone who has not set their own. A firm table under row-level security.

Revision ID: 0032
Revises: 0025
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from luotsi.platform.migrate import enable_tenant_rls

revision = "0032"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firm_working_hours",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_firm_working_hours_ends_after_start")
        ),
        sa.CheckConstraint(
            "weekday >= 0 AND weekday <= 6", name=op.f("ck_firm_working_hours_weekday")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_firm_working_hours_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_firm_working_hours")),
        sa.UniqueConstraint(
            "tenant_id", "weekday", name=op.f("uq_firm_working_hours_tenant_id_weekday")
        ),
    )
    enable_tenant_rls("firm_working_hours")


def downgrade() -> None:
    op.drop_table("firm_working_hours")
