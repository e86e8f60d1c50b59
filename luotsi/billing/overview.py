"""What the invoice list, its CSV export and an invoice's page show.

The list reads a constant number of statements whatever its length: the page of invoices with
their organisations, the totals per status in one aggregate, the organisations to filter by,
and the drafts' line sums. A draft has no stored totals (issuing writes them), so its amounts
come from its lines, VAT per rate as :func:`luotsi.billing.money.totals` rounds it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from luotsi.billing.document import DocumentKind
from luotsi.billing.invoices import get_invoice
from luotsi.billing.models import (
    Delivery,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentSource,
    Reminder,
)
from luotsi.billing.money import Totals, totals
from luotsi.billing.payments import (
    Balance,
    BalanceColumns,
    InvoiceState,
    balance_columns,
    balance_of,
    payments_of,
)
from luotsi.billing.references import formatted
from luotsi.billing.reminders import reminders_of
from luotsi.platform import i18n, permissions
from luotsi.platform.exports import csv_bytes, csv_day, csv_euros
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.paging import Page, Sort
from luotsi.platform.permissions import require
from luotsi.platform.search import contains, search_words
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.models import Agreement
from luotsi.tenants.clients.models import ClientOrg

KIND_LABELS = {
    DocumentKind.INVOICE: N_("Invoice"),
    DocumentKind.CREDIT_NOTE: N_("Credit note"),
}
# The most organisations the list's filter offers to choose from (a page stays light for a firm
# with thousands of clients; beyond this the text search finds them by name).
MAX_ORG_CHOICES = 200


def kind_label(kind: DocumentKind) -> str:
    return _(KIND_LABELS[kind])


@dataclass
class InvoiceFilter:
    """The list's filters: status, client organisation, issue period and a text search (an
    invoice number, or words of the organisation's name)."""

    status: InvoiceStatus | None = None
    org_id: uuid.UUID | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    text: str = ""
    state: InvoiceState | None = None  # the payment state, as of today

    @classmethod
    def parse(
        cls, status: str, org: str, issued_from: str, issued_to: str, text: str, state: str = ""
    ) -> Any:
        """Filters from a query string; a value that makes no sense filters nothing."""
        try:
            org_id = uuid.UUID(org.strip()) if org.strip() else None
        except ValueError:
            org_id = None
        return cls(
            status=InvoiceStatus(status) if status in {s.value for s in InvoiceStatus} else None,
            org_id=org_id,
            issued_from=i18n.parse_date(issued_from),
            issued_to=i18n.parse_date(issued_to),
            text=text.strip(),
            state=InvoiceState(state) if state in {s.value for s in InvoiceState} else None,
        )

    @property
    def any(self) -> bool:
        return bool(
            self.status
            or self.org_id
            or self.issued_from
            or self.issued_to
            or self.text
            or self.state
        )

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status:
            conditions.append(Invoice.status == self.status)
        if self.org_id:
            conditions.append(Invoice.org_id == self.org_id)
        if self.issued_from:
            conditions.append(Invoice.issued_on >= self.issued_from)
        if self.issued_to:
            conditions.append(Invoice.issued_on <= self.issued_to)
        for word in search_words(self.text):
            named = Invoice.org_id.in_(select(ClientOrg.id).where(contains(ClientOrg.name, word)))
            if word.isascii() and word.isdigit() and len(word) <= 18:
                conditions.append(or_(Invoice.number == int(word), named))
            else:
                conditions.append(named)
        if self.state:
            conditions.append(balance_columns().state == self.state.value)
        return conditions


STATE_ORDER = (
    InvoiceState.DRAFT,
    InvoiceState.OPEN,
    InvoiceState.PARTLY_PAID,
    InvoiceState.OVERDUE,
    InvoiceState.PAID,
    InvoiceState.CREDITED,
    InvoiceState.CREDIT_NOTE,
)


def state_choices() -> list[tuple[str, str]]:
    """The state filter's options, in the reader's language."""
    return [(state.value, state.label) for state in STATE_ORDER]


@dataclass
class InvoiceRow:
    invoice: Invoice
    org_name: str
    business_id: str
    net_cents: int
    vat_cents: int
    gross_cents: int
    state: InvoiceState = InvoiceState.DRAFT
    open_cents: int = 0

    @property
    def state_label(self) -> str:
        return self.state.label

    @property
    def overdue(self) -> bool:
        return self.state is InvoiceState.OVERDUE

    @property
    def kind_label(self) -> str:
        return kind_label(self.invoice.kind)

    @property
    def reference(self) -> str:
        return formatted(self.invoice.reference) if self.invoice.reference else ""


@dataclass
class StatusTotal:
    status: InvoiceStatus
    count: int = 0
    net_cents: int = 0
    vat_cents: int = 0
    gross_cents: int = 0


@dataclass
class StateTotal:
    state: InvoiceState
    count: int = 0
    gross_cents: int = 0
    open_cents: int = 0

    @property
    def label(self) -> str:
        return self.state.label


@dataclass
class InvoiceList:
    page: Page[InvoiceRow]
    totals: list[StatusTotal]  # draft, issued
    orgs: list[tuple[uuid.UUID, str]]  # to filter by
    states: list[StateTotal] = field(default_factory=list)  # the states that have invoices
    # More organisations were invoiced than a list can offer: ``orgs`` holds the chosen one
    # at most, and the text search finds the others by name.
    orgs_capped: bool = False

    @property
    def open_cents(self) -> int:
        return sum(total.open_cents for total in self.states)


INVOICE_SORTS = ("number", "org", "issued", "due", "open")  # the list's sortable columns
INVOICE_DEFAULT_SORT = Sort("number", descending=True)  # drafts, then the newest number first


def _order(sort: Sort, balance: BalanceColumns) -> list[Any]:
    """The list's ORDER BY."""
    if sort == INVOICE_DEFAULT_SORT:
        # Drafts (no number) first: the order of the (tenant_id, number) index read backwards,
        # so a page of a firm with thousands of invoices reads its own rows only.
        return [Invoice.number.desc().nulls_first(), Invoice.created_at.desc(), Invoice.id]
    drafts_first = case((Invoice.status == InvoiceStatus.DRAFT, 0), else_=1)
    # Drafts have no number nor dates: they come first whatever the column (PostgreSQL and
    # SQLite would put their NULLs at opposite ends).
    chosen = sort.order(
        {
            "number": [Invoice.number],
            "org": [func.lower(ClientOrg.name), Invoice.number.desc()],
            "issued": [Invoice.issued_on, Invoice.number],
            "due": [Invoice.due_on, Invoice.number],
            "open": [balance.open_cents, Invoice.number.desc()],
        },
        Invoice.id,
    )
    return [drafts_first, *chosen]


async def _draft_totals(
    db: AsyncSession, conditions: Sequence[ColumnElement[bool]], filters: InvoiceFilter
) -> dict[uuid.UUID, Totals]:
    """Each matching draft's totals from its lines (one statement for all of them)."""
    if filters.state not in (None, InvoiceState.DRAFT):
        return {}  # only drafts are in the draft state
    rows = await db.execute(
        select(
            InvoiceLine.invoice_id,
            InvoiceLine.vat_basis_points,
            func.sum(InvoiceLine.net_cents),
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.status == InvoiceStatus.DRAFT, *conditions)
        .group_by(InvoiceLine.invoice_id, InvoiceLine.vat_basis_points)
    )
    nets: dict[uuid.UUID, list[tuple[int, int]]] = defaultdict(list)
    for invoice_id, basis_points, net in rows.tuples():
        nets[invoice_id].append((int(net or 0), basis_points))
    return {invoice_id: totals(lines) for invoice_id, lines in nets.items()}


async def _rows(
    db: AsyncSession,
    filters: InvoiceFilter,
    drafts: dict[uuid.UUID, Totals],
    sort: Sort = INVOICE_DEFAULT_SORT,
    offset: int | None = None,
    limit: int | None = None,
) -> list[InvoiceRow]:
    balance = balance_columns()
    statement = (
        select(Invoice, ClientOrg.name, ClientOrg.business_id, balance.state, balance.open_cents)
        .join(ClientOrg, ClientOrg.id == Invoice.org_id)
        .where(*filters.conditions())
        .order_by(*_order(sort, balance))
        .offset(offset)
        .limit(limit)
    )
    items = []
    found: Any = (await db.execute(statement)).all()
    for invoice, org_name, business_id, state, open_cents in found:
        if invoice.is_draft:
            sums = drafts.get(invoice.id, Totals(()))
            amounts = (sums.net_cents, sums.vat_cents, sums.gross_cents)
        else:
            amounts = (invoice.net_cents, invoice.vat_cents, invoice.gross_cents)
            buyer = invoice.buyer or {}
            org_name = buyer.get("name") or org_name  # as it stood on the invoice
            business_id = buyer.get("business_id", business_id)
        row = InvoiceRow(invoice, org_name, business_id, *amounts)
        row.state, row.open_cents = InvoiceState(state), int(open_cents or 0)
        items.append(row)
    return items


async def list_invoices(
    db: AsyncSession,
    actor: Membership,
    filters: InvoiceFilter,
    page: int,
    per_page: int,
    sort: Sort = INVOICE_DEFAULT_SORT,
) -> InvoiceList:
    """One page of the firm's invoices and credit notes (drafts first, then by number, the
    newest first, unless ``sort`` says otherwise), the totals per status and per payment
    state of everything the filters match, and the organisations that have invoices."""
    require(permissions.can_manage_billing(actor), "billing")
    conditions = filters.conditions()
    balance = balance_columns()
    # Grouped outside a subquery: PostgreSQL does not see a CASE with bound values in the
    # select list and the same CASE in GROUP BY as one expression.
    inner = (
        select(
            Invoice.net_cents.label("net"),
            Invoice.vat_cents.label("vat"),
            Invoice.gross_cents.label("gross"),
            balance.state,
            balance.open_cents,
        )
        .select_from(Invoice)
        .where(*conditions)
        .subquery("matching")
    )
    per_state = await db.execute(
        select(
            inner.c.state,
            func.count(),
            func.sum(inner.c.net),
            func.sum(inner.c.vat),
            func.sum(inner.c.gross),
            func.sum(inner.c.open_cents),
        ).group_by(inner.c.state)
    )
    sums = {status: StatusTotal(status) for status in InvoiceStatus}
    states = {state: StateTotal(state) for state in STATE_ORDER}
    for state_value, count, net, vat, gross, open_ in per_state.tuples():
        state = InvoiceState(state_value)
        status = InvoiceStatus.DRAFT if state is InvoiceState.DRAFT else InvoiceStatus.ISSUED
        status_sum = sums[status]
        status_sum.count += count
        status_sum.net_cents += int(net or 0)
        status_sum.vat_cents += int(vat or 0)
        status_sum.gross_cents += int(gross or 0)
        states[state] = StateTotal(state, count, int(gross or 0), int(open_ or 0))
    drafts = await _draft_totals(db, conditions, filters)
    draft_sum = sums[InvoiceStatus.DRAFT]
    for draft in drafts.values():
        draft_sum.net_cents += draft.net_cents
        draft_sum.vat_cents += draft.vat_cents
        draft_sum.gross_cents += draft.gross_cents
    total = sum(status.count for status in sums.values())
    number = max(1, min(page, Page.last_page(total, per_page)))
    items = await _rows(db, filters, drafts, sort, (number - 1) * per_page, per_page)
    orgs = list(
        (
            await db.execute(
                select(ClientOrg.id, ClientOrg.name)
                .where(ClientOrg.id.in_(select(Invoice.org_id)))
                .order_by(func.lower(ClientOrg.name), ClientOrg.id)
                .limit(MAX_ORG_CHOICES + 1)
            )
        ).tuples()
    )
    capped = len(orgs) > MAX_ORG_CHOICES
    if capped:
        chosen = filters.org_id
        orgs = [] if chosen is None else [(chosen, await org_name(db, chosen))]
    return InvoiceList(
        Page(items, number, per_page, total),
        [sums[InvoiceStatus.DRAFT], sums[InvoiceStatus.ISSUED]],
        orgs,
        [total for total in states.values() if total.count],
        orgs_capped=capped,
    )


async def org_name(db: AsyncSession, org_id: uuid.UUID) -> str:
    return await db.scalar(select(ClientOrg.name).where(ClientOrg.id == org_id)) or ""


async def export_invoices(
    db: AsyncSession, actor: Membership, filters: InvoiceFilter, sort: Sort = INVOICE_DEFAULT_SORT
) -> list[InvoiceRow]:
    """Every invoice and credit note the filters match, in the list's order."""
    require(permissions.can_manage_billing(actor), "billing")
    drafts = await _draft_totals(db, filters.conditions(), filters)
    return await _rows(db, filters, drafts, sort)


def invoices_csv(rows: Iterable[InvoiceRow]) -> bytes:
    """The rows for the accountant (:func:`~luotsi.platform.exports.csv_bytes`)."""
    table: list[list[object]] = [
        [
            _("Number"),
            _("Kind"),
            _("Organisation"),
            _("Business ID"),
            _("Issue date"),
            _("Due date"),
            _("Net"),
            _("VAT"),
            _("Total"),
            _("Reference"),
            _("State"),
            _("Open"),
        ]
    ]
    for row in rows:
        invoice = row.invoice
        table.append(
            [
                invoice.number or _("Draft"),
                row.kind_label,
                row.org_name,
                row.business_id,
                csv_day(invoice.issued_on),
                csv_day(invoice.due_on),
                csv_euros(row.net_cents),
                csv_euros(row.vat_cents),
                csv_euros(row.gross_cents),
                row.reference,
                row.state_label,
                csv_euros(row.open_cents),
            ]
        )
    return csv_bytes(table)


@dataclass
class LineGroup:
    """The lines of one agreement (``label`` empty: the hand-added lines)."""

    label: str
    lines: list[InvoiceLine] = field(default_factory=list)


@dataclass
class InvoicePage:
    invoice: Invoice
    totals: Totals
    groups: list[LineGroup]
    credited_line_ids: set[uuid.UUID]  # of an issued invoice: lines already on a credit note
    credit_notes: list[Invoice]  # of an issued invoice: the credit notes that credit it
    credited: Invoice | None  # of a credit note: the invoice it credits

    @property
    def kind_label(self) -> str:
        return kind_label(self.invoice.kind)

    @property
    def reference(self) -> str:
        return formatted(self.invoice.reference) if self.invoice.reference else ""

    @property
    def creditable(self) -> bool:
        invoice = self.invoice
        return (
            not invoice.is_draft
            and not invoice.is_credit_note
            and any(line.id not in self.credited_line_ids for line in invoice.lines)
        )


def _agreement_label(kind_label: str, title: str) -> str:
    return f"{kind_label}: {title}" if title else kind_label


async def invoice_page(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> InvoicePage:
    """An invoice or credit note with its lines grouped per agreement (work first, hand-added
    lines last), its totals per VAT rate, and how it relates to credit notes."""
    invoice = await get_invoice(db, actor, invoice_id)
    lines = invoice.lines
    agreement_ids = {line.agreement_id for line in lines if line.agreement_id}
    labels: dict[uuid.UUID, str] = {}
    if agreement_ids:
        found = await db.execute(
            select(Agreement.id, Agreement.kind, Agreement.title).where(
                Agreement.id.in_(agreement_ids)
            )
        )
        labels = {id_: _agreement_label(kind.label, title) for id_, kind, title in found.tuples()}
    grouped: dict[uuid.UUID | None, LineGroup] = {}
    for line in lines:
        key = line.agreement_id
        if key not in grouped:
            grouped[key] = LineGroup(labels.get(key, "") if key else "")
        grouped[key].lines.append(line)
    groups = [group for key, group in grouped.items() if key] + (
        [grouped[None]] if None in grouped else []
    )
    credited_line_ids: set[uuid.UUID] = set()
    credit_notes: list[Invoice] = []
    credited = None
    if not invoice.is_draft and not invoice.is_credit_note and lines:
        credited_line_ids = set(
            await db.scalars(
                select(InvoiceLine.credits_line_id).where(
                    InvoiceLine.credits_line_id.in_([line.id for line in lines])
                )
            )
        )
        credit_notes = list(
            await db.scalars(
                select(Invoice)
                .where(Invoice.credited_id == invoice.id)
                .order_by(Invoice.created_at, Invoice.id)
            )
        )
    if invoice.credited_id:
        credited = await db.scalar(select(Invoice).where(Invoice.id == invoice.credited_id))
    sums = totals((line.net_cents, line.vat_basis_points) for line in lines)
    return InvoicePage(invoice, sums, groups, credited_line_ids, credit_notes, credited)


def quantity_text(quantity: Decimal) -> str:
    """A line's quantity for reading: 1, 1,5, -2 (no trailing zeros)."""
    normalized = quantity.normalize()
    if normalized == normalized.to_integral():
        normalized = normalized.quantize(Decimal(1))
    return i18n.format_number(float(normalized))


@dataclass
class InvoiceActivity:
    """What happened to an issued invoice after issuing: its balance today, the payments
    matched to it, the reminders sent and the deliveries (e-mails, e-invoice files)."""

    balance: Balance | None = None
    payments: list[Payment] = field(default_factory=list)
    reminders: list[Reminder] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.balance is not None and self.balance.state is InvoiceState.OVERDUE


def is_manual(payment: Payment) -> bool:
    """A payment recorded by hand (one that may be deleted)."""
    return payment.source is PaymentSource.MANUAL


async def invoice_activity(
    db: AsyncSession, actor: Membership, invoice: Invoice
) -> InvoiceActivity:
    """The activity of ``invoice`` (nothing for a draft)."""
    require(permissions.can_manage_billing(actor), "billing")
    if invoice.is_draft:
        return InvoiceActivity()
    balance = await balance_of(db, invoice.id)
    activity = InvoiceActivity(balance)
    if not invoice.is_credit_note:
        activity.payments = await payments_of(db, actor, invoice.id)
        activity.reminders = await reminders_of(db, actor, invoice.id)
    activity.deliveries = list(
        await db.scalars(
            select(Delivery)
            .where(Delivery.invoice_id == invoice.id)
            .order_by(Delivery.sent_at, Delivery.id)
        )
    )
    return activity
