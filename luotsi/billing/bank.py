"""The firm's bank details and VAT number, checked as an invoice will print them.

IBAN and BIC are checked with schwifty (the IBAN's length and check digits per country, the
BIC's form and country). A Finnish IBAN names its bank, so the BIC may be left empty and is
then taken from the IBAN; a BIC that is typed is kept as typed (banks merge and rename faster
than a registry follows, and the firm knows its bank). The VAT number
of a Finnish business is ``FI`` and the business ID's eight digits.
"""

from __future__ import annotations

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _


def check_iban(text: str, field_name: str = "iban") -> str:
    """``text`` as an IBAN in print form (``FI79 4405 2020 0360 82``)."""
    try:
        if len(text) > 64:
            raise SchwiftyException
        return str(IBAN(text).formatted)
    except SchwiftyException:
        raise Invalid.field(
            field_name, _("Enter the account number as an IBAN, e.g. FI21 1234 5600 0007 85.")
        ) from None


def check_bic(text: str, iban: str, field_name: str = "bic") -> str:
    """The BIC for ``iban``'s account: ``text`` if given, else the one the IBAN's bank has."""
    account = IBAN(iban)
    known = account.bic
    text = "".join(text.split()).upper()
    if not text:
        if known is None:
            raise Invalid.field(field_name, _("Enter the bank's BIC."))
        return str(known.compact)
    try:
        if len(text) > 11:
            raise SchwiftyException
        bic = BIC(text)
    except SchwiftyException:
        raise Invalid.field(
            field_name, _("Enter the BIC as 8 or 11 letters, e.g. OKOYFIHH.")
        ) from None
    return str(bic.compact)


def vat_number(business_id: str) -> str:
    """The Finnish VAT number of a checked business ID: ``0737546-2`` -> ``FI07375462``."""
    return "FI" + business_id.replace("-", "")
