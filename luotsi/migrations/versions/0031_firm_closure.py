"""firm closure: a grace period, then erasure; issued invoices go after the bookkeeping period

- ``tenants.closure_requested_at``: when the owner asked to close the firm (the grace period
  runs from it; the workspace is read-only meanwhile).
- ``tenants.closure_contact`` and ``closure_language``: the owner's address and language,
  captured at the request because the memberships are erased with the firm; cleared when the
  erasure has been confirmed to it.
- ``tenants.closed_at``: when the firm's data was erased (status ``closed``, the tombstone).
- The guard of issued invoices lets the closure job unlink and, after the bookkeeping period,
  delete the invoices of a firm that is closed (status ``closed``), and nothing else.

Revision ID: 0031
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db

revision = "0031"
down_revision = "0027"
branch_labels = None
depends_on = None

FROZEN = "issued invoices cannot be changed: correct them with a credit note"
_OPEN = "(SELECT status FROM tenants WHERE id = {row}.tenant_id) = 'closed'"
_LINE_OF_ISSUED = (
    "(SELECT status FROM invoices WHERE tenant_id = {row}.tenant_id AND id = {row}.invoice_id)"
    " = 'issued'"
)
_GUARDS = [("invoices", op_name, "OLD") for op_name in ("update", "delete")] + [
    ("invoice_lines", op_name, row)
    for op_name, row in (("insert", "NEW"), ("update", "NEW"), ("update", "OLD"), ("delete", "OLD"))
]


def _sqlite_guard(table: str, op_name: str, row: str, closed_firms_open: bool) -> str:
    if table == "invoices":
        name = f"invoices_issued_{op_name}"
        when = "OLD.status = 'issued'"
    else:
        name = f"invoice_lines_issued_{op_name}_{row.lower()}"
        when = _LINE_OF_ISSUED.format(row=row)
    if closed_firms_open:
        when += f" AND NOT {_OPEN.format(row=row)}"
    return (
        f"CREATE TRIGGER {name} BEFORE {op_name.upper()} ON {table} WHEN {when}"
        f" BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    )


def _sqlite_name(table: str, op_name: str, row: str) -> str:
    if table == "invoices":
        return f"invoices_issued_{op_name}"
    return f"invoice_lines_issued_{op_name}_{row.lower()}"


PG_GUARD = """
CREATE OR REPLACE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    issued boolean;
    firm uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        firm := OLD.tenant_id;
    ELSE
        firm := NEW.tenant_id;
    END IF;
    IF {open_closed} EXISTS (SELECT 1 FROM tenants WHERE id = firm AND status = 'closed') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'invoices' THEN
        issued := TG_OP <> 'INSERT' AND OLD.status = 'issued';
    ELSIF TG_OP = 'DELETE' THEN
        SELECT status = 'issued' INTO issued FROM invoices
        WHERE tenant_id = OLD.tenant_id AND id = OLD.invoice_id;
    ELSE
        SELECT status = 'issued' INTO issued FROM invoices
        WHERE tenant_id = NEW.tenant_id AND id = NEW.invoice_id;
        IF TG_OP = 'UPDATE' AND NOT coalesce(issued, false) THEN
            SELECT status = 'issued' INTO issued FROM invoices
            WHERE tenant_id = OLD.tenant_id AND id = OLD.invoice_id;
        END IF;
    END IF;
    IF coalesce(issued, false) THEN
        RAISE EXCEPTION '{frozen}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""


def _guards(closed_firms_open: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            PG_GUARD.replace("{open_closed}", "" if closed_firms_open else "FALSE AND").replace(
                "{frozen}", FROZEN
            )
        )
        return
    for table, op_name, row in _GUARDS:
        op.execute(f"DROP TRIGGER {_sqlite_name(table, op_name, row)}")
        op.execute(_sqlite_guard(table, op_name, row, closed_firms_open))


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.add_column(
            sa.Column(
                "closure_requested_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("closure_contact", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("closure_language", sa.String(length=5), nullable=True))
        batch_op.add_column(
            sa.Column("closed_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True)
        )
    _guards(closed_firms_open=True)


def downgrade() -> None:
    _guards(closed_firms_open=False)
    with op.batch_alter_table("tenants") as batch_op:
        batch_op.drop_column("closed_at")
        batch_op.drop_column("closure_language")
        batch_op.drop_column("closure_contact")
        batch_op.drop_column("closure_requested_at")
