"""Column types for encrypted fields.

:class:`EncryptedText` and :class:`EncryptedJSON` store sealed envelopes (``bytea``). They do not
encrypt by themselves — encryption needs the tenant and the row id, which a column type does not
know — so the service layer seals values with a :class:`~anima.crypto.cipher.FieldCipher` first.
What the types add: a plaintext ``str``/``dict`` bound to such a column is **refused** (TypeError)
instead of silently stored, and key rotation finds every encrypted column by its type
(:func:`encrypted_columns`), so a new encrypted column is rotated without being listed anywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import LargeBinary, MetaData
from sqlalchemy.types import TypeDecorator


class EncryptedBytes(TypeDecorator[bytes]):
    """``bytea`` holding a sealed envelope; binding anything but bytes raises TypeError."""

    impl = LargeBinary
    cache_ok = True
    #: what the plaintext is: "text" or "json" (for tooling; the service decides how to decode)
    content = "bytes"

    def process_bind_param(self, value: Any, dialect: Any) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{type(self).__name__} columns take sealed bytes from FieldCipher, not {type(value).__name__}"
            )
        return bytes(value)


class EncryptedText(EncryptedBytes):
    """An encrypted UTF-8 string."""

    cache_ok = True
    content = "text"


class EncryptedJSON(EncryptedBytes):
    """An encrypted JSON document."""

    cache_ok = True
    content = "json"


def encrypted_columns(metadata: MetaData) -> dict[str, list[str]]:
    """Every table of ``metadata`` with encrypted columns -> their names.

    The caller passes a complete metadata (``anima.models`` imported), or tables are missed.
    """
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        cols = [c.name for c in table.columns if isinstance(c.type, EncryptedBytes)]
        if cols:
            found[table.name] = cols
    return found
