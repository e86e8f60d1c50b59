"""What every PDF of Luotsi shares: the page, the core font and the text it can show.

PDFs use the core font (Helvetica) in Windows-1252: Finnish and Swedish letters and the euro
sign are in it, no font file has to ship with the app, and a character outside it (a rare
letter in a name) is written without its accent rather than failing.
"""

from __future__ import annotations

import unicodedata

from fpdf import FPDF

ENCODING = "windows-1252"
MARGIN = 20  # mm; the text width on A4 is then 170 mm


def new_pdf(title: str) -> FPDF:
    """An A4 document with our margins and font encoding, its first page added."""
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=MARGIN)
    pdf.set_title(title)
    pdf.set_creator("Luotsi")
    pdf.add_page()
    return pdf


def pdf_text(text: str) -> str:
    """``text`` with every character the core font cannot show replaced by its base letter."""
    out = []
    for char in text:
        if _encodable(char):
            out.append(char)
            continue
        base = unicodedata.normalize("NFKD", char)
        kept = "".join(c for c in base if _encodable(c) and not unicodedata.combining(c))
        out.append(kept or "?")
    return "".join(out)


def _encodable(char: str) -> bool:
    try:
        char.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True
