"""The migrations build exactly what the models declare (README: "Tenancy").

A new tenant is built from ``TenantBase.metadata`` and stamped at head; an existing tenant gets
there by replaying the tenant migrations. Both must give the same schema, or tenants provisioned
on different days drift apart. Likewise the platform migrations must build ``PlatformBase.metadata``.

Uses Alembic's own ``compare_metadata`` (the autogenerate comparison) against a real PostgreSQL.
"""

from __future__ import annotations

import importlib
import pkgutil
import secrets
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from anima.db.base import PlatformBase, TenantBase
from anima.db.engine import Database, quote_ident
from anima.tenancy.migrations import current_tenant_revision_sync, head_revision, upgrade_tenant_sync


def _import_every_model() -> None:
    """Make the metadata complete and independent of test order (every anima module imported)."""
    import anima.models  # noqa: F401

    for info in pkgutil.walk_packages(anima.__path__, "anima."):
        if info.name not in ("anima.asgi", "anima.__main__"):
            importlib.import_module(info.name)


def _skip_version_table(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    return not (type_ == "table" and name == "alembic_version")


def _platform_only(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    if type_ == "schema":
        return name == "platform"
    return _skip_version_table(name, type_, parent_names)


def _describe(diffs: list[Any]) -> str:
    """One short line per difference: the operation and the object it concerns."""
    lines = []
    for diff in diffs:
        if isinstance(diff, list):  # column-level modifications come grouped
            lines.extend(f"  {d[0]} {d[2]}.{d[3]}" for d in diff)
        elif diff[0] in ("add_table", "remove_table"):
            lines.append(f"  {diff[0]} {diff[1].name}")
        elif diff[0] in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
            lines.append(f"  {diff[0]} {diff[1].name} on {diff[1].table.name}")
        elif diff[0] in ("add_column", "remove_column"):
            lines.append(f"  {diff[0]} {diff[2]}.{diff[3].name}")
        else:
            lines.append(f"  {diff[0]} {str(diff[1:])[:200]}")
    return "\n".join(lines)


async def test_tenant_migrations_from_base_build_the_tenant_metadata(db: Database) -> None:
    _import_every_model()
    schema = f"tenant_contract_{secrets.token_hex(4)}"

    def run(conn: Connection) -> tuple[str | None, list[Any], list[str]]:
        conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(schema)}"))
        revision = upgrade_tenant_sync(conn, schema, "head")
        tables = sa.inspect(conn).get_table_names(schema=schema)
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": False,
                "include_name": _skip_version_table,
                "compare_type": True,
                "target_metadata": TenantBase.metadata,
            },
        )
        return revision, compare_metadata(context, TenantBase.metadata), tables

    async with db.admin.connect() as conn:
        transaction = await conn.begin()
        try:
            revision, diffs, tables = await conn.run_sync(run)
            assert await conn.scalar(sa.text("SELECT current_schema()")) == schema
        finally:
            await transaction.rollback()

    assert revision == head_revision("tenant")
    assert "alembic_version" in tables
    assert not diffs, f"tenant migrations at head differ from TenantBase.metadata:\n{_describe(diffs)}"


async def test_tenant_built_at_head_and_migrated_tenant_have_the_same_tables(db: Database) -> None:
    """Control for the comparison above: the metadata-built tenant compares clean too."""
    from anima.tenancy.migrations import build_tenant_at_head_sync

    _import_every_model()
    schema = f"tenant_contract_{secrets.token_hex(4)}"

    def run(conn: Connection) -> tuple[str | None, list[Any]]:
        conn.execute(sa.text(f"CREATE SCHEMA {quote_ident(schema)}"))
        build_tenant_at_head_sync(conn, schema)
        context = MigrationContext.configure(
            conn,
            opts={"include_schemas": False, "include_name": _skip_version_table, "compare_type": True},
        )
        return current_tenant_revision_sync(conn, schema), compare_metadata(context, TenantBase.metadata)

    async with db.admin.connect() as conn:
        transaction = await conn.begin()
        try:
            revision, diffs = await conn.run_sync(run)
        finally:
            await transaction.rollback()
    assert revision == head_revision("tenant")
    assert not diffs, _describe(diffs)


async def test_platform_migrations_build_the_platform_metadata(db: Database) -> None:
    _import_every_model()

    def run(conn: Connection) -> tuple[str | None, list[Any]]:
        version = conn.execute(sa.text("SELECT version_num FROM platform.alembic_version")).scalar()
        context = MigrationContext.configure(
            conn,
            opts={"include_schemas": True, "include_name": _platform_only, "compare_type": True},
        )
        return version, compare_metadata(context, PlatformBase.metadata)

    async with db.admin.connect() as conn:
        version, diffs = await conn.run_sync(run)
        await conn.rollback()
    assert version == head_revision("platform")
    assert not diffs, f"platform migrations at head differ from PlatformBase.metadata:\n{_describe(diffs)}"
