"""regions and firm areas

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls
from luotsi.tenants.directory.regions import read_reference

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def load_reference() -> None:
    """Statistics Finland's regions and municipalities, from the bundled file."""
    rows = read_reference()
    regions = sa.table("regions", sa.column("code"), sa.column("name_fi"), sa.column("name_sv"))
    municipalities = sa.table(
        "municipalities",
        sa.column("code"),
        sa.column("name_fi"),
        sa.column("name_sv"),
        sa.column("region_code"),
    )
    op.bulk_insert(
        regions,
        [
            {"code": r.code, "name_fi": r.name_fi, "name_sv": r.name_sv}
            for r in rows
            if r.kind == "region"
        ],
    )
    op.bulk_insert(
        municipalities,
        [
            {
                "code": r.code,
                "name_fi": r.name_fi,
                "name_sv": r.name_sv,
                "region_code": r.region_code,
            }
            for r in rows
            if r.kind == "municipality"
        ],
    )


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("name_fi", sa.String(length=80), nullable=False),
        sa.Column("name_sv", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
    )
    op.create_table(
        "firm_areas",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_firm_areas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_firm_areas")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_firm_areas_tenant_id_name")),
    )
    op.create_table(
        "municipalities",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name_fi", sa.String(length=80), nullable=False),
        sa.Column("name_sv", sa.String(length=80), nullable=False),
        sa.Column("region_code", sa.String(length=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_municipalities_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_municipalities")),
    )
    with op.batch_alter_table("municipalities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_municipalities_name_fi"), ["name_fi"], unique=False)
        batch_op.create_index(batch_op.f("ix_municipalities_name_sv"), ["name_sv"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_municipalities_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "firm_area_parts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("area_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=2), nullable=True),
        sa.Column("municipality_code", sa.String(length=3), nullable=True),
        sa.CheckConstraint(
            "(region_code IS NULL) <> (municipality_code IS NULL)",
            name=op.f("ck_firm_area_parts_one_place"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipalities.code"],
            name=op.f("fk_firm_area_parts_municipality_code_municipalities"),
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_firm_area_parts_region_code_regions")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "area_id"],
            ["firm_areas.tenant_id", "firm_areas.id"],
            name=op.f("fk_firm_area_parts_tenant_id_area_id_firm_areas"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_firm_area_parts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_firm_area_parts")),
        sa.UniqueConstraint(
            "tenant_id",
            "area_id",
            "region_code",
            "municipality_code",
            name="uq_firm_area_parts_part",
        ),
    )
    with op.batch_alter_table("firm_area_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_firm_area_parts_area_id"), ["area_id"], unique=False)

    for table in ("firm_areas", "firm_area_parts"):
        enable_tenant_rls(table)
    load_reference()


def downgrade() -> None:
    with op.batch_alter_table("firm_area_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_firm_area_parts_area_id"))

    op.drop_table("firm_area_parts")
    with op.batch_alter_table("municipalities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipalities_region_code"))
        batch_op.drop_index(batch_op.f("ix_municipalities_name_sv"))
        batch_op.drop_index(batch_op.f("ix_municipalities_name_fi"))

    op.drop_table("municipalities")
    op.drop_table("firm_areas")
    op.drop_table("regions")
