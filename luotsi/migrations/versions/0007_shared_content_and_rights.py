"""shared content (assignments, goals, evaluations, limits), erasure requests, retention

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import USER_POLICY, enable_tenant_rls

CONTENT_TABLES = (
    "erasure_requests",
    "confidentiality_limits",
    "goals",
    "assignments",
    "evaluations",
    "assignment_responses",
)


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("person_name", sa.String(length=120), nullable=False),
        sa.Column("requested_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("requested_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("decided_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erasure_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_erasure_requests")),
    )
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_erasure_requests_tenant_status", ["tenant_id", "status"], unique=False
        )

    op.create_table(
        "confidentiality_limits",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("updated_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_confidentiality_limits_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_confidentiality_limits_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_confidentiality_limits")),
        sa.UniqueConstraint(
            "tenant_id",
            "agreement_id",
            name=op.f("uq_confidentiality_limits_tenant_id_agreement_id"),
        ),
    )
    with op.batch_alter_table("confidentiality_limits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_confidentiality_limits_tenant_key_version",
            ["tenant_id", "key_version"],
            unique=False,
        )

    op.create_table(
        "goals",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_goals_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_goals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_goals")),
    )
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_goals_tenant_agreement", ["tenant_id", "agreement_id"], unique=False
        )
        batch_op.create_index(
            "ix_goals_tenant_key_version", ["tenant_id", "key_version"], unique=False
        )

    op.create_table(
        "assignments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("author_membership_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_assignments_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            name=op.f("fk_assignments_tenant_id_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_assignments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignments_tenant_agreement", ["tenant_id", "agreement_id"], unique=False
        )
        batch_op.create_index(
            "ix_assignments_tenant_key_version", ["tenant_id", "key_version"], unique=False
        )

    op.create_table(
        "evaluations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("goal_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("recorded_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_evaluations_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "goal_id"],
            ["goals.tenant_id", "goals.id"],
            name=op.f("fk_evaluations_tenant_id_goal_id_goals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_evaluations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_evaluations")),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index("ix_evaluations_tenant_goal", ["tenant_id", "goal_id"], unique=False)
        batch_op.create_index(
            "ix_evaluations_tenant_key_version", ["tenant_id", "key_version"], unique=False
        )

    op.create_table(
        "assignment_responses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("done_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "assignment_id"],
            ["assignments.tenant_id", "assignments.id"],
            name=op.f("fk_assignment_responses_tenant_id_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_assignment_responses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_assignment_responses")),
        sa.UniqueConstraint(
            "tenant_id",
            "assignment_id",
            "person_id",
            name=op.f("uq_assignment_responses_tenant_id_assignment_id_person_id"),
        ),
    )
    with op.batch_alter_table("assignment_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assignment_responses_tenant_key_version", ["tenant_id", "key_version"], unique=False
        )

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "content_erased_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("context_id", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "ix_audit_events_tenant_id_context_id", ["tenant_id", "context_id"], unique=False
        )

    with op.batch_alter_table("session_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handed_over_from", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "handed_over_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )

    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_retention_months", sa.Integer(), nullable=False, server_default="24")
        )

    for table in CONTENT_TABLES:
        enable_tenant_rls(table)
    if op.get_bind().dialect.name == "postgresql":
        # A signed-in user reads their own sign-ins (platform events, no firm) in their account.
        own = USER_POLICY.replace("user_id", "actor_user_id", 1)
        op.execute(
            f"CREATE POLICY own_sign_ins ON audit_events FOR SELECT USING (tenant_id IS NULL AND {own})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS own_sign_ins ON audit_events")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("content_retention_months")

    with op.batch_alter_table("session_notes", schema=None) as batch_op:
        batch_op.drop_column("handed_over_at")
        batch_op.drop_column("handed_over_from")

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_tenant_id_context_id")
        batch_op.drop_column("context_id")

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("content_erased_at")

    with op.batch_alter_table("assignment_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_assignment_responses_tenant_key_version")

    op.drop_table("assignment_responses")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluations_tenant_key_version")
        batch_op.drop_index("ix_evaluations_tenant_goal")

    op.drop_table("evaluations")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_tenant_key_version")
        batch_op.drop_index("ix_assignments_tenant_agreement")

    op.drop_table("assignments")
    with op.batch_alter_table("goals", schema=None) as batch_op:
        batch_op.drop_index("ix_goals_tenant_key_version")
        batch_op.drop_index("ix_goals_tenant_agreement")

    op.drop_table("goals")
    with op.batch_alter_table("confidentiality_limits", schema=None) as batch_op:
        batch_op.drop_index("ix_confidentiality_limits_tenant_key_version")

    op.drop_table("confidentiality_limits")
    with op.batch_alter_table("erasure_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_erasure_requests_tenant_status")

    op.drop_table("erasure_requests")
