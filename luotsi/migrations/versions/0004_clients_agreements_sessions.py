"""client organisations, agreements, reviews, sessions and calendar feeds

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_calendar_feeds_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calendar_feeds_tenant_membership", ["tenant_id", "membership_id"], unique=False
        )

    op.create_table(
        "client_orgs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("business_id", sa.String(length=9), nullable=False),
        sa.Column(
            "org_type",
            sa.Enum(
                "municipality",
                "wellbeing_county",
                "company",
                "association",
                "other",
                name="orgtype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("billing_street", sa.String(length=200), nullable=False),
        sa.Column("billing_postal_code", sa.String(length=10), nullable=False),
        sa.Column("billing_city", sa.String(length=100), nullable=False),
        sa.Column("einvoice_address", sa.String(length=35), nullable=False),
        sa.Column("einvoice_operator", sa.String(length=35), nullable=False),
        sa.Column("invoice_email", sa.String(length=254), nullable=False),
        sa.Column("invoice_language", sa.String(length=2), nullable=False),
        sa.Column("payment_term_days", sa.Integer(), nullable=False),
        sa.Column("internal_notes", sa.Text(), nullable=False),
        sa.Column("archived_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_client_orgs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_client_orgs")),
    )
    with op.batch_alter_table("client_orgs", schema=None) as batch_op:
        batch_op.create_index("ix_client_orgs_tenant_name", ["tenant_id", "name"], unique=False)

    op.create_table(
        "client_people",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "hr_contact",
                "manager",
                "supervisee",
                name="personrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=True),
        sa.Column("invitation_id", sa.Uuid(), nullable=True),
        sa.Column("archived_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "org_id"],
            ["client_orgs.tenant_id", "client_orgs.id"],
            name=op.f("fk_client_people_tenant_id_org_id_client_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_client_people_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_client_people")),
    )
    with op.batch_alter_table("client_people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_client_people_membership_id"), ["membership_id"], unique=False
        )
        batch_op.create_index("ix_client_people_tenant_org", ["tenant_id", "org_id"], unique=False)

    op.create_table(
        "agreements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "individual",
                "group",
                "work_community",
                "leadership",
                "mediation",
                name="supervisionkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.Uuid(), nullable=True),
        sa.Column("hr_contact_id", sa.Uuid(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("session_minutes", sa.Integer(), nullable=False),
        sa.Column("cadence_weeks", sa.Integer(), nullable=False),
        sa.Column("session_quota", sa.Integer(), nullable=True),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("vat_basis_points", sa.Integer(), nullable=False),
        sa.Column("cancellation_hours", sa.Integer(), nullable=False),
        sa.Column("review_interval_months", sa.Integer(), nullable=False),
        sa.Column("reminders_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "pending",
                "active",
                "paused",
                "ended",
                name="agreementstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status_changed_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("status_changed_by", sa.Uuid(), nullable=True),
        sa.Column("review_reminder_for", sa.Date(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "hr_contact_id"],
            ["client_people.tenant_id", "client_people.id"],
            name=op.f("fk_agreements_tenant_id_hr_contact_id_client_people"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "manager_id"],
            ["client_people.tenant_id", "client_people.id"],
            name=op.f("fk_agreements_tenant_id_manager_id_client_people"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "org_id"],
            ["client_orgs.tenant_id", "client_orgs.id"],
            name=op.f("fk_agreements_tenant_id_org_id_client_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreements_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreements")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index("ix_agreements_tenant_org", ["tenant_id", "org_id"], unique=False)
        batch_op.create_index("ix_agreements_tenant_status", ["tenant_id", "status"], unique=False)

    op.create_table(
        "agreement_acceptances",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column(
            "party",
            sa.Enum(
                "supervisee", "manager", "hr_contact", name="party", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("responded_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("response", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_acceptances_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["client_people.tenant_id", "client_people.id"],
            name=op.f("fk_agreement_acceptances_tenant_id_person_id_client_people"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_acceptances_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_acceptances")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_agreement_acceptances_token_hash")),
    )
    with op.batch_alter_table("agreement_acceptances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_acceptances_agreement_id"), ["agreement_id"], unique=False
        )

    op.create_table(
        "agreement_documents",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_documents_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_documents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_documents")),
    )
    with op.batch_alter_table("agreement_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_documents_agreement_id"), ["agreement_id"], unique=False
        )

    op.create_table(
        "agreement_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=120), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_events_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_events")),
    )
    with op.batch_alter_table("agreement_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreement_events_tenant_agreement", ["tenant_id", "agreement_id"], unique=False
        )

    op.create_table(
        "agreement_reviews",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "continue", "extend", "end", name="reviewdecision", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("new_end_date", sa.Date(), nullable=True),
        sa.Column("supervisee_present", sa.Boolean(), nullable=False),
        sa.Column("supervisor_present", sa.Boolean(), nullable=False),
        sa.Column("manager_present", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_reviews_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_reviews")),
    )
    with op.batch_alter_table("agreement_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreement_reviews_tenant_agreement", ["tenant_id", "agreement_id"], unique=False
        )

    op.create_table(
        "agreement_supervisees",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_supervisees_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["client_people.tenant_id", "client_people.id"],
            name=op.f("fk_agreement_supervisees_tenant_id_person_id_client_people"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_supervisees_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_supervisees")),
        sa.UniqueConstraint(
            "tenant_id",
            "agreement_id",
            "person_id",
            name=op.f("uq_agreement_supervisees_tenant_id_agreement_id_person_id"),
        ),
    )
    op.create_table(
        "agreement_supervisors",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_agreement_supervisors_tenant_id_agreement_id_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agreement_supervisors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_supervisors")),
        sa.UniqueConstraint(
            "tenant_id",
            "agreement_id",
            "membership_id",
            name=op.f("uq_agreement_supervisors_tenant_id_agreement_id_membership_id"),
        ),
    )
    with op.batch_alter_table("agreement_supervisors", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreement_supervisors_tenant_membership",
            ["tenant_id", "membership_id"],
            unique=False,
        )

    op.create_table(
        "supervision_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("supervisor_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "session", "evaluation", "review", name="meetingkind", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("starts_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "held",
                "cancelled_by_client",
                "cancelled_by_firm",
                "no_show",
                name="sessionstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("late_cancellation", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("actual_minutes", sa.Integer(), nullable=True),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("meeting_url", sa.String(length=500), nullable=False),
        sa.Column("uid", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("manager_invited_by", sa.Uuid(), nullable=True),
        sa.Column(
            "manager_invited_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("reminder_sent_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_supervision_sessions_tenant_id_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_supervision_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_supervision_sessions")),
        sa.UniqueConstraint("tenant_id", "uid", name=op.f("uq_supervision_sessions_tenant_id_uid")),
    )
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sessions_tenant_agreement_starts",
            ["tenant_id", "agreement_id", "starts_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_sessions_tenant_supervisor_starts",
            ["tenant_id", "supervisor_id", "starts_at"],
            unique=False,
        )

    op.create_table(
        "session_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("old_starts_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("new_starts_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            name=op.f("fk_session_changes_tenant_id_session_id_supervision_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_session_changes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_session_changes")),
    )
    with op.batch_alter_table("session_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_session_changes_tenant_session", ["tenant_id", "session_id"], unique=False
        )

    for table in (
        "calendar_feeds",
        "client_orgs",
        "client_people",
        "agreements",
        "agreement_acceptances",
        "agreement_documents",
        "agreement_events",
        "agreement_reviews",
        "agreement_supervisees",
        "agreement_supervisors",
        "supervision_sessions",
        "session_changes",
    ):
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("session_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_session_changes_tenant_session")

    op.drop_table("session_changes")
    with op.batch_alter_table("supervision_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_tenant_supervisor_starts")
        batch_op.drop_index("ix_sessions_tenant_agreement_starts")

    op.drop_table("supervision_sessions")
    with op.batch_alter_table("agreement_supervisors", schema=None) as batch_op:
        batch_op.drop_index("ix_agreement_supervisors_tenant_membership")

    op.drop_table("agreement_supervisors")
    op.drop_table("agreement_supervisees")
    with op.batch_alter_table("agreement_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_agreement_reviews_tenant_agreement")

    op.drop_table("agreement_reviews")
    with op.batch_alter_table("agreement_events", schema=None) as batch_op:
        batch_op.drop_index("ix_agreement_events_tenant_agreement")

    op.drop_table("agreement_events")
    with op.batch_alter_table("agreement_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_documents_agreement_id"))

    op.drop_table("agreement_documents")
    with op.batch_alter_table("agreement_acceptances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_acceptances_agreement_id"))

    op.drop_table("agreement_acceptances")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_agreements_tenant_status")
        batch_op.drop_index("ix_agreements_tenant_org")

    op.drop_table("agreements")
    with op.batch_alter_table("client_people", schema=None) as batch_op:
        batch_op.drop_index("ix_client_people_tenant_org")
        batch_op.drop_index(batch_op.f("ix_client_people_membership_id"))

    op.drop_table("client_people")
    with op.batch_alter_table("client_orgs", schema=None) as batch_op:
        batch_op.drop_index("ix_client_orgs_tenant_name")

    op.drop_table("client_orgs")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index("ix_calendar_feeds_tenant_membership")

    op.drop_table("calendar_feeds")
