"""Payment references: the Finnish national reference and the RF creditor reference.

An invoice's reference is made from its number, so a payment that quotes it finds the invoice
without a lookup table. The national reference (*viitenumero*) is the number followed by a
check digit: the digits are weighted 7, 3, 1, 7, 3, 1, ... from the right, and the check digit
takes the sum up to the next multiple of ten (0 when the sum already is one). Its base has 3 to
19 digits, so invoice numbers start at :data:`MIN_NUMBER`. The RF creditor reference (ISO
11649) wraps the national reference: ``RF``, two mod-97 check digits, then the national
reference, as the banks' barcode guide does (RF09 8685 1625 9619 897 for 86851 62596 19897).
"""

from __future__ import annotations

import enum

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

MIN_NUMBER = 100  # the national reference's base has at least three digits
MAX_NUMBER = 10**19 - 1  # ... and at most nineteen

_WEIGHTS = (7, 3, 1)


class ReferenceType(enum.StrEnum):
    NATIONAL = "national"
    RF = "rf"


def national_check_digit(base: str) -> int:
    """The check digit of the national reference whose digits before it are ``base``."""
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(reversed(base)))
    return -total % 10


def reference_for(number: int, kind: ReferenceType) -> str:
    """The compact reference of invoice ``number``: ``8685162596198 97`` without spaces."""
    if not MIN_NUMBER <= number <= MAX_NUMBER:
        raise ValueError(f"an invoice number for a reference is {MIN_NUMBER}..{MAX_NUMBER}")
    national = f"{number}{national_check_digit(str(number))}"
    if kind is ReferenceType.NATIONAL:
        return national
    return f"RF{mod_97_10.calc_check_digits(national + 'RF')}{national}"


def compact(reference: str) -> str:
    """``reference`` as typed or printed, without spaces and leading zeros, RF upper-cased."""
    text = "".join(reference.split()).upper()
    if text.startswith("RF"):
        return text
    return text.lstrip("0")


def is_valid(reference: str) -> bool:
    """Whether ``reference`` is a well-formed national or RF reference with right check digits."""
    text = compact(reference)
    if text.startswith("RF"):
        try:
            iso11649.validate(text)
        except ValidationError:
            return False
        return True
    if not text.isdigit() or not 4 <= len(text) <= 20:
        return False
    return national_check_digit(text[:-1]) == int(text[-1])


def formatted(reference: str) -> str:
    """``reference`` for print: national in groups of five from the right, RF in fours."""
    text = compact(reference)
    if text.startswith("RF"):
        return str(iso11649.format(text))
    groups = []
    while text:
        groups.append(text[-5:])
        text = text[:-5]
    return " ".join(reversed(groups))
