"""Identity rules that are easier to see at the service level."""

from __future__ import annotations

import pytest

from luotsi.platform.errors import Invalid
from luotsi.platform.identity import check_email, check_password_rules, hash_password
from luotsi.platform.tenancy import suggest_slug


def test_passwords_are_hashed_with_argon2id() -> None:
    assert hash_password("correct horse battery").startswith("$argon2id$")


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@b", "a b@c.fi", "x" * 250 + "@c.fi"])
def test_bad_email_addresses_are_refused(address: str) -> None:
    with pytest.raises(Invalid):
        check_email(address)


def test_email_is_normalised() -> None:
    assert check_email("  Maija.Meikalainen@Example.FI ") == "maija.meikalainen@example.fi"


def test_short_password_is_refused() -> None:
    with pytest.raises(Invalid):
        check_password_rules("short")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Työnohjaus Mäkinen Oy", "tyonohjaus-makinen"),
        ("Åbo Handledning Ab", "abo-handledning"),
        ("  --Luotsi & Co--  ", "luotsi-co"),
    ],
)
def test_slug_is_suggested_from_the_firm_name(name: str, slug: str) -> None:
    assert suggest_slug(name) == slug
