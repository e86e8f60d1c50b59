"""session details: idle timeout, device and address range, re-confirmation; e-mail change

- ``user_sessions.last_seen_at``: the session's last request (refreshed at most once a minute);
  a session idle longer than ``LUOTSI_SESSION_IDLE_MINUTES`` has ended, and retention prunes it.
- ``user_sessions.confirmed_at``: the sign-in or the last re-confirmation of the password, for
  the actions that ask for a recent one.
- ``user_sessions.device``: the browser's summary ("Firefox / Windows").
- ``auth_tokens.email``: the new address of an e-mail change, until its link is followed.
- ``user_sessions.ip`` keeps only the address's range from now on; the sessions signed in
  before this revision keep theirs for at most their lifetime, so they are ended here.

Revision ID: 0026
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db

revision = "0026"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The sessions of before held full addresses and a 14-day lifetime: everyone signs in again.
    op.execute("DELETE FROM user_sessions")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_seen_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False)
        )
        batch_op.add_column(
            sa.Column("confirmed_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False)
        )
        batch_op.add_column(
            sa.Column("device", sa.String(length=60), nullable=False, server_default="")
        )
        batch_op.create_index("ix_user_sessions_last_seen_at", ["last_seen_at"])
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_column("email")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_user_sessions_last_seen_at")
        batch_op.drop_column("device")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("last_seen_at")
