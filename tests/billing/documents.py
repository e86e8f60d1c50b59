"""Invoice documents for the output tests: a firm, a municipality buyer, mixed VAT rates."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from luotsi.billing.document import DocumentKind, InvoiceDocument, Line, Party
from luotsi.billing.money import line_net_cents
from luotsi.billing.references import ReferenceType, reference_for

SELLER = Party(
    name="Alfa Työnohjaus Oy",
    business_id="0737546-2",
    vat_number="FI07375462",
    street="Hämeenkatu 1 A",
    postal_code="33100",
    city="Tampere",
    e_invoice_address="003707375462",
    e_invoice_operator="NDEAFIHH",
)
BUYER = Party(
    name="Pirkanmaan hyvinvointialue",
    business_id="3221308-6",
    vat_number="FI32213086",
    street="PL 272",
    postal_code="33101",
    city="Tampere",
    e_invoice_address="003732213086",
    e_invoice_operator="003723327487",
)


def line(text: str, qty: str, unit_cents: int, bp: int, **kw: object) -> Line:
    quantity = Decimal(qty)
    return Line(
        description=text,
        quantity=quantity,
        unit="kpl",
        unit_cents=unit_cents,
        net_cents=line_net_cents(quantity, unit_cents),
        vat_basis_points=bp,
        **kw,  # type: ignore[arg-type]
    )


def an_invoice(kind: ReferenceType = ReferenceType.NATIONAL) -> InvoiceDocument:
    # Dates are printed facts of a document, not "today": no clock is involved.
    return InvoiceDocument(
        kind=DocumentKind.INVOICE,
        number=1042,
        issued_on=date(2026, 12, 1),
        due_on=date(2026, 12, 15),
        language="fi",
        seller=SELLER,
        iban="FI79 4405 2020 0360 82",
        bic="OKOYFIHH",
        buyer=BUYER,
        reference=reference_for(1042, kind),
        reference_type=kind,
        lines=(
            line("Työnohjaus 3.11.2026, A. K.", "1", 15_000, 2550, day=date(2026, 11, 3),
                 group="Sopimus 7: Päivystyksen tiimi"),
            line("Työnohjaus 17.11.2026, A. K.", "1", 15_000, 2550, day=date(2026, 11, 17),
                 group="Sopimus 7: Päivystyksen tiimi"),
            line("Työnohjaus 24.11.2026, M. L.", "1", 12_000, 0, day=date(2026, 11, 24),
                 group="Sopimus 9: Kotihoito"),
            line("Matkakulut", "42.5", 57, 2550),  # 42,5 km at 0,57 €: 24,225 -> 24,23
        ),
        buyer_reference="PO-2026-118",
        penalty_interest="Viivästyskorko korkolain mukaan",
        vat_exemption_text="Terveyden- ja sairaanhoitopalvelu, AVL 34 §",
    )  # fmt: skip


def a_credit_note() -> InvoiceDocument:
    invoice = an_invoice()
    return replace(
        invoice,
        kind=DocumentKind.CREDIT_NOTE,
        number=1043,
        reference=reference_for(1043, ReferenceType.NATIONAL),
        credited_number=invoice.number,
        lines=tuple(
            replace(credited, net_cents=-credited.net_cents, quantity=-credited.quantity)
            for credited in invoice.lines[:2]
        ),
    )
