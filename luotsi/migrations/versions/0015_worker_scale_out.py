"""the worker scales out: a job schedule per firm, leased outbox rows, due dates indexed

- ``job_schedule``: when each (job, firm) is next due, claimed by any worker with a lease;
  ``worker_heartbeats``: the running workers. Global tables (ids and times, no content). The
  rows of the firms that exist now are added by the first worker that starts (it adds what is
  missing, as it does for firms that sign up later).
- ``outbox``: a claimed row is ``sending`` under a lease (``claimed_by``, ``lease_until``);
  partial indexes on the pending, sending and sent rows replace the plain ones.
- ``agreements.review_due_on``: the next review's due date, computed here for every agreement
  (as the app keeps it from now on), with an index the review reminders and dashboards read.
- partial indexes for the sessions still to remind, the agreements whose content is still to
  erase; plain ones for pruning expired sign-in sessions and old rate-limit events.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.sqldates import add_months

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC_DATETIME = luotsi.platform.db.UTCDateTime(timezone=True)
UNREMINDED = "status = 'planned' AND reminder_sent_at IS NULL"
UNERASED = "status = 'ended' AND content_erased_at IS NULL"


def _backfill_review_due_on() -> None:
    """Every agreement's next review: the latest review (or the start) plus the interval, at
    the latest the end date."""
    agreements = sa.table(
        "agreements",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column("start_date", sa.Date()),
        sa.column("end_date", sa.Date()),
        sa.column("review_interval_months", sa.Integer()),
        sa.column("review_due_on", sa.Date()),
    )
    reviews = sa.table(
        "agreement_reviews",
        sa.column("tenant_id", sa.Uuid()),
        sa.column("agreement_id", sa.Uuid()),
        sa.column("held_on", sa.Date()),
    )
    last_review = (
        sa.select(sa.func.max(reviews.c.held_on))
        .where(
            reviews.c.tenant_id == agreements.c.tenant_id,
            reviews.c.agreement_id == agreements.c.id,
        )
        .scalar_subquery()
    )
    due = add_months(
        sa.func.coalesce(last_review, agreements.c.start_date), agreements.c.review_interval_months
    )
    op.execute(
        agreements.update().values(
            review_due_on=sa.case((due < agreements.c.end_date, due), else_=agreements.c.end_date)
        )
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "job_schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("next_run_at", UTC_DATETIME, nullable=False),
        sa.Column("last_run_at", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_job_schedule_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedule")),
        sa.UniqueConstraint("job", "tenant_id", name=op.f("uq_job_schedule_job_tenant_id")),
    )
    op.create_index("ix_job_schedule_next_run_at", "job_schedule", ["next_run_at"])
    op.create_index("ix_job_schedule_tenant_id", "job_schedule", ["tenant_id"])
    op.create_index(
        "uq_job_schedule_platform_job",
        "job_schedule",
        ["job"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
        sqlite_where=sa.text("tenant_id IS NULL"),
    )
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )

    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=100), nullable=True))
    op.add_column("outbox", sa.Column("lease_until", UTC_DATETIME, nullable=True))
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.drop_index("ix_outbox_next_attempt_at", table_name="outbox")
    for name, column, status in (
        ("ix_outbox_pending", "next_attempt_at", "pending"),
        ("ix_outbox_sending", "lease_until", "sending"),
        ("ix_outbox_sent", "done_at", "sent"),
    ):
        where = sa.text(f"status = '{status}'")
        op.create_index(name, "outbox", [column], postgresql_where=where, sqlite_where=where)

    op.add_column("agreements", sa.Column("review_due_on", sa.Date(), nullable=True))
    if postgres:  # the owner crosses firms here only: row security is forced on it otherwise
        for table in ("agreements", "agreement_reviews"):
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    _backfill_review_due_on()
    if postgres:
        for table in ("agreements", "agreement_reviews"):
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.drop_index("ix_agreements_tenant_status", table_name="agreements")
    op.create_index(
        "ix_agreements_tenant_status_review_due",
        "agreements",
        ["tenant_id", "status", "review_due_on"],
    )
    op.create_index(
        "ix_agreements_tenant_ended_unerased",
        "agreements",
        ["tenant_id", "status_changed_at"],
        postgresql_where=sa.text(UNERASED),
        sqlite_where=sa.text(UNERASED),
    )
    op.create_index(
        "ix_sessions_tenant_unreminded_starts",
        "supervision_sessions",
        ["tenant_id", "starts_at"],
        postgresql_where=sa.text(UNREMINDED),
        sqlite_where=sa.text(UNREMINDED),
    )
    op.create_index("ix_rate_events_at", "rate_events", ["at"])
    op.create_index("ix_user_sessions_expires_at", "user_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_user_sessions_expires_at", table_name="user_sessions")
    op.drop_index("ix_rate_events_at", table_name="rate_events")
    op.drop_index("ix_sessions_tenant_unreminded_starts", table_name="supervision_sessions")
    op.drop_index("ix_agreements_tenant_ended_unerased", table_name="agreements")
    op.drop_index("ix_agreements_tenant_status_review_due", table_name="agreements")
    op.create_index("ix_agreements_tenant_status", "agreements", ["tenant_id", "status"])
    with op.batch_alter_table("agreements") as batch_op:
        batch_op.drop_column("review_due_on")

    # Rows a worker was sending are pending again for the worker of the old release.
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE outbox NO FORCE ROW LEVEL SECURITY")
    op.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'")
    if postgres:
        op.execute("ALTER TABLE outbox FORCE ROW LEVEL SECURITY")
    for name in ("ix_outbox_sent", "ix_outbox_sending", "ix_outbox_pending"):
        op.drop_index(name, table_name="outbox")
    op.create_index("ix_outbox_next_attempt_at", "outbox", ["next_attempt_at"])
    op.create_index("ix_outbox_status", "outbox", ["status"])
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("claimed_by")

    op.drop_table("worker_heartbeats")
    op.drop_index("uq_job_schedule_platform_job", table_name="job_schedule")
    op.drop_index("ix_job_schedule_tenant_id", table_name="job_schedule")
    op.drop_index("ix_job_schedule_next_run_at", table_name="job_schedule")
    op.drop_table("job_schedule")
