"""Where and how a client organisation is invoiced: address, e-invoice channel, language.

The firm's staff edit these with the rest of the organisation (:mod:`.organisations`); its HR
contact may update them in the client portal (:func:`apply_billing`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stdnum import iban
from stdnum.fi import ytunnus

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _
from luotsi.platform.identity import check_email
from luotsi.tenants.clients.checks import text_within
from luotsi.tenants.clients.models import ClientOrg

INVOICE_LANGUAGES = ("fi", "sv", "en")
POSTAL_CODE = re.compile(r"[0-9]{5}")
OVT_PREFIX = "0037"  # Finland's ISO 6523 code: 0037 + business ID without the hyphen (+ 0-5)
EDI_CODE = re.compile(r"[0-9A-Z]{12,17}")
OPERATOR_CODE = re.compile(r"[0-9A-Z]{4,35}")  # 003721291126, NDEAFIHH, E204503


def check_einvoice_address(text: str, field_name: str = "einvoice_address") -> str:
    """An e-invoice address as the receiver gave it; empty stays empty.

    An OVT code is ``0037``, the business ID without its hyphen (check digit verified) and up to
    five characters of the receiver's own; an IBAN is checked by its checksum; other EDI codes
    (foreign or operator-specific) pass when they are 12-17 letters and digits.
    """
    code = "".join(text.split()).upper()
    if not code:
        return ""
    if code.startswith(OVT_PREFIX):
        if EDI_CODE.fullmatch(code) and ytunnus.is_valid(code[4:12]):
            return code
        raise Invalid.field(
            field_name,
            _(
                "An OVT code is 0037 followed by the business ID without the hyphen and up to"
                " five more characters, e.g. 003707375462."
            ),
        )
    if len(code) <= 34 and code[:2].isalpha() and iban.is_valid(code):
        return str(iban.compact(code))
    if EDI_CODE.fullmatch(code):
        return code
    raise Invalid.field(
        field_name,
        _("Enter the e-invoice address (an OVT code such as 003707375462, or an IBAN)."),
    )


def check_operator(text: str, field_name: str = "einvoice_operator") -> str:
    """An e-invoice operator's code or BIC; empty stays empty."""
    code = "".join(text.split()).upper()
    if code and not OPERATOR_CODE.fullmatch(code):
        raise Invalid.field(
            field_name, _("Enter the operator's code or BIC, e.g. 003721291126 or NDEAFIHH.")
        )
    return code


@dataclass
class BillingInput:
    """Where and how an organisation is invoiced: what its HR contact may update too."""

    billing_street: str = ""
    billing_postal_code: str = ""
    billing_city: str = ""
    einvoice_address: str = ""
    einvoice_operator: str = ""
    invoice_email: str = ""
    invoice_language: str = "fi"


def billing_values(org: ClientOrg) -> BillingInput:
    return BillingInput(
        billing_street=org.billing_street,
        billing_postal_code=org.billing_postal_code,
        billing_city=org.billing_city,
        einvoice_address=org.einvoice_address,
        einvoice_operator=org.einvoice_operator,
        invoice_email=org.invoice_email,
        invoice_language=org.invoice_language,
    )


def check_billing(data: BillingInput) -> dict[str, Any]:
    """Clean billing details, or :class:`Invalid` naming every wrong field.

    The address is all or nothing (street, five-digit postal code, city); an e-invoice address
    needs its operator and the other way round; the invoice e-mail is optional.
    """
    errors: dict[str, str] = {}
    values = _billing(errors, data)
    if errors:
        raise Invalid(errors)
    return values


def _billing(errors: dict[str, str], data: BillingInput) -> dict[str, Any]:
    street = text_within(errors, "billing_street", data.billing_street, 200)
    postal = "".join(data.billing_postal_code.split())
    city = text_within(errors, "billing_city", data.billing_city, 100)
    if postal and not POSTAL_CODE.fullmatch(postal):
        errors["billing_postal_code"] = _("A postal code has five digits, e.g. 05800.")
    if street or postal or city:
        missing = _("An address needs a street, a postal code and a city.")
        for name, value in (
            ("billing_street", street),
            ("billing_postal_code", postal),
            ("billing_city", city),
        ):
            if not value:
                errors.setdefault(name, missing)
    address = operator = email = ""
    try:
        address = check_einvoice_address(data.einvoice_address)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        operator = check_operator(data.einvoice_operator)
    except Invalid as exc:
        errors.update(exc.errors)
    if address and not operator:
        errors.setdefault("einvoice_operator", _("Enter the operator of the e-invoice address."))
    if operator and not address and "einvoice_address" not in errors:
        errors["einvoice_address"] = _("Enter the e-invoice address, or leave the operator empty.")
    if data.invoice_email.strip():
        try:
            email = check_email(data.invoice_email, "invoice_email")
        except Invalid as exc:
            errors.update(exc.errors)
    if data.invoice_language not in INVOICE_LANGUAGES:
        errors["invoice_language"] = _("Choose the language of the invoices.")
    return {
        "billing_street": street,
        "billing_postal_code": postal,
        "billing_city": city,
        "einvoice_address": address,
        "einvoice_operator": operator,
        "invoice_email": email,
        "invoice_language": data.invoice_language,
    }


def apply_billing(org: ClientOrg, data: BillingInput) -> None:
    """Validate and set an organisation's billing details (see :func:`check_billing`)."""
    for name, value in check_billing(data).items():
        setattr(org, name, value)
