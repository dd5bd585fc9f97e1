"""Finding, creating and caching a tenant's data keys.

Requests read the **wrapped** keys through their own tenant-scoped session (the tenant role may
SELECT ``data_keys``) and unwrap them with the master key. Unwrapped keys are cached in process
memory in a bounded LRU keyed by ``(tenant id, purpose, version)`` — never by version alone, so
two tenants' "version 1" are never confused. Which data version is current is read from the
database (one indexed row) and remembered per tenant for :data:`CURRENT_TTL` seconds, which saves
a round trip in every transaction that writes encrypted fields (a public form submission among
them). A rotation in this process is seen at once (:meth:`Keyring.forget_current`); other
processes see it within :data:`CURRENT_TTL`, and the few rows they seal meanwhile under the
previous version — which is retired, never deleted, so they stay readable — are re-encrypted by
the rotation's resume pass (``anima keys rotate --resume``), which finds rows by the version in
their header.

A tenant's first keys (data v1 and the blind-index key) are created lazily on first use, on the
**admin** engine in a transaction of their own (the tenant role cannot write ``data_keys``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from anima.crypto.envelope import master_fingerprint, new_data_key, unwrap_key, wrap_key
from anima.db.engine import quote_ident
from anima.logs import get_logger
from anima.tenancy import registry

log = get_logger(__name__)

DATA, INDEX = "data", "index"
#: seconds a process keeps using the current data-key version it read (see the module docstring)
CURRENT_TTL = 30.0

_CURRENT = sa.text(
    "SELECT version, wrapped_key FROM data_keys WHERE purpose = 'data' AND retired_at IS NULL "
    "ORDER BY version DESC LIMIT 1"
)
_ONE = sa.text("SELECT wrapped_key FROM data_keys WHERE purpose = :p AND version = :v")


class KeyMissing(Exception):
    """The key version a ciphertext names does not exist for this tenant (shredded or never made)."""


class LRU:
    """A small thread-safe LRU mapping with a fixed capacity."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple, value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

    def drop_tenant(self, tenant_id: int) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == tenant_id]:
                del self._data[key]

    def __len__(self) -> int:
        return len(self._data)


async def create_initial_keys(admin: AsyncEngine, master_key: bytes, tenant_id: int) -> None:
    """Create data key v1 and the blind-index key of ``tenant_id`` if missing (admin engine, idempotent)."""
    async with admin.begin() as conn:
        schema = await registry.schema_of(conn, tenant_id)
        if schema is None:
            raise KeyMissing(f"tenant {tenant_id} does not exist")
        await conn.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": quote_ident(schema)})
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:t, hashtext('anima:keys'))"), {"t": tenant_id})
        fingerprint = master_fingerprint(master_key)
        for purpose in (DATA, INDEX):
            await conn.execute(
                sa.text(
                    "INSERT INTO data_keys (purpose, version, wrapped_key, master_fingerprint, created_at) "
                    "SELECT CAST(:p AS varchar), 1, :w, :f, now() "
                    "WHERE NOT EXISTS (SELECT 1 FROM data_keys WHERE purpose = CAST(:p AS varchar))"
                ),
                {
                    "p": purpose,
                    "w": wrap_key(master_key, new_data_key(), tenant_id=tenant_id, purpose=purpose, version=1),
                    "f": fingerprint,
                },
            )
    log.info("tenant keys created", tenant_id=tenant_id)


class Keyring:
    """The master key, an optional admin engine for lazy key creation, and the unwrapped-key cache.

    Args:
        master_key: 32 bytes (``ANIMA_MASTER_KEY``).
        admin: the admin engine; without it a tenant with no keys raises :class:`KeyMissing`.
        capacity: cached unwrapped keys (each 32 bytes); the default holds 4 versions of 4,096 tenants.
    """

    def __init__(self, master_key: bytes, admin: AsyncEngine | None = None, capacity: int = 16_384,
                 current_ttl: float = CURRENT_TTL) -> None:
        self.master_key = master_key
        self.fingerprint = master_fingerprint(master_key)
        self.admin = admin
        self.cache = LRU(capacity)
        self.current_ttl = current_ttl
        #: tenant id -> (monotonic time until which it holds, current data-key version)
        self._current: dict[int, tuple[float, int]] = {}

    def _unwrap(self, tenant_id: int, purpose: str, version: int, wrapped: bytes) -> bytes:
        key = (tenant_id, purpose, version)
        cached = self.cache.get(key)
        if cached is None:
            cached = unwrap_key(self.master_key, bytes(wrapped), tenant_id=tenant_id, purpose=purpose, version=version)
            self.cache.put(key, cached)
        return cached

    async def current(self, conn: AsyncSession | AsyncConnection, tenant_id: int) -> tuple[int, bytes]:
        """``(version, key)`` of the tenant's current data key, creating the first keys if needed;
        the version read is reused for :attr:`current_ttl` seconds (no round trip)."""
        remembered = self._current.get(tenant_id)
        if remembered is not None and remembered[0] > time.monotonic():
            key = self.cache.get((tenant_id, DATA, remembered[1]))
            if key is not None:
                return remembered[1], key
        row = (await conn.execute(_CURRENT)).first()
        if row is None:
            if self.admin is None:
                raise KeyMissing(f"tenant {tenant_id} has no data key")
            await create_initial_keys(self.admin, self.master_key, tenant_id)
            row = (await conn.execute(_CURRENT)).first()
            if row is None:
                raise KeyMissing(f"tenant {tenant_id} has no data key")
        key = self._unwrap(tenant_id, DATA, row.version, row.wrapped_key)
        if self.current_ttl > 0:
            self._current[tenant_id] = (time.monotonic() + self.current_ttl, row.version)
        return row.version, key

    async def get(self, conn: AsyncSession | AsyncConnection, tenant_id: int, version: int, purpose: str = DATA) -> bytes:
        """The unwrapped key ``version`` of ``purpose``; raises :class:`KeyMissing` when it does not exist."""
        cached = self.cache.get((tenant_id, purpose, version))
        if cached is not None:
            return cached
        wrapped = (await conn.execute(_ONE, {"p": purpose, "v": version})).scalar()
        if wrapped is None:
            if purpose == INDEX and self.admin is not None:
                await create_initial_keys(self.admin, self.master_key, tenant_id)
                wrapped = (await conn.execute(_ONE, {"p": purpose, "v": version})).scalar()
            if wrapped is None:
                raise KeyMissing(f"tenant {tenant_id} has no {purpose} key v{version}")
        return self._unwrap(tenant_id, purpose, version, wrapped)

    async def index_key(self, conn: AsyncSession | AsyncConnection, tenant_id: int) -> bytes:
        """The tenant's blind-index key (never rotated with data keys)."""
        return await self.get(conn, tenant_id, 1, INDEX)

    def forget(self, tenant_id: int) -> None:
        """Drop every cached key of ``tenant_id`` (after its deletion or a master-key rotation)."""
        self.cache.drop_tenant(tenant_id)
        self.forget_current(tenant_id)

    def forget_current(self, tenant_id: int) -> None:
        """Read the tenant's current data-key version again on next use (after a rotation)."""
        self._current.pop(tenant_id, None)
