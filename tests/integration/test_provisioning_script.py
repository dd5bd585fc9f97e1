"""A tenant provisioned by the one-script path has exactly the metadata's tables, the head stamp
and the privileges the isolation model needs: read and write everywhere through the schema's
default privileges, read-only ``alembic_version`` and ``data_keys``, append-only ``audit_events``,
and nothing for PUBLIC."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from anima.db.base import TenantBase
from anima.db.engine import Database
from anima.tenancy.migrations import head_revision
from anima.tenancy.provisioning import provision_tenant
from tests.integration.test_migrations_match_models import _describe, _import_every_model, _skip_version_table

#: tables whose privileges for the tenant role are narrowed at provisioning
NARROWED = {
    "alembic_version": {"SELECT"},
    "data_keys": {"SELECT"},
    "audit_events": {"SELECT", "INSERT"},
}
FULL = {"SELECT", "INSERT", "UPDATE", "DELETE"}


async def test_provisioned_tenant_matches_the_metadata_and_the_privilege_model(db: Database) -> None:
    _import_every_model()
    ref = await provision_tenant(db, slug=f"script-{secrets.token_hex(4)}")

    def compare(conn: Connection) -> list[Any]:
        conn.execute(sa.text("SELECT set_config('search_path', :s, true)"), {"s": ref.schema_name})
        context = MigrationContext.configure(
            conn, opts={"include_schemas": False, "include_name": _skip_version_table, "compare_type": True},
        )
        return compare_metadata(context, TenantBase.metadata)

    async with db.admin.connect() as conn:
        async with conn.begin():
            diffs = await conn.run_sync(compare)
        stamp = await conn.scalar(sa.text(f'SELECT version_num FROM "{ref.schema_name}".alembic_version'))
        rows = (await conn.execute(sa.text(
            "SELECT c.relname, p.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "CROSS JOIN LATERAL (SELECT unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE']) AS privilege_type) p "
            "WHERE n.nspname = :s AND c.relkind = 'r' AND has_table_privilege(:r, c.oid, p.privilege_type)"
        ), {"s": ref.schema_name, "r": ref.db_role})).all()
        public = await conn.scalar(sa.text(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind = 'r' AND has_table_privilege('public', c.oid, 'SELECT')"
        ), {"s": ref.schema_name})
        schema_public = await conn.scalar(sa.text("SELECT has_schema_privilege('public', :s, 'USAGE')"), {"s": ref.schema_name})

    assert not diffs, _describe(diffs)
    assert stamp == head_revision("tenant")
    granted: dict[str, set[str]] = {}
    for name, privilege in rows:
        granted.setdefault(name, set()).add(privilege)
    tables = set(TenantBase.metadata.tables) | {"alembic_version"}
    assert set(granted) == tables
    for name in tables:
        assert granted[name] == NARROWED.get(name, FULL), name
    assert public == 0 and schema_public is False
