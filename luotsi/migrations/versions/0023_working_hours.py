"""working hours and absences of the firm's staff

Each staff member's own week (a row per weekday they work; none: the firm's usual hours) and
their absences (holiday, sick leave, other) with an optional note. Both are the firm's tables,
under row-level security, keyed and referenced with the firm.

Revision ID: 0023
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "working_hours",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_working_hours_ends_after_start")),
        sa.CheckConstraint("weekday >= 0 AND weekday <= 6", name=op.f("ck_working_hours_weekday")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_working_hours_tenant_id_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_working_hours_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_working_hours")),
        sa.UniqueConstraint(
            "tenant_id",
            "membership_id",
            "weekday",
            name=op.f("uq_working_hours_tenant_id_membership_id_weekday"),
        ),
    )
    op.create_table(
        "absences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "holiday",
                "sick_leave",
                "other",
                name="absencekind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_absences_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_absences_tenant_id_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_absences_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_absences")),
    )
    op.create_index(
        "ix_absences_tenant_membership_starts",
        "absences",
        ["tenant_id", "membership_id", "starts_on"],
        unique=False,
    )
    enable_tenant_rls("working_hours")
    enable_tenant_rls("absences")


def downgrade() -> None:
    op.drop_index("ix_absences_tenant_membership_starts", table_name="absences")
    op.drop_table("absences")
    op.drop_table("working_hours")
