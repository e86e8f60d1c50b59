"""notifications: a member's list with an unread badge, e-mail choices, reminder hours

- ``notifications``: one line of a member's list (recipient membership and, for the badge, its
  user), the kind, a path inside the workspace, the words of the line (names and dates),
  created and read times; unique per (recipient, kind, subject) so that a job notifies of a
  subject once. Row-level security as every firm table, and an ``own_rows`` policy like the
  memberships': the header's unread count is read in the statement that finds the member,
  before the firm is set on the connection.
- ``notification_settings``: a member's e-mail kinds and session reminder hours (no row: the
  defaults).
- ``tenants.reminder_hours``: the firm's default hours ahead of session reminders (48, as the
  reminders went out before).

Revision ID: 0025
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_own_rows_policy, enable_tenant_rls

revision = "0025"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("reminder_hours", sa.Integer(), nullable=False, server_default="48"),
    )
    op.create_table(
        "notifications",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "recipient_id"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_notifications_tenant_id_recipient_id_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notifications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "tenant_id",
            "recipient_id",
            "kind",
            "subject",
            name=op.f("uq_notifications_tenant_id_recipient_id_kind_subject"),
        ),
    )
    op.create_index(
        "ix_notifications_tenant_recipient",
        "notifications",
        ["tenant_id", "recipient_id", "read_at"],
    )
    enable_tenant_rls("notifications")
    enable_own_rows_policy("notifications")

    op.create_table(
        "notification_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("email_kinds", luotsi.platform.db.CodeSet(), nullable=False),
        sa.Column("reminder_hours", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_notification_settings_tenant_id_membership_id_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_notification_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_notification_settings")),
        sa.UniqueConstraint(
            "tenant_id",
            "membership_id",
            name=op.f("uq_notification_settings_tenant_id_membership_id"),
        ),
    )
    enable_tenant_rls("notification_settings")


def downgrade() -> None:
    op.drop_table("notification_settings")
    op.drop_index("ix_notifications_tenant_recipient", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("reminder_hours")
