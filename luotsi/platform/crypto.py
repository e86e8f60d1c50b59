"""Encryption of content at rest: AES-256-GCM with a key per tenant and per master-key version.

Keys. The master secret is a set of versioned 32-byte keys (``LUOTSI_MASTER_KEYS`` =
``"1:<base64>,2:<base64>"``; only the embedded mode generates ``var/master_keys``). The highest
version is current: new ciphertexts use it; older versions still decrypt until ``luotsi keys
rotate`` has re-encrypted everything and the operator removes them. A tenant's key is derived with
HKDF-SHA256 from one master key, its ``info`` naming the tenant id and the key version, so one
firm's key says nothing about another's and no per-tenant key is ever stored.

Stored format, one bytes value::

    offset  size  meaning
    0       1     format, 0x01 = AES-256-GCM with an HKDF-SHA256 tenant key
    1       2     master key version, unsigned big-endian (1..65535)
    3       12    nonce, fresh from the OS random source for every encryption
    15      n+16  ciphertext of the UTF-8 plaintext, then the 16-byte GCM tag

Binding. The associated data is the 3-byte header followed by the tenant id, table name, row
id and field name (each length-prefixed), so a ciphertext copied into another row, field or
tenant, or given another header, fails authentication: :class:`ContentUnreadable` is raised,
never garbage. Error messages name the place (table, row, field), never the content.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from luotsi.platform.errors import DomainError

FORMAT_AES_GCM_HKDF = 0x01
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = 3
MAX_VERSION = 0xFFFF
_HKDF_SALT = b"luotsi content encryption"
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ContentUnreadable(DomainError):
    """Stored content failed to decrypt: tampered, moved to another row, or an unknown key."""


class UnknownKeyVersion(ContentUnreadable):
    """The ciphertext names a master key version that is not configured (any more)."""


class MasterKeys:
    """The configured master keys by version; :attr:`current_version` encrypts."""

    __slots__ = ("_keys",)

    def __init__(self, keys: dict[int, bytes]) -> None:
        if not keys:
            raise ValueError("at least one master key is needed")
        for version, key in keys.items():
            if not 1 <= version <= MAX_VERSION:
                raise ValueError(f"master key version {version} is outside 1..{MAX_VERSION}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"master key version {version} is not {KEY_BYTES} bytes")
        self._keys = dict(sorted(keys.items()))

    @classmethod
    def parse(cls, value: str) -> MasterKeys:
        """Read ``"version:base64key"`` items separated by commas or line breaks."""
        keys: dict[int, bytes] = {}
        for item in re.split(r"[,\s]+", value.strip()):
            if not item:
                continue
            version_text, sep, encoded = item.partition(":")
            if not sep or not version_text.isdigit():
                raise ValueError("master keys are written as version:base64key, comma-separated")
            version = int(version_text)
            if version in keys:
                raise ValueError(f"master key version {version} is given twice")
            try:
                keys[version] = base64.b64decode(
                    encoded.replace("-", "+").replace("_", "/"), validate=True
                )
            except (binascii.Error, ValueError):
                raise ValueError(f"master key version {version} is not valid base64") from None
        return cls(keys)

    @staticmethod
    def new_key() -> str:
        """A fresh random key, base64-encoded, for the next version."""
        return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")

    @property
    def versions(self) -> list[int]:
        return list(self._keys)

    @property
    def current_version(self) -> int:
        return max(self._keys)

    def key(self, version: int) -> bytes:
        try:
            return self._keys[version]
        except KeyError:
            raise UnknownKeyVersion(f"master key version {version} is not configured") from None

    def render(self) -> str:
        """The setting's text form (for writing the generated key file)."""
        return ",".join(
            f"{version}:{base64.b64encode(key).decode('ascii')}"
            for version, key in self._keys.items()
        )

    def __repr__(self) -> str:  # never the keys themselves
        return f"MasterKeys(versions={self.versions})"


@dataclass(frozen=True)
class Binding:
    """Where a ciphertext belongs: it decrypts only in this tenant, table, row and field."""

    tenant_id: uuid.UUID
    table: str
    row_id: uuid.UUID
    field: str

    def __post_init__(self) -> None:
        for name in (self.table, self.field):
            if not _NAME_RE.match(name):
                raise ValueError(f"not an identifier: {name!r}")

    def associated_data(self, header: bytes) -> bytes:
        parts = [self.tenant_id.bytes, self.table.encode(), self.row_id.bytes, self.field.encode()]
        return header + b"".join(len(p).to_bytes(2, "big") + p for p in parts)

    def describe(self) -> str:
        return f"{self.table}.{self.field} of row {self.row_id}"


@lru_cache(maxsize=4096)
def _tenant_cipher(master_key: bytes, version: int, tenant_id: uuid.UUID) -> AESGCM:
    info = f"luotsi content key; tenant {tenant_id}; master key version {version}".encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_HKDF_SALT, info=info).derive(
        master_key
    )
    return AESGCM(derived)


def _header(version: int) -> bytes:
    return bytes([FORMAT_AES_GCM_HKDF]) + version.to_bytes(2, "big")


def key_version_of(blob: bytes) -> int:
    """The master key version a stored value was encrypted with."""
    if len(blob) < HEADER_BYTES + NONCE_BYTES + TAG_BYTES or blob[0] != FORMAT_AES_GCM_HKDF:
        raise ContentUnreadable("not an encrypted value of a known format")
    return int.from_bytes(blob[1:HEADER_BYTES], "big")


class ContentCipher:
    """Encrypts and decrypts content bound to its place, with the configured master keys."""

    def __init__(self, keys: MasterKeys) -> None:
        self.keys = keys

    @property
    def current_version(self) -> int:
        return self.keys.current_version

    def encrypt(self, plaintext: str, binding: Binding) -> bytes:
        version = self.keys.current_version
        header = _header(version)
        nonce = os.urandom(NONCE_BYTES)
        cipher = _tenant_cipher(self.keys.key(version), version, binding.tenant_id)
        sealed = cipher.encrypt(nonce, plaintext.encode("utf-8"), binding.associated_data(header))
        return header + nonce + sealed

    def decrypt(self, blob: bytes, binding: Binding) -> str:
        try:
            version = key_version_of(blob)
        except ContentUnreadable:
            raise ContentUnreadable(f"{binding.describe()}: unknown format") from None
        try:
            master = self.keys.key(version)
        except UnknownKeyVersion:
            raise UnknownKeyVersion(
                f"{binding.describe()}: master key version {version} is not configured"
            ) from None
        header, nonce = blob[:HEADER_BYTES], blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        cipher = _tenant_cipher(master, version, binding.tenant_id)
        try:
            plain = cipher.decrypt(
                nonce, blob[HEADER_BYTES + NONCE_BYTES :], binding.associated_data(header)
            )
        except InvalidTag:
            raise ContentUnreadable(
                f"{binding.describe()}: authentication failed (tampered or moved)"
            ) from None
        return plain.decode("utf-8")

    def reencrypt(self, blob: bytes, binding: Binding) -> bytes:
        """The same plaintext under the current key version (a fresh nonce)."""
        return self.encrypt(self.decrypt(blob, binding), binding)
