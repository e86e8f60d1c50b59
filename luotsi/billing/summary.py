"""Sales and VAT per month: issued invoices and credit notes, for the accountant.

Everything is summed in the database: the issued documents' lines are grouped per document and
VAT rate (VAT is computed per rate on a document's net sum, as :mod:`luotsi.billing.money`
does when issuing), and those per month (by the issue date), kind and rate. The page reads
two statements whatever the number of invoices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing import overview
from luotsi.billing.document import DocumentKind
from luotsi.billing.lines import vat_rate_label
from luotsi.billing.models import Invoice, InvoiceLine, InvoiceStatus
from luotsi.platform import permissions
from luotsi.platform.errors import Invalid
from luotsi.platform.exports import csv_bytes, csv_euros
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership

MAX_MONTHS = 120


@dataclass
class SummaryRow:
    """One month's issued invoices, or its credit notes (negative amounts)."""

    year: int
    month: int
    kind: DocumentKind
    count: int = 0
    net_cents: int = 0
    vat_cents: int = 0
    gross_cents: int = 0
    vat_by_rate: dict[int, int] = field(default_factory=dict)  # basis points -> cents

    @property
    def month_label(self) -> str:
        return f"{self.month}/{self.year}"

    @property
    def kind_label(self) -> str:
        return overview.kind_label(self.kind)

    def add(self, other: SummaryRow) -> None:
        self.count += other.count
        self.net_cents += other.net_cents
        self.vat_cents += other.vat_cents
        self.gross_cents += other.gross_cents
        for rate, cents in other.vat_by_rate.items():
            self.vat_by_rate[rate] = self.vat_by_rate.get(rate, 0) + cents


@dataclass
class Summary:
    start: date
    end: date
    rates: list[int]  # basis points, highest first: the VAT columns
    rows: list[SummaryRow]  # by month, invoices before credit notes
    totals: list[SummaryRow]  # all invoices, all credit notes
    total: SummaryRow  # both


def _vat(net: ColumnElement[int], basis_points: ColumnElement[int]) -> ColumnElement[int]:
    """:func:`luotsi.billing.money.vat_cents` in SQL: ``net * bp / 10000`` rounded half away
    from zero, in integers (both databases truncate integer division towards zero)."""
    product = cast(func.abs(net), BigInteger) * basis_points
    rounded = (product + 5000) // 10000
    return case((net < 0, -rounded), else_=rounded)


def _in_period(start: date, end: date) -> ColumnElement[bool]:
    return and_(
        Invoice.status == InvoiceStatus.ISSUED,
        Invoice.issued_on >= start,
        Invoice.issued_on <= end,
    )


async def sales_summary(db: AsyncSession, actor: Membership, start: date, end: date) -> Summary:
    """Issued invoices and credit notes from ``start`` to ``end`` (issue dates, inclusive)."""
    require(permissions.can_manage_billing(actor), "billing")
    if end < start:
        raise Invalid.field("to", _("The last month is before the first."))
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise Invalid.field("to", _("Choose at most ten years at a time."))
    year = extract("year", Invoice.issued_on).label("year")
    month = extract("month", Invoice.issued_on).label("month")
    documents = await db.execute(
        select(
            year,
            month,
            Invoice.kind,
            func.count(Invoice.id),
            func.sum(Invoice.net_cents),
            func.sum(Invoice.vat_cents),
            func.sum(Invoice.gross_cents),
        )
        .select_from(Invoice)
        .where(_in_period(start, end))
        .group_by(year, month, Invoice.kind)
    )
    per_rate = (
        select(
            year,
            month,
            Invoice.kind.label("kind"),
            InvoiceLine.vat_basis_points.label("rate"),
            func.sum(InvoiceLine.net_cents).label("net"),
        )
        .select_from(Invoice)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(_in_period(start, end))
        .group_by(year, month, Invoice.kind, Invoice.id, InvoiceLine.vat_basis_points)
        .subquery("per_rate")
    )
    vats = await db.execute(
        select(
            per_rate.c.year,
            per_rate.c.month,
            per_rate.c.kind,
            per_rate.c.rate,
            func.sum(_vat(per_rate.c.net, per_rate.c.rate)),
        ).group_by(per_rate.c.year, per_rate.c.month, per_rate.c.kind, per_rate.c.rate)
    )
    found: dict[tuple[int, int, DocumentKind], SummaryRow] = {}
    for y, m, kind, count, net, vat, gross in documents.tuples():
        key = (int(y), int(m), DocumentKind(kind))
        found[key] = SummaryRow(*key, int(count), int(net or 0), int(vat or 0), int(gross or 0))
    rates: set[int] = set()
    for y, m, kind, rate, vat in vats.tuples():
        key = (int(y), int(m), DocumentKind(kind))
        if key in found:
            found[key].vat_by_rate[int(rate)] = int(vat or 0)
            rates.add(int(rate))
    order = {DocumentKind.INVOICE: 0, DocumentKind.CREDIT_NOTE: 1}
    rows = sorted(found.values(), key=lambda row: (row.year, row.month, order[row.kind]))
    by_kind = {kind: SummaryRow(0, 0, kind) for kind in order}
    total = SummaryRow(0, 0, DocumentKind.INVOICE)
    for row in rows:
        by_kind[row.kind].add(row)
        total.add(row)
    return Summary(
        start,
        end,
        sorted(rates, reverse=True),
        rows,
        [by_kind[DocumentKind.INVOICE], by_kind[DocumentKind.CREDIT_NOTE]],
        total,
    )


def summary_csv(summary: Summary) -> bytes:
    """The summary as the invoices' CSV is written (:func:`~luotsi.platform.exports.csv_bytes`)."""
    vat_heads = [_("VAT %(rate)s") % {"rate": vat_rate_label(rate)} for rate in summary.rates]
    table: list[list[object]] = [
        [_("Month"), _("Kind"), _("Count"), _("Net"), *vat_heads, _("VAT"), _("Total")]
    ]

    def cells(month: str, kind: str, row: SummaryRow) -> list[object]:
        return [
            month,
            kind,
            row.count,
            csv_euros(row.net_cents),
            *(csv_euros(row.vat_by_rate.get(rate, 0)) for rate in summary.rates),
            csv_euros(row.vat_cents),
            csv_euros(row.gross_cents),
        ]

    for row in summary.rows:
        table.append(cells(f"{row.year}-{row.month:02d}", row.kind_label, row))
    for row in summary.totals:
        table.append(cells(_("Total"), row.kind_label, row))
    table.append(cells(_("Total"), _("All"), summary.total))
    return csv_bytes(table)
