"""api_tokens: a firm's tokens for its integrations (the JSON API under /api/v1)

- ``api_tokens``: name, scopes (codes such as ``sessions_read``), the SHA-256 of the token
  (unique within the firm), the secret's last characters, the owner's membership it acts as,
  created, last used and revoked times. Row-level security as every firm table: the API sets
  the firm from the token's text before it looks the token up.

Revision ID: 0028
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0028"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scopes", luotsi.platform.db.CodeSet(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "created_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_api_tokens_tenant_id_created_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_tokens_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_tokens")),
    )
    op.create_index(
        "ix_api_tokens_tenant_secret_hash",
        "api_tokens",
        ["tenant_id", "secret_hash"],
        unique=True,
    )
    enable_tenant_rls("api_tokens")


def downgrade() -> None:
    op.drop_index("ix_api_tokens_tenant_secret_hash", table_name="api_tokens")
    op.drop_table("api_tokens")
