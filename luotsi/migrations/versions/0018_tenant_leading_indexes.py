"""indexes of tenant tables lead with tenant_id and match the list queries

Measured on the benchmark's data (bench/seed.py, docs/performance.md): the whole firm's
sessions (the owner's calendar and dashboard, the sessions list) had no index on
``(tenant_id, starts_at)`` and read every firm's sessions; the inquiries' indexes lacked
``tenant_id``, and a few lookups by a parent's id (a profile's areas and qualifications, a
login's person, an agreement's acceptances and documents) used an index without it.

- ``supervision_sessions``: ``(tenant_id, starts_at)``, and the same on the planned ones only
  (the week ahead, the sessions waiting to be recorded).
- ``inquiries``: ``(tenant_id, created_at)``, ``(tenant_id, status, created_at)``,
  ``(tenant_id, assigned_membership_id, created_at)`` replace the single-column ones.
- ``(tenant_id, x)`` replaces ``(x)`` on service_areas, qualifications, client_people
  (membership), agreement_acceptances, agreement_documents, staff_specialties (specialty);
  the single-column ``firm_area_parts.area_id`` and ``staff_specialties.profile_id`` go, their
  unique constraints already lead with ``(tenant_id, area_id)`` and ``(tenant_id, profile_id)``.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PLANNED = sa.text("status = 'planned'")

# (table, old single-column index or None, new index or None, its columns)
REPLACED = [
    ("inquiries", "ix_inquiries_created_at", "ix_inquiries_tenant_created", ["created_at"]),
    (
        "inquiries",
        "ix_inquiries_status",
        "ix_inquiries_tenant_status_created",
        ["status", "created_at"],
    ),
    (
        "inquiries",
        "ix_inquiries_assigned_membership_id",
        "ix_inquiries_tenant_assigned_created",
        ["assigned_membership_id", "created_at"],
    ),
    (
        "service_areas",
        "ix_service_areas_profile_id",
        "ix_service_areas_tenant_profile",
        ["profile_id"],
    ),
    (
        "qualifications",
        "ix_qualifications_profile_id",
        "ix_qualifications_tenant_profile",
        ["profile_id"],
    ),
    (
        "client_people",
        "ix_client_people_membership_id",
        "ix_client_people_tenant_membership",
        ["membership_id"],
    ),
    (
        "agreement_acceptances",
        "ix_agreement_acceptances_agreement_id",
        "ix_agreement_acceptances_tenant_agreement",
        ["agreement_id"],
    ),
    (
        "agreement_documents",
        "ix_agreement_documents_agreement_id",
        "ix_agreement_documents_tenant_agreement",
        ["agreement_id"],
    ),
    (
        "staff_specialties",
        "ix_staff_specialties_specialty_id",
        "ix_staff_specialties_tenant_specialty",
        ["specialty_id"],
    ),
    ("staff_specialties", "ix_staff_specialties_profile_id", None, ["profile_id"]),
    ("firm_area_parts", "ix_firm_area_parts_area_id", None, ["area_id"]),
]


def upgrade() -> None:
    op.create_index("ix_sessions_tenant_starts", "supervision_sessions", ["tenant_id", "starts_at"])
    op.create_index(
        "ix_sessions_tenant_planned_starts",
        "supervision_sessions",
        ["tenant_id", "starts_at"],
        postgresql_where=PLANNED,
        sqlite_where=PLANNED,
    )
    for table, old, new, columns in REPLACED:
        if new is not None:
            op.create_index(new, table, ["tenant_id", *columns])
        op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, new, columns in reversed(REPLACED):
        op.create_index(old, table, [columns[0]])
        if new is not None:
            op.drop_index(new, table_name=table)
    op.drop_index("ix_sessions_tenant_planned_starts", table_name="supervision_sessions")
    op.drop_index("ix_sessions_tenant_starts", table_name="supervision_sessions")
