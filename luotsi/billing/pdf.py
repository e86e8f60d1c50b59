"""The PDF of an invoice or credit note, in the invoice's language, with the bank barcode.

Everything a Finnish invoice shows: seller and buyer with business IDs, the seller's VAT
number, invoice date, number, due date, reference, IBAN and BIC, the lines grouped by
agreement, the VAT per rate and the totals with the rounding rule, penalty interest, the
buyer's reference, and at the foot the virtual bank barcode as Code 128 and as digits (when
the payment can carry one: :func:`~luotsi.billing.barcode.bank_barcode`).
"""

from __future__ import annotations

from io import BytesIO
from itertools import groupby

from fpdf import FPDF
from fpdf.enums import TableBordersLayout

from luotsi.billing.barcode import bank_barcode, code128_modules
from luotsi.billing.document import DocumentKind, InvoiceDocument, Party
from luotsi.billing.finvoice import percent
from luotsi.billing.references import formatted
from luotsi.platform import i18n
from luotsi.platform.i18n import gettext as _
from luotsi.platform.i18n import ngettext, pgettext
from luotsi.platform.pdf import MARGIN, new_pdf, pdf_text

MODULE_MM = 0.3  # a Code 128 module; 332 modules make the 100 mm the banks' guide allows
BAR_HEIGHT_MM = 13
TEXT_WIDTH = 170


def title_of(doc: InvoiceDocument) -> str:
    """ "Lasku 1042" in the current language."""
    if doc.kind is DocumentKind.CREDIT_NOTE:
        return _("Credit note %(number)d") % {"number": doc.number}
    return _("Invoice %(number)d") % {"number": doc.number}


def _party_lines(party: Party) -> list[str]:
    lines = [party.name, party.street, f"{party.postal_code} {party.city}".strip()]
    if party.business_id:
        lines.append(_("Business ID %(id)s") % {"id": party.business_id})
    return [line for line in lines if line]


def _net_days(days: int) -> str:
    return ngettext("%(n)d day net", "%(n)d days net", days) % {"n": days}


def _facts(doc: InvoiceDocument) -> list[tuple[str, str]]:
    facts = [
        (_("Invoice number"), str(doc.number)),
        (_("Invoice date"), i18n.format_date(doc.issued_on)),
    ]
    if doc.credited_number is not None:
        facts.append((_("Credits invoice"), str(doc.credited_number)))
    if doc.kind is DocumentKind.INVOICE:
        facts += [
            (pgettext("invoice", "Due date"), i18n.format_date(doc.due_on)),
            (_("Payment terms"), _net_days(doc.payment_terms_days)),
            (_("Reference"), formatted(doc.reference)),
        ]
    if doc.buyer_reference:
        facts.append((_("Your reference"), doc.buyer_reference))
    if doc.penalty_interest:
        facts.append((_("Penalty interest"), doc.penalty_interest))
    return facts


def _lines(pdf: FPDF, doc: InvoiceDocument) -> None:
    widths = (84, 20, 26, 14, 26)
    with pdf.table(
        col_widths=widths,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=5,
        padding=1.2,
    ) as table:
        heading = table.row()
        for text in (_("Description"), _("Qty"), _("Unit price"), _("VAT %"), _("Net")):
            heading.cell(pdf_text(text))
        for group, lines in groupby(doc.lines, key=lambda line: line.group):
            if group:
                row = table.row()
                row.cell(pdf_text(group), colspan=5)
            for line in lines:
                row = table.row()
                row.cell(pdf_text(line.description))
                row.cell(pdf_text(f"{i18n.format_number(float(line.quantity))} {line.unit}"))
                row.cell(pdf_text(i18n.format_money(line.unit_cents)))
                row.cell(percent(line.vat_basis_points))
                row.cell(pdf_text(i18n.format_money(line.net_cents)))


def _totals(pdf: FPDF, doc: InvoiceDocument) -> None:
    totals = doc.totals
    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(50, 40, 40, 40),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=5,
        padding=1.2,
    ) as table:
        heading = table.row()
        for text in (_("VAT rate"), _("Net"), _("VAT"), _("Total")):
            heading.cell(pdf_text(text))
        for vat in totals.rows:
            row = table.row()
            for text in (
                f"{percent(vat.basis_points)} %",
                i18n.format_money(vat.net_cents),
                i18n.format_money(vat.vat_cents),
                i18n.format_money(vat.gross_cents),
            ):
                row.cell(pdf_text(text))
    if doc.vat_exemption_text and any(vat.basis_points == 0 for vat in totals.rows):
        pdf.ln(1)
        pdf.multi_cell(0, 5, pdf_text(f"0 %: {doc.vat_exemption_text}"), new_x="LMARGIN")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    total_label = _("Total to pay") if doc.kind is DocumentKind.INVOICE else _("Total credited")
    pdf.cell(TEXT_WIDTH - 45, 7, pdf_text(total_label))
    pdf.cell(45, 7, pdf_text(i18n.format_money(totals.gross_cents)), align="R")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(
        0, 4, pdf_text(_("VAT is calculated per rate on the total of that rate.")), new_x="LMARGIN"
    )


def _barcode(pdf: FPDF, digits: str) -> None:
    modules = code128_modules(digits)
    width = len(modules) * MODULE_MM
    bottom = pdf.h - MARGIN
    top = bottom - BAR_HEIGHT_MM - 5
    left = MARGIN + 6.4  # the guide's quiet zone
    if pdf.get_y() > top - 4:
        pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    x = left
    for dark, run in groupby(modules):
        length = len(list(run)) * MODULE_MM
        if dark == "1":
            pdf.rect(x, top, length, BAR_HEIGHT_MM, style="F")
        x += length
    pdf.set_xy(left, top + BAR_HEIGHT_MM + 0.5)
    pdf.set_font("Courier", "", 8)
    pdf.cell(width, 4, digits, align="C")


def render_invoice_pdf(doc: InvoiceDocument, logo: bytes | None = None) -> bytes:
    """``doc`` as PDF bytes, written in ``doc.language``; ``logo`` a PNG or JPEG if any."""
    with i18n.language(doc.language):
        return _render(doc, logo)


def _render(doc: InvoiceDocument, logo: bytes | None) -> bytes:
    title = title_of(doc)
    pdf = new_pdf(title)
    if logo:
        pdf.image(BytesIO(logo), x=MARGIN, y=MARGIN, h=16)
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_xy(MARGIN + 100, MARGIN)
    pdf.cell(70, 9, pdf_text(title), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(MARGIN + 20)

    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(80, 5, pdf_text(_("Seller")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in _party_lines(doc.seller):
        pdf.cell(80, 5, pdf_text(line), new_x="LMARGIN", new_y="NEXT")
    if doc.seller.vat_number:
        pdf.cell(80, 5, pdf_text(_("VAT number %(vat)s") % {"vat": doc.seller.vat_number}))
    seller_bottom = pdf.get_y() + 5

    pdf.set_xy(MARGIN + 90, top)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(80, 5, pdf_text(_("Buyer")), new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for line in _party_lines(doc.buyer):
        pdf.cell(80, 5, pdf_text(line), new_x="LEFT", new_y="NEXT")
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 6)

    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(45, 125),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.NONE,
        line_height=5,
        padding=0.8,
    ) as table:
        for label, value in _facts(doc):
            row = table.row()
            row.cell(pdf_text(label))
            row.cell(pdf_text(value))
    pdf.ln(5)

    pdf.set_font("Helvetica", "", 9)
    _lines(pdf, doc)
    pdf.ln(4)
    _totals(pdf, doc)
    if doc.notes:
        pdf.ln(3)
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, pdf_text(doc.notes), new_x="LMARGIN", new_y="NEXT")

    pdf.ln(6)
    pdf.set_font("Helvetica", "", 9)
    payment = f"IBAN {doc.iban}    BIC {doc.bic}"
    if doc.kind is DocumentKind.INVOICE:
        payment += "    " + _("Reference %(reference)s") % {"reference": formatted(doc.reference)}
    pdf.multi_cell(0, 5, pdf_text(payment), new_x="LMARGIN", new_y="NEXT")

    digits = None
    if doc.kind is DocumentKind.INVOICE:
        digits = bank_barcode(doc.iban, doc.totals.gross_cents, doc.reference, doc.due_on)
    if digits:
        _barcode(pdf, digits)
    return bytes(pdf.output())
