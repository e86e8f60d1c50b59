"""first run: the setup checklist's dismissal, and staff who supervise clients themselves

``memberships.setup_dismissed_at``: when an owner or admin put the dashboard's setup checklist
away (each member for themselves). ``staff_profiles.supervises``: an owner or an office admin
who also takes clients (a one-person firm's owner); supervisors always do. Owners and admins
who already supervise an agreement, hold sessions or show a public profile keep doing so.

Revision ID: 0022
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db

revision = "0022"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(
            sa.Column(
                "setup_dismissed_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("staff_profiles") as batch:
        batch.add_column(
            sa.Column("supervises", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        """
        UPDATE staff_profiles SET supervises = true
        WHERE visible
           OR EXISTS (SELECT 1 FROM memberships m
                      WHERE m.tenant_id = staff_profiles.tenant_id
                        AND m.id = staff_profiles.membership_id AND m.role = 'supervisor')
           OR EXISTS (SELECT 1 FROM agreement_supervisors s
                      WHERE s.tenant_id = staff_profiles.tenant_id
                        AND s.membership_id = staff_profiles.membership_id)
           OR EXISTS (SELECT 1 FROM supervision_sessions s
                      WHERE s.tenant_id = staff_profiles.tenant_id
                        AND s.supervisor_id = staff_profiles.membership_id)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("staff_profiles") as batch:
        batch.drop_column("supervises")
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("setup_dismissed_at")
