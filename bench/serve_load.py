"""Load benchmark of the real server: open-loop requests at a fixed rate against ``anima serve``.

Run (from the repository root, ``DATABASE_URL`` pointing at a server where it may create a
database)::

    .venv/bin/python bench/serve_load.py [--rate 200] [--duration 60] [--window 30] [--tenants 4]
                                         [--mode serve|demo] [--api-workers 1] [--connections 32]
                                         [--json out.json]

What it does:

* creates a database ``anima_load_<random>`` of its own (dropped at the end, with its roles), runs
  ``anima migrate`` and starts the server **as a subprocess**, with production settings
  (``ANIMA_ENV=production``, throwaway secrets, JSON logs at ``info`` to a file):

  - ``--mode serve`` (default): ``anima serve`` plus one ``anima worker`` process, the production
    process model (the API never runs jobs; the worker relays the outbox and screens notes);
  - ``--mode demo``: ``anima demo`` (what a developer runs), for comparison;

* signs up ``--tenants`` organizations through the API (their owners' tokens come from the
  signup answer) and creates 3 patients in each (BUILDER's allowance);
* starts a **single-schema baseline** server (see below) on a copy of the first tenant's rows;
* drives each server in turn with the same open-loop schedule: request *i* is sent at
  ``start + i / rate`` whether or not earlier requests have finished (no closed loop, so a slow
  server meets the load it would meet in production instead of slowing the client down). The
  client (:mod:`bench.load_client`) is **bounded**: at most ``--connections`` keep-alive
  connections (32), a request finding none free waits in the client (that wait counts in its
  latency), and one that would make more than ``--max-in-flight`` waiting or open (256) counts as
  an error. The mix: 45 % ``GET …/settings``, 45 % ``GET …/patients?limit=50`` (a patient list
  page), 10 % ``POST …/patients/{id}/journal`` (a 0.8 KB note), tenants and patients chosen by a
  seeded RNG. Latency runs from the scheduled send time to the end of the answer (so client-side
  queueing counts); any answer other than 200/201 is an error.

Reported per ``--window`` seconds and overall: requests, achieved rate, p50, p99, max, errors,
p50 and p99 of the writes alone, p99 of the reads alone, the server's resident memory; per server
the CPU milliseconds per answered request of the API process, of the worker (``/proc``, a figure a
shared machine's load inflates less than latency) and of the load client itself, the answers by
status, and the client's p99 lateness (scheduled time → request written), which shows whether it
kept to its schedule; and the ratios real / baseline of p50, p99 and achieved rate (``--no-baseline`` measures the real server
only, for before/after comparisons).

**The baseline.** The fairest yardstick for "what does tenant scoping cost under load" is the same
application doing the same work without it: a second server process built here from the *same*
controllers, services, middleware, exception handlers and providers, in which only the ``tenant``
dependency differs — it runs the same membership and live-session check on the platform tables
(what any multi-tenant-by-column application also runs) and reads and writes one schema fixed at
connect (``bench_single``, a copy of the first tenant's tables and keys), with no ``search_path``
or role switch per transaction. Encryption, the audit row, the outbox event and its NOTIFY are the
same. Its events are not relayed (the relay knows no tenant of that schema), so the worker's share
of the machine is smaller during the baseline: the real server is measured with its worker busy.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
from contextlib import asynccontextmanager
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from litestar import Request
from litestar.datastructures import State

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.http.access import TenantContext, declared_roles  # noqa: E402
from anima.http.context import bind_identity  # noqa: E402
from anima.identity.models import Role  # noqa: E402
from anima.identity.tokens import AccessClaims  # noqa: E402
from anima.problems import Forbidden, NotFound  # noqa: E402
from anima.tenancy.scope import ScopedTenant  # noqa: E402
from bench.load_client import Planned, encode, run_open_loop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASELINE_SCHEMA = "bench_single"
PASSWORD = "Load-bench-Passw0rd!"
NOTE_HTML = "<p>" + ("Session notes: the client spoke about work, sleep and family at length. " * 11) + "</p>"


# --------------------------------------------------------------------------------------------
# the baseline server (runs in its own process: ``bench/serve_load.py --serve-baseline``)


#: the membership and live-session check of ``enter_as_member``, without scoping: what a
#: single-schema application authorizing the same way runs
MEMBER_CHECK = sa.text(
    """
    SELECT t.id, t.slug, t.name, t.state, t.tier, m.role
    FROM platform.tenants t
    JOIN platform.memberships m ON m.tenant_id = t.id AND m.user_id = :user_id
    JOIN platform.auth_sessions s ON s.id = :session_id AND s.user_id = :user_id
         AND s.revoked_at IS NULL AND s.expires_at > now()
    WHERE t.slug = :slug
    """
)


async def provide_single_schema_tenant(
    request: Request[Any, Any, Any], state: State, org_slug: str, claims: AccessClaims
) -> AsyncGenerator[TenantContext, None]:
    """The baseline's ``tenant``: the same member check as the real one, on a one-schema session (no scoping)."""
    allowed = declared_roles(request)
    session = state["bench_single_maker"]()
    try:
        row = (
            await session.execute(
                MEMBER_CHECK, {"slug": org_slug, "user_id": claims.user_id, "session_id": claims.session_id}
            )
        ).first()
        if row is None:
            raise NotFound(f"organization {org_slug!r} not found")
        bind_identity(tenant=row.slug)
        if row.role not in allowed:
            raise Forbidden(f"your role {row.role} may not do this")
        yield TenantContext(
            session, ScopedTenant(row.id, row.slug, row.name, row.state, row.tier, row.role), claims.user_id, Role(row.role)
        )
    except BaseException:
        await session.rollback()
        raise
    else:
        await session.commit()
    finally:
        await session.close()


def baseline_app() -> Any:
    """The single-schema baseline application (see the module docstring).

    Reads ``ANIMA_*`` settings like the real app, plus ``ANIMA_BENCH_BASELINE_SCHEMA``.
    """
    from litestar import Litestar, Router
    from litestar.config.cors import CORSConfig
    from litestar.di import Provide
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from anima.app import MAX_REQUEST_BODY
    from anima.config import load_settings
    from anima.db.engine import create_engine, open_database, quote_ident
    from anima.domains.journal.controllers import JournalController
    from anima.domains.patients.controllers import ROUTE_HANDLERS as PATIENT_HANDLERS
    from anima.domains.settings.controllers import SettingsController
    from anima.http import health
    from anima.http.context import RequestContextMiddleware
    from anima.http.exception_handlers import EXCEPTION_HANDLERS
    from anima.identity import controllers as identity_controllers
    from anima.logs import configure_logging
    from anima.process_tuning import settle_heap
    from anima.providers import application_dependencies
    from anima.runtime import RUNTIME_KEY, build_runtime

    settings = load_settings()
    configure_logging(production=settings.is_production, level=settings.log_level)
    schema = os.environ.get("ANIMA_BENCH_BASELINE_SCHEMA", BASELINE_SCHEMA)
    # a single-schema application has no platform index of due work: its outbox rows are relayed
    # by their NOTIFY alone, so the note a tenant's write adds (``work_index.note``, which answers
    # only to a tenant role) is left out of the baseline's INSERT … RETURNING
    from anima.events import outbox

    outbox._NOTE_RELAY = sa.literal_column("NULL")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        db = await open_database(settings)
        engine = create_engine(db.app_url, settings)

        @event.listens_for(engine.sync_engine, "connect")
        def _fixed_search_path(dbapi_conn: Any, record: Any) -> None:  # noqa: ARG001
            cursor = dbapi_conn.cursor()
            cursor.execute(f"SET search_path TO {quote_ident(schema)}")
            cursor.close()

        app.state[RUNTIME_KEY] = build_runtime(settings, db)
        app.state["bench_single_maker"] = async_sessionmaker(engine, expire_on_commit=False)
        try:
            yield
        finally:
            await engine.dispose()
            await db.dispose()

    single = Router(
        "/",
        route_handlers=[SettingsController, JournalController, *PATIENT_HANDLERS],
        dependencies={"tenant": Provide(provide_single_schema_tenant)},
    )
    return Litestar(
        route_handlers=[*health.ROUTE_HANDLERS, *identity_controllers.ROUTE_HANDLERS, single],
        dependencies=application_dependencies(),
        middleware=[lambda app: RequestContextMiddleware(app, settings.trusted_proxies, settings.secret_key)],
        logging_config=None,
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=CORSConfig(allow_origins=[], allow_credentials=False),
        lifespan=[lifespan],
        on_startup=[settle_heap],  # the same process tuning as anima.asgi's app
        request_max_body_size=MAX_REQUEST_BODY,
        openapi_config=None,
        debug=False,
    )


def serve_baseline(port: int) -> None:
    """Serve :func:`baseline_app` the way ``anima serve`` serves the real one (one uvicorn process)."""
    import uvicorn

    uvicorn.run(baseline_app, factory=True, host="127.0.0.1", port=port, workers=1, log_config=None,
                proxy_headers=False, access_log=False)


# --------------------------------------------------------------------------------------------
# processes and the database


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A started subprocess and where its output goes."""

    name: str
    process: subprocess.Popen
    log: Path

    def rss_mb(self) -> float | None:
        """Resident memory of the process in MB (``/proc``), None once it has exited."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the process has used so far (``/proc``), 0.0 once it has exited."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Server:
    """Start ``argv`` with ``env``, its stdout and stderr into ``logdir/name.log``."""
    log = logdir / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(argv, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    handle.close()
    return Server(name, process, log)


async def wait_ready(client: httpx.AsyncClient, base: str, server: Server, *, timeout: float = 120.0) -> None:
    """Poll ``base/ready`` (``/health`` for the baseline) until it answers 200.

    Raises:
        RuntimeError: the process exited or did not become ready in ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}; see {server.log}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(f"{base}/health", timeout=2)).status_code == 200:
                return
        await asyncio.sleep(0.3)
    raise RuntimeError(f"{server.name} not ready after {timeout} s; see {server.log}")


def database_env(database: str, port: int) -> dict[str, str]:
    """The subprocesses' environment: production settings on ``database``, throwaway secrets."""

    url = sa.make_url(os.environ["DATABASE_URL"]).set(database=database)
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url.render_as_string(hide_password=False),
        ANIMA_ENV="production",
        ANIMA_SECRET_KEY=secrets.token_urlsafe(48),
        ANIMA_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        ANIMA_HOST="127.0.0.1",
        ANIMA_PORT=str(port),
        ANIMA_PUBLIC_URL=f"http://127.0.0.1:{port}",
        ANIMA_LOG_LEVEL="info",
        ANIMA_DATA_DIR=tempfile.mkdtemp(prefix="anima-load-data-"),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    env.pop("REDIS_URL", None)
    return env


async def clone_first_tenant(env: dict[str, str], slug: str) -> None:
    """Make the baseline schema: the tenant tables with every row of tenant ``slug`` (keys, staff, patients …).

    Encrypted fields stay readable: their associated data names the same tenant id, table and row.

    The app role gets plain privileges on it, so the baseline reaches it without a role switch.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    import anima.models  # noqa: F401 - every tenant table in the metadata
    from anima.db.base import TenantBase
    from anima.db.engine import quote_ident, role_prefix, to_asyncpg_url

    url = to_asyncpg_url(env["DATABASE_URL"])
    engine = create_async_engine(url, poolclass=sa.NullPool)
    app_role = quote_ident(f"{role_prefix(url.database)}_app")
    try:
        async with engine.begin() as conn:
            source = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})
            await conn.execute(sa.text(f"CREATE SCHEMA {BASELINE_SCHEMA}"))
            await conn.execute(sa.text("SELECT set_config('search_path', :p, true)"), {"p": BASELINE_SCHEMA})
            await conn.run_sync(lambda sync: TenantBase.metadata.create_all(sync))
            for table in TenantBase.metadata.sorted_tables:
                # generated columns compute themselves (PostgreSQL refuses a value for them)
                columns = ", ".join(quote_ident(c.name) for c in table.columns if c.computed is None)
                await conn.execute(sa.text(
                    f"INSERT INTO {BASELINE_SCHEMA}.{quote_ident(table.name)} ({columns}) "
                    f"SELECT {columns} FROM {quote_ident(source)}.{quote_ident(table.name)}"
                ))
            await conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {BASELINE_SCHEMA} TO {app_role}"))
            await conn.execute(sa.text(
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {BASELINE_SCHEMA} TO {app_role}"
            ))
            await conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {BASELINE_SCHEMA} TO {app_role}"))
    finally:
        await engine.dispose()


async def drop_database(env: dict[str, str]) -> None:
    """Drop the bench database and every role with its prefix."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from anima.db.engine import quote_ident, role_prefix, to_asyncpg_url

    url = to_asyncpg_url(env["DATABASE_URL"])
    server = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            roles = (await conn.execute(
                sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": role_prefix(url.database) + "\\_%"}
            )).scalars().all()
            for role in roles:
                await conn.execute(sa.text(f"DROP ROLE IF EXISTS {quote_ident(role)}"))
    finally:
        await server.dispose()


# --------------------------------------------------------------------------------------------
# the load


@dataclass
class Org:
    """A signed-up organization: slug, owner's access token, its patients' ids."""

    slug: str
    email: str
    token: str
    patients: list[str] = field(default_factory=list)


async def signup(client: httpx.AsyncClient, base: str, slug: str) -> Org:
    email = f"owner.{slug}@example.org"
    r = await client.post(f"{base}/api/v1/signup", json={
        "organization_name": f"Practice {slug}", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": f"Owner {slug}", "tier": "BUILDER",
    }, timeout=60)
    r.raise_for_status()
    return Org(slug, email, r.json()["tokens"]["access_token"])


async def login(client: httpx.AsyncClient, base: str, org: Org) -> None:
    """A fresh access token for ``org``'s owner (tokens live 10 minutes)."""
    r = await client.post(f"{base}/api/v1/auth/login", json={"email": org.email, "password": PASSWORD}, timeout=60)
    r.raise_for_status()
    org.token = r.json()["access_token"]


async def add_patients(client: httpx.AsyncClient, base: str, org: Org, count: int = 3) -> None:
    for i in range(count):
        r = await client.post(
            f"{base}/api/v1/orgs/{org.slug}/patients",
            json={"first_name": f"Client{i}", "last_name": "Load", "email": f"client{i}.{org.slug}@example.org"},
            headers={"Authorization": f"Bearer {org.token}"}, timeout=60,
        )
        r.raise_for_status()
        org.patients.append(r.json()["id"])


@dataclass
class Sample:
    """One request: scheduled offset (s), latency (s), kind (read/write), ok."""

    at: float
    latency: float
    kind: str
    ok: bool
    status: int
    lag: float = 0.0


def plan(rate: float, duration: float, orgs: list[Org], write_share: float, seed: int) -> list[tuple[float, str, str, str, Any]]:
    """The schedule: ``(offset s, kind, method, path, json)`` for every request, fixed by ``seed``."""
    rng = random.Random(seed)
    out = []
    for i in range(int(rate * duration)):
        org = rng.choice(orgs)
        roll = rng.random()
        if roll < write_share:
            patient = rng.choice(org.patients)
            out.append((i / rate, "write", "POST", f"/api/v1/orgs/{org.slug}/patients/{patient}/journal",
                        {"kind": "note", "html": NOTE_HTML}))
        elif roll < write_share + (1 - write_share) / 2:
            out.append((i / rate, "read", "GET", f"/api/v1/orgs/{org.slug}/settings", None))
        else:
            out.append((i / rate, "read", "GET", f"/api/v1/orgs/{org.slug}/patients?limit=50", None))
    return out


async def drive(base: str, schedule: list[tuple[float, str, str, str, Any]], tokens: dict[str, str], *,
                max_in_flight: int, connections: int = 32) -> list[Sample]:
    """Send every request of ``schedule`` at its own time (open loop, :mod:`bench.load_client`, at
    most ``connections`` keep-alive connections); returns one sample each."""
    url = httpx.URL(base)
    host = f"{url.host}:{url.port}"
    planned = []
    for at, kind, method, path, body in schedule:
        headers = {"Authorization": f"Bearer {tokens[path.split('/')[4]]}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        planned.append(Planned(at, encode(method, path, host, headers, payload), kind))
    results = await run_open_loop(url.host, url.port, planned, connections=connections, max_in_flight=max_in_flight)
    return [Sample(r.at, r.latency, r.label, r.status in (200, 201), r.status, r.lag) for r in results]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = q * (len(ordered) - 1)
    low = int(index)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


@dataclass
class Stats:
    """Figures of a set of samples: count, achieved rate (answers/s), p50/p99/max in ms, errors."""

    requests: int
    rate: float
    p50: float
    p99: float
    max: float
    errors: int
    write_p50: float = 0.0
    write_p99: float = 0.0
    read_p99: float = 0.0
    rss_mb: float | None = None

    @classmethod
    def of(cls, samples: list[Sample], seconds: float) -> Stats:
        ok = [s for s in samples if s.ok]
        lat = [s.latency * 1000 for s in samples if s.status > 0]
        writes = [s.latency * 1000 for s in samples if s.kind == "write" and s.status > 0]
        reads = [s.latency * 1000 for s in samples if s.kind == "read" and s.status > 0]
        return cls(len(samples), len(ok) / seconds, percentile(lat, 0.5), percentile(lat, 0.99), max(lat, default=0.0),
                   len(samples) - len(ok), percentile(writes, 0.5), percentile(writes, 0.99), percentile(reads, 0.99))


def summarize(samples: list[Sample], duration: float, window: float) -> tuple[list[Stats], Stats]:
    """Per-window stats (by scheduled time) and overall."""
    windows = []
    t = 0.0
    while t < duration - 1e-9:
        end = min(t + window, duration)
        windows.append(Stats.of([s for s in samples if t <= s.at < end], end - t))
        t = end
    return windows, Stats.of(samples, duration)


def fmt(label: str, s: Stats) -> str:
    rss = f"{s.rss_mb:7.0f}" if s.rss_mb is not None else "      -"
    return (f"  {label:<10} {s.requests:>7} {s.rate:>8.1f} {s.p50:>8.1f} {s.p99:>8.1f} {s.max:>8.1f} {s.errors:>6}"
            f" {s.write_p50:>8.1f} {s.write_p99:>8.1f} {s.read_p99:>8.1f} {rss}")


HEADER = (f"  {'window':<10} {'requests':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>6}"
          f" {'w p50':>8} {'w p99':>8} {'r p99':>8} {'RSS MB':>7}")


@dataclass
class Phase:
    """One measured phase: which server, per-window and overall figures."""

    server: str
    windows: list[Stats]
    overall: Stats
    load: list[float]
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    client_lag_p99_ms: float = 0.0
    client_lag_max_ms: float = 0.0


async def measure(
    name: str, base: str, server: Server, orgs: list[Org], args: argparse.Namespace, helpers: Sequence[Server] = ()
) -> Phase:
    """Warm up, then drive ``server`` for ``args.duration`` s in windows of ``args.window`` s.

    Also reports the CPU milliseconds per request of ``server`` and of each of ``helpers`` (the
    worker) over the measured part: a figure that a shared machine's load does not inflate as
    much as latency.
    """
    tokens = {o.slug: o.token for o in orgs}
    await drive(base, plan(args.rate, args.warmup, orgs, args.write_share, args.seed + 1), tokens,
                max_in_flight=args.max_in_flight, connections=args.connections)
    schedule = plan(args.rate, args.duration, orgs, args.write_share, args.seed)
    load = [os.getloadavg()[0]]
    rss: list[float | None] = []
    stop = asyncio.Event()

    async def sample_rss() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.window)
            rss.append(server.rss_mb())
            load.append(os.getloadavg()[0])

    sampler = asyncio.create_task(sample_rss())
    cpu_before = {p.name: p.cpu_seconds() for p in (server, *helpers)}
    client_before = time.process_time()
    samples = await drive(base, schedule, tokens, max_in_flight=args.max_in_flight, connections=args.connections)
    answered = max(1, sum(1 for s in samples if s.status > 0))
    cpu = {p.name: (p.cpu_seconds() - cpu_before[p.name]) * 1000 / answered for p in (server, *helpers)}
    cpu["load client"] = (time.process_time() - client_before) * 1000 / max(1, len(samples))
    stop.set()
    await sampler
    statuses: dict[str, int] = {}
    for s in samples:
        label = {-1: "transport error", -2: "over max in flight"}.get(s.status, str(s.status))
        statuses[label] = statuses.get(label, 0) + 1
    windows, overall = summarize(samples, args.duration, args.window)
    for w, r in zip(windows, rss, strict=False):
        w.rss_mb = r
    overall.rss_mb = server.rss_mb()
    lags = [s.lag * 1000 for s in samples if s.status != -2]
    return Phase(name, windows, overall, load, cpu, statuses, percentile(lags, 0.99), max(lags, default=0.0))


def report(phases: list[Phase], args: argparse.Namespace, notes: list[str]) -> str:
    out = [
        f"anima serve load bench — offered {args.rate:.0f} req/s for {args.duration:.0f} s per server "
        f"({args.write_share:.0%} journal writes), windows of {args.window:.0f} s, {os.cpu_count()} CPUs",
        *notes,
    ]
    for p in phases:
        out.append(f"\n{p.server}  (1-minute load average {min(p.load):.1f}-{max(p.load):.1f})")
        out.append(HEADER)
        for i, w in enumerate(p.windows):
            out.append(fmt(f"{i * args.window:.0f}-{min((i + 1) * args.window, args.duration):.0f}s", w))
        out.append(fmt("overall", p.overall))
        out.append("  CPU ms per answered request: " + ", ".join(f"{k} {v:.2f}" for k, v in p.cpu_ms_per_request.items())
                   + "; answers: " + ", ".join(f"{k} × {v}" for k, v in sorted(p.statuses.items())))
        out.append(f"  load client: p99 {p.client_lag_p99_ms:.1f} ms (max {p.client_lag_max_ms:.1f}) from a request's "
                   f"scheduled time to its sending, including waits for one of the {args.connections} connections")
    if len(phases) == 2:
        real, base = phases
        ratio = lambda a, b: a / b if b else float("nan")  # noqa: E731
        out.append(
            f"\nratios {real.server} / {base.server}: p50 {ratio(real.overall.p50, base.overall.p50):.2f}, "
            f"p99 {ratio(real.overall.p99, base.overall.p99):.2f}, achieved rate "
            f"{ratio(real.overall.rate, base.overall.rate):.2f}"
        )
    target = phases[0].overall.p99
    out.append(f"target p99 < 50 ms at {args.rate:.0f} req/s: {phases[0].server} p99 {target:.1f} ms — "
               f"{'met' if target < 50 and phases[0].overall.errors == 0 else 'NOT met'}")
    return "\n".join(out)


async def run(args: argparse.Namespace) -> list[Phase]:
    """Set up database and servers, measure the real server, then the baseline; clean up."""
    port, base_port = free_port(), free_port()
    env = database_env(f"anima_load_{secrets.token_hex(4)}", port)
    logdir = Path(tempfile.mkdtemp(prefix="anima-load-logs-"))
    python = sys.executable
    servers: list[Server] = []
    notes = [f"server logs in {logdir}"]
    try:
        if args.mode == "serve":
            migrate = subprocess.run([python, "-m", "anima", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True)
            if migrate.returncode != 0:
                raise RuntimeError(f"anima migrate failed: {migrate.stderr[-2000:]}")
            servers.append(start("anima-serve", [python, "-m", "anima", "serve", "--port", str(port),
                                                 "--workers", str(args.api_workers)], env, logdir))
            if not args.no_worker:
                servers.append(start("anima-worker", [python, "-m", "anima", "worker"], env, logdir))
        else:
            empty = Path(tempfile.mkdtemp(prefix="anima-load-tenants-"))
            servers.append(start("anima-demo", [python, "-m", "anima", "demo", "--port", str(port),
                                                "--tenants-dir", str(empty)], env, logdir))
        real = servers[0]
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            await wait_ready(client, base, real)
            orgs = [await signup(client, base, f"load-{i}-{secrets.token_hex(3)}") for i in range(args.tenants)]
            for org in orgs:
                await add_patients(client, base, org)
            await clone_first_tenant(env, orgs[0].slug)
            single_env = {**env, "ANIMA_BENCH_BASELINE_SCHEMA": BASELINE_SCHEMA}
            baseline = start("baseline", [python, str(Path(__file__).resolve()), "--serve-baseline", "--port", str(base_port)],
                             single_env, logdir)
            servers.append(baseline)
            single_base = f"http://127.0.0.1:{base_port}"
            await wait_ready(client, single_base, baseline)
            single = Org(orgs[0].slug, orgs[0].email, orgs[0].token, list(orgs[0].patients))
        phases = []
        helpers = [s for s in servers if s.name == "anima-worker"]
        print("pids: " + ", ".join(f"{s.name} {s.process.pid}" for s in servers), file=sys.stderr, flush=True)
        runs = [("real", base, real, orgs)]
        if not args.no_baseline:
            runs.append(("baseline", single_base, baseline, [single]))
        for name, url, server, targets in runs:
            async with httpx.AsyncClient() as client:
                for org in targets:
                    await login(client, url, org)
            print(f"measuring {name} …", file=sys.stderr, flush=True)
            phases.append(await measure(name, url, server, targets, args, helpers))
        notes.append(f"process model: {args.mode} with {args.api_workers} API process(es)"
                     + ("" if args.mode == "demo" or args.no_worker else " + 1 `anima worker` process"))
        print(report(phases, args, notes))
        return phases
    finally:
        for server in reversed(servers):
            server.stop()
        await drop_database(env)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per server")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds at the same rate first")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per reported window")
    parser.add_argument("--tenants", type=int, default=4, help="organizations on the real server")
    parser.add_argument("--write-share", type=float, default=0.10, help="share of journal writes")
    parser.add_argument("--max-in-flight", type=int, default=256,
                        help="requests waiting or open at once before one counts as an error")
    parser.add_argument("--connections", type=int, default=32, help="the load client's keep-alive connections")
    parser.add_argument("--mode", choices=["serve", "demo"], default="serve")
    parser.add_argument("--api-workers", type=int, default=1, help="`anima serve --workers`")
    parser.add_argument("--no-worker", action="store_true", help="serve mode without an `anima worker` process")
    parser.add_argument("--no-baseline", action="store_true", help="measure the real server only")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve_baseline:
        serve_baseline(args.port)
        return
    if "DATABASE_URL" not in os.environ:
        sys.exit("set DATABASE_URL to a PostgreSQL server where this role may create a database")
    import uvloop  # uvicorn's event loop; the load client's scheduling then costs less of the machine

    phases = uvloop.run(run(args))
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(p) for p in phases], indent=2))


if __name__ == "__main__":
    main()
