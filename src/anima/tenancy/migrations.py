"""Running the two Alembic environments: the platform schema once, every tenant schema in parallel.

Tenant migrations:

* each tenant migrates in **one transaction** on the admin engine, with ``search_path`` set
  transaction-locally to its schema, and records its revision in ``<schema>.alembic_version``;
* tenants whose registry revision already equals the head are **skipped without opening a
  migration context** (one query over the registry decides);
* up to ``ANIMA_MIGRATION_CONCURRENCY`` tenants migrate at once, in worker processes (Alembic's
  module-level ``context``/``op`` proxies forbid interleaving two migrations in one process);
* a failing tenant is rolled back to its last good revision, reported in the result and in
  ``platform.tenants.last_migration_error``, and the others go on.

A new tenant is not migrated from the base: :func:`build_tenant_at_head` creates its tables from
the metadata and stamps the head, in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from anima.db.base import TenantBase
from anima.db.engine import quote_ident
from anima.logs import get_logger
from anima.tenancy import registry

log = get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def alembic_config(side: str, migrations_dir: Path | None = None) -> Config:
    """An Alembic :class:`Config` for ``side`` ("platform" or "tenant"), without an ini file.

    ``migrations_dir`` replaces the repository's ``migrations/`` (tests and benchmarks use a copy).
    """
    if side not in ("platform", "tenant"):
        raise ValueError("side must be 'platform' or 'tenant'")
    cfg = Config()
    cfg.set_main_option("script_location", str((migrations_dir or MIGRATIONS_DIR) / side))
    return cfg


def head_revision(side: str, migrations_dir: Path | None = None) -> str:
    """The single head revision of ``side``'s migration scripts."""
    script = ScriptDirectory.from_config(alembic_config(side, migrations_dir))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no {side} migrations found in {(migrations_dir or MIGRATIONS_DIR) / side}")
    return head


async def upgrade_platform(admin: AsyncEngine) -> str:
    """Create schema ``platform`` if missing and upgrade it to head. Returns the head revision.

    Serialized across processes by a transaction-level advisory lock, so two servers starting at
    once do not both run the same migration.
    """
    cfg = alembic_config("platform")

    def _run(conn: Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('anima:migrate-platform'))"))
        conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS platform"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

    async with admin.begin() as conn:
        await conn.run_sync(_run)
    return head_revision("platform")


def _set_local_search_path(conn: Connection, schema: str) -> None:
    conn.execute(sa.text("SELECT set_config('search_path', :p, true)"), {"p": quote_ident(schema)})


def build_tenant_at_head_sync(conn: Connection, schema: str) -> str:
    """Inside the caller's transaction: create every tenant table in ``schema`` and stamp the head.

    Idempotent: tables that exist are left alone (``checkfirst``). Returns the head revision.
    Every model module is imported first: a process that never imported one (``anima serve``
    imports the controllers' models, not ``data_keys``) would otherwise build a tenant without it.
    """
    import anima.models  # noqa: F401  (complete TenantBase.metadata)

    _set_local_search_path(conn, schema)
    TenantBase.metadata.create_all(conn, checkfirst=True)
    head = head_revision("tenant")
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    ctx.stamp(ScriptDirectory.from_config(alembic_config("tenant")), head)
    return head


def upgrade_tenant_sync(
    conn: Connection, schema: str, target: str = "head", migrations_dir: Path | None = None
) -> str | None:
    """Inside the caller's transaction: run the tenant migrations on ``schema`` up to ``target``.

    Returns the revision the schema is at afterwards.
    """
    _set_local_search_path(conn, schema)
    cfg = alembic_config("tenant", migrations_dir)
    cfg.attributes["connection"] = conn
    cfg.attributes["tenant_schema"] = schema
    command.upgrade(cfg, target)
    return current_tenant_revision_sync(conn, schema)


def current_tenant_revision_sync(conn: Connection, schema: str) -> str | None:
    """The revision recorded in ``<schema>.alembic_version``, or None when unstamped."""
    exists = conn.execute(
        sa.text("SELECT to_regclass(:t)"), {"t": f"{quote_ident(schema)}.alembic_version"}
    ).scalar()
    if exists is None:
        return None
    return conn.execute(sa.text(f"SELECT version_num FROM {quote_ident(schema)}.alembic_version")).scalar()


@dataclass
class TenantMigrationResult:
    """What happened to one tenant: ``status`` is migrated, skipped or failed."""

    tenant_id: int
    slug: str
    status: str
    revision_before: str | None
    revision_after: str | None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class MigrationReport:
    """Result of one :func:`migrate_tenants` run."""

    head: str
    results: list[TenantMigrationResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[TenantMigrationResult]:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"migrated": 0, "skipped": 0, "failed": 0}
        for r in self.results:
            out[r.status] += 1
        return out


async def _migrate_one(
    admin: AsyncEngine, row: Any, target: str, migrations_dir: Path | None
) -> TenantMigrationResult:
    started = time.perf_counter()
    schema = row.schema_name
    try:
        async with admin.begin() as conn:
            after = await conn.run_sync(upgrade_tenant_sync, schema, target, migrations_dir)
            await registry.update(conn, row.id, revision=after, last_migration_error=None)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, the others go on
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        async with admin.begin() as conn:
            await registry.update(conn, row.id, last_migration_error=message)
        log.error("tenant migration failed", tenant_id=row.id, slug=row.slug, error=message)
        return TenantMigrationResult(
            row.id, row.slug, "failed", row.revision, row.revision, message, time.perf_counter() - started
        )
    return TenantMigrationResult(row.id, row.slug, "migrated", row.revision, after, None, time.perf_counter() - started)


@dataclass(frozen=True)
class _Row:
    id: int
    slug: str
    schema_name: str
    revision: str | None


def _migrate_batch_in_process(
    admin_url: str, rows: list[_Row], target: str, migrations_dir: str | None
) -> list[TenantMigrationResult]:
    """Worker-process entry: migrate ``rows`` one after another on an engine of this process."""
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list[TenantMigrationResult]:
        engine = create_async_engine(admin_url, poolclass=sa.NullPool)
        try:
            return [await _migrate_one(engine, r, target, Path(migrations_dir) if migrations_dir else None) for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


async def _run_bounded(
    admin: AsyncEngine, rows: list[Any], target: str, migrations_dir: Path | None, concurrency: int
) -> list[TenantMigrationResult]:
    """Migrate ``rows`` with at most ``concurrency`` at once.

    Alembic keeps its running environment in module-level proxies (``alembic.context``,
    ``alembic.op``), so two migrations cannot interleave in one process. Parallel runs therefore use
    worker processes, each migrating a share of the tenants one by one on its own connection.
    """
    if not rows:
        return []
    if concurrency <= 1 or len(rows) == 1:
        return [await _migrate_one(admin, r, target, migrations_dir) for r in rows]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(concurrency, len(rows))
    shares: list[list[_Row]] = [[] for _ in range(workers)]
    for i, r in enumerate(rows):
        shares[i % workers].append(_Row(r.id, r.slug, r.schema_name, r.revision))
    url = admin.url.render_as_string(hide_password=False)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            loop.run_in_executor(
                pool, _migrate_batch_in_process, url, share, target, str(migrations_dir) if migrations_dir else None
            )
            for share in shares
        ]
        batches = await asyncio.gather(*futures)
    return [result for batch in batches for result in batch]


async def migrate_tenants(
    admin: AsyncEngine,
    *,
    concurrency: int = 4,
    target: str = "head",
    slugs: list[str] | None = None,
    migrations_dir: Path | None = None,
) -> MigrationReport:
    """Migrate every active or suspended tenant (or those in ``slugs``) to ``target``.

    Args:
        admin: the admin engine.
        concurrency: tenants migrated at once (worker processes when above 1).
        target: an Alembic revision; "head" by default.
        slugs: restrict the run to these tenants.
        migrations_dir: a replacement for the repository's migrations directory.

    Returns:
        MigrationReport: one result per tenant considered, with timings.

    With ``concurrency`` above 1 the work runs in *spawned* worker processes, which re-import the
    calling program's main module: a script calling this must guard its entry point with
    ``if __name__ == "__main__":``.
    """
    started = time.perf_counter()
    head = head_revision("tenant", migrations_dir)
    goal = head if target == "head" else target
    async with admin.connect() as conn:
        rows, _ = await registry.listing(
            conn, registry.filtered(states=registry.LIVE_STATES, slugs=slugs, with_schema=True)
        )

    report = MigrationReport(head=head)
    todo = []
    for row in rows:
        if row.revision == goal:
            report.results.append(TenantMigrationResult(row.id, row.slug, "skipped", row.revision, row.revision))
        else:
            todo.append(row)
    report.results.extend(await _run_bounded(admin, todo, target, migrations_dir, concurrency))
    report.seconds = time.perf_counter() - started
    counts = report.counts()
    log.info("tenant migrations finished", head=head, seconds=round(report.seconds, 3), **counts)
    return report


async def tenant_revision(conn: AsyncConnection, schema: str) -> str | None:
    """Async wrapper of :func:`current_tenant_revision_sync`."""
    return await conn.run_sync(current_tenant_revision_sync, schema)
