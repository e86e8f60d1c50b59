"""The firm's IBAN, BIC and VAT number as settings accept them."""

from __future__ import annotations

import pytest

from luotsi.billing.bank import check_bic, check_iban, vat_number
from luotsi.platform import i18n
from luotsi.platform.errors import Invalid


def test_an_iban_is_stored_in_print_form() -> None:
    assert check_iban("fi7944052020036082") == "FI79 4405 2020 0360 82"
    assert check_iban(" FI79 4405 2020 0360 82 ") == "FI79 4405 2020 0360 82"


@pytest.mark.parametrize(
    "text",
    ["FI79 4405 2020 0360 83", "FI79 4405", "1234", "", "FI" + "7" * 70, "XX79 4405 2020 0360 82"],
)
def test_a_wrong_iban_says_how_to_write_one(text: str) -> None:
    with i18n.language("en"), pytest.raises(Invalid) as caught:
        check_iban(text)
    assert "IBAN" in caught.value.errors["iban"]


def test_an_empty_bic_comes_from_a_finnish_iban_and_a_typed_one_is_kept() -> None:
    assert check_bic("", "FI21 1234 5600 0007 85") == "NDEAFIHH"
    assert check_bic(" okoy fihh ", "FI21 1234 5600 0007 85") == "OKOYFIHH"


@pytest.mark.parametrize("text", ["OKOY", "OKOYXXHH", "OKOYFIHH12345"])
def test_a_wrong_bic_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as caught:
        check_bic(text, "FI21 1234 5600 0007 85")
    assert "bic" in caught.value.errors


def test_the_vat_number_is_fi_and_the_business_ids_digits() -> None:
    assert vat_number("0737546-2") == "FI07375462"
