"""Reference numbers: the 7-3-1 check digit, RF (ISO 11649), and their printed forms."""

from __future__ import annotations

import pytest

from luotsi.billing.references import (
    MIN_NUMBER,
    ReferenceType,
    compact,
    formatted,
    is_valid,
    national_check_digit,
    reference_for,
)

# National and RF references printed in Finanssiala's barcode guide (Pankkiviivakoodi-opas).
GUIDE_NATIONAL = [
    "86851 62596 19897",
    "55958 22432 94671",
    "69 87567 20834 35364",
    "7 75847 47906 47489",
    "78 77767 96566 28687",
    "8 68624",
    "92125 37425 25398 97737",
    "5907 38390",
    "13 57914",
]
GUIDE_RF = [
    "RF09 8685 1625 9619 897",
    "RF06 5595 8224 3294 671",
    "RF02 6987 5672 0834",
    "RF84 7758 4747 9064 7489",
    "RF60 7877 7679 6566 2868 7",
    "RF10 8686 24",
    "RF71 9212 5374 2525 3989 7737",
    "RF66 5907 3839 0",
    "RF95 1357 914",
]


@pytest.mark.parametrize("reference", GUIDE_NATIONAL + GUIDE_RF)
def test_the_guides_references_are_valid_and_print_as_the_guide_prints_them(
    reference: str,
) -> None:
    assert is_valid(reference)
    assert formatted(compact(reference)) == reference


@pytest.mark.parametrize(
    "reference",
    [
        "86851 62596 19898",  # wrong check digit
        "86851 62596 19879",  # two digits swapped
        "123",  # too short
        "1" * 21,  # too long
        "8685A",  # not digits
        "RF08 8685 1625 9619 897",  # wrong RF check digits
        "RF09 8685 1625 9619 898",
        "",
    ],
)
def test_a_wrong_reference_is_refused(reference: str) -> None:
    assert not is_valid(reference)


def test_the_check_digit_weights_are_7_3_1_from_the_right() -> None:
    assert national_check_digit("321") == 4  # 1*7 + 2*3 + 3*1 = 16 -> 4 to the next ten
    assert national_check_digit("1000") == 3  # 1*7 = 7 -> 3 to the next ten
    assert national_check_digit("37") == 2  # 7*7 + 3*3 = 58 -> 2
    assert national_check_digit("7") == 1  # 7*7 = 49 -> 1
    assert national_check_digit("10") == 7  # 0*7 + 1*3 = 3 -> 7
    assert national_check_digit("1001") == 6  # 1*7 + 0*3 + 0*1 + 1*7 = 14 -> 6
    assert national_check_digit("55") == 0  # 5*7 + 5*3 = 50: already a ten


def test_an_invoice_number_gives_its_reference_in_both_kinds() -> None:
    assert reference_for(86851625961989, ReferenceType.NATIONAL) == "868516259619897"
    assert reference_for(86851625961989, ReferenceType.RF) == "RF09868516259619897"
    assert reference_for(MIN_NUMBER, ReferenceType.NATIONAL) == "1009"
    for number in (MIN_NUMBER, 1000, 12345, 987654321):
        for kind in ReferenceType:
            assert is_valid(reference_for(number, kind))


@pytest.mark.parametrize("number", [0, 1, 99, 10**19])
def test_a_number_outside_the_references_range_is_refused(number: int) -> None:
    with pytest.raises(ValueError, match="invoice number"):
        reference_for(number, ReferenceType.NATIONAL)
