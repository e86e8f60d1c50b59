"""Phone numbers: what people type, stored as E.164, shown as people write them."""

import phonenumbers

from luotsi.platform.errors import Invalid
from luotsi.platform.i18n import gettext as _

MAX_PHONE_CHARS = 40


def normalise_phone(text: str, field_name: str = "phone") -> str:
    """A Finnish or international number as E.164 (``+358405551234``); empty stays empty."""
    text = text.strip()
    if not text:
        return ""
    if len(text) > MAX_PHONE_CHARS:  # no number is this long; refused before parsing
        raise Invalid.field(field_name, _("Enter a valid phone number, e.g. 040 555 1234."))
    try:
        number = phonenumbers.parse(text, "FI")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Invalid.field(field_name, _("Enter a valid phone number, e.g. 040 555 1234."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Finnish numbers as Finns write them (040 555 1234); others internationally."""
    if not e164:
        return ""
    number = phonenumbers.parse(e164, None)
    if number.country_code == 358:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
