"""Envelope primitives, blind indexes and the key cache (no database)."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anima.crypto.blind_index import blind_index, normalize_email, normalize_phone
from anima.crypto.envelope import (
    DecryptionError,
    KeyUnwrapError,
    field_aad,
    master_fingerprint,
    open_sealed,
    seal,
    sealed_version,
    unwrap_key,
    wrap_key,
)
from anima.crypto.keyring import LRU
from anima.crypto.types import EncryptedJSON, encrypted_columns

KEY = os.urandom(32)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096), st.integers(min_value=1, max_value=2**32 - 1))
def test_seal_round_trip(plaintext, version):
    aad = field_aad(7, "journal_entries", "content_enc", "row", version)
    blob = seal(KEY, version, aad, plaintext)
    assert sealed_version(blob) == version
    assert open_sealed(KEY, aad, blob, where="x") == plaintext
    # a short plaintext can occur in random ciphertext by chance; 8+ bytes cannot (p < 2**-50)
    assert len(plaintext) < 8 or plaintext not in blob[17:]


def test_ciphertext_moved_to_another_row_column_table_or_tenant_fails():
    row = uuid.uuid4()
    blob = seal(KEY, 1, field_aad(1, "patients", "clinical_enc", row, 1), b"secret")
    for tenant, table, column, row_id in (
        (1, "patients", "clinical_enc", uuid.uuid4()),
        (1, "patients", "email_enc", row),
        (1, "journal_entries", "clinical_enc", row),
        (2, "patients", "clinical_enc", row),
    ):
        with pytest.raises(DecryptionError, match=r"failed authentication: it was written for another tenant, table, column or row"):
            open_sealed(KEY, field_aad(tenant, table, column, row_id, 1), blob, where=f"{table}.{column} row {row_id}")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        open_sealed(KEY, field_aad(1, "patients", "clinical_enc", row, 1), tampered, where="x")
    with pytest.raises(DecryptionError, match="not an Anima ciphertext"):
        sealed_version(b"plaintext that is long enough to pass")


def test_wrapped_keys_are_bound_to_tenant_purpose_and_version():
    master, data_key = os.urandom(32), os.urandom(32)
    wrapped = wrap_key(master, data_key, tenant_id=3, purpose="data", version=2)
    assert unwrap_key(master, wrapped, tenant_id=3, purpose="data", version=2) == data_key
    for kwargs in ({"tenant_id": 4, "purpose": "data", "version": 2}, {"tenant_id": 3, "purpose": "index", "version": 2},
                   {"tenant_id": 3, "purpose": "data", "version": 1}):
        with pytest.raises(KeyUnwrapError):
            unwrap_key(master, wrapped, **kwargs)
    with pytest.raises(KeyUnwrapError, match=master_fingerprint(KEY)):
        unwrap_key(KEY, wrapped, tenant_id=3, purpose="data", version=2)
    assert len(master_fingerprint(master)) == 16 and master_fingerprint(master) != master_fingerprint(KEY)


def test_blind_index_normalizes_and_is_tenant_keyed():
    k1, k2 = os.urandom(32), os.urandom(32)
    assert blind_index(k1, "email", " Ana@Example.ORG ") == blind_index(k1, "email", "ana@example.org")
    assert blind_index(k1, "phone", "+34 600-11-22-33") == blind_index(k1, "phone", "+34600112233")
    assert blind_index(k1, "email", "ana@example.org") != blind_index(k2, "email", "ana@example.org")
    assert blind_index(k1, "phone", "600112233") != blind_index(k1, "email", "600112233@x.org")
    assert normalize_phone("(555) 010-0999") == "5550100999"
    for bad in ("12ab34567", "123", "+1234567890123456"):
        with pytest.raises(ValueError):
            normalize_phone(bad)
    for bad in ("no-at", "a@b", "a b@c.org"):
        with pytest.raises(ValueError):
            normalize_email(bad)


def test_lru_is_bounded_and_keyed_by_tenant():
    cache = LRU(3)
    cache.put((1, "data", 1), b"a")
    cache.put((2, "data", 1), b"b")
    assert cache.get((1, "data", 1)) == b"a" and cache.get((2, "data", 1)) == b"b"
    cache.put((3, "data", 1), b"c")
    cache.get((1, "data", 1))
    cache.put((4, "data", 1), b"d")  # evicts the least recently used: tenant 2
    assert cache.get((2, "data", 1)) is None and len(cache) == 3
    cache.drop_tenant(1)
    assert cache.get((1, "data", 1)) is None and cache.get((4, "data", 1)) == b"d"


def test_encrypted_column_types_refuse_plaintext_and_are_discovered():
    with pytest.raises(TypeError, match="sealed bytes"):
        EncryptedJSON().process_bind_param({"risk": "x"}, None)
    with pytest.raises(TypeError):
        EncryptedJSON().process_bind_param("text", None)
    assert EncryptedJSON().process_bind_param(b"\x01abc", None) == b"\x01abc"
    import anima.models  # noqa: F401  (complete the metadata)
    from anima.db.base import TenantBase

    found = encrypted_columns(TenantBase.metadata)
    assert set(found["patients"]) == {"email_enc", "phone_enc", "clinical_enc", "block_lift_reason_enc"}
    assert found["journal_entries"] == ["content_enc"] and found["journal_amendments"] == ["content_enc"]
