"""Encryption of content at rest: round trip, binding, tampering, versions and the key file."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest

from luotsi.platform.crypto import (
    HEADER_BYTES,
    NONCE_BYTES,
    Binding,
    ContentCipher,
    ContentUnreadable,
    MasterKeys,
    UnknownKeyVersion,
    key_version_of,
)
from luotsi.platform.settings import load_settings

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(32, 64))).decode()
TEXT = "Työnohjaaja kirjoittaa: luottamuksellinen merkintä ✓\n\nToinen kappale."
TENANT = uuid.UUID("11111111-1111-4111-8111-111111111111")
ROW = uuid.UUID("22222222-2222-4222-8222-222222222222")
HERE = Binding(TENANT, "session_notes", ROW, "body")


def cipher(value: str = f"1:{KEY1}") -> ContentCipher:
    return ContentCipher(MasterKeys.parse(value))


def test_round_trip_returns_the_plaintext() -> None:
    blob = cipher().encrypt(TEXT, HERE)
    assert cipher().decrypt(blob, HERE) == TEXT


def test_stored_value_has_header_nonce_and_tag_and_no_plaintext() -> None:
    blob = cipher().encrypt(TEXT, HERE)
    assert blob[0] == 0x01
    assert key_version_of(blob) == 1
    assert len(blob) == HEADER_BYTES + NONCE_BYTES + len(TEXT.encode()) + 16
    assert b"luottamuksellinen" not in blob


def test_two_encryptions_of_the_same_text_differ() -> None:
    first, second = cipher().encrypt(TEXT, HERE), cipher().encrypt(TEXT, HERE)
    assert first != second
    assert (
        first[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        != (second[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES])
    )


@pytest.mark.parametrize(
    "position",
    [
        pytest.param(HEADER_BYTES, id="nonce"),
        pytest.param(HEADER_BYTES + NONCE_BYTES + 2, id="ciphertext"),
        pytest.param(-1, id="tag"),
    ],
)
def test_a_flipped_byte_is_detected(position: int) -> None:
    blob = bytearray(cipher().encrypt(TEXT, HERE))
    blob[position] ^= 0x01
    with pytest.raises(ContentUnreadable, match="authentication failed"):
        cipher().decrypt(bytes(blob), HERE)


def test_a_truncated_value_is_refused() -> None:
    blob = cipher().encrypt(TEXT, HERE)
    with pytest.raises(ContentUnreadable):
        cipher().decrypt(blob[:20], HERE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param(Binding(uuid.uuid4(), "session_notes", ROW, "body"), id="other tenant"),
        pytest.param(Binding(TENANT, "session_notes", uuid.uuid4(), "body"), id="other row"),
        pytest.param(Binding(TENANT, "session_notes", ROW, "title"), id="other field"),
        pytest.param(Binding(TENANT, "assignments", ROW, "body"), id="other table"),
    ],
)
def test_a_value_moved_elsewhere_fails_to_decrypt(elsewhere: Binding) -> None:
    blob = cipher().encrypt(TEXT, HERE)
    with pytest.raises(ContentUnreadable) as caught:
        cipher().decrypt(blob, elsewhere)
    assert "luottamuksellinen" not in str(caught.value)


def test_a_changed_version_header_fails_even_when_that_version_exists() -> None:
    blob = bytearray(cipher(f"1:{KEY1},2:{KEY1}").encrypt(TEXT, HERE))
    assert key_version_of(bytes(blob)) == 2
    blob[2] = 1  # claim version 1: the same master key, but the header is authenticated
    with pytest.raises(ContentUnreadable):
        cipher(f"1:{KEY1},2:{KEY1}").decrypt(bytes(blob), HERE)


def test_unknown_key_version_fails_clearly() -> None:
    blob = cipher(f"1:{KEY1},2:{KEY2}").encrypt(TEXT, HERE)
    with pytest.raises(UnknownKeyVersion, match="version 2 is not configured"):
        cipher(f"1:{KEY1}").decrypt(blob, HERE)


def test_highest_version_encrypts_and_older_versions_still_decrypt() -> None:
    old = cipher(f"1:{KEY1}").encrypt(TEXT, HERE)
    both = cipher(f"2:{KEY2},1:{KEY1}")
    assert both.current_version == 2
    assert both.decrypt(old, HERE) == TEXT
    fresh = both.reencrypt(old, HERE)
    assert key_version_of(fresh) == 2
    assert cipher(f"2:{KEY2}").decrypt(fresh, HERE) == TEXT


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1",
        f"x:{KEY1}",
        "1:not base64!",
        f"1:{base64.b64encode(b'short').decode()}",
        f"1:{KEY1},1:{KEY2}",
        f"0:{KEY1}",
        f"70000:{KEY1}",
    ],
)
def test_malformed_master_keys_are_refused_without_echoing_them(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        MasterKeys.parse(value)
    assert KEY1 not in str(caught.value)


def test_master_keys_never_show_in_repr(tmp_path: Path) -> None:
    keys = MasterKeys.parse(f"1:{KEY1}, 2:{KEY2}")
    assert keys.versions == [1, 2]
    assert KEY1 not in repr(keys) and KEY2 not in repr(keys)
    env = {"LUOTSI_VAR_DIR": str(tmp_path), "LUOTSI_MASTER_KEYS": f"1:{KEY1}"}
    settings = load_settings(env, env_file="")
    assert KEY1 not in repr(settings)


def test_master_keys_are_generated_once_into_var_in_the_embedded_mode(tmp_path: Path) -> None:
    env = {"LUOTSI_VAR_DIR": str(tmp_path / "var"), "LUOTSI_DEBUG": "1"}
    first = load_settings(env, env_file="")
    key_file = tmp_path / "var" / "master_keys"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert first.content_keys.versions == [1]
    assert load_settings(env, env_file="").master_keys == first.master_keys
    leftovers = {p.name for p in key_file.parent.iterdir()} - {"master_keys", "secret_key"}
    assert not leftovers


def test_configured_master_keys_win_and_write_no_file(tmp_path: Path) -> None:
    env = {
        "LUOTSI_VAR_DIR": str(tmp_path / "var"),
        "LUOTSI_SECRET_KEY": "x" * 40,
        "LUOTSI_MASTER_KEYS": f"1:{KEY1},2:{KEY2}",
    }
    settings = load_settings(env, env_file="")
    assert settings.content_keys.current_version == 2
    assert not (tmp_path / "var" / "master_keys").exists()


def test_a_malformed_setting_stops_start_up(tmp_path: Path) -> None:
    env = {"LUOTSI_VAR_DIR": str(tmp_path), "LUOTSI_MASTER_KEYS": "1:short"}
    with pytest.raises(ValueError, match="master key"):
        load_settings(env, env_file="")
