"""Tenancy benchmark: routed reads, provisioning, migrations and connection memory.

Run::

    /work/venv/bin/python bench/tenancy.py [--tenants 1,100,1000] [--requests 6000] [--json out.json]

It uses ``DATABASE_URL`` (or the embedded PostgreSQL, like the app), creates a database
``anima_bench_<random>`` of its own, and drops it and every role with its prefix at the end.

What it measures, each against a baseline measured in the same run:

* **Routed read** — a transaction that enters a tenant and reads its one ``practice_settings``
  row through the ORM (``session.get``), on the app engine (NOINHERIT login role), with a pool
  of ``--workers`` connections and as many concurrent workers, round robin over 1, 100, 1,000
  tenants. Variants (database level):

  - ``baseline``: one schema only, no scoping statement (a schema ``bench_baseline`` the app role
    is granted directly, ``search_path`` fixed at connect): BEGIN; SELECT; COMMIT.
  - ``check``: still one schema, but with the membership and live-session check requests need
    (what a single-schema app would also run): the fair yardstick for the cost of routing alone.
  - ``scope``: one round trip ``set_config('search_path')`` + ``set_config('role')``, then the
    same SELECT (:data:`anima.tenancy.scope.SCOPE_BY_NAMES`).
  - ``stm``: ``set_config('role')`` only (the isolation guarantee needs the role switch), then the
    SELECT with ``execution_options(schema_translate_map={None: schema})``.
  - ``member``: what requests do — :func:`anima.tenancy.scope.enter_as_member` (slug, membership,
    live auth session and both settings in one statement), then the SELECT.
  - ``stm+member``: the same membership statement setting the role only, then the
    ``schema_translate_map`` SELECT.

  and through HTTP on the real ASGI app (``create_app``, httpx ``ASGITransport``), where the HTTP
  stack's cost is included: ``baseline`` (a bench route: token check, then the one-schema read),
  ``check`` (a bench route adding the member check to it), ``routed`` (the real ``GET /api/v1/orgs/{slug}/settings``) and ``stm`` (a bench route doing the
  ``stm+member`` read). Every read checks that it returned the row of the tenant it asked for.
* **Provisioning** — one tenant cold, then median and p95 over ``--provision-samples`` tenants
  provisioned one at a time (:func:`anima.tenancy.provisioning.provision_tenant`).
* **Provisioning curve** (``--curve 1000,5000,10000``, that phase only) — the median and p95 of
  ``--provision-samples`` tenants provisioned one at a time with 0 tenants, then after filling up
  to each checkpoint with real tenants (``--fill-concurrency`` at a time), with ``pg_class``'s size
  at each point; stops at a checkpoint it cannot reach within ``--budget`` seconds and says where.
* **Migrations** — :func:`anima.tenancy.migrations.migrate_tenants` over all tenants with nothing
  to do, then with one throwaway revision (adds a nullable column) written into a temporary copy
  of ``migrations/`` (the repository's directory is never written).
* **Connection memory** — ``sum(total_bytes)`` of ``pg_backend_memory_contexts`` of one app
  connection after serving one tenant repeatedly, after serving every tenant, and the maximum
  seen on a pool whose connections are recycled after ``--memory-max-uses`` checkouts
  (``ANIMA_DB_CONNECTION_MAX_USES``, :func:`anima.db.engine._install_max_uses`).

The core functions are importable (tests/integration/test_bench_tenancy_small.py runs them at
tiny sizes).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import itertools
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from litestar import Litestar, get
from litestar.datastructures import State
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

import anima.models  # noqa: F401  (both metadata objects complete before provisioning)
from anima.app import create_app
from anima.config import Settings, load_settings
from anima.db.base import TenantBase
from anima.db.engine import Database, create_engine, open_database, quote_ident
from anima.db.setup import migrate_platform
from anima.domains.settings.models import PracticeSettings
from anima.domains.settings.schemas import SettingsOut
from anima.domains.settings.services import to_out
from anima.runtime import runtime_of
from anima.problems import NotFound
from anima.identity.models import AuthSession, Membership, User
from anima.identity.rate_limit import RateLimits
from anima.identity.tokens import AccessClaims, issue_access_token
from anima.logs import configure_logging
from anima.tenancy import migrations as tenant_migrations
from anima.tenancy.provisioning import provision_tenant
from anima.tenancy.scope import SCOPE_BY_NAMES, enter_as_member

BASELINE_SCHEMA = "bench_baseline"
BASELINE_MARKER = f"bench:{BASELINE_SCHEMA}"  # what BASELINE_TENANT.marker says

#: the role switch alone, for the schema_translate_map variant
ROLE_ONLY = sa.text("SELECT set_config('role', :role, true)")

#: enter_as_member's statement without the search_path: membership + live session + role switch
MEMBER_ROLE_ONLY = sa.text(
    """
    SELECT t.id, t.state, t.schema_name, m.role,
           CASE WHEN t.state = 'active' THEN set_config('role', t.db_role, true) END AS db_role
    FROM platform.tenants t
    JOIN platform.memberships m ON m.tenant_id = t.id AND m.user_id = :user_id
    JOIN platform.auth_sessions s ON s.id = :session_id AND s.user_id = :user_id
         AND s.revoked_at IS NULL AND s.expires_at > now()
    WHERE t.slug = :slug
    """
)

#: the same membership and live-session check with no scoping: what a single-schema app would run
MEMBER_CHECK_ONLY = sa.text(
    """
    SELECT t.id, t.state, m.role
    FROM platform.tenants t
    JOIN platform.memberships m ON m.tenant_id = t.id AND m.user_id = :user_id
    JOIN platform.auth_sessions s ON s.id = :session_id AND s.user_id = :user_id
         AND s.revoked_at IS NULL AND s.expires_at > now()
    WHERE t.slug = :slug
    """
)

_SETTINGS_BY_ID = sa.select(PracticeSettings).where(PracticeSettings.id == 1)


class IsolationError(AssertionError):
    """A read returned another tenant's row (or none): the bench stops, its numbers are void."""


@dataclass(frozen=True)
class BenchTenant:
    """A provisioned bench tenant: registry id, slug, schema, role and the marker its row carries."""

    id: int
    slug: str
    schema: str
    role: str

    @property
    def marker(self) -> str:
        """The ``practice_settings.timezone`` value the bench writes into this tenant's row."""
        return f"bench:{self.schema}"


BASELINE_TENANT = BenchTenant(0, "baseline", BASELINE_SCHEMA, "")


@dataclass
class ReadFixture:
    """Everything the read variants need: engines, session factories and the member identity."""

    db: Database
    settings: Settings
    tenants: list[BenchTenant]
    baseline_engine: AsyncEngine
    baseline_maker: async_sessionmaker
    app_maker: async_sessionmaker
    user_id: uuid.UUID
    session_id: uuid.UUID

    async def dispose(self) -> None:
        await self.baseline_engine.dispose()


# --------------------------------------------------------------------------------------------
# database and tenants


def bench_settings(environ: dict[str, str] | None = None, *, workers: int = 8) -> Settings:
    """Settings for a bench run: the environment's, with throwaway secrets and a pool of ``workers``.

    The secrets are generated per run (nothing is written to ``ANIMA_DATA_DIR/secrets.json``);
    logging is at ``warning`` so per-tenant info lines do not slow the run.
    """
    env = dict(os.environ if environ is None else environ)
    env.setdefault("ANIMA_SECRET_KEY", secrets.token_urlsafe(48))
    env.setdefault("ANIMA_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    env["ANIMA_ENV"] = "development"
    env["ANIMA_LOG_LEVEL"] = "warning"
    env["ANIMA_DB_POOL_SIZE"] = str(workers)
    return load_settings(env)


async def open_bench_database(settings: Settings, name: str | None = None) -> Database:
    """Create ``anima_bench_<random>`` (or ``name``), migrate the platform schema, grant the app role.

    The app role may also read ``pg_backend_memory_contexts`` of its own backend (superuser-only
    by default before PostgreSQL 16); when the admin role cannot grant that, the memory figures
    are reported as unavailable.
    """
    db = await open_database(settings, database=name or f"anima_bench_{secrets.token_hex(4)}")
    await migrate_platform(db)
    with contextlib.suppress(sa.exc.DBAPIError):
        async with db.admin.begin() as conn:
            app = quote_ident(db.app_role)
            await conn.execute(sa.text(f"GRANT SELECT ON pg_catalog.pg_backend_memory_contexts TO {app}"))
            await conn.execute(
                sa.text(f"GRANT EXECUTE ON FUNCTION pg_catalog.pg_get_backend_memory_contexts() TO {app}")
            )
    return db


async def drop_bench_database(db: Database) -> None:
    """Dispose of the engines, drop the bench database and every role with its prefix."""
    await db.dispose()
    server = create_async_engine(
        db.admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db.database}" WITH (FORCE)'))
            roles = (
                await conn.execute(
                    sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": db.prefix + "\\_%"}
                )
            ).scalars().all()
            for role in roles:
                await conn.execute(sa.text(f"DROP ROLE IF EXISTS {quote_ident(role)}"))
    finally:
        await server.dispose()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    index = q * (len(ordered) - 1)
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


@dataclass
class ProvisioningTiming:
    """Seconds to provision: the first tenant (cold), then ``samples`` one at a time."""

    first: float
    samples: list[float]
    rest_count: int = 0
    rest_seconds: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return _percentile(self.samples, 0.95)


async def _provision(db: Database, slug: str) -> BenchTenant:
    ref = await provision_tenant(db, slug=slug, actor="bench")
    return BenchTenant(ref.id, ref.slug, ref.schema_name, ref.db_role)


async def provision_tenants(
    db: Database, count: int, *, samples: int = 20, concurrency: int = 4, slug_prefix: str = "bench"
) -> tuple[list[BenchTenant], ProvisioningTiming]:
    """Provision ``count`` tenants: one cold and ``samples`` timed one by one, the rest in parallel.

    The rest are set up with ``asyncio.gather`` under a semaphore of ``concurrency`` (bench
    setup, not a measured figure, though its wall time is reported).

    Returns:
        The tenants in id order and the timings (seconds).
    """
    tenants: list[BenchTenant] = []
    timed = min(count, 1 + samples)
    durations: list[float] = []
    for i in range(timed):
        started = time.perf_counter()
        tenants.append(await _provision(db, f"{slug_prefix}-{i:05d}"))
        durations.append(time.perf_counter() - started)
    timing = ProvisioningTiming(first=durations[0], samples=durations[1:] or durations[:1])

    semaphore = asyncio.Semaphore(concurrency)

    async def bounded(i: int) -> BenchTenant:
        async with semaphore:
            return await _provision(db, f"{slug_prefix}-{i:05d}")

    started = time.perf_counter()
    tenants.extend(await asyncio.gather(*(bounded(i) for i in range(timed, count))))
    timing.rest_count, timing.rest_seconds = count - timed, time.perf_counter() - started
    tenants.sort(key=lambda t: t.id)
    return tenants, timing


async def prepare_reads(db: Database, settings: Settings, tenants: list[BenchTenant]) -> ReadFixture:
    """Set up the routed-read comparison.

    * marks each tenant's ``practice_settings`` row (``timezone = bench:<schema>``) so that every
      read can check it got its own tenant's row;
    * creates the baseline schema (the tenant tables, one row) and grants the app role on it
      directly, and an engine whose connections have ``search_path`` fixed to it;
    * creates a user with a live auth session who is OWNER of every bench tenant.
    """
    async with db.admin.begin() as conn:
        for tenant in tenants:
            await conn.execute(
                sa.text(f"UPDATE {quote_ident(tenant.schema)}.practice_settings SET timezone = :m WHERE id = 1"),
                {"m": tenant.marker},
            )
        await conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {BASELINE_SCHEMA}"))
        await conn.execute(sa.text("SELECT set_config('search_path', :p, true)"), {"p": BASELINE_SCHEMA})
        await conn.run_sync(lambda sync: TenantBase.metadata.create_all(sync, checkfirst=True))
        await conn.execute(
            sa.text(
                "INSERT INTO practice_settings (id, people_label, locale, timezone) "
                "VALUES (1, 'Patient', 'en', :m) ON CONFLICT (id) DO UPDATE SET timezone = :m"
            ),
            {"m": BASELINE_MARKER},
        )
        app = quote_ident(db.app_role)
        await conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {BASELINE_SCHEMA} TO {app}"))
        await conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {BASELINE_SCHEMA} TO {app}"))

        user_id, session_id = uuid.uuid4(), uuid.uuid4()
        far = datetime_in(days=7)
        await conn.execute(
            sa.insert(User).values(
                id=user_id, email=f"bench.{user_id.hex[:10]}@example.org", password_hash="!", display_name="Bench"
            )
        )
        await conn.execute(
            sa.insert(AuthSession).values(id=session_id, user_id=user_id, idle_expires_at=far, expires_at=far)
        )
        if tenants:
            await conn.execute(
                sa.insert(Membership),
                [{"id": uuid.uuid4(), "tenant_id": t.id, "user_id": user_id, "role": "OWNER"} for t in tenants],
            )

    baseline_engine = create_engine(db.app_url, settings)

    @event.listens_for(baseline_engine.sync_engine, "connect")
    def _fixed_search_path(dbapi_conn: Any, record: Any) -> None:  # noqa: ARG001
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET search_path TO {BASELINE_SCHEMA}")
        cursor.close()

    return ReadFixture(
        db=db,
        settings=settings,
        tenants=tenants,
        baseline_engine=baseline_engine,
        baseline_maker=async_sessionmaker(baseline_engine, expire_on_commit=False),
        app_maker=db.sessionmaker(),
        user_id=user_id,
        session_id=session_id,
    )


def datetime_in(*, days: int) -> datetime.datetime:
    """Now (UTC) plus ``days``."""
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)


# --------------------------------------------------------------------------------------------
# routed reads, database level

Read = Callable[[BenchTenant], Awaitable[str]]


def read_variants(fx: ReadFixture) -> dict[str, Read]:
    """The database-level variants, each one transaction returning the row's marker."""

    async def baseline(tenant: BenchTenant) -> str:  # noqa: ARG001 - one schema whatever the tenant
        async with fx.baseline_maker() as s, s.begin():
            return (await s.get(PracticeSettings, 1)).timezone

    async def check(tenant: BenchTenant) -> str:  # one schema, but the member check requests need
        async with fx.baseline_maker() as s, s.begin():
            row = (
                await s.execute(
                    MEMBER_CHECK_ONLY, {"slug": tenant.slug, "user_id": fx.user_id, "session_id": fx.session_id}
                )
            ).first()
            if row is None:
                raise IsolationError(f"member of {tenant.slug} not admitted")
            return (await s.get(PracticeSettings, 1)).timezone

    async def scope(tenant: BenchTenant) -> str:
        async with fx.app_maker() as s, s.begin():
            await s.execute(SCOPE_BY_NAMES, {"search_path": quote_ident(tenant.schema), "role": tenant.role})
            return (await s.get(PracticeSettings, 1)).timezone

    async def stm(tenant: BenchTenant) -> str:
        async with fx.app_maker() as s, s.begin():
            await s.execute(ROLE_ONLY, {"role": tenant.role})
            row = await s.get(
                PracticeSettings, 1, execution_options={"schema_translate_map": {None: tenant.schema}}
            )
            return row.timezone

    async def member(tenant: BenchTenant) -> str:
        async with fx.app_maker() as s, s.begin():
            scoped = await enter_as_member(s, slug=tenant.slug, user_id=fx.user_id, session_id=fx.session_id)
            if scoped is None or not scoped.active:
                raise IsolationError(f"member of {tenant.slug} not admitted")
            return (await s.get(PracticeSettings, 1)).timezone

    async def stm_member(tenant: BenchTenant) -> str:
        async with fx.app_maker() as s, s.begin():
            row = (
                await s.execute(
                    MEMBER_ROLE_ONLY, {"slug": tenant.slug, "user_id": fx.user_id, "session_id": fx.session_id}
                )
            ).first()
            if row is None or row.db_role is None:
                raise IsolationError(f"member of {tenant.slug} not admitted")
            got = await s.get(PracticeSettings, 1, execution_options={"schema_translate_map": {None: row.schema_name}})
            return got.timezone

    return {
        "baseline": baseline,
        "check": check,
        "scope": scope,
        "stm": stm,
        "member": member,
        "stm+member": stm_member,
    }


#: variants that read the one baseline schema whatever tenant they are given
ONE_SCHEMA = frozenset({"baseline", "check"})


async def run_load(
    read: Read, tenants: list[BenchTenant], total: int, workers: int, *, expect: str | None = None
) -> float:
    """Run ``total`` reads round robin over ``tenants`` with ``workers`` concurrent workers.

    Each read must return its tenant's marker (``expect`` instead, for one-schema variants).

    Returns:
        Throughput in reads per second.

    Raises:
        IsolationError: a read returned another tenant's row.
    """
    counter = itertools.count()

    async def worker() -> None:
        while (i := next(counter)) < total:
            tenant = tenants[i % len(tenants)]
            got = await read(tenant)
            if got != (expect or tenant.marker):
                raise IsolationError(f"asked {expect or tenant.marker}, got {got}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return total / (time.perf_counter() - started)


@dataclass
class Comparison:
    """Per variant: median throughput (reads/s) and median ratio to the baseline of the same round."""

    rps: dict[str, float]
    ratio: dict[str, float]


async def compare(
    reads: dict[str, Read],
    tenants: list[BenchTenant],
    *,
    requests: int,
    workers: int,
    rounds: int = 10,
    warmup: int | None = None,
) -> Comparison:
    """Compare the variants of ``reads`` (one of them named ``baseline``) over ``tenants``.

    Each variant first runs a warm-up (by default one pass over the tenants, at most 2,000 reads,
    at least ``workers``) so that connections are open. Then ``rounds`` rounds: each runs the
    baseline, every other variant (order rotated per round), and the baseline again, each for
    ``requests // rounds`` reads; a variant's ratio in that round is its throughput over the mean
    of the two baseline runs around it. Pairing in time keeps the ratios meaningful on a machine
    whose load drifts (a shared CI box); medians over the rounds are reported.

    Raises:
        IsolationError: a read returned another tenant's row.
    """
    others = [n for n in reads if n != "baseline"]
    per_round = max(workers, requests // rounds)
    warm = warmup if warmup is not None else max(workers, min(len(tenants), 2000))
    def load(name: str, total: int) -> Awaitable[float]:
        targets = [BASELINE_TENANT] if name == "baseline" else tenants
        return run_load(reads[name], targets, total, workers, expect=BASELINE_MARKER if name in ONE_SCHEMA else None)

    for name in reads:
        await load(name, warm)
    rps: dict[str, list[float]] = {n: [] for n in reads}
    ratio: dict[str, list[float]] = {n: [] for n in reads}
    for r in range(rounds):
        before = await load("baseline", per_round)
        measured = {}
        for name in others[r % len(others):] + others[: r % len(others)]:
            measured[name] = await load(name, per_round)
        after = await load("baseline", per_round)
        base = (before + after) / 2
        rps["baseline"].append(base)
        ratio["baseline"].append(1.0)
        for name, value in measured.items():
            rps[name].append(value)
            ratio[name].append(value / base)
    return Comparison(
        rps={n: statistics.median(v) for n, v in rps.items()},
        ratio={n: statistics.median(v) for n, v in ratio.items()},
    )


# --------------------------------------------------------------------------------------------
# routed reads, HTTP level


@get("/bench/baseline/settings", include_in_schema=False)
async def baseline_settings_route(claims: AccessClaims, state: State) -> SettingsOut:  # noqa: ARG001
    """Bench-only: a verified token, then the one-schema read (no tenant, no scoping)."""
    fx: ReadFixture = state["bench"]
    async with fx.baseline_maker() as s, s.begin():
        return to_out(await s.get(PracticeSettings, 1))


@get("/bench/check/{org_slug:str}/settings", include_in_schema=False)
async def check_settings_route(org_slug: str, claims: AccessClaims, state: State) -> SettingsOut:
    """Bench-only: the single-schema equivalent of the real route (member check, one-schema read)."""
    fx: ReadFixture = state["bench"]
    async with fx.baseline_maker() as s, s.begin():
        row = (
            await s.execute(
                MEMBER_CHECK_ONLY, {"slug": org_slug, "user_id": claims.user_id, "session_id": claims.session_id}
            )
        ).first()
        if row is None:
            raise NotFound(f"organization {org_slug!r} not found")
        return to_out(await s.get(PracticeSettings, 1))


@get("/bench/stm/{org_slug:str}/settings", include_in_schema=False)
async def stm_settings_route(org_slug: str, claims: AccessClaims, state: State) -> SettingsOut:
    """Bench-only: membership + role switch in one statement, then the schema_translate_map read."""
    async with runtime_of(state).sessionmaker() as s, s.begin():
        row = (
            await s.execute(
                MEMBER_ROLE_ONLY, {"slug": org_slug, "user_id": claims.user_id, "session_id": claims.session_id}
            )
        ).first()
        if row is None or row.db_role is None:
            raise NotFound(f"organization {org_slug!r} not found")
        got = await s.get(PracticeSettings, 1, execution_options={"schema_translate_map": {None: row.schema_name}})
        return to_out(got)


def bench_app(fx: ReadFixture) -> Litestar:
    """The real application on the bench database, plus the two bench-only routes."""
    app = create_app(fx.settings, database=fx.db, rate_limits=RateLimits().scaled(1000))
    app.state["bench"] = fx
    app.register(baseline_settings_route)
    app.register(check_settings_route)
    app.register(stm_settings_route)
    return app


@contextlib.asynccontextmanager
async def http_reads(fx: ReadFixture, app: Litestar) -> AsyncIterator[dict[str, Read]]:
    """The HTTP-level variants on an httpx client driving ``app`` in this event loop.

    A fresh access token is issued on entry (they live 10 minutes).
    """
    token, _ = issue_access_token(
        fx.settings.secret_key, user_id=fx.user_id, session_id=fx.session_id, is_operator=False
    )
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:

        def via(path: Callable[[BenchTenant], str]) -> Read:
            async def read(tenant: BenchTenant) -> str:
                response = await client.get(path(tenant))
                if response.status_code != 200:
                    raise IsolationError(f"{path(tenant)}: {response.status_code} {response.text[:200]}")
                return response.json()["timezone"]

            return read

        yield {
            "baseline": via(lambda t: "/bench/baseline/settings"),
            "check": via(lambda t: f"/bench/check/{t.slug}/settings"),
            "routed": via(lambda t: f"/api/v1/orgs/{t.slug}/settings"),
            "stm": via(lambda t: f"/bench/stm/{t.slug}/settings"),
        }


# --------------------------------------------------------------------------------------------
# connection memory


@dataclass
class MemoryReport:
    """Bytes of one backend's memory contexts (``None`` when the view could not be read)."""

    fresh: int | None
    one_tenant: int | None
    all_tenants: int | None
    recycled_max: int | None
    max_uses: int
    tenants: int
    backends_used: int = 0


_MEMORY = sa.text("SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts")


async def _backend_memory(conn: Any) -> int | None:
    try:
        async with conn.begin():
            return int(await conn.scalar(_MEMORY))
    except sa.exc.DBAPIError:
        return None


async def _scoped_read(conn: Any, tenant: BenchTenant) -> None:
    async with conn.begin():
        await conn.execute(SCOPE_BY_NAMES, {"search_path": quote_ident(tenant.schema), "role": tenant.role})
        got = (await conn.execute(_SETTINGS_BY_ID)).first()
        if got is None or got.timezone != tenant.marker:
            raise IsolationError(f"asked {tenant.marker}")


async def connection_memory(fx: ReadFixture, *, max_uses: int = 200) -> MemoryReport:
    """Memory of one app connection after one tenant, after all tenants, and with recycling.

    * ``one_tenant``: a connection that read the first tenant ``len(tenants)`` times;
    * ``all_tenants``: a connection that read every tenant once (no recycling);
    * ``recycled_max``: a pool of one connection replaced after ``max_uses`` checkouts (the app's
      mechanism), reading every tenant once; the largest value sampled every 50 checkouts and at
      each connection's last checkout.
    """
    tenants = fx.tenants
    single = create_async_engine(fx.db.app_url, pool_size=1, max_overflow=0)
    try:
        async with single.connect() as conn:
            fresh = await _backend_memory(conn)
            for _ in tenants:
                await _scoped_read(conn, tenants[0])
            one = await _backend_memory(conn)
        await single.dispose()
        async with single.connect() as conn:
            for tenant in tenants:
                await _scoped_read(conn, tenant)
            every = await _backend_memory(conn)
    finally:
        await single.dispose()

    pooled = create_engine(fx.db.app_url, msgspec.structs.replace(fx.settings, db_connection_max_uses=max_uses), pool_size=1)
    peak: int | None = None
    pids: set[int] = set()
    try:
        for tenant in tenants:
            async with pooled.connect() as conn:
                await _scoped_read(conn, tenant)
                uses = conn.info.get("anima_uses", 0)
                if uses % 50 == 0 or uses == max_uses or tenant is tenants[-1]:
                    pids.add(int(await conn.scalar(sa.text("SELECT pg_backend_pid()"))))
                    await conn.commit()
                    sample = await _backend_memory(conn)
                    if sample is not None:
                        peak = sample if peak is None else max(peak, sample)
    finally:
        await pooled.dispose()
    return MemoryReport(fresh, one, every, peak, max_uses, len(tenants), len(pids))


# --------------------------------------------------------------------------------------------
# migrations

BENCH_REVISION = "bench0000001"

_REVISION_FILE = '''"""bench only: a nullable column on practice_settings

Revision ID: {rev}
Revises: {down}
"""
import sqlalchemy as sa
from alembic import op

revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("practice_settings", sa.Column("bench_note", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("practice_settings", "bench_note")
'''


@contextlib.contextmanager
def temporary_migrations() -> Iterator[Path]:
    """A temporary copy of the repository's ``migrations/`` (removed on exit); nothing is patched.

    It is passed to :func:`migrate_tenants` as ``migrations_dir``, which also reaches its worker
    processes; the repository's directory is never written.
    """
    tmp = Path(tempfile.mkdtemp(prefix="anima-bench-migrations-"))
    try:
        copy = tmp / "migrations"
        shutil.copytree(tenant_migrations.MIGRATIONS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
        yield copy
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def add_bench_revision(migrations_dir: Path) -> str:
    """Write the throwaway tenant revision (adds ``practice_settings.bench_note``) after the head."""
    down = tenant_migrations.head_revision("tenant", migrations_dir)
    path = migrations_dir / "tenant" / "versions" / f"{BENCH_REVISION}_bench_note.py"
    path.write_text(_REVISION_FILE.format(rev=BENCH_REVISION, down=down))
    return BENCH_REVISION


@dataclass
class MigrationTiming:
    """Seconds of :func:`migrate_tenants` runs and their outcome counts."""

    tenants: int
    nothing_to_do: float
    nothing_counts: dict[str, int]
    one_revision: float
    one_counts: dict[str, int]
    per_tenant_median: float
    nothing_after: float


async def time_migrations(db: Database, *, concurrency: int = 4) -> MigrationTiming:
    """Time migrating all tenants with nothing to do, then with one new revision, then nothing again.

    The revision lives in a temporary copy of ``migrations/`` (see :func:`temporary_migrations`).
    """
    migrate = tenant_migrations.migrate_tenants
    noop = await migrate(db.admin, concurrency=concurrency)
    with temporary_migrations() as copy:
        add_bench_revision(copy)
        one = await migrate(db.admin, concurrency=concurrency, migrations_dir=copy)
        again = await migrate(db.admin, concurrency=concurrency, migrations_dir=copy)
    per_tenant = [r.seconds for r in one.results if r.status == "migrated"] or [0.0]
    return MigrationTiming(
        tenants=len(noop.results),
        nothing_to_do=noop.seconds,
        nothing_counts=noop.counts(),
        one_revision=one.seconds,
        one_counts=one.counts(),
        per_tenant_median=statistics.median(per_tenant),
        nothing_after=again.seconds,
    )


# --------------------------------------------------------------------------------------------
# the run


@dataclass
class Results:
    """Everything one run measured (also written as JSON with ``--json``)."""

    config: dict[str, Any]
    provisioning: dict[str, Any] = field(default_factory=dict)
    db_reads: dict[int, Comparison] = field(default_factory=dict)
    http_reads: dict[int, Comparison] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    migrations: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


DB_LABELS = {
    "baseline": "baseline: one schema, no scoping",
    "check": "one schema + member check",
    "scope": "search_path+role, 1 statement",
    "stm": "schema_translate_map + role",
    "member": "enter_as_member (requests' path)",
    "stm+member": "stm + member check + role",
}
HTTP_LABELS = {
    "baseline": "baseline: token + one-schema read",
    "check": "one schema + member check",
    "routed": "GET /orgs/{slug}/settings (real)",
    "stm": "stm + member check + role",
}


def _table(title: str, data: dict[int, Comparison], labels: dict[str, str], routed: str) -> str:
    lines = [title, f"{'tenants':>8}  {'variant':<36} {'req/s':>9} {'ratio':>6}"]
    for n, comparison in data.items():
        for name, rps in comparison.rps.items():
            lines.append(f"{n:>8}  {labels.get(name, name):<36} {rps:>9.0f} {comparison.ratio[name]:>6.2f}")
    lines.append(
        f"  {labels[routed]} / one schema + member check: "
        + ", ".join(f"{c.ratio[routed] / c.ratio['check']:.2f} at {n}" for n, c in data.items())
    )
    return "\n".join(lines)


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1_048_576:.1f} MB"


def report(results: Results) -> str:
    """The printed report: tables of absolute numbers and ratios to the same run's baseline."""
    c = results.config
    out = [
        f"anima tenancy bench — PostgreSQL {c.get('server_version')}, pool {c['workers']} connections, "
        f"{c['workers']} workers, {c['seconds_total']:.0f} s; 1-minute load average of the machine during the run "
        f"{min(c['load']):.1f}-{max(c['load']):.1f} on {os.cpu_count()} CPUs",
        f"reads: medians of {c['rounds']} rounds, each baseline / every variant / baseline; a ratio compares a "
        "variant with the baselines run just before and after it",
    ]
    p = results.provisioning
    if p:
        out.append(
            f"\nprovisioning: first {p['first'] * 1000:.0f} ms; one at a time over {p['samples']}: median "
            f"{p['median'] * 1000:.0f} ms, p95 {p['p95'] * 1000:.0f} ms (target < 1000 ms); "
            f"setup of {p['rest_count']} more at concurrency 4: {p['rest_seconds']:.1f} s"
        )
    if results.db_reads:
        out.append("\n" + _table(f"routed read, database level ({c['requests']} reads per variant)", results.db_reads, DB_LABELS, "member"))
    if results.http_reads:
        out.append("\n" + _table(f"routed read, HTTP level ({c['http_requests']} requests per variant)", results.http_reads, HTTP_LABELS, "routed"))
    m = results.memory
    if m:
        out.append(
            f"\nconnection memory (pg_backend_memory_contexts): fresh {_mb(m['fresh'])}; after 1 tenant "
            f"{_mb(m['one_tenant'])}; after all {m['tenants']} tenants {_mb(m['all_tenants'])}; "
            f"max with max_uses={m['max_uses']} {_mb(m['recycled_max'])} ({m['backends_used']} backends)"
        )
    g = results.migrations
    if g:
        out.append(
            f"\nmigrations over {g['tenants']} tenants: nothing to do {g['nothing_to_do']:.3f} s (target < 10 s); "
            f"one revision {g['one_revision']:.1f} s ({g['one_counts']}), median per tenant "
            f"{g['per_tenant_median'] * 1000:.0f} ms; nothing to do again {g['nothing_after']:.3f} s"
        )
    for s in results.skipped:
        out.append(f"skipped: {s}")
    return "\n".join(out)


async def run(args: argparse.Namespace) -> Results:
    """Run every phase within ``args.budget`` seconds (phases that would start later are skipped)."""
    started = time.perf_counter()
    levels = sorted({int(x) for x in args.tenants.split(",") if x.strip()})
    workers = args.workers
    settings = bench_settings(workers=workers)
    configure_logging(production=False, level="warning")
    results = Results(
        config={
            "tenants": levels,
            "requests": args.requests,
            "http_requests": args.http_requests,
            "workers": workers,
            "rounds": args.rounds,
            "max_uses": settings.db_connection_max_uses,
            "load": [os.getloadavg()[0]],
        }
    )

    def over(phase: str) -> bool:
        results.config["load"].append(os.getloadavg()[0])
        if time.perf_counter() - started > args.budget:
            results.skipped.append(f"{phase} (time budget of {args.budget} s spent)")
            return True
        return False

    db = await open_bench_database(settings)
    fx: ReadFixture | None = None
    try:
        async with db.admin.connect() as conn:
            results.config["server_version"] = await conn.scalar(sa.text("SHOW server_version"))
        print(f"bench database {db.database}; provisioning {max(levels)} tenants …", file=sys.stderr, flush=True)
        tenants, timing = await provision_tenants(db, max(levels), samples=args.provision_samples)
        results.provisioning = {
            "first": timing.first,
            "samples": len(timing.samples),
            "median": timing.median,
            "p95": timing.p95,
            "rest_count": timing.rest_count,
            "rest_seconds": timing.rest_seconds,
        }
        fx = await prepare_reads(db, settings, tenants)
        reads = read_variants(fx)
        for n in levels:
            if over(f"database-level reads at {n} tenants"):
                break
            print(f"database-level reads over {n} tenants …", file=sys.stderr, flush=True)
            results.db_reads[n] = await compare(
                reads, tenants[:n], requests=args.requests, workers=workers, rounds=args.rounds
            )
        app = bench_app(fx)
        for n in levels:
            if over(f"HTTP-level reads at {n} tenants"):
                break
            print(f"HTTP-level reads over {n} tenants …", file=sys.stderr, flush=True)
            async with http_reads(fx, app) as hreads:
                results.http_reads[n] = await compare(
                    hreads, tenants[:n], requests=args.http_requests, workers=workers, rounds=args.rounds
                )
        if not over("connection memory"):
            print("connection memory …", file=sys.stderr, flush=True)
            results.memory = asdict(await connection_memory(fx, max_uses=args.memory_max_uses))
        if not over("migrations"):
            print("migrations …", file=sys.stderr, flush=True)
            results.migrations = asdict(await time_migrations(db, concurrency=settings.migration_concurrency))
    finally:
        if fx is not None:
            await fx.dispose()
        await drop_bench_database(db)
    results.config["load"].append(os.getloadavg()[0])
    results.config["seconds_total"] = results.seconds = time.perf_counter() - started
    return results


@dataclass
class CurvePoint:
    """Provisioning measured with ``existing`` tenants already there: ``samples`` seconds each."""

    existing: int
    samples: list[float]
    relations: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return _percentile(self.samples, 0.95)


async def provisioning_curve(
    db: Database,
    checkpoints: list[int],
    *,
    samples: int = 10,
    concurrency: int = 2,
    budget: float = 1800.0,
    report: Callable[[CurvePoint], None] | None = None,
) -> list[CurvePoint]:
    """Provisioning time as tenants accumulate: at 0 existing tenants (the first ``samples``), then
    after filling up to each checkpoint, ``samples`` tenants provisioned one at a time.

    Filling uses the same :func:`provision_tenant` (real roles, schemas and tables), ``concurrency``
    at a time. Stops at the first checkpoint that cannot be reached within ``budget`` seconds and
    returns the points measured so far (the fill count shows where it stopped).
    """
    started = time.perf_counter()
    points: list[CurvePoint] = []
    existing = 0
    counter = itertools.count()

    async def timed_point() -> CurvePoint:
        nonlocal existing
        point = CurvePoint(existing, [])
        for _ in range(samples):
            t0 = time.perf_counter()
            await _provision(db, f"curve-{next(counter):06d}")
            point.samples.append(time.perf_counter() - t0)
        async with db.admin.connect() as conn:
            point.relations = int(await conn.scalar(sa.text("SELECT count(*) FROM pg_class")))
        existing += samples
        points.append(point)
        if report is not None:
            report(point)
        return point

    await timed_point()
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await _provision(db, f"curve-{next(counter):06d}")

    for target in checkpoints:
        while existing < target:
            if time.perf_counter() - started > budget:
                print(f"budget spent: stopped filling at {existing} tenants (next checkpoint {target})", flush=True)
                return points
            batch = min(200, target - existing)
            await asyncio.gather(*(one() for _ in range(batch)))
            existing += batch
        await timed_point()
    return points


def curve_table(points: list[CurvePoint]) -> str:
    """The curve as a Markdown table, with each point's ratio to the first."""
    first = points[0].median
    lines = ["| existing tenants | median ms | p95 ms | ratio to first | pg_class rows |", "|---|---|---|---|---|"]
    for p in points:
        lines.append(
            f"| {p.existing:,} | {p.median * 1000:.0f} | {p.p95 * 1000:.0f} | {p.median / first:.2f} | {p.relations:,} |"
        )
    return "\n".join(lines)


async def run_curve(args: argparse.Namespace) -> list[CurvePoint]:
    """The ``--curve`` mode: only the provisioning curve, in a database of its own."""
    settings = bench_settings(workers=4)
    configure_logging(production=False, level="warning")
    db = await open_bench_database(settings)
    try:
        checkpoints = sorted({int(x) for x in args.curve.split(",") if x.strip()})

        def show(p: CurvePoint) -> None:
            print(f"existing {p.existing:>6}: median {p.median * 1000:.0f} ms, p95 {p.p95 * 1000:.0f} ms, "
                  f"pg_class {p.relations:,}, load {os.getloadavg()[0]:.1f}", flush=True)

        return await provisioning_curve(
            db, checkpoints, samples=args.provision_samples, concurrency=args.fill_concurrency,
            budget=args.budget, report=show,
        )
    finally:
        await drop_bench_database(db)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", default="1,100,1000", help="comma-separated tenant counts (default 1,100,1000)")
    parser.add_argument("--requests", type=int, default=6000, help="database-level reads per variant and level")
    parser.add_argument("--http-requests", type=int, default=None, help="HTTP requests per variant and level (default requests/2)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers = pool size (default 8)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds, each baseline-variants-baseline; medians reported")
    parser.add_argument("--provision-samples", type=int, default=20)
    parser.add_argument("--memory-max-uses", type=int, default=200)
    parser.add_argument("--budget", type=float, default=780.0, help="seconds after which remaining phases are skipped")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--curve", default=None,
                        help="only the provisioning curve: checkpoints of existing tenants (e.g. 1000,5000,10000)")
    parser.add_argument("--fill-concurrency", type=int, default=2, help="tenants provisioned at once while filling (--curve)")
    args = parser.parse_args(argv)
    if args.http_requests is None:
        args.http_requests = max(args.workers, args.requests // 2)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.curve:
        print(curve_table(asyncio.run(run_curve(args))))
        return
    results = asyncio.run(run(args))
    print(report(results))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(results), indent=2, default=str))


if __name__ == "__main__":
    main()
