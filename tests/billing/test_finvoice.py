"""The Finvoice 3.0 file: its structure, that its amounts add up, and what it never carries."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeTree
import pytest

from luotsi.billing.finvoice import amount, finvoice_xml, percent
from luotsi.billing.references import ReferenceType
from tests.billing.documents import a_credit_note, an_invoice

SENT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def parse(data: bytes) -> Element:
    return SafeTree.fromstring(data)


def cents(text: str | None) -> int:
    assert text is not None
    euros, _, rest = text.lstrip("-").partition(",")
    value = int(euros) * 100 + int(rest)
    return -value if text.startswith("-") else value


def test_amounts_and_rates_are_written_the_finvoice_way() -> None:
    assert amount(123450) == "1234,50"
    assert amount(-5) == "-0,05"
    assert amount(0) == "0,00"
    assert percent(2550) == "25,5"
    assert percent(2400) == "24"
    assert percent(0) == "0"


def test_the_top_level_follows_the_schemas_sequence() -> None:
    root = parse(finvoice_xml(an_invoice(), message_id="inv-1042", sent_at=SENT))
    assert root.tag == "Finvoice" and root.get("Version") == "3.0"
    assert [child.tag for child in root] == [
        "MessageTransmissionDetails",
        "SellerPartyDetails",
        "SellerOrganisationUnitNumber",
        "SellerInformationDetails",
        "BuyerPartyDetails",
        "BuyerOrganisationUnitNumber",
        "InvoiceDetails",
        *["InvoiceRow"] * 4,
        "EpiDetails",
    ]
    assert root.findtext("MessageTransmissionDetails/MessageReceiverDetails/ToIdentifier") == (
        "003732213086"
    )
    assert root.findtext("BuyerPartyDetails/BuyerPartyIdentifier") == "3221308-6"
    assert root.findtext("InvoiceDetails/InvoiceTypeCode") == "INV01"
    assert root.findtext("InvoiceDetails/InvoiceDate") == "20261201"
    assert root.findtext("InvoiceDetails/OrderIdentifier") == "PO-2026-118"
    assert root.findtext("InvoiceDetails/PaymentTermsDetails/InvoiceDueDate") == "20261215"
    assert root.findtext("InvoiceDetails/PaymentTermsDetails/PaymentTermsFreeText") == (
        "14 päivää netto"
    )


def test_the_amounts_add_up() -> None:
    root = parse(finvoice_xml(an_invoice(), message_id="inv-1042", sent_at=SENT))
    details = root.find("InvoiceDetails")
    assert details is not None
    net = cents(details.findtext("InvoiceTotalVatExcludedAmount"))
    vat = cents(details.findtext("InvoiceTotalVatAmount"))
    gross = cents(details.findtext("InvoiceTotalVatIncludedAmount"))
    rows = [cents(r.findtext("RowVatExcludedAmount")) for r in root.iter("InvoiceRow")]
    vat_rows = list(details.iter("VatSpecificationDetails"))
    # 150 + 150 + 24,23 at 25,5 % and 120 at 0 %.
    assert rows == [15_000, 15_000, 12_000, 2_423]
    assert net == sum(rows) == 44_423
    assert [
        (v.findtext("VatRatePercent"), cents(v.findtext("VatBaseAmount"))) for v in vat_rows
    ] == [
        ("25,5", 32_423),
        ("0", 12_000),
    ]
    assert vat == sum(cents(v.findtext("VatRateAmount")) for v in vat_rows) == 8_268  # 8267,865
    assert gross == net + vat
    assert (
        cents(root.findtext("EpiDetails/EpiPaymentInstructionDetails/EpiInstructedAmount")) == gross
    )
    assert vat_rows[1].findtext("VatFreeText") == "Terveyden- ja sairaanhoitopalvelu, AVL 34 §"


@pytest.mark.parametrize(
    ("kind", "scheme"), [(ReferenceType.NATIONAL, "SPY"), (ReferenceType.RF, "ISO")]
)
def test_the_payment_carries_the_invoices_reference(kind: ReferenceType, scheme: str) -> None:
    doc = an_invoice(kind)
    root = parse(finvoice_xml(doc, message_id="inv-1042", sent_at=SENT))
    reference = root.find("EpiDetails/EpiPaymentInstructionDetails/EpiRemittanceInfoIdentifier")
    assert reference is not None
    assert (reference.text, reference.get("IdentificationSchemeName")) == (doc.reference, scheme)
    assert root.findtext("EpiDetails/EpiPartyDetails/EpiBeneficiaryPartyDetails/EpiAccountID") == (
        "FI7944052020036082"
    )


def test_a_credit_note_is_inv02_with_negative_amounts_and_the_credited_number() -> None:
    root = parse(finvoice_xml(a_credit_note(), message_id="inv-1043", sent_at=SENT))
    assert root.findtext("InvoiceDetails/InvoiceTypeCode") == "INV02"
    assert root.findtext("InvoiceDetails/OriginalInvoiceNumber") == "1042"
    assert root.findtext("InvoiceDetails/InvoiceTotalVatIncludedAmount") == "-376,50"


def test_text_is_escaped_not_interpreted() -> None:
    from dataclasses import replace

    doc = replace(an_invoice(), notes='<Injected attr="x">&amp; ]]>')
    root = parse(finvoice_xml(doc, message_id="inv-1042", sent_at=SENT))
    assert root.findtext("InvoiceDetails/InvoiceFreeText") == '<Injected attr="x">&amp; ]]>'
    assert root.find(".//Injected") is None
