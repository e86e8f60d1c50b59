"""firms' business IDs in the hyphenated form (1234567-8), as client organisations' are

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from stdnum.fi import ytunnus

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

tenants = sa.table("tenants", sa.column("id", sa.Uuid()), sa.column("business_id", sa.String()))


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(tenants.c.id, tenants.c.business_id)).all()
    for tenant_id, business_id in rows:
        if ytunnus.is_valid(business_id or ""):
            formatted = ytunnus.format(business_id)
            if formatted != business_id:
                conn.execute(
                    tenants.update().where(tenants.c.id == tenant_id).values(business_id=formatted)
                )


def downgrade() -> None:
    """The hyphenated form is valid input for every earlier revision: nothing to undo."""
