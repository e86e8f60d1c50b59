"""The invoice PDF, read back as text: every field a Finnish invoice needs, in its language."""

from __future__ import annotations

from dataclasses import replace
from io import BytesIO

import pytest
from pypdf import PdfReader

from luotsi.billing.barcode import bank_barcode
from luotsi.billing.pdf import render_invoice_pdf
from luotsi.billing.references import ReferenceType
from tests.billing.documents import a_credit_note, an_invoice


def text_of(data: bytes) -> str:
    reader = PdfReader(BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def test_a_finnish_invoice_shows_every_field_and_the_barcode() -> None:
    doc = an_invoice()
    text = text_of(render_invoice_pdf(doc))
    for expected in [
        "Lasku 1042",
        "Alfa Työnohjaus Oy",
        "Y-tunnus 0737546-2",
        "ALV-tunniste FI07375462",
        "Pirkanmaan hyvinvointialue",
        "Y-tunnus 3221308-6",
        "1.12.2026",  # invoice date
        "Eräpäivä 15.12.2026",
        "Viite 10427",  # 1042 and its check digit (2*7 + 4*3 + 0*1 + 1*7 = 33 -> 7)
        "FI79 4405 2020 0360 82",
        "OKOYFIHH",
        "PO-2026-118",
        "Viivästyskorko korkolain mukaan",
        "Sopimus 7: Päivystyksen tiimi",
        "Työnohjaus 3.11.2026, A. K.",
        "25,5",
        "Terveyden- ja sairaanhoitopalvelu, AVL 34 §",
        "526,91 €",  # 444,23 net + 82,68 VAT
    ]:
        assert expected in text, expected
    digits = bank_barcode(doc.iban, 52_691, doc.reference, doc.due_on)
    assert digits is not None and digits in text


def test_the_reference_is_printed_in_groups() -> None:
    text = text_of(render_invoice_pdf(an_invoice(ReferenceType.RF)))
    assert "RF" in text
    doc = an_invoice(ReferenceType.RF)
    assert " ".join([doc.reference[i : i + 4] for i in range(0, len(doc.reference), 4)]) in text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("sv", ["Faktura 1042", "Förfallodag", "Referens", "FO-nummer 0737546-2"]),
        ("en", ["Invoice 1042", "Due date", "Reference", "Business ID 0737546-2"]),
    ],
)
def test_the_pdf_is_in_the_invoices_language(language: str, words: list[str]) -> None:
    text = text_of(render_invoice_pdf(replace(an_invoice(), language=language)))
    for word in words:
        assert word in text, word


def test_a_credit_note_has_no_barcode_and_names_the_credited_invoice() -> None:
    doc = a_credit_note()
    text = text_of(render_invoice_pdf(doc))
    assert "Hyvityslasku 1043" in text
    assert "Hyvittää laskun" in text and "1042" in text
    assert "-376,50 €" in text
    assert not any(len(word) == 54 and word.isdigit() for word in text.split())


def test_a_foreign_account_gets_no_barcode() -> None:
    doc = replace(an_invoice(), iban="SE45 5000 0000 0583 9825 7466", bic="ESSESESS")
    text = text_of(render_invoice_pdf(doc))
    assert "SE45 5000 0000 0583 9825 7466" in text
    assert not any(len(word) == 54 and word.isdigit() for word in text.split())
