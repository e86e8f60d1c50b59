"""An issued invoice or credit note as its outputs see it: the PDF, the Finvoice file, e-mail.

The billing service fills an :class:`InvoiceDocument` from the frozen invoice rows; the
renderers only lay it out. It carries what a Finnish invoice must show and nothing of a
session's content: a line names a date, the supervisee's initials and the agreement, never
what was discussed (the confidentiality test reads every output for content markers).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from luotsi.billing.money import Totals, totals
from luotsi.billing.references import ReferenceType


class DocumentKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True)
class Party:
    name: str
    business_id: str  # "0737546-2"; "" for a buyer without one (an association may lack it)
    street: str
    postal_code: str
    city: str
    country_code: str = "FI"
    vat_number: str = ""  # "FI07375462"
    e_invoice_address: str = ""  # the OVT code or other e-invoice address
    e_invoice_operator: str = ""  # the operator's (intermediator's) identifier


@dataclass(frozen=True)
class Line:
    description: str  # "Työnohjaus 3.11.2026, A. K." or a hand-added line's text
    quantity: Decimal
    unit: str  # "kpl", "h", "km"
    unit_cents: int
    net_cents: int  # quantity x unit price, rounded once (money.line_net_cents)
    vat_basis_points: int
    day: date | None = None
    group: str = ""  # the agreement the line belongs to, "" for a hand-added line


@dataclass(frozen=True)
class InvoiceDocument:
    kind: DocumentKind
    number: int
    issued_on: date
    due_on: date
    language: str  # fi, sv, en
    seller: Party
    iban: str
    bic: str
    buyer: Party
    reference: str  # compact: "1009" or "RF...", from the number
    reference_type: ReferenceType
    lines: tuple[Line, ...]
    buyer_reference: str = ""  # the buyer's order number or reference for its own books
    penalty_interest: str = ""  # "Viivästyskorko korkolain mukaan"
    payment_terms_days: int = 14
    credited_number: int | None = None  # the invoice a credit note credits
    vat_exemption_text: str = ""  # printed with the 0 % rate, e.g. "AVL 34 §"
    notes: str = ""

    @property
    def totals(self) -> Totals:
        return totals((line.net_cents, line.vat_basis_points) for line in self.lines)
