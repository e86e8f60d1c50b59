"""The virtual bank barcode against every example of Finanssiala's Pankkiviivakoodi-opas."""

from __future__ import annotations

from datetime import date

import pytest

from luotsi.billing.barcode import bank_barcode, code128_modules

# (IBAN, amount in cents, reference, due date, the guide's 54 digits): invoices 1-9 of the
# guide, once with the national reference (version 4) and once with RF (version 5).
GUIDE = [
    ("FI79 4405 2020 0360 82", 488315, "86851 62596 19897", date(2010, 6, 12),
     "479440520200360820048831500000000868516259619897100612"),
    ("FI58 1017 1000 0001 22", 48299, "55958 22432 94671", date(2012, 1, 31),
     "458101710000001220004829900000000559582243294671120131"),
    ("FI02 5000 4640 0013 02", 69380, "69 87567 20834 35364", date(2011, 7, 24),
     "402500046400013020006938000000069875672083435364110724"),
    ("FI15 6601 0001 5306 41", 744454, "7 75847 47906 47489", date(2019, 12, 19),
     "415660100015306410074445400000007758474790647489191219"),
    ("FI16 8000 1400 0502 67", 93585, "78 77767 96566 28687", None,
     "416800014000502670009358500000078777679656628687000000"),
    ("FI83 3301 0001 1007 75", 15000020, "92125 37425 25398 97737", date(2016, 5, 25),
     "483330100011007751500002000092125374252539897737160525"),
    ("FI39 3636 3002 0924 92", 103, "5907 38390", date(2023, 3, 11),
     "439363630020924920000010300000000000000590738390230311"),
    ("FI92 3939 0001 0033 91", 2, "13 57914", date(2099, 12, 24),
     "492393900010033910000000200000000000000001357914991224"),
    ("FI79 4405 2020 0360 82", 488315, "RF09 8685 1625 9619 897", date(2010, 6, 12),
     "579440520200360820048831509000000868516259619897100612"),
    ("FI58 1017 1000 0001 22", 48299, "RF06 5595 8224 3294 671", date(2010, 1, 31),
     "558101710000001220004829906000000559582243294671100131"),
    ("FI02 5000 4640 0013 02", 69380, "RF02 6987 5672 0834", date(2011, 7, 24),
     "502500046400013020006938002000000000698756720834110724"),
    ("FI15 6601 0001 5306 41", 744454, "RF84 7758 4747 9064 7489", date(2019, 12, 19),
     "515660100015306410074445484000007758474790647489191219"),
    ("FI16 8000 1400 0502 67", 93585, "RF60 7877 7679 6566 2868 7", None,
     "516800014000502670009358560000078777679656628687000000"),
    ("FI83 3301 0001 1007 75", 15000020, "RF71 9212 5374 2525 3989 7737", date(2016, 5, 25),
     "583330100011007751500002071092125374252539897737160525"),
    ("FI39 3636 3002 0924 92", 103, "RF66 5907 3839 0", date(2023, 3, 11),
     "539363630020924920000010366000000000000590738390230311"),
    ("FI92 3939 0001 0033 91", 2, "RF95 1357 914", date(2099, 12, 24),
     "592393900010033910000000295000000000000001357914991224"),
]  # fmt: skip


@pytest.mark.parametrize(("iban", "cents", "reference", "due", "digits"), GUIDE)
def test_the_barcode_is_the_guides(
    iban: str, cents: int, reference: str, due: date | None, digits: str
) -> None:
    assert bank_barcode(iban, cents, reference, due) == digits


@pytest.mark.parametrize(
    ("iban", "cents"),
    [
        ("SE45 5000 0000 0583 9825 7466", 1000),  # not a Finnish account
        ("FI79 4405 2020 0360 82", 0),  # nothing to pay
        ("FI79 4405 2020 0360 82", -48299),  # a credit note
        ("FI79 4405 2020 0360 82", 100_000_000),  # a million euros does not fit
    ],
)
def test_no_barcode_where_the_format_cannot_carry_the_payment(iban: str, cents: int) -> None:
    assert bank_barcode(iban, cents, "86851 62596 19897", None) is None


def test_the_symbol_is_code_128_in_set_c() -> None:
    modules = code128_modules(GUIDE[0][4])
    # Start C, 27 digit pairs and the check symbol, 11 modules each, and the 13-module stop.
    assert len(modules) == 29 * 11 + 13
    assert modules.startswith("11010011100")  # Start C
    assert modules.endswith("1100011101011")  # Stop
    assert set(modules) == {"0", "1"}
