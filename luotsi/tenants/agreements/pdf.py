"""The PDF of an agreement: terms, parties and acceptances on A4, with no content.

The caller passes a finished :class:`AgreementSheet` (texts already translated and formatted
in the organisation's language), so this module only lays out text (fonts and page:
:mod:`luotsi.platform.pdf`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fpdf.enums import TableBordersLayout

from luotsi.platform.pdf import new_pdf, pdf_text

LABEL_WIDTH = 55  # mm; the page's text width on A4 with 20 mm margins is 170 mm


@dataclass
class AgreementSheet:
    title: str
    firm: str  # "Alfa Työnohjaus Oy (0737546-2)"
    client: str
    terms: list[tuple[str, str]]  # (label, value)
    acceptance_heading: str
    acceptances: list[tuple[str, str, str]]  # (party, name, accepted at)
    status_line: str
    footer: str
    # Labels of the firm and client lines and of the acceptance table's columns.
    labels: tuple[str, str, str, str, str] = field(
        default=("Supervision firm", "Client", "Party", "Name", "Accepted")
    )


def render_agreement_pdf(sheet: AgreementSheet) -> bytes:
    """The sheet as PDF bytes."""
    pdf = new_pdf(sheet.title)

    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, pdf_text(sheet.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    firm_label, client_label, party_label, name_label, accepted_label = sheet.labels
    pdf.set_font("Helvetica", "", 11)
    for label, value in ((firm_label, sheet.firm), (client_label, sheet.client)):
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(LABEL_WIDTH, 7, pdf_text(label))
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 7, pdf_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_font("Helvetica", "", 10)
    with pdf.table(
        col_widths=(LABEL_WIDTH, 170 - LABEL_WIDTH),
        first_row_as_headings=False,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=6,
        padding=1.5,
    ) as table:
        for label, value in sheet.terms:
            row = table.row()
            row.cell(pdf_text(label))
            row.cell(pdf_text(value))
    pdf.ln(6)

    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, pdf_text(sheet.acceptance_heading), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    if sheet.acceptances:
        with pdf.table(
            col_widths=(40, 75, 55),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            line_height=6,
            padding=1.5,
        ) as table:
            heading = table.row()
            for text in (party_label, name_label, accepted_label):
                heading.cell(pdf_text(text))
            for party, name, when in sheet.acceptances:
                row = table.row()
                for text in (party, name, when):
                    row.cell(pdf_text(text))
        pdf.ln(3)
    pdf.multi_cell(0, 6, pdf_text(sheet.status_line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(90, 105, 115)
    pdf.multi_cell(0, 5, pdf_text(sheet.footer), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
