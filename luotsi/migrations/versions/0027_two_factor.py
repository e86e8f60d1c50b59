"""two-factor authentication: TOTP secrets, recovery codes, the firm's requirement for staff

- ``two_factor``: an account's TOTP secret, AES-GCM encrypted with a platform-scoped key
  (``key_version`` for rotation), when it was turned on (empty while enrolment waits for the
  first code) and the last time step used (a code is accepted once).
- ``recovery_codes``: an account's single-use recovery codes, as SHA-256 hashes.
- ``tenants.two_factor_required``: the firm requires a second factor of its staff.

Global tables of a person, like ``user_sessions``: no firm, no row-level security.

Revision ID: 0027
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db

revision = "0027"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("two_factor_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("enabled_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_two_factor_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    op.create_index(op.f("ix_recovery_codes_user_id"), "recovery_codes", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recovery_codes_user_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("two_factor_required")
