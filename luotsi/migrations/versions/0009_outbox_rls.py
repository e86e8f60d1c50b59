"""the outbox under row-level security; sign-in attempts counted in rate_events

Revision ID: 0009
Revises: 0008

Pending e-mails hold recipients, subjects and single-use links: on PostgreSQL the app role may
only add rows (its own firm's or platform mail); reading and updating them is the worker's,
through the transaction setting ``app.outbox_worker`` that only
:func:`luotsi.platform.outbox.outbox_worker_session` sets. Sign-in attempts moved to the one
limiter (``rate_events``), so ``login_attempts`` goes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import TENANT_POLICY

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

WORKER_POLICY = "current_setting('app.outbox_worker', true) = 'on'"


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_ip_at")
        batch_op.drop_index("ix_login_attempts_email_at")
    op.drop_table("login_attempts")

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE outbox ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE outbox FORCE ROW LEVEL SECURITY")
    # No SELECT policy for a firm: a request never reads the outbox back, not even its own.
    op.execute(
        "CREATE POLICY tenant_enqueue ON outbox FOR INSERT "
        f"WITH CHECK (tenant_id IS NULL OR {TENANT_POLICY})"
    )
    op.execute(
        f"CREATE POLICY worker ON outbox USING ({WORKER_POLICY}) WITH CHECK ({WORKER_POLICY})"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY worker ON outbox")
        op.execute("DROP POLICY tenant_enqueue ON outbox")
        op.execute("ALTER TABLE outbox NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE outbox DISABLE ROW LEVEL SECURITY")
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_email_at", ["email", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_ip_at", ["ip", "at"], unique=False)
