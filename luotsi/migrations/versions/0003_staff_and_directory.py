"""staff, specialties, directory and inquiries

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("bucket", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_events")),
    )
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index("ix_rate_events_bucket_key_at", ["bucket", "key", "at"], unique=False)

    op.create_table(
        "firm_profiles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("description_fi", sa.Text(), nullable=False),
        sa.Column("description_sv", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("public_email", sa.String(length=254), nullable=False),
        sa.Column("public_phone", sa.String(length=20), nullable=False),
        sa.Column("directory_enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_firm_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_firm_profiles")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_firm_profiles_tenant_id")),
    )
    op.create_table(
        "specialties",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_specialties_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_specialties")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_specialties_tenant_id_name")),
    )
    op.create_table(
        "inquiries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
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
            nullable=True,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("consent_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "contacted",
                "converted",
                "closed",
                name="inquirystatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("requested_profile_id", sa.Uuid(), nullable=True),
        sa.Column("assigned_membership_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_inquiries_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inquiries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_inquiries")),
    )
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inquiries_assigned_membership_id"),
            ["assigned_membership_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_inquiries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_inquiries_status"), ["status"], unique=False)

    op.create_table(
        "staff_profiles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=160), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("public_email", sa.String(length=254), nullable=False),
        sa.Column("bio_fi", sa.Text(), nullable=False),
        sa.Column("bio_sv", sa.Text(), nullable=False),
        sa.Column("bio_en", sa.Text(), nullable=False),
        sa.Column("languages", sa.String(length=200), nullable=False),
        sa.Column("kinds", sa.String(length=200), nullable=False),
        sa.Column("remote_anywhere", sa.Boolean(), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "membership_id"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_staff_profiles_tenant_id_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_staff_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_profiles")),
        sa.UniqueConstraint(
            "tenant_id", "membership_id", name=op.f("uq_staff_profiles_tenant_id_membership_id")
        ),
    )
    op.create_table(
        "qualifications",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            name=op.f("fk_qualifications_tenant_id_profile_id_staff_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_qualifications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_qualifications")),
    )
    with op.batch_alter_table("qualifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qualifications_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "service_areas",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=2), nullable=True),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
        sa.Column("firm_area_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "CASE WHEN region_code IS NULL THEN 0 ELSE 1 END + CASE WHEN municipality_code IS NULL THEN 0 ELSE 1 END + CASE WHEN firm_area_id IS NULL THEN 0 ELSE 1 END = 1",
            name=op.f("ck_service_areas_one_place"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_service_areas_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_service_areas_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "firm_area_id"],
            ["firm_areas.tenant_id", "firm_areas.id"],
            name=op.f("fk_service_areas_tenant_id_firm_area_id_firm_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            name=op.f("fk_service_areas_tenant_id_profile_id_staff_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_service_areas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_service_areas")),
    )
    with op.batch_alter_table("service_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_areas_profile_id"), ["profile_id"], unique=False
        )

    op.create_table(
        "staff_specialties",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("profile_id", sa.Uuid(), nullable=False),
        sa.Column("specialty_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "profile_id"],
            ["staff_profiles.tenant_id", "staff_profiles.id"],
            name=op.f("fk_staff_specialties_tenant_id_profile_id_staff_profiles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "specialty_id"],
            ["specialties.tenant_id", "specialties.id"],
            name=op.f("fk_staff_specialties_tenant_id_specialty_id_specialties"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_staff_specialties_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_specialties")),
        sa.UniqueConstraint(
            "tenant_id",
            "profile_id",
            "specialty_id",
            name=op.f("uq_staff_specialties_tenant_id_profile_id_specialty_id"),
        ),
    )
    with op.batch_alter_table("staff_specialties", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_specialties_profile_id"), ["profile_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_staff_specialties_specialty_id"), ["specialty_id"], unique=False
        )

    for table in (
        "firm_profiles",
        "specialties",
        "inquiries",
        "staff_profiles",
        "qualifications",
        "service_areas",
        "staff_specialties",
    ):
        enable_tenant_rls(table)


def downgrade() -> None:
    with op.batch_alter_table("staff_specialties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_specialties_specialty_id"))
        batch_op.drop_index(batch_op.f("ix_staff_specialties_profile_id"))

    op.drop_table("staff_specialties")
    with op.batch_alter_table("service_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_areas_profile_id"))

    op.drop_table("service_areas")
    with op.batch_alter_table("qualifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qualifications_profile_id"))

    op.drop_table("qualifications")
    op.drop_table("staff_profiles")
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inquiries_status"))
        batch_op.drop_index(batch_op.f("ix_inquiries_created_at"))
        batch_op.drop_index(batch_op.f("ix_inquiries_assigned_membership_id"))

    op.drop_table("inquiries")
    op.drop_table("specialties")
    op.drop_table("firm_profiles")
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_events_bucket_key_at")

    op.drop_table("rate_events")
