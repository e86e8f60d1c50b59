"""append-only audit log

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import TENANT_POLICY

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_tenant_id_at", ["tenant_id", "at"], unique=False)
        batch_op.create_index("ix_audit_events_actor_user_id", ["actor_user_id"], unique=False)

    if op.get_bind().dialect.name != "postgresql":
        return
    # Append-only for everyone but the owner: whatever default privileges granted, UPDATE
    # and DELETE are taken back here, and `ensure_app_role` never grants them on this table.
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC")
    op.execute(
        """
        DO $$
        DECLARE grantee_name text;
        BEGIN
          FOR grantee_name IN
            SELECT DISTINCT a.grantee::regrole::text
            FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = 'audit_events'::regclass
              AND a.grantee <> 0 AND a.grantee <> c.relowner
              AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
          LOOP
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM %s',
                           grantee_name);
          END LOOP;
        END $$
        """
    )
    # A firm's rows are read only within that firm; platform events (tenant_id NULL) are
    # invisible to the app. Rows are added for the current firm or as platform events. No
    # UPDATE or DELETE policy exists, so even a stray grant would change no row.
    op.execute("ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_read ON audit_events FOR SELECT USING ({TENANT_POLICY})")
    op.execute(
        "CREATE POLICY tenant_append ON audit_events FOR INSERT "
        f"WITH CHECK (tenant_id IS NULL OR {TENANT_POLICY})"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_actor_user_id")
        batch_op.drop_index("ix_audit_events_tenant_id_at")
    op.drop_table("audit_events")
