"""Key rotation: new data-key versions with batched, resumable re-encryption; master-key re-wrapping.

Both run on the **admin** engine (the tenant role may not write ``data_keys``), one tenant at a
time, each tenant's statements scoped with a transaction-local ``search_path``.

* :func:`rotate_tenant_data_key` adds version N+1 (older versions get ``retired_at``; they stay
  readable until no ciphertext names them), then :func:`reencrypt_tenant` walks every encrypted
  column (found by type, :func:`anima.crypto.types.encrypted_columns`) in batches of
  ``batch_size`` rows, one transaction per batch: rows whose ciphertext header names another
  version than the current one are decrypted and sealed again. Resumable: a crashed run is
  completed by running it again (``anima keys rotate --resume``), which finds the rows still on
  an old version; a row written concurrently with an old cached version is found the same way.
* :func:`rotate_master_key` re-wraps every tenant's keys (data and index) under a new master key,
  one transaction per tenant. Keys already wrapped under the new key (by fingerprint) are skipped,
  so it too is resumable. The blind-index key is re-wrapped, not changed: indexes stay valid.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import anima.models  # noqa: F401  (every tenant table in the metadata: rotation must miss none)
from anima.crypto.cipher import FieldCipher
from anima.crypto.envelope import master_fingerprint, new_data_key, unwrap_key, wrap_key
from anima.crypto.keyring import DATA, Keyring, create_initial_keys
from anima.crypto.types import encrypted_columns
from anima.db.base import TenantBase
from anima.db.engine import quote_ident
from anima.logs import get_logger
from anima.tenancy import registry

log = get_logger(__name__)


@dataclass
class TenantKeyReport:
    """What rotation did for one tenant."""

    tenant_id: int
    slug: str
    version: int | None = None
    reencrypted: dict[str, int] = field(default_factory=dict)
    rewrapped: int = 0
    error: str | None = None


async def _scope(conn: AsyncConnection, schema: str) -> None:
    await conn.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": quote_ident(schema)})


async def tenants_with_schemas(admin: AsyncEngine, slugs: tuple[str, ...] = ()) -> list[tuple[int, str, str]]:
    """``(id, slug, schema)`` of every tenant whose schema exists (active or suspended), by id."""
    async with admin.connect() as conn:
        rows, _ = await registry.listing(conn, registry.filtered(states=registry.LIVE_STATES, slugs=slugs))
    return [(r.id, r.slug, r.schema_name) for r in rows]


async def rotate_tenant_data_key(admin: AsyncEngine, keyring: Keyring, tenant_id: int, schema: str) -> int:
    """Add the next data-key version and retire the older ones; returns the new version."""
    version = None
    async with admin.begin() as conn:
        await _scope(conn, schema)
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:t, hashtext('anima:keys'))"), {"t": tenant_id})
        latest = await conn.scalar(sa.text("SELECT max(version) FROM data_keys WHERE purpose = 'data'"))
        if latest is not None:
            version = latest + 1
            await conn.execute(
                sa.text(
                    "INSERT INTO data_keys (purpose, version, wrapped_key, master_fingerprint, created_at) "
                    "VALUES ('data', :v, :w, :f, now())"
                ),
                {
                    "v": version,
                    "w": wrap_key(keyring.master_key, new_data_key(), tenant_id=tenant_id, purpose=DATA, version=version),
                    "f": keyring.fingerprint,
                },
            )
            await conn.execute(
                sa.text("UPDATE data_keys SET retired_at = now() WHERE purpose = 'data' AND version < :v AND retired_at IS NULL"),
                {"v": version},
            )
    if version is not None:
        keyring.forget_current(tenant_id)  # committed: this process seals under the new version from now on
        return version
    await create_initial_keys(admin, keyring.master_key, tenant_id)  # a tenant without keys has no ciphertext
    return 1


async def reencrypt_tenant(
    admin: AsyncEngine,
    keyring: Keyring,
    tenant_id: int,
    schema: str,
    *,
    batch_size: int = 500,
    max_batches: int | None = None,
) -> dict[str, int]:
    """Re-seal every field not on the current data-key version; returns rows redone per table.

    ``max_batches`` bounds the work of one call (what is left is found by the next call).
    """
    done: dict[str, int] = {}
    batches = 0
    for table, columns in encrypted_columns(TenantBase.metadata).items():
        done[table] = 0
        tq = quote_ident(table)
        while max_batches is None or batches < max_batches:
            async with admin.begin() as conn:
                await _scope(conn, schema)
                cipher = FieldCipher(keyring, conn, tenant_id)
                version, _ = await cipher._current_key()
                header = struct.pack(">I", version)
                stale = " OR ".join(
                    f"({quote_ident(c)} IS NOT NULL AND substring({quote_ident(c)} from 2 for 4) <> :v)" for c in columns
                )
                cols = ", ".join(quote_ident(c) for c in columns)
                rows = (
                    await conn.execute(
                        sa.text(f"SELECT id, {cols} FROM {tq} WHERE {stale} LIMIT :n FOR UPDATE SKIP LOCKED"),
                        {"v": header, "n": batch_size},
                    )
                ).all()
                if not rows:
                    break  # a table with nothing stale costs no batch
                batches += 1
                for row in rows:
                    values: dict[str, object] = {"id": row.id}
                    for c in columns:
                        blob = getattr(row, c)
                        if blob is None or bytes(blob[1:5]) == header:
                            values[c] = blob
                            continue
                        plaintext = await cipher.decrypt(table, c, row.id, blob)
                        values[c] = await cipher.encrypt(table, c, row.id, plaintext)
                    sets = ", ".join(f"{quote_ident(c)} = :{c}" for c in columns)
                    await conn.execute(sa.text(f"UPDATE {tq} SET {sets} WHERE id = :id"), values)
                done[table] += len(rows)
    return done


async def rotate_data_keys(
    admin: AsyncEngine,
    keyring: Keyring,
    *,
    slugs: tuple[str, ...] = (),
    resume_only: bool = False,
    batch_size: int = 500,
) -> list[TenantKeyReport]:
    """For each tenant: a new data-key version (unless ``resume_only``), then re-encryption."""
    reports = []
    for tenant_id, slug, schema in await tenants_with_schemas(admin, slugs):
        report = TenantKeyReport(tenant_id, slug)
        try:
            if not resume_only:
                report.version = await rotate_tenant_data_key(admin, keyring, tenant_id, schema)
            report.reencrypted = await reencrypt_tenant(admin, keyring, tenant_id, schema, batch_size=batch_size)
        except Exception as exc:  # one tenant's failure does not stop the others
            report.error = f"{type(exc).__name__}: {exc}"
            log.error("key rotation failed", tenant_id=tenant_id, error_type=type(exc).__name__)
        reports.append(report)
        log.info("data key rotated", tenant_id=tenant_id, version=report.version, rows=sum(report.reencrypted.values()))
    return reports


async def rotate_master_key(
    admin: AsyncEngine, old_master: bytes, new_master: bytes, *, slugs: tuple[str, ...] = ()
) -> list[TenantKeyReport]:
    """Re-wrap every key of every tenant under ``new_master`` (one transaction per tenant).

    Raises nothing per tenant: a key wrapped under neither master key is reported as that
    tenant's error and its transaction rolled back.
    """
    old_fp, new_fp = master_fingerprint(old_master), master_fingerprint(new_master)
    reports = []
    for tenant_id, slug, schema in await tenants_with_schemas(admin, slugs):
        report = TenantKeyReport(tenant_id, slug)
        try:
            async with admin.begin() as conn:
                await _scope(conn, schema)
                rows = (
                    await conn.execute(
                        sa.text("SELECT purpose, version, wrapped_key, master_fingerprint FROM data_keys FOR UPDATE")
                    )
                ).all()
                for row in rows:
                    if row.master_fingerprint == new_fp:
                        continue
                    if row.master_fingerprint != old_fp:
                        raise ValueError(
                            f"key {row.purpose} v{row.version} is wrapped under master {row.master_fingerprint}, "
                            f"neither the current ({old_fp}) nor the new one ({new_fp})"
                        )
                    ids = {"tenant_id": tenant_id, "purpose": row.purpose, "version": row.version}
                    key = unwrap_key(old_master, bytes(row.wrapped_key), **ids)
                    await conn.execute(
                        sa.text(
                            "UPDATE data_keys SET wrapped_key = :w, master_fingerprint = :f "
                            "WHERE purpose = :p AND version = :v"
                        ),
                        {"w": wrap_key(new_master, key, **ids), "f": new_fp, "p": row.purpose, "v": row.version},
                    )
                    report.rewrapped += 1
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {exc}"
            log.error("master key rotation failed", tenant_id=tenant_id, error_type=type(exc).__name__)
        reports.append(report)
    return reports
