"""Identity rules that are easier to see at the service level."""

from __future__ import annotations

import pytest

from luotsi.platform import i18n
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


ME = {"email": "kerttu.kolmas@kolmas.example", "name": "Kerttu Kolmas"}


def test_short_password_is_refused() -> None:
    with pytest.raises(Invalid):
        check_password_rules("short", **ME)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("1234567890", "common"),
        ("password12", "common"),
        ("qwertyuiop", "common"),
        ("Football1234", "common"),
        ("aaaaaaaaaa", "easy to guess"),
        ("abcdefghij", "easy to guess"),
        ("kerttu.kolmas!", "your name"),
        ("Kolmas-2024-x", "your name"),
        ("KerttuK#2024", "your name"),
    ],
)
def test_common_patterned_and_personal_passwords_are_refused(password: str, why: str) -> None:
    with i18n.language("en"), pytest.raises(Invalid) as exc:
        check_password_rules(password, **ME, field="new_password")
    assert why in exc.value.errors["new_password"]


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "kesäloma mökillä 7", "kerttu's own passphrase", "x9!kQ" * 100],
)
def test_long_uncommon_passwords_are_accepted(password: str) -> None:
    check_password_rules(password, **ME)


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
