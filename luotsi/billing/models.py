"""Billing's tables: the firm's billing profile, invoice runs, invoices and what follows them.

An invoice is a **draft** while the firm reviews it: its lines can change and it can be deleted.
Issuing gives it the next number of the firm's unbroken series (``billing_profiles.next_number``,
a counter row updated in the issuing transaction), its reference, due date, the seller's and
buyer's details as they stand that day, and its totals; from then on the database refuses to
change or delete it or its lines (triggers, migration 0013). Corrections are credit notes:
invoices of kind ``credit_note`` with negative lines that name the invoice they credit.

Nothing is billed twice by construction: issuing records each session (and each agreement
priced per process) in :class:`BilledItem`, which is unique per session and per process; a
credit note that gives the sessions back deletes those rows. What an invoice is worth now
(paid, partly paid, overdue, credited) is derived from its payments and credit notes in SQL
(:mod:`luotsi.billing.payments`), never stored twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from luotsi.billing.document import DocumentKind
from luotsi.billing.references import MIN_NUMBER, ReferenceType
from luotsi.platform import clock
from luotsi.platform.db import Base, TenantScoped, str_enum
from luotsi.platform.i18n import N_, LabelledEnum
from luotsi.tenants.agreements.models import Agreement  # noqa: F401  (a table its keys name)
from luotsi.tenants.clients.models import ClientOrg
from luotsi.tenants.sessions.models import SupervisionSession  # noqa: F401  (likewise)

DEFAULT_TERM_DAYS = 14
DEFAULT_PENALTY_INTEREST = "Viivästyskorko korkolain mukaan."
DEFAULT_REMINDER_FEE_CENTS = 500  # the most a business-to-business reminder may cost is 40 €


def _by_member(column: str) -> ForeignKeyConstraint:
    """A composite key from ``column`` (who did it) to the firm's memberships."""
    return ForeignKeyConstraint(["tenant_id", column], ["memberships.tenant_id", "memberships.id"])


class BillingProfile(TenantScoped, Base):
    """The firm as its invoices name it, and how it invoices (one row per firm)."""

    __tablename__ = "billing_profiles"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint(f"next_number >= {MIN_NUMBER}", name="next_number"),
    )

    legal_name: Mapped[str] = mapped_column(String(200), default="")
    business_id: Mapped[str] = mapped_column(String(9), default="")  # 0737546-2
    street: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")  # replies to invoice e-mails
    phone: Mapped[str] = mapped_column(String(20), default="")
    iban: Mapped[str] = mapped_column(String(42), default="")  # print form, FI21 1234 ...
    bic: Mapped[str] = mapped_column(String(11), default="")
    # The number the next issued invoice gets; the series start until the first is issued.
    next_number: Mapped[int] = mapped_column(default=1000)
    payment_term_days: Mapped[int] = mapped_column(default=DEFAULT_TERM_DAYS)
    penalty_interest: Mapped[str] = mapped_column(String(200), default=DEFAULT_PENALTY_INTEREST)
    reminder_fee_cents: Mapped[int] = mapped_column(default=DEFAULT_REMINDER_FEE_CENTS)
    language: Mapped[str] = mapped_column(String(2), default="fi")
    reference_type: Mapped[ReferenceType] = mapped_column(
        str_enum(ReferenceType), default=ReferenceType.NATIONAL
    )
    vat_exemption_text: Mapped[str] = mapped_column(String(200), default="")
    # Lines name supervisees by initials unless the firm chooses full names.
    full_names_on_lines: Mapped[bool] = mapped_column(default=False)
    logo_key: Mapped[str | None] = mapped_column(String(120))  # PNG (platform.storage)
    logo_updated_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)

    @property
    def has_logo(self) -> bool:
        return self.logo_updated_at is not None


class RunStatus(LabelledEnum):
    RUNNING = "running", N_("Running")
    DONE = "done", N_("Done")
    FAILED = "failed", N_("Failed")


class InvoiceRun(TenantScoped, Base):
    """Drafting a period's invoices, one client organisation at a time (the worker's job)."""

    __tablename__ = "invoice_runs"
    __table_args__ = (
        _by_member("started_by"),
        Index("ix_invoice_runs_tenant_started", "tenant_id", "started_at"),
    )

    period_start: Mapped[date]
    period_end: Mapped[date]  # inclusive
    status: Mapped[RunStatus] = mapped_column(str_enum(RunStatus), default=RunStatus.RUNNING)
    org_total: Mapped[int] = mapped_column(default=0)  # organisations with anything to bill
    org_done: Mapped[int] = mapped_column(default=0)
    drafts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    started_by: Mapped[uuid.UUID | None]  # None: the command line
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None]


class InvoiceRunOrg(TenantScoped, Base):
    """One organisation of a run: drafted once, whoever picks it up (resumable, no doubles)."""

    __tablename__ = "invoice_run_orgs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["invoice_runs.tenant_id", "invoice_runs.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(["tenant_id", "org_id"], ["client_orgs.tenant_id", "client_orgs.id"]),
        UniqueConstraint("tenant_id", "run_id", "org_id"),
    )

    run_id: Mapped[uuid.UUID]
    org_id: Mapped[uuid.UUID]
    done_at: Mapped[datetime | None]


class InvoiceStatus(LabelledEnum):
    DRAFT = "draft", N_("Draft")
    ISSUED = "issued", N_("Issued")


class Invoice(TenantScoped, Base):
    """An invoice or a credit note of the firm to one client organisation."""

    __tablename__ = "invoices"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "org_id"], ["client_orgs.tenant_id", "client_orgs.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["invoice_runs.tenant_id", "invoice_runs.id"],
            ondelete="SET NULL",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "credited_id"],
            ["invoices.tenant_id", "invoices.id"],
        ),
        _by_member("created_by"),
        _by_member("issued_by"),
        # The unbroken series: one number per invoice or credit note in the firm.
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("(status = 'draft') = (number IS NULL)", name="number_when_issued"),
        Index("ix_invoices_tenant_org", "tenant_id", "org_id"),
        Index("ix_invoices_tenant_issued", "tenant_id", "issued_on"),
        Index("ix_invoices_tenant_created", "tenant_id", "created_at", "id"),  # the API's list
    )

    org_id: Mapped[uuid.UUID]
    run_id: Mapped[uuid.UUID | None]
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind), default=DocumentKind.INVOICE)
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus), default=InvoiceStatus.DRAFT
    )
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    language: Mapped[str] = mapped_column(String(2), default="fi")
    buyer_reference: Mapped[str] = mapped_column(String(70), default="")  # their order number
    notes: Mapped[str] = mapped_column(Text, default="")  # printed on the invoice
    credited_id: Mapped[uuid.UUID | None]  # the invoice a credit note credits
    restores_sessions: Mapped[bool] = mapped_column(default=False)  # credited work billable again
    # Set when issued, frozen after:
    number: Mapped[int | None] = mapped_column(index=False)
    reference: Mapped[str] = mapped_column(String(25), default="")  # compact
    reference_type: Mapped[ReferenceType | None] = mapped_column(str_enum(ReferenceType))
    issued_on: Mapped[date | None]
    due_on: Mapped[date | None]
    seller: Mapped[dict[str, str] | None] = mapped_column(JSON)  # as the profile stood
    buyer: Mapped[dict[str, str] | None] = mapped_column(JSON)  # as the organisation stood
    net_cents: Mapped[int] = mapped_column(default=0)
    vat_cents: Mapped[int] = mapped_column(default=0)
    gross_cents: Mapped[int] = mapped_column(default=0)
    # An issued invoice's payments and the credit notes that credit it, summed (credited as a
    # positive sum): kept by ``luotsi.billing.payments.count_paid`` and ``count_credited``
    # as payments and credit notes are written, so that a balance is read, not aggregated.
    paid_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    credited_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    issued_by: Mapped[uuid.UUID | None]
    issued_at: Mapped[datetime | None]

    org: Mapped[ClientOrg] = relationship(lazy="raise", viewonly=True)
    lines: Mapped[list[InvoiceLine]] = relationship(
        lazy="raise", viewonly=True, order_by="InvoiceLine.position"
    )

    @property
    def is_draft(self) -> bool:
        return self.status is InvoiceStatus.DRAFT

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.CREDIT_NOTE


class InvoiceLine(TenantScoped, Base):
    """A line: a billable session, an agreement's fixed price, or a hand-added line."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "agreement_id"], ["agreements.tenant_id", "agreements.id"]
        ),
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "credits_line_id"], ["invoice_lines.tenant_id", "invoice_lines.id"]
        ),
        # A line is credited once: a second credit note of it is refused by the database.
        UniqueConstraint("tenant_id", "credits_line_id"),
        Index("ix_invoice_lines_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_invoice_lines_tenant_session", "tenant_id", "session_id"),
        Index("ix_invoice_lines_tenant_agreement", "tenant_id", "agreement_id"),
    )

    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(default=0)
    agreement_id: Mapped[uuid.UUID | None]  # the group the line is printed in
    session_id: Mapped[uuid.UUID | None]  # a session's line
    process: Mapped[bool] = mapped_column(default=False)  # an agreement's fixed price
    day: Mapped[date | None]
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    unit: Mapped[str] = mapped_column(String(10), default="kpl")
    unit_cents: Mapped[int]
    net_cents: Mapped[int]  # quantity x unit price, rounded once (money.line_net_cents)
    vat_basis_points: Mapped[int]
    minutes: Mapped[int | None]  # a session's duration, printed with it
    credits_line_id: Mapped[uuid.UUID | None]  # on a credit note: the invoice line it credits


class BilledItem(TenantScoped, Base):
    """A session (or an agreement's fixed price) on an issued invoice that stands.

    Unique per session and per process agreement: the database, not only a check, keeps work
    from being billed twice. Issuing adds the rows; a credit note that gives the work back
    removes them.
    """

    __tablename__ = "billed_items"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["supervision_sessions.tenant_id", "supervision_sessions.id"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "process_agreement_id"],
            ["agreements.tenant_id", "agreements.id"],
        ),
        UniqueConstraint("tenant_id", "session_id"),
        UniqueConstraint("tenant_id", "process_agreement_id"),
        CheckConstraint("(session_id IS NULL) != (process_agreement_id IS NULL)", name="one_item"),
        Index("ix_billed_items_tenant_invoice", "tenant_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID]
    session_id: Mapped[uuid.UUID | None]
    process_agreement_id: Mapped[uuid.UUID | None]


class PaymentSource(LabelledEnum):
    MANUAL = "manual", N_("Recorded by hand")
    BANK = "bank", N_("Bank statement")
    CARD = "card", N_("Card payment (Stripe)")


class Payment(TenantScoped, Base):
    """Money received: recorded by hand, read from a bank statement, or paid by card.

    A bank payment whose reference matches no invoice waits with ``invoice_id`` empty until
    someone matches it. ``archive_ref`` is the bank's own id of the entry (a card payment's:
    Stripe's PaymentIntent), so importing the same statement twice adds nothing.
    """

    __tablename__ = "payments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
        _by_member("created_by"),
        Index("ix_payments_tenant_invoice", "tenant_id", "invoice_id"),
        Index(
            "uq_payments_tenant_archive_ref",
            "tenant_id",
            "archive_ref",
            unique=True,
            sqlite_where=text("archive_ref != ''"),
            postgresql_where=text("archive_ref != ''"),
        ),
    )

    invoice_id: Mapped[uuid.UUID | None]
    paid_on: Mapped[date]
    amount_cents: Mapped[int]
    source: Mapped[PaymentSource] = mapped_column(
        str_enum(PaymentSource), default=PaymentSource.MANUAL
    )
    reference: Mapped[str] = mapped_column(String(35), default="")  # as the payer gave it
    payer: Mapped[str] = mapped_column(String(140), default="")
    archive_ref: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Reminder(TenantScoped, Base):
    """A payment reminder sent for an overdue invoice, with the fee it asked for."""

    __tablename__ = "invoice_reminders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
        Index("ix_invoice_reminders_tenant_invoice", "tenant_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID]
    sent_on: Mapped[date]
    fee_cents: Mapped[int] = mapped_column(default=0)
    sent_to: Mapped[str] = mapped_column(String(254), default="")


class DeliveryChannel(LabelledEnum):
    EMAIL = "email", N_("E-mail")
    FINVOICE = "finvoice", N_("E-invoice file")


class Delivery(TenantScoped, Base):
    """An invoice sent (an e-mail through the outbox) or handed over as an e-invoice file."""

    __tablename__ = "invoice_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
        _by_member("sent_by"),
        Index("ix_invoice_deliveries_tenant_invoice", "tenant_id", "invoice_id"),
    )

    invoice_id: Mapped[uuid.UUID]
    channel: Mapped[DeliveryChannel] = mapped_column(str_enum(DeliveryChannel))
    sent_to: Mapped[str] = mapped_column(String(254), default="")
    sent_by: Mapped[uuid.UUID | None]
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)
