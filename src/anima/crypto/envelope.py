"""Envelope encryption primitives: wrapping data keys, sealing and opening fields.

Pure functions over bytes, no database. Formats:

* **wrapped data key** — ``nonce(12) || AES-256-GCM(master, data_key, aad)`` with
  ``aad = "anima|key|<tenant_id>|<purpose>|v<version>"``: a wrapped key copied to another tenant,
  purpose or version fails to unwrap.
* **sealed field** — ``format(1) = 0x01 || key_version(4, big-endian) || nonce(12) || ct+tag``,
  AES-256-GCM under the tenant's data key of that version, with
  ``aad = "<tenant_id>|<table>|<column>|<row_id>|v<version>"``: a ciphertext copied to another
  row, column, table or tenant fails to open with :class:`DecryptionError`.

Nonces are 96 random bits per encryption (NIST SP 800-38D §8.2.2); with at most 2**32 encryptions
per key the collision probability stays below 2**-32, and rotation bounds a key's use anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from anima.problems import Problem

FORMAT_V1 = 0x01
HEADER = struct.Struct(">BI")  # format byte, key version
NONCE_BYTES = 12
TAG_BYTES = 16
MIN_SEALED = HEADER.size + NONCE_BYTES + TAG_BYTES
KEY_BYTES = 32


class DecryptionError(Problem):
    """A stored ciphertext failed authentication: moved to another row/column/tenant, tampered with, or
    its key is gone. Answered as a 500 problem ``undecryptable-record`` (never shows any content)."""

    status, kind, title = 500, "undecryptable-record", "Stored record cannot be decrypted"


class KeyUnwrapError(Exception):
    """A wrapped data key does not open under this master key (wrong master key or moved row)."""


def master_fingerprint(master_key: bytes) -> str:
    """A short public identifier of a master key (16 hex chars of HMAC-SHA256); reveals nothing of it."""
    return hmac.new(master_key, b"anima|master-fingerprint", hashlib.sha256).hexdigest()[:16]


def new_data_key() -> bytes:
    """32 random bytes from the OS CSPRNG."""
    return os.urandom(KEY_BYTES)


def _key_aad(tenant_id: int, purpose: str, version: int) -> bytes:
    return f"anima|key|{tenant_id}|{purpose}|v{version}".encode()


def wrap_key(master_key: bytes, data_key: bytes, *, tenant_id: int, purpose: str, version: int) -> bytes:
    """Encrypt ``data_key`` under ``master_key`` bound to (tenant, purpose, version)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, data_key, _key_aad(tenant_id, purpose, version))


def unwrap_key(master_key: bytes, wrapped: bytes, *, tenant_id: int, purpose: str, version: int) -> bytes:
    """Inverse of :func:`wrap_key`. Raises :class:`KeyUnwrapError`."""
    try:
        return AESGCM(master_key).decrypt(
            bytes(wrapped[:NONCE_BYTES]), bytes(wrapped[NONCE_BYTES:]), _key_aad(tenant_id, purpose, version)
        )
    except (InvalidTag, ValueError):
        raise KeyUnwrapError(
            f"data key v{version} ({purpose}) of tenant {tenant_id} does not unwrap under master key "
            f"{master_fingerprint(master_key)}"
        ) from None


def field_aad(tenant_id: int, table: str, column: str, row_id: object, version: int) -> bytes:
    """The associated data binding a field's ciphertext to its place."""
    return f"{tenant_id}|{table}|{column}|{row_id}|v{version}".encode()


def sealed_version(blob: bytes) -> int:
    """The key version recorded in a sealed field. Raises :class:`DecryptionError` on a bad header."""
    if len(blob) < MIN_SEALED or blob[0] != FORMAT_V1:
        raise DecryptionError("stored value is not an Anima ciphertext (bad format header)")
    return HEADER.unpack_from(blob)[1]


def seal(key: bytes, version: int, aad: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext``: ``0x01 || version || nonce || ciphertext+tag``."""
    nonce = os.urandom(NONCE_BYTES)
    return HEADER.pack(FORMAT_V1, version) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, aad: bytes, blob: bytes, *, where: str) -> bytes:
    """Decrypt a sealed field. ``where`` names the place for the error message (no content in it).

    Raises:
        DecryptionError: authentication failed (wrong place, tampering or wrong key).
    """
    blob = bytes(blob)
    sealed_version(blob)
    nonce = blob[HEADER.size : HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[HEADER.size + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionError(
            f"ciphertext at {where} failed authentication: it was written for another tenant, table, "
            "column or row, or it was altered"
        ) from None
