"""clear the text "None" that an empty public page form saved into firms' profiles

Before the fix, the public page settings of a firm without a profile were pre-filled with
"None", and saving the form untouched published it. No firm writes exactly "None" as a
description or e-mail address on purpose, so the exact value is cleared.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FIELDS = ("description_fi", "description_sv", "description_en", "public_email")


def upgrade() -> None:
    profiles = sa.table("firm_profiles", *(sa.column(field, sa.Text()) for field in FIELDS))
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:  # the owner crosses firms here only: row security is forced on it otherwise
        op.execute("ALTER TABLE firm_profiles NO FORCE ROW LEVEL SECURITY")
    for field in FIELDS:
        op.execute(profiles.update().where(profiles.c[field] == "None").values({field: ""}))
    if postgres:
        op.execute("ALTER TABLE firm_profiles FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    """The cleared values were never meant: nothing to restore."""
