"""The virtual bank barcode (*virtuaaliviivakoodi*) and its Code 128 symbol.

The 54 digits carry the payee's Finnish IBAN, the amount, the reference and the due date, in
version 4 for a national reference and version 5 for an RF reference (Finanssiala's
*Pankkiviivakoodi-opas*). They are built by the ``virtuaaliviivakoodi`` library, which passes all
of the guide's published examples (tests/billing/test_barcode.py runs them). A barcode exists
only for a Finnish IBAN and an amount below one million euros; otherwise an invoice has none.

The printed symbol is Code 128 in character set C (two digits per symbol); ``python-barcode``
encodes it, and the PDF draws its modules as bars.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from barcode.codex import Code128
from virtuaaliviivakoodi import virtuaaliviivakoodi

MAX_CENTS = 99_999_999  # 999 999,99 €: six digits of euros


def bank_barcode(iban: str, cents: int, reference: str, due: date | None) -> str | None:
    """The 54 digits for paying ``cents`` to ``iban`` with ``reference``, or None if none can be.

    A credit note or a zero total has no barcode: there is nothing to pay.
    """
    compact_iban = "".join(iban.split()).upper()
    if not compact_iban.startswith("FI") or not 0 < cents <= MAX_CENTS:
        return None
    return str(virtuaaliviivakoodi(compact_iban, reference, Decimal(cents).scaleb(-2), due))


def code128_modules(digits: str) -> str:
    """The bars of ``digits`` as Code 128: ``1`` a dark module, ``0`` a light one."""
    return str(Code128(digits).build()[0])
