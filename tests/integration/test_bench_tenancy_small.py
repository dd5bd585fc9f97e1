"""The tenancy benchmark's measurement functions at tiny sizes, and the isolation it relies on.

bench/tenancy.py runs in a database of its own; so do these tests (created and dropped by the
module fixture), because the bench grants the app role a baseline schema directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from anima.db.engine import quote_ident
from anima.domains.settings.models import PracticeSettings
from anima.tenancy import migrations as tenant_migrations
from anima.tenancy.scope import SCOPE_BY_NAMES
from bench.tenancy import (
    BASELINE_MARKER,
    BASELINE_TENANT,
    BenchTenant,
    IsolationError,
    BENCH_REVISION,
    ROLE_ONLY,
    ReadFixture,
    bench_app,
    bench_settings,
    compare,
    connection_memory,
    drop_bench_database,
    http_reads,
    open_bench_database,
    prepare_reads,
    provision_tenants,
    read_variants,
    time_migrations,
)
from tests import conftest

@pytest.fixture(scope="module")
async def bench() -> AsyncIterator[tuple[ReadFixture, object, list]]:
    settings = bench_settings(conftest.test_environ(), workers=2)
    db = await open_bench_database(settings)
    try:
        tenants, timing = await provision_tenants(db, 3, samples=1, concurrency=2)
        # the third tenant exists but the bench user is not its member
        fx = await prepare_reads(db, settings, tenants[:2])
        try:
            yield fx, timing, tenants
        finally:
            await fx.dispose()
    finally:
        await drop_bench_database(db)


async def test_provisioning_timings_are_positive(bench):
    _, timing, tenants = bench
    assert len(tenants) == 3
    assert timing.first > 0
    assert timing.median > 0
    assert timing.p95 >= timing.median


async def test_every_database_variant_reads_its_own_tenant_row(bench):
    fx, _, _ = bench
    reads = read_variants(fx)
    assert set(reads) == {"baseline", "check", "scope", "stm", "member", "stm+member"}
    for tenant in fx.tenants:
        for name, read in reads.items():
            expected = BASELINE_MARKER if name in ("baseline", "check") else tenant.marker
            assert await read(tenant) == expected, name
    assert fx.tenants[0].marker != fx.tenants[1].marker


async def test_database_comparison_gives_positive_throughput(bench):
    fx, _, _ = bench
    result = await compare(read_variants(fx), fx.tenants, requests=20, workers=2, rounds=1, warmup=2)
    assert set(result.rps) == set(result.ratio) == {"baseline", "check", "scope", "stm", "member", "stm+member"}
    assert all(rps > 0 for rps in result.rps.values())
    # one round: each ratio is the variant's throughput over the baseline measured around it
    assert result.ratio == {name: rps / result.rps["baseline"] for name, rps in result.rps.items()}


async def test_comparison_ratios_measure_throughput_against_the_baseline():
    """Reads of known cost (sleeps): a variant four times slower than the baseline gets a ratio
    near 0.25, an equally fast one near 1, and a read of the wrong tenant's row is an error."""
    tenants = [BenchTenant(i, f"t{i}", f"tenant_{i}", f"role_{i}") for i in (1, 2)]

    def sleeping(seconds: float, wrong: bool = False):
        async def read(tenant: BenchTenant) -> str:
            await asyncio.sleep(seconds)
            if wrong:
                return tenants[0].marker if tenant is tenants[1] else tenants[1].marker
            return BASELINE_MARKER if tenant is BASELINE_TENANT else tenant.marker
        return read

    reads = {"baseline": sleeping(0.005), "same": sleeping(0.005), "slow": sleeping(0.020)}
    result = await compare(reads, tenants, requests=24, workers=1, rounds=2, warmup=1)
    assert result.rps["slow"] < result.rps["same"] and result.rps["slow"] < result.rps["baseline"]
    assert 0.1 < result.ratio["slow"] < 0.5, result.ratio  # 0.25 plus scheduling overhead on both sides
    assert 0.5 < result.ratio["same"] < 2.0, result.ratio
    with pytest.raises(IsolationError):
        await compare({"baseline": sleeping(0), "crossed": sleeping(0, wrong=True)}, tenants, requests=4, workers=1, rounds=1, warmup=1)


async def test_http_variants_read_own_row_and_refuse_non_members(bench):
    fx, _, tenants = bench
    app = bench_app(fx)
    async with http_reads(fx, app) as reads:
        assert set(reads) == {"baseline", "check", "routed", "stm"}
        for tenant in fx.tenants:
            assert await reads["check"](tenant) == BASELINE_MARKER
            assert await reads["routed"](tenant) == tenant.marker
            assert await reads["stm"](tenant) == tenant.marker
        result = await compare(reads, fx.tenants, requests=20, workers=2, rounds=1, warmup=2)
        assert all(rps > 0 for rps in result.rps.values())
        assert result.ratio == {name: rps / result.rps["baseline"] for name, rps in result.rps.items()}
        outsider = tenants[2]
        for name in ("check", "routed", "stm"):
            with pytest.raises(AssertionError, match="404"):
                await reads[name](outsider)


async def test_schema_translate_map_needs_the_role_switch(bench):
    """Without the role switch the NOINHERIT app role reads no tenant table; with it, only its own."""
    fx, _, _ = bench
    a, b = fx.tenants
    select = sa.select(PracticeSettings.timezone).where(PracticeSettings.id == 1)
    async with fx.app_maker() as s:
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            async with s.begin():
                await s.execute(select, execution_options={"schema_translate_map": {None: a.schema}})
    async with fx.app_maker() as s:
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            async with s.begin():
                await s.execute(ROLE_ONLY, {"role": a.role})
                await s.execute(select, execution_options={"schema_translate_map": {None: b.schema}})
    async with fx.app_maker() as s, s.begin():
        await s.execute(ROLE_ONLY, {"role": a.role})
        got = await s.scalar(select, execution_options={"schema_translate_map": {None: a.schema}})
    assert got == a.marker


async def test_scoped_transaction_cannot_name_another_tenant(bench):
    """Scoped to A, the unqualified read is A's row and naming B's schema is refused by PostgreSQL."""
    fx, _, _ = bench
    a, b = fx.tenants
    async with fx.app_maker() as s:
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            async with s.begin():
                await s.execute(SCOPE_BY_NAMES, {"search_path": quote_ident(a.schema), "role": a.role})
                assert await s.scalar(sa.text("SELECT timezone FROM practice_settings")) == a.marker
                await s.execute(sa.text(f"SELECT timezone FROM {quote_ident(b.schema)}.practice_settings"))


async def test_connection_memory_is_measured_and_recycled(bench):
    fx, _, _ = bench
    memory = await connection_memory(fx, max_uses=1)
    assert memory.tenants == 2
    assert memory.fresh and memory.fresh > 0
    assert memory.all_tenants and memory.all_tenants > 0
    assert memory.one_tenant and memory.one_tenant > 0
    assert memory.recycled_max and memory.recycled_max > 0
    assert memory.backends_used == 2  # max_uses=1: each checkout got a new backend


async def test_migration_timing_applies_a_throwaway_revision_outside_the_repository(bench):
    fx, _, tenants = bench
    repo_versions = sorted(p.name for p in (tenant_migrations.MIGRATIONS_DIR / "tenant" / "versions").glob("*.py"))
    timing = await time_migrations(fx.db, concurrency=2)  # worker processes, as the bench runs it
    assert timing.tenants == 3
    assert timing.nothing_counts == {"migrated": 0, "skipped": 3, "failed": 0}
    assert timing.one_counts == {"migrated": 3, "skipped": 0, "failed": 0}
    assert timing.nothing_to_do > 0 and timing.one_revision > 0 and timing.per_tenant_median > 0
    async with fx.db.admin.connect() as conn:
        columns = (
            await conn.execute(
                sa.text(
                    "SELECT table_schema FROM information_schema.columns "
                    "WHERE table_name = 'practice_settings' AND column_name = 'bench_note'"
                )
            )
        ).scalars().all()
        revisions = (await conn.execute(sa.text("SELECT DISTINCT revision FROM platform.tenants"))).scalars().all()
    assert sorted(columns) == sorted(t.schema for t in tenants)
    assert revisions == [BENCH_REVISION]
    after = sorted(p.name for p in (tenant_migrations.MIGRATIONS_DIR / "tenant" / "versions").glob("*.py"))
    assert after == repo_versions
    assert not any(BENCH_REVISION in name for name in after)
    assert tenant_migrations.MIGRATIONS_DIR == Path(__file__).resolve().parents[2] / "migrations"
