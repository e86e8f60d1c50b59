"""Editing a draft invoice or credit note: its hand-added lines, buyer reference and notes.

A hand-added line has a description, a quantity (the decimal comma accepted), a unit, a unit
price in euros and a VAT rate from :data:`VAT_RATES`; its net amount is rounded once
(:func:`luotsi.billing.money.line_net_cents`). The lines an invoice run made from work (a
session, an agreement's process price) and the lines of a credit note (each names the line it
credits) keep their amounts: only their description may change, and they may be removed.
Nothing of an issued invoice changes here (:class:`Invalid`; the database refuses it too).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from luotsi.billing.invoices import get_invoice
from luotsi.billing.models import Invoice, InvoiceLine
from luotsi.billing.money import line_net_cents
from luotsi.platform import i18n, permissions
from luotsi.platform.errors import Invalid, NotFound
from luotsi.platform.i18n import N_
from luotsi.platform.i18n import gettext as _
from luotsi.platform.permissions import require
from luotsi.platform.tenancy import Membership
from luotsi.tenants.agreements.drafts import decimal_text, parse_hundredths

# The Finnish VAT rates in basis points: general, food and restaurants, books and culture,
# and exempt (supervision sold as health care may be). Highest first, as totals list them.
VAT_RATES = (2550, 1400, 1000, 0)
UNITS = (("kpl", N_("pcs")), ("h", N_("h")), ("km", N_("km")))
MAX_DESCRIPTION = 300
MAX_BUYER_REFERENCE = 70
MAX_NOTES = 2000
MAX_QUANTITY = Decimal("99999")
MAX_UNIT_CENTS = 10_000_000  # 100 000 € a unit

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_QUANTITY = re.compile(r"^-?\d{1,9}(?:[.,]\d{1,2})?$")


def vat_rate_label(basis_points: int) -> str:
    """2550 -> "25,5 %" in the reader's language."""
    return i18n.format_number(basis_points / 100) + " %"


def vat_rate_choices() -> list[tuple[str, str]]:
    return [(str(bp), vat_rate_label(bp)) for bp in VAT_RATES]


def unit_choices() -> list[tuple[str, str]]:
    return [(code, _(label)) for code, label in UNITS]


def is_work_line(line: InvoiceLine) -> bool:
    """A line made from work or crediting another: its amounts are not edited by hand."""
    return bool(line.session_id or line.process or line.credits_line_id)


@dataclass
class LineInput:
    """A hand-added line as submitted; :func:`check_line` validates every field."""

    description: str = ""
    quantity: str = "1"
    unit: str = "kpl"
    unit_price: str = ""  # euros, "12,50"
    vat_rate: str = str(VAT_RATES[0])  # basis points

    @classmethod
    def of(cls, line: InvoiceLine) -> LineInput:
        """A saved line as form values."""
        hundredths = int(line.quantity * 100)
        sign = "-" if hundredths < 0 else ""
        return cls(
            description=line.description,
            quantity=sign + decimal_text(abs(hundredths), cents=False),
            unit=line.unit,
            unit_price=decimal_text(line.unit_cents, cents=True),
            vat_rate=str(line.vat_basis_points),
        )


def _description(errors: dict[str, str], raw: str) -> str:
    description = " ".join(raw.split())
    if not description:
        errors["description"] = _("Describe the line.")
    elif len(description) > MAX_DESCRIPTION:
        errors["description"] = i18n.too_long(MAX_DESCRIPTION)
    return description


def _quantity(errors: dict[str, str], raw: str, credit_note: bool) -> Decimal:
    text = _SPACES.sub("", raw)
    quantity = Decimal(0)
    if _QUANTITY.match(text):
        try:
            quantity = Decimal(text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            quantity = Decimal(0)
    else:
        errors["quantity"] = _("Enter the quantity as a number, e.g. 1 or 1,5.")
        return quantity
    if abs(quantity) > MAX_QUANTITY:
        errors["quantity"] = _("Enter a quantity of at most %(n)d.") % {"n": int(MAX_QUANTITY)}
    elif credit_note and quantity >= 0:
        errors["quantity"] = _("On a credit note the quantity is negative, e.g. -1.")
    elif not credit_note and quantity <= 0:
        errors["quantity"] = _("Enter a quantity greater than zero.")
    return quantity


def check_line(data: LineInput, *, credit_note: bool = False) -> dict[str, object]:
    """Clean values for a hand-added :class:`InvoiceLine`, or :class:`Invalid` naming every
    wrong field. On a credit note the quantity is negative, on an invoice positive."""
    errors: dict[str, str] = {}
    description = _description(errors, data.description)
    quantity = _quantity(errors, data.quantity, credit_note)
    units = {code for code, _label in UNITS}
    if data.unit not in units:
        errors["unit"] = _("Choose the unit.")
    unit_cents = parse_hundredths(data.unit_price)
    if unit_cents is None:
        errors["unit_price"] = _("Enter the unit price in euros, e.g. 12,50.")
    elif unit_cents > MAX_UNIT_CENTS:
        errors["unit_price"] = _("Enter a unit price of at most %(n)d euros.") % {
            "n": MAX_UNIT_CENTS // 100
        }
    rate = data.vat_rate.strip()
    basis_points = int(rate) if rate.isascii() and rate.isdigit() else -1
    if basis_points not in VAT_RATES:
        errors["vat_rate"] = _("Choose the VAT rate.")
    if errors:
        raise Invalid(errors)
    assert unit_cents is not None
    return {
        "description": description,
        "quantity": quantity,
        "unit": data.unit,
        "unit_cents": unit_cents,
        "net_cents": line_net_cents(quantity, unit_cents),
        "vat_basis_points": basis_points,
    }


async def get_draft(db: AsyncSession, actor: Membership, invoice_id: uuid.UUID) -> Invoice:
    """A draft invoice or credit note of the firm, with its lines; :class:`Invalid` when it
    has been issued."""
    invoice = await get_invoice(db, actor, invoice_id)
    if not invoice.is_draft:
        raise Invalid.field("invoice", _("An issued invoice is corrected with a credit note."))
    return invoice


async def get_line(db: AsyncSession, actor: Membership, line_id: uuid.UUID) -> InvoiceLine:
    """A line of one of the firm's invoices (issued or not)."""
    require(permissions.can_manage_billing(actor), "billing")
    line = await db.scalar(select(InvoiceLine).where(InvoiceLine.id == line_id))
    if line is None:
        raise NotFound("invoice_line")
    return line


async def _draft_line(
    db: AsyncSession, actor: Membership, line_id: uuid.UUID
) -> tuple[Invoice, InvoiceLine]:
    line = await get_line(db, actor, line_id)
    return await get_draft(db, actor, line.invoice_id), line


async def add_line(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID, form: LineInput
) -> InvoiceLine:
    """Add a hand-written line (travel, material, a meeting) at the end of a draft."""
    invoice = await get_draft(db, actor, invoice_id)
    values = check_line(form, credit_note=invoice.is_credit_note)
    last = await db.scalar(
        select(func.max(InvoiceLine.position)).where(InvoiceLine.invoice_id == invoice.id)
    )
    line = InvoiceLine(invoice_id=invoice.id, position=(last or 0) + 1, **values)
    db.add(line)
    await db.flush()
    return line


async def update_line(
    db: AsyncSession, actor: Membership, line_id: uuid.UUID, form: LineInput
) -> InvoiceLine:
    """Change a draft's hand-added line; of a line made from work, only its description."""
    invoice, line = await _draft_line(db, actor, line_id)
    if is_work_line(line):
        errors: dict[str, str] = {}
        description = _description(errors, form.description)
        if errors:
            raise Invalid(errors)
        line.description = description
    else:
        for name, value in check_line(form, credit_note=invoice.is_credit_note).items():
            setattr(line, name, value)
    await db.flush()
    return line


async def remove_line(db: AsyncSession, actor: Membership, line_id: uuid.UUID) -> Invoice:
    """Take a line off a draft (the session it billed becomes billable again); returns the
    draft."""
    invoice, line = await _draft_line(db, actor, line_id)
    await db.delete(line)
    await db.flush()
    return invoice


async def update_draft(
    db: AsyncSession, actor: Membership, invoice_id: uuid.UUID, buyer_reference: str, notes: str
) -> Invoice:
    """Set a draft's buyer reference (the buyer's order number) and the notes it prints."""
    invoice = await get_draft(db, actor, invoice_id)
    errors: dict[str, str] = {}
    reference = " ".join(buyer_reference.split())
    if len(reference) > MAX_BUYER_REFERENCE:
        errors["buyer_reference"] = i18n.too_long(MAX_BUYER_REFERENCE)
    text = notes.strip()
    if len(text) > MAX_NOTES:
        errors["notes"] = i18n.too_long(MAX_NOTES)
    if errors:
        raise Invalid(errors)
    invoice.buyer_reference, invoice.notes = reference, text
    await db.flush()
    return invoice
