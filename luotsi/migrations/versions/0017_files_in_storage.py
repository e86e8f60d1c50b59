"""file bytes leave the database for the file store (luotsi.platform.storage)

Staff photos, the firms' invoice logos and the kept agreement PDFs move into the store the
settings name (``LUOTSI_STORAGE_URL``: ``luotsi db upgrade`` runs with the app's settings, so
the files land where the app will read them); each row keeps the new key instead
(``photo_key``, ``logo_key``, ``pdf_key``) and the bytes columns go. The files are written
before this transaction commits: should it fail, the bytes are still in the database and the
written files are orphans nobody names (run the upgrade again).

The downgrade reads the files back into the columns and leaves them in the store.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import obstore
import sqlalchemy as sa
from alembic import op

from luotsi.platform import storage
from luotsi.platform.migrate import migration_files

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# (table, bytes column, key column, kind of file, suffix, the key column may be empty)
FILES = (
    ("staff_profiles", "photo", "photo_key", storage.PHOTOS, ".jpg", True),
    ("billing_profiles", "logo", "logo_key", storage.LOGOS, ".png", True),
    ("agreement_documents", "pdf", "pdf_key", storage.AGREEMENTS, ".pdf", False),
)


def _table(name: str, data_column: str, key_column: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("tenant_id", sa.Uuid()),
        sa.column("id", sa.Uuid()),
        sa.column(data_column, sa.LargeBinary()),
        sa.column(key_column, sa.String()),
    )


def _owner_crosses_firms(force: bool) -> None:
    """The owner crosses firms here only: row security is forced on it otherwise."""
    if op.get_bind().dialect.name == "postgresql":
        for name, *_rest in FILES:
            op.execute(f"ALTER TABLE {name} {'' if force else 'NO '}FORCE ROW LEVEL SECURITY")


def upgrade() -> None:
    files = migration_files()
    bind = op.get_bind()
    _owner_crosses_firms(False)
    for name, data_column, key_column, kind, suffix, nullable in FILES:
        with op.batch_alter_table(name) as batch_op:
            batch_op.add_column(sa.Column(key_column, sa.String(120), nullable=True))
        table = _table(name, data_column, key_column)
        data, key = table.c[data_column], table.c[key_column]
        rows = bind.execute(sa.select(table.c.tenant_id, table.c.id).where(data.is_not(None)))
        for tenant_id, row_id in rows.all():
            where = (table.c.tenant_id == tenant_id) & (table.c.id == row_id)
            content = bind.execute(sa.select(data).where(where)).scalar_one()
            new_key = storage.new_key(tenant_id, kind, suffix)
            obstore.put(files.store, new_key, content)
            bind.execute(table.update().where(where).values({key: new_key}))
        with op.batch_alter_table(name) as batch_op:
            if not nullable:
                batch_op.alter_column(key_column, existing_type=sa.String(120), nullable=False)
            batch_op.drop_column(data_column)
    _owner_crosses_firms(True)


def downgrade() -> None:
    files = migration_files()
    bind = op.get_bind()
    _owner_crosses_firms(False)
    for name, data_column, key_column, _kind, _suffix, nullable in FILES:
        with op.batch_alter_table(name) as batch_op:
            batch_op.add_column(sa.Column(data_column, sa.LargeBinary(), nullable=True))
        table = _table(name, data_column, key_column)
        data, key = table.c[data_column], table.c[key_column]
        rows = bind.execute(sa.select(table.c.tenant_id, table.c.id, key).where(key.is_not(None)))
        for tenant_id, row_id, stored in rows.all():
            content = bytes(obstore.get(files.store, stored).bytes())
            where = (table.c.tenant_id == tenant_id) & (table.c.id == row_id)
            bind.execute(table.update().where(where).values({data: content}))
        with op.batch_alter_table(name) as batch_op:
            if not nullable:
                batch_op.alter_column(data_column, existing_type=sa.LargeBinary(), nullable=False)
            batch_op.drop_column(key_column)
    _owner_crosses_firms(True)
