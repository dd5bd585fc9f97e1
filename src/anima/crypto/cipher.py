"""``FieldCipher``: encrypting and decrypting one tenant's fields inside one transaction.

Made per request (or job) with the tenant id, the process :class:`~anima.crypto.keyring.Keyring`
and the tenant-scoped session. Each call names the table, column and row, which with the tenant
and key version form the AES-GCM associated data (see :mod:`anima.crypto.envelope`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from anima.crypto.blind_index import blind_index
from anima.crypto.envelope import DecryptionError, field_aad, open_sealed, seal, sealed_version
from anima.crypto.keyring import Keyring, KeyMissing


class FieldCipher:
    """Seal and open fields of tenant ``tenant_id`` (see module docstring)."""

    def __init__(self, keyring: Keyring, conn: AsyncSession | AsyncConnection, tenant_id: int) -> None:
        self.keyring = keyring
        self.conn = conn
        self.tenant_id = tenant_id
        self._current: tuple[int, bytes] | None = None

    async def _current_key(self) -> tuple[int, bytes]:
        if self._current is None:
            self._current = await self.keyring.current(self.conn, self.tenant_id)
        return self._current

    async def encrypt(self, table: str, column: str, row_id: object, plaintext: bytes) -> bytes:
        """Seal ``plaintext`` for (tenant, table, column, row) under the current data key."""
        version, key = await self._current_key()
        return seal(key, version, field_aad(self.tenant_id, table, column, row_id, version), plaintext)

    async def decrypt(self, table: str, column: str, row_id: object, blob: bytes) -> bytes:
        """Open a sealed field. Raises :class:`DecryptionError` (500 problem) when it does not belong here."""
        blob = bytes(blob)
        version = sealed_version(blob)
        try:
            key = await self.keyring.get(self.conn, self.tenant_id, version)
        except KeyMissing:
            raise DecryptionError(f"the key of {table}.{column} row {row_id} (v{version}) no longer exists") from None
        aad = field_aad(self.tenant_id, table, column, row_id, version)
        return open_sealed(key, aad, blob, where=f"{table}.{column} row {row_id}")

    async def encrypt_text(self, table: str, column: str, row_id: object, text: str) -> bytes:
        return await self.encrypt(table, column, row_id, text.encode())

    async def decrypt_text(self, table: str, column: str, row_id: object, blob: bytes) -> str:
        return (await self.decrypt(table, column, row_id, blob)).decode()

    async def encrypt_json(self, table: str, column: str, row_id: object, value: Any) -> bytes:
        return await self.encrypt(table, column, row_id, msgspec.json.encode(value))

    async def decrypt_json(self, table: str, column: str, row_id: object, blob: bytes) -> Any:
        return msgspec.json.decode(await self.decrypt(table, column, row_id, blob))

    async def blind_index(self, kind: str, value: str) -> bytes:
        """The tenant's blind index of ``value`` (see :mod:`anima.crypto.blind_index`); ValueError if malformed."""
        return blind_index(await self.keyring.index_key(self.conn, self.tenant_id), kind, value)
