"""The Finvoice 3.0 e-invoice of an issued invoice or credit note.

Finvoice is the Finnish banks' XML e-invoice (Finanssiala's *Finvoice 3.0 implementation
guidelines*): the message's routing (our and the buyer's e-invoice addresses and operators),
the parties, the invoice's details with the VAT breakdown, one ``InvoiceRow`` per line, and
the payment instruction (``EpiDetails``) with the same reference as the PDF and the barcode.
Elements follow the schema's sequence; amounts are written with a decimal comma and two
decimals, dates as ``CCYYMMDD``. The amounts come from the one :class:`~luotsi.billing.money.Totals`
of the document, so the file's totals, VAT rows and rows add up by construction.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from luotsi.billing.document import DocumentKind, InvoiceDocument, Party
from luotsi.billing.money import vat_cents
from luotsi.billing.references import ReferenceType
from luotsi.platform import i18n
from luotsi.platform.i18n import ngettext

SCHEMA = "Finvoice3.0.xsd"
TYPE_CODES = {
    DocumentKind.INVOICE: ("INV01", "LASKU"),
    DocumentKind.CREDIT_NOTE: ("INV02", "HYVITYSLASKU"),
}


def amount(cents: int) -> str:
    """``-1234,50``: Finvoice's amount, a decimal comma and two decimals."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros},{rest:02d}"


def percent(basis_points: int) -> str:
    """``25,5`` for 2550 basis points; ``0`` for none."""
    whole, hundredths = divmod(basis_points, 100)
    return f"{whole},{hundredths:02d}".rstrip("0").rstrip(",")


def quantity(value: Decimal) -> str:
    return f"{value.normalize():f}".replace(".", ",")


def _day(value: date) -> tuple[str, dict[str, str]]:
    return value.strftime("%Y%m%d"), {"Format": "CCYYMMDD"}


def _add(parent: Element, tag: str, text: str | None = None, **attrs: str) -> Element:
    element = SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _eur(parent: Element, tag: str, cents: int) -> Element:
    return _add(parent, tag, amount(cents), AmountCurrencyIdentifier="EUR")


def _date(parent: Element, tag: str, value: date) -> Element:
    text, attrs = _day(value)
    return _add(parent, tag, text, **attrs)


def _party(parent: Element, role: str, party: Party) -> None:
    details = _add(parent, f"{role}PartyDetails")
    if party.business_id:
        _add(details, f"{role}PartyIdentifier", party.business_id)
    _add(details, f"{role}OrganisationName", party.name)
    if party.vat_number:
        _add(details, f"{role}OrganisationTaxCode", party.vat_number)
    address = _add(details, f"{role}PostalAddressDetails")
    _add(address, f"{role}StreetName", party.street)
    _add(address, f"{role}TownName", party.city)
    _add(address, f"{role}PostCodeIdentifier", party.postal_code)
    _add(address, "CountryCode", party.country_code)
    if party.e_invoice_address:
        _add(parent, f"{role}OrganisationUnitNumber", party.e_invoice_address)


def finvoice_xml(doc: InvoiceDocument, *, message_id: str, sent_at: datetime) -> bytes:
    """The Finvoice 3.0 file of ``doc`` as UTF-8 bytes.

    ``message_id`` identifies the message for the operators (unique per firm: the invoice's
    id); ``sent_at`` is the message's timestamp.
    """
    root = Element(
        "Finvoice",
        {
            "Version": "3.0",
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:noNamespaceSchemaLocation": SCHEMA,
        },
    )
    transmission = _add(root, "MessageTransmissionDetails")
    sender = _add(transmission, "MessageSenderDetails")
    _add(sender, "FromIdentifier", doc.seller.e_invoice_address or doc.seller.business_id)
    _add(sender, "FromIntermediator", doc.seller.e_invoice_operator or doc.bic)
    receiver = _add(transmission, "MessageReceiverDetails")
    _add(receiver, "ToIdentifier", doc.buyer.e_invoice_address)
    _add(receiver, "ToIntermediator", doc.buyer.e_invoice_operator)
    details = _add(transmission, "MessageDetails")
    _add(details, "MessageIdentifier", message_id)
    _add(details, "MessageTimeStamp", sent_at.strftime("%Y-%m-%dT%H:%M:%S"))

    _party(root, "Seller", doc.seller)
    information = _add(root, "SellerInformationDetails")
    account = _add(information, "SellerAccountDetails")
    _add(account, "SellerAccountID", "".join(doc.iban.split()), IdentificationSchemeName="IBAN")
    _add(account, "SellerBic", doc.bic, IdentificationSchemeName="BIC")
    _party(root, "Buyer", doc.buyer)

    totals = doc.totals
    invoice = _add(root, "InvoiceDetails")
    code, text = TYPE_CODES[doc.kind]
    _add(invoice, "InvoiceTypeCode", code)
    _add(invoice, "InvoiceTypeText", text)
    _add(invoice, "OriginCode", "Original")
    if doc.credited_number is not None:
        _add(invoice, "OriginalInvoiceNumber", str(doc.credited_number))
    _add(invoice, "InvoiceNumber", str(doc.number))
    _date(invoice, "InvoiceDate", doc.issued_on)
    if doc.buyer_reference:
        _add(invoice, "OrderIdentifier", doc.buyer_reference)
    _eur(invoice, "InvoiceTotalVatExcludedAmount", totals.net_cents)
    _eur(invoice, "InvoiceTotalVatAmount", totals.vat_cents)
    _eur(invoice, "InvoiceTotalVatIncludedAmount", totals.gross_cents)
    for row in totals.rows:
        vat = _add(invoice, "VatSpecificationDetails")
        _eur(vat, "VatBaseAmount", row.net_cents)
        _add(vat, "VatRatePercent", percent(row.basis_points))
        if row.basis_points == 0 and doc.vat_exemption_text:
            _add(vat, "VatFreeText", doc.vat_exemption_text)
        _eur(vat, "VatRateAmount", row.vat_cents)
    if doc.notes:
        _add(invoice, "InvoiceFreeText", doc.notes)
    terms = _add(invoice, "PaymentTermsDetails")
    with i18n.language(doc.language):
        net_days = ngettext("%(n)d day net", "%(n)d days net", doc.payment_terms_days)
    _add(terms, "PaymentTermsFreeText", net_days % {"n": doc.payment_terms_days})
    _date(terms, "InvoiceDueDate", doc.due_on)
    if doc.penalty_interest:
        fine = _add(terms, "PaymentOverDueFineDetails")
        _add(fine, "PaymentOverDueFineFreeText", doc.penalty_interest)

    for position, line in enumerate(doc.lines, start=1):
        row_element = _add(root, "InvoiceRow")
        _add(row_element, "ArticleName", line.description)
        _add(row_element, "DeliveredQuantity", quantity(line.quantity), QuantityUnitCode=line.unit)
        if line.day is not None:
            _date(row_element, "DeliveryDate", line.day)
        _eur(row_element, "UnitPriceAmount", line.unit_cents)
        _add(row_element, "RowPositionIdentifier", str(position))
        if line.group:
            _add(row_element, "RowFreeText", line.group)
        _add(row_element, "RowVatRatePercent", percent(line.vat_basis_points))
        # A row's VAT is informative; the invoice's VAT is the per-rate sum above.
        _eur(row_element, "RowVatAmount", vat_cents(line.net_cents, line.vat_basis_points))
        _eur(row_element, "RowVatExcludedAmount", line.net_cents)

    epi = _add(root, "EpiDetails")
    identification = _add(epi, "EpiIdentificationDetails")
    _date(identification, "EpiDate", doc.issued_on)
    _add(identification, "EpiReference", str(doc.number))
    parties = _add(epi, "EpiPartyDetails")
    bank = _add(parties, "EpiBfiPartyDetails")
    _add(bank, "EpiBfiIdentifier", doc.bic, IdentificationSchemeName="BIC")
    beneficiary = _add(parties, "EpiBeneficiaryPartyDetails")
    _add(beneficiary, "EpiNameAddressDetails", doc.seller.name)
    if doc.seller.business_id:
        _add(beneficiary, "EpiBei", doc.seller.business_id)
    _add(beneficiary, "EpiAccountID", "".join(doc.iban.split()), IdentificationSchemeName="IBAN")
    instruction = _add(epi, "EpiPaymentInstructionDetails")
    scheme = "ISO" if doc.reference_type is ReferenceType.RF else "SPY"
    _add(instruction, "EpiRemittanceInfoIdentifier", doc.reference, IdentificationSchemeName=scheme)
    _eur(instruction, "EpiInstructedAmount", totals.gross_cents)
    _add(instruction, "EpiCharge", "SHA", ChargeOption="SHA")
    _date(instruction, "EpiDateOptionDate", doc.due_on)

    indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(
        root, encoding="utf-8", xml_declaration=False
    )
