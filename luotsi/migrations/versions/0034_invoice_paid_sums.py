"""each invoice keeps the sums paid on it and credited by credit notes

An invoice's balance was its gross total less two aggregates joined to every query of
invoices: the firm's payments grouped by invoice and its issued credit notes grouped by the
invoice they credit. The invoice list's totals by state summed every payment of the firm on
every view (46 ms for the largest benchmark firm's 23,661 invoices, the page at 15-20 requests
a second; docs/performance.md). The two sums are now columns of the invoice, kept by the
functions that add, delete or match a payment and issue a credit note
(``luotsi.billing.payments.count_paid``, ``count_credited``), and filled here from what is
recorded.

An issued invoice stays frozen (0013, 0031): its guard now lets an update through when it
changes nothing but the two sums (and ``updated_at``, which the ORM sets on every update).

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

SUMS = ("paid_cents", "credited_cents")
# What a payment may change on an issued invoice; every other column is the document.
KEPT = (*SUMS, "updated_at")
# The invoice's columns at this revision (SQLite's guard names those it freezes).
COLUMNS = (
    "tenant_id",
    "id",
    "org_id",
    "run_id",
    "kind",
    "status",
    "period_start",
    "period_end",
    "language",
    "buyer_reference",
    "notes",
    "credited_id",
    "restores_sessions",
    "number",
    "reference",
    "reference_type",
    "issued_on",
    "due_on",
    "seller",
    "buyer",
    "net_cents",
    "vat_cents",
    "gross_cents",
    "created_by",
    "created_at",
    "updated_at",
    "issued_by",
    "issued_at",
    *SUMS,
)
FROZEN = "issued invoices cannot be changed: correct them with a credit note"
CLOSED = "(SELECT status FROM tenants WHERE id = OLD.tenant_id) = 'closed'"
PG_ROW = "to_jsonb({row}) - ARRAY[{kept}]"


def _pg_triggers(only_the_document: bool) -> None:
    """Invoices' guard on PostgreSQL: one trigger for updates and deletes (0013's inserted
    nothing it refused), or one for deletes and one for updates that change the document."""
    op.execute("DROP TRIGGER invoices_issued_frozen ON invoices")
    call = "FOR EACH ROW EXECUTE FUNCTION refuse_issued_invoice_change()"
    if not only_the_document:
        op.execute(
            f"CREATE TRIGGER invoices_issued_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoices"
            f" {call}"
        )
        return
    op.execute(f"CREATE TRIGGER invoices_issued_frozen BEFORE DELETE ON invoices {call}")
    kept = ", ".join(f"'{column}'" for column in KEPT)
    old, new = PG_ROW.format(row="OLD", kept=kept), PG_ROW.format(row="NEW", kept=kept)
    op.execute(
        f"CREATE TRIGGER invoices_issued_document_frozen BEFORE UPDATE ON invoices"
        f" FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) EXECUTE FUNCTION"
        " refuse_issued_invoice_change()"
    )


def _sqlite_trigger(only_the_document: bool) -> None:
    op.execute("DROP TRIGGER invoices_issued_update")
    when = f"OLD.status = 'issued' AND NOT {CLOSED}"
    if only_the_document:
        changed = " OR ".join(
            f"OLD.{column} IS NOT NEW.{column}" for column in COLUMNS if column not in KEPT
        )
        when += f" AND ({changed})"
    op.execute(
        f"CREATE TRIGGER invoices_issued_update BEFORE UPDATE ON invoices WHEN {when}"
        f" BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    )


def _guard(only_the_document: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_triggers(only_the_document)
    else:
        _sqlite_trigger(only_the_document)


def upgrade() -> None:
    for column in SUMS:
        op.add_column(
            "invoices", sa.Column(column, sa.Integer(), nullable=False, server_default="0")
        )
    _guard(only_the_document=True)
    # Each sum grouped once and joined (UPDATE ... FROM, SQLite 3.33+): a subquery per
    # invoice would scan the firm's invoices for its credit notes (credited_id has no index).
    op.execute(
        """
        UPDATE invoices SET paid_cents = sums.cents
        FROM (
            SELECT tenant_id, invoice_id, SUM(amount_cents) AS cents FROM payments
            WHERE invoice_id IS NOT NULL GROUP BY tenant_id, invoice_id
        ) AS sums
        WHERE invoices.tenant_id = sums.tenant_id AND invoices.id = sums.invoice_id
        """
    )
    op.execute(
        """
        UPDATE invoices SET credited_cents = sums.cents
        FROM (
            SELECT tenant_id, credited_id, -SUM(gross_cents) AS cents FROM invoices
            WHERE kind = 'credit_note' AND status = 'issued' AND credited_id IS NOT NULL
            GROUP BY tenant_id, credited_id
        ) AS sums
        WHERE invoices.tenant_id = sums.tenant_id AND invoices.id = sums.credited_id
        """
    )


def downgrade() -> None:
    _guard(only_the_document=False)
    for column in reversed(SUMS):
        op.drop_column("invoices", column)
