"""billing: the firm's billing profile, invoice runs, invoices, payments, reminders, deliveries

Agreements get ``pricing`` (per session, as every agreement so far was, or per process). Issued
invoices and their lines are immutable in the database: triggers refuse to update or delete an
issued invoice and to add, change or remove the lines of one, on both backends. Every new table
is under row-level security on PostgreSQL.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import luotsi.platform.db
from luotsi.platform.migrate import enable_tenant_rls

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


TABLES = (
    "billing_profiles",
    "invoice_runs",
    "invoice_run_orgs",
    "invoices",
    "invoice_lines",
    "billed_items",
    "payments",
    "invoice_reminders",
    "invoice_deliveries",
)
FROZEN = "issued invoices cannot be changed: correct them with a credit note"
PG_GUARD = """
CREATE FUNCTION refuse_issued_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    issued boolean;
BEGIN
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
        RAISE EXCEPTION 'issued invoices cannot be changed: correct them with a credit note' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$
"""
_LINE_OF_ISSUED = (
    "(SELECT status FROM invoices WHERE tenant_id = {row}.tenant_id AND id = {row}.invoice_id)"
    " = 'issued'"
)
SQLITE_GUARDS = [
    f"CREATE TRIGGER invoices_issued_{op_name} BEFORE {op_name.upper()} ON invoices"
    f" WHEN OLD.status = 'issued' BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    for op_name in ("update", "delete")
] + [
    f"CREATE TRIGGER invoice_lines_issued_{op_name}_{row.lower()} BEFORE {op_name.upper()}"
    f" ON invoice_lines WHEN {_LINE_OF_ISSUED.format(row=row)}"
    f" BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END"
    for op_name, row in (("insert", "NEW"), ("update", "NEW"), ("update", "OLD"), ("delete", "OLD"))
]


def upgrade() -> None:
    op.create_table(
        "billing_profiles",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=False),
        sa.Column("business_id", sa.String(length=9), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("iban", sa.String(length=42), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("payment_term_days", sa.Integer(), nullable=False),
        sa.Column("penalty_interest", sa.String(length=200), nullable=False),
        sa.Column("reminder_fee_cents", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column(
            "reference_type",
            sa.Enum("national", "rf", name="referencetype", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("vat_exemption_text", sa.String(length=200), nullable=False),
        sa.Column("full_names_on_lines", sa.Boolean(), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("next_number >= 100", name=op.f("ck_billing_profiles_next_number")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_billing_profiles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_billing_profiles")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_billing_profiles_tenant_id")),
    )
    op.create_table(
        "invoice_runs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "done", "failed", name="runstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("org_total", sa.Integer(), nullable=False),
        sa.Column("org_done", sa.Integer(), nullable=False),
        sa.Column("drafts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("started_by", sa.Uuid(), nullable=True),
        sa.Column("started_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "started_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_invoice_runs_tenant_id_started_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_runs")),
    )
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_runs_tenant_started", ["tenant_id", "started_at"], unique=False
        )

    op.create_table(
        "invoice_run_orgs",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("done_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "org_id"],
            ["client_orgs.tenant_id", "client_orgs.id"],
            name=op.f("fk_invoice_run_orgs_tenant_id_org_id_client_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["invoice_runs.tenant_id", "invoice_runs.id"],
            name=op.f("fk_invoice_run_orgs_tenant_id_run_id_invoice_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_run_orgs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_run_orgs")),
        sa.UniqueConstraint(
            "tenant_id",
            "run_id",
            "org_id",
            name=op.f("uq_invoice_run_orgs_tenant_id_run_id_org_id"),
        ),
    )
    op.create_table(
        "invoices",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("invoice", "credit_note", name="documentkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("draft", "issued", name="invoicestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("buyer_reference", sa.String(length=70), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("credited_id", sa.Uuid(), nullable=True),
        sa.Column("restores_sessions", sa.Boolean(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=25), nullable=False),
        sa.Column(
            "reference_type",
            sa.Enum("national", "rf", name="referencetype", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("seller", sa.JSON(), nullable=True),
        sa.Column("buyer", sa.JSON(), nullable=True),
        sa.Column("net_cents", sa.Integer(), nullable=False),
        sa.Column("vat_cents", sa.Integer(), nullable=False),
        sa.Column("gross_cents", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("issued_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'draft') = (number IS NULL)", name=op.f("ck_invoices_number_when_issued")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "created_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_invoices_tenant_id_created_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "credited_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoices_tenant_id_credited_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "issued_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_invoices_tenant_id_issued_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "org_id"],
            ["client_orgs.tenant_id", "client_orgs.id"],
            name=op.f("fk_invoices_tenant_id_org_id_client_orgs"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["invoice_runs.tenant_id", "invoice_runs.id"],
            name=op.f("fk_invoices_tenant_id_run_id_invoice_runs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoices_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_invoices_tenant_id_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_tenant_issued", ["tenant_id", "issued_on"], unique=False)
        batch_op.create_index("ix_invoices_tenant_org", ["tenant_id", "org_id"], unique=False)

    op.create_table(
        "invoice_deliveries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("email", "finvoice", name="deliverychannel", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("sent_to", sa.String(length=254), nullable=False),
        sa.Column("sent_by", sa.Uuid(), nullable=True),
        sa.Column("sent_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_deliveries_tenant_id_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "sent_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_invoice_deliveries_tenant_id_sent_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_deliveries")),
    )
    with op.batch_alter_table("invoice_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_deliveries_tenant_invoice", ["tenant_id", "invoice_id"], unique=False
        )

    op.create_table(
        "invoice_reminders",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=False),
        sa.Column("sent_to", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_reminders_tenant_id_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_reminders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_reminders")),
    )
    with op.batch_alter_table("invoice_reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_reminders_tenant_invoice", ["tenant_id", "invoice_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("manual", "bank", name="paymentsource", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=35), nullable=False),
        sa.Column("payer", sa.String(length=140), nullable=False),
        sa.Column("archive_ref", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", luotsi.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "created_by"],
            ["memberships.tenant_id", "memberships.id"],
            name=op.f("fk_payments_tenant_id_created_by_memberships"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_payments_tenant_id_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_tenant_invoice", ["tenant_id", "invoice_id"], unique=False
        )
        batch_op.create_index(
            "uq_payments_tenant_archive_ref",
            ["tenant_id", "archive_ref"],
            unique=True,
            sqlite_where=sa.text("archive_ref != ''"),
            postgresql_where=sa.text("archive_ref != ''"),
        )

    op.create_table(
        "billed_items",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("process_agreement_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "(session_id IS NULL) != (process_agreement_id IS NULL)",
            name=op.f("ck_billed_items_one_item"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_billed_items_tenant_id_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_billed_items_tenant_id_process_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            name=op.f("fk_billed_items_tenant_id_session_id_supervision_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_billed_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_billed_items")),
        sa.UniqueConstraint(
            "tenant_id",
            "process_agreement_id",
            name=op.f("uq_billed_items_tenant_id_process_agreement_id"),
        ),
        sa.UniqueConstraint(
            "tenant_id", "session_id", name=op.f("uq_billed_items_tenant_id_session_id")
        ),
    )
    with op.batch_alter_table("billed_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_billed_items_tenant_invoice", ["tenant_id", "invoice_id"], unique=False
        )

    op.create_table(
        "invoice_lines",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("process", sa.Boolean(), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("unit_cents", sa.Integer(), nullable=False),
        sa.Column("net_cents", sa.Integer(), nullable=False),
        sa.Column("vat_basis_points", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("credits_line_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
            name=op.f("fk_invoice_lines_tenant_id_agreement_id_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "credits_line_id"],
            ["invoice_lines.tenant_id", "invoice_lines.id"],
            name=op.f("fk_invoice_lines_tenant_id_credits_line_id_invoice_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            name=op.f("fk_invoice_lines_tenant_id_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
            name=op.f("fk_invoice_lines_tenant_id_session_id_supervision_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_invoice_lines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_invoice_lines")),
        sa.UniqueConstraint(
            "tenant_id", "credits_line_id", name=op.f("uq_invoice_lines_tenant_id_credits_line_id")
        ),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoice_lines_tenant_agreement", ["tenant_id", "agreement_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoice_lines_tenant_invoice", ["tenant_id", "invoice_id"], unique=False
        )
        batch_op.create_index(
            "ix_invoice_lines_tenant_session", ["tenant_id", "session_id"], unique=False
        )

    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "pricing",
                sa.Enum("per_session", "per_process", name="pricing", native_enum=False, length=20),
                nullable=False,
                server_default="per_session",
            )
        )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.alter_column("pricing", server_default=None)

    for table in TABLES:
        enable_tenant_rls(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARD)
        for table in ("invoices", "invoice_lines"):
            op.execute(
                f"CREATE TRIGGER {table}_issued_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION refuse_issued_invoice_change()"
            )
    else:
        for statement in SQLITE_GUARDS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("invoices", "invoice_lines"):
            op.execute(f"DROP TRIGGER {table}_issued_frozen ON {table}")
        op.execute("DROP FUNCTION refuse_issued_invoice_change()")
    else:
        for statement in SQLITE_GUARDS:
            op.execute("DROP TRIGGER " + statement.split()[2])
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_column("pricing")

    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_lines_tenant_session")
        batch_op.drop_index("ix_invoice_lines_tenant_invoice")
        batch_op.drop_index("ix_invoice_lines_tenant_agreement")

    op.drop_table("invoice_lines")
    with op.batch_alter_table("billed_items", schema=None) as batch_op:
        batch_op.drop_index("ix_billed_items_tenant_invoice")

    op.drop_table("billed_items")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_payments_tenant_archive_ref",
            sqlite_where=sa.text("archive_ref != ''"),
            postgresql_where=sa.text("archive_ref != ''"),
        )
        batch_op.drop_index("ix_payments_tenant_invoice")

    op.drop_table("payments")
    with op.batch_alter_table("invoice_reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_reminders_tenant_invoice")

    op.drop_table("invoice_reminders")
    with op.batch_alter_table("invoice_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_deliveries_tenant_invoice")

    op.drop_table("invoice_deliveries")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_tenant_org")
        batch_op.drop_index("ix_invoices_tenant_issued")

    op.drop_table("invoices")
    op.drop_table("invoice_run_orgs")
    with op.batch_alter_table("invoice_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_runs_tenant_started")

    op.drop_table("invoice_runs")
    op.drop_table("billing_profiles")
