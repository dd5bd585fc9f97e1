"""The soul-record migration, replayed on a tenant schema built at the previous revision, leaves the
audit trail append-only and the data keys read-only for the tenant role, as provisioning does."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from anima.tenancy.migrations import upgrade_tenant_sync


async def test_migration_revokes_on_existing_tenants(db):
    schema, role = f"tenant_mig_{secrets.token_hex(3)}", f"{db.prefix}_mig_{secrets.token_hex(3)}"
    async with db.admin.begin() as conn:
        admin = await conn.scalar(sa.text("SELECT current_user"))
        await conn.execute(sa.text(f'CREATE ROLE "{role}" NOLOGIN'))
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.execute(sa.text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        await conn.execute(sa.text(
            f'ALTER DEFAULT PRIVILEGES FOR ROLE "{admin}" IN SCHEMA "{schema}" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{role}"'
        ))
        await conn.run_sync(upgrade_tenant_sync, schema, "c80956455684")
    async with db.admin.begin() as conn:
        assert await conn.run_sync(upgrade_tenant_sync, schema, "56b965fccb4f") == "56b965fccb4f"
    async with db.admin.connect() as conn:
        found = {}
        for table in ("audit_events", "data_keys", "patients"):
            found[table] = {
                p for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
                if await conn.scalar(sa.text("SELECT has_table_privilege(:r, :t, :p)"), {"r": role, "t": f'"{schema}".{table}', "p": p})
            }
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await conn.execute(sa.text(f'DROP ROLE "{role}"'))
        await conn.commit()
    assert found == {
        "audit_events": {"SELECT", "INSERT"},
        "data_keys": {"SELECT"},
        "patients": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    }
