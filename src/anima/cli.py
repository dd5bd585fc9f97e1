"""The ``anima`` command.

    anima demo                      migrate, provision tenants/, serve with docs, print logins;
                                    a worker runs as a child process
    anima serve                     serve the API (uvicorn; one process unless --workers)
    anima worker                    run a job worker and the outbox relay
    anima migrate                   platform schema to head, resume provisioning, tenants to head
    anima tenants create|list|show|migrate|suspend|resume|delete|apply
    anima operators create EMAIL    create or promote a platform operator
    anima mail send                 send the due queued emails now
    anima migrations revision platform|tenant -m MESSAGE

Every command reads the settings once; a bad setting stops it with one line per problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from anima.config import Settings, SettingsError, load_settings
from anima.db.engine import Database, open_database
from anima.db.setup import migrate_platform
from anima.logs import configure_logging

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    configure_logging(production=settings.is_production, level=settings.log_level)
    return settings


def with_address(settings: Settings, host: str | None, port: int | None, environ: dict[str, str] | None = None) -> Settings:
    """``settings`` with the address given on the command line (``--host``/``--port``) applied.

    ``public_url`` (the base of links sent by email) follows the address actually served unless
    ``ANIMA_PUBLIC_URL`` is set, in which case that value stands.
    """
    env = os.environ if environ is None else environ
    host, port = host or settings.host, port or settings.port
    public_url = settings.public_url if env.get("ANIMA_PUBLIC_URL") else f"http://{host}:{port}"
    return msgspec.structs.replace(settings, host=host, port=port, public_url=public_url)


def _run(fn: Callable[[Settings, Database], Awaitable[T]], *, loop_factory: Any = None) -> T:
    settings = _settings()

    async def main() -> T:
        db = await open_database(settings)
        try:
            return await fn(settings, db)
        finally:
            await db.dispose()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(main())


async def prepare(settings: Settings, db: Database) -> dict[str, Any]:
    """Platform at head, interrupted provisioning completed, tenants at head. Returns a summary."""
    from anima.tenancy.migrations import migrate_tenants
    from anima.tenancy.provisioning import resume_provisioning

    head = await migrate_platform(db)
    resumed = await resume_provisioning(db)
    report = await migrate_tenants(db.admin, concurrency=settings.migration_concurrency)
    return {"platform": head, "resumed": resumed, "tenants": report}


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel send SIGTERM to this process when its parent dies (PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def start_worker_process(db: Database) -> subprocess.Popen:
    """Start ``anima worker`` as a child process on ``db``'s database (the demo's job runner).

    The worker gets its own process, not a task in the API's event loop: risk screening, the
    relay and the queue's polling are CPU and database work that, sharing the loop, delayed every
    request behind them (see the README's Measured section). The child inherits the environment
    with ``DATABASE_URL`` set to the database the demo opened (the embedded server's socket URL
    included), so it never starts or stops an embedded server of its own; development secrets
    come from the same ``ANIMA_DATA_DIR``. On Linux the kernel also stops it if the demo dies
    without stopping it (SIGKILL).
    """
    env = {**os.environ, "DATABASE_URL": db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)}
    return subprocess.Popen(
        [sys.executable, "-m", "anima", "worker"], env=env,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )


def stop_worker_process(process: subprocess.Popen, *, grace: float = 15.0) -> int:
    """SIGTERM the worker, wait up to ``grace`` seconds for it to finish its jobs, then SIGKILL. Returns its status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _demo_server(config: Any, worker: subprocess.Popen) -> Any:
    """uvicorn's server, stopping the demo's worker once serving ends.

    uvicorn re-raises the signal it shut down on (SIGTERM, SIGINT) when it stops listening for
    signals, which ends the process before code after ``serve()`` runs; the worker is stopped
    just before that.
    """
    import uvicorn

    class DemoServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    stop_worker_process(worker)

    return DemoServer(config)


@click.group()
def main() -> None:
    """Anima: the practice platform for therapy and wellness professionals."""


@main.command()
@click.option("--host", default=None, help="bind address (ANIMA_HOST)")
@click.option("--port", default=None, type=int, help="port (ANIMA_PORT)")
@click.option("--workers", default=1, show_default=True, help="uvicorn worker processes")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (run `anima migrate` first).

    One process by default: uvicorn with one worker serves in this very process (one event loop);
    jobs run in `anima worker` processes beside it. On 2 cores that leaves a core to the worker and
    PostgreSQL; more uvicorn workers only pay where the API alone needs more than a core.
    """
    import uvicorn

    settings = with_address(_settings(), host, port)
    # anima.asgi builds the app from the environment (in every uvicorn worker process): pass the
    # address on, so that the settings there — public_url included — match what is served
    os.environ["ANIMA_HOST"], os.environ["ANIMA_PORT"] = settings.host, str(settings.port)
    uvicorn.run(
        "anima.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        proxy_headers=False,
        access_log=False,
    )


@main.command()
def migrate() -> None:
    """Platform schema to head, resume interrupted provisioning, every tenant to head."""
    summary = _run(prepare)
    report = summary["tenants"]
    click.echo(f"platform at {summary['platform']}; resumed provisioning: {summary['resumed'] or 'none'}")
    click.echo(f"tenants: {report.counts()} in {report.seconds:.2f}s (head {report.head})")
    for failed in report.failed:
        click.echo(f"  FAILED {failed.slug}: {failed.error}", err=True)
    if report.failed:
        sys.exit(1)


@main.command()
@click.option("--host", default=None, help="bind address (ANIMA_HOST)")
@click.option("--port", default=None, type=int, help="port (ANIMA_PORT)")
@click.option("--tenants-dir", default=str(ROOT / "tenants"), show_default=True, type=click.Path(file_okay=False))
@click.option("--no-serve", is_flag=True, help="prepare the database and print the logins, then exit")
def demo(host: str | None, port: int | None, tenants_dir: str, no_serve: bool) -> None:
    """Migrate, provision the tenants in tenants/, then serve the API with its docs and print the logins."""
    import uvicorn

    from anima.app import create_app
    from anima.identity.operators import ensure_operator
    from anima.runtime import build_runtime
    from anima.tenancy.demo import apply_demo_data
    from anima.tenancy.manifests import apply_manifests, load_manifests

    settings = with_address(_settings(), host, port)
    port = settings.port
    demo_operator = ("operator@anima.example", "Watchtower-demo-2026")

    async def main() -> None:
        db = await open_database(settings)
        try:
            await prepare(settings, db)
            report = await apply_manifests(
                db, Path(tenants_dir), actor="demo", demo=True, public_url=settings.public_url
            )
            await ensure_operator(db, email=demo_operator[0], password=demo_operator[1], display_name="Demo Operator")
            manifests = load_manifests(Path(tenants_dir))
            runtime = build_runtime(settings, db)
            quiet = logging.getLogger("anima")  # one line per note screened would bury the logins below
            level = quiet.level
            quiet.setLevel(max(logging.getLogger().level, logging.WARNING))
            try:
                filled = [await apply_demo_data(runtime, m) for m in manifests if m.demo is not None]
            finally:
                quiet.setLevel(level)
            lines = demo_banner(settings, port, demo_operator, manifests)
            lines.append(f"  Tenants    created {report.created or '[]'}, updated {report.updated or '[]'}, unchanged {report.unchanged or '[]'}")
            for done in filled:
                added = ", ".join(f"{k} {n}" for k, n in vars(done).items() if isinstance(n, int) and n) or "nothing new"
                lines.append(f"  Demo data  {done.slug}: {added}" + "".join(f"; {s}" for s in done.skipped))
            click.echo("\n".join(lines) + "\n")
            if no_serve:
                return
            app = create_app(settings, database=db)
            config = uvicorn.Config(app, host=settings.host, port=port, log_config=None, access_log=False, lifespan="on")
            worker = start_worker_process(db)
            try:
                await _demo_server(config, worker).serve()
            finally:
                stop_worker_process(worker)  # serving failed to start, or ended without a signal
        finally:
            await db.dispose()

    asyncio.run(main())


def demo_banner(settings: Settings, port: int, operator: tuple[str, str], manifests: list[Any]) -> list[str]:
    """What ``anima demo`` prints: the workspace address first, then every demo login by role."""
    base = f"http://{settings.host}:{port}"
    width = max([len("operator"), *(len(m.slug) for m in manifests)])
    lines = [
        "",
        f"Anima is ready: open {base}/login",
        f"  Workspace  {base}/  (log in at {base}/login; operators land on {base}/workspaces, console {base}/operator/)",
        "  Demo logins (email / password):",
        f"    {'operator':<{width}} {'OPERATOR':<9} {operator[0]} / {operator[1]}",
    ]
    for m in manifests:
        for role, email, password in m.demo_logins():
            lines.append(f"    {m.slug:<{width}} {role:<9} {email} / {password}" + (f"  ({m.tier})" if role == "OWNER" else ""))
    for m in manifests:
        lines.append(f"  Book       {base}/p/{m.slug}/book  ({m.slug}'s public booking, no account needed)")
    lines += [
        f"  API        {base}/api/v1  (POST /api/v1/auth/login with the same logins)",
        f"  Docs       {base}/docs  (Swagger UI: {base}/docs/swagger)",
        f"  Health     {base}/health   Ready: {base}/ready",
        f"  Database   {'embedded PostgreSQL in ' + str(settings.data_dir / 'pgdata') if settings.database_url is None else 'DATABASE_URL'}",
    ]
    if not settings.is_production and settings.local_mailbox:
        lines.append(f"  Mailbox    {base}/dev/mailbox  (no SMTP_URL: invitations and other emails land here)")
    return lines


@main.group()
def tenants() -> None:
    """Tenant lifecycle: create, list, show, migrate, suspend, resume, delete, apply."""


@tenants.command("create")
@click.argument("slug")
@click.option("--name", default=None, help="organization name (default: the slug)")
@click.option("--tier", type=click.Choice(["BUILDER", "PRO", "CENTER"]), default="BUILDER", show_default=True)
@click.option("--owner-email", default=None, help="invite this person as owner")
def tenants_create(slug: str, name: str | None, tier: str, owner_email: str | None) -> None:
    """Provision a tenant (or complete an interrupted provisioning of it)."""
    from anima.tenancy.naming import InvalidSlug
    from anima.tenancy.provisioning import TenantExists, provision_tenant

    async def run(settings: Settings, db: Database) -> None:
        await migrate_platform(db)
        try:
            ref = await provision_tenant(db, slug=slug, name=name, tier=tier, owner_email=owner_email, actor="cli")
        except InvalidSlug as exc:
            raise click.ClickException(f"slug {exc.rule}") from None
        except TenantExists:
            raise click.ClickException(f"tenant {slug!r} already exists") from None
        if owner_email:
            from anima.identity.members import invite
            from anima.tenancy.scope import ScopedTenant

            async with db.sessionmaker()() as session:
                await invite(session, ScopedTenant(ref.id, ref.slug, name or slug, "active", tier), email=owner_email,
                             role="OWNER", invited_by=None, public_url=settings.public_url,  # type: ignore[arg-type]
                             log_link=not settings.is_production)
                await session.commit()
        click.echo(f"tenant {ref.slug} (id {ref.id}) active in schema {ref.schema_name}")

    _run(run)


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON array, for scripts")
def tenants_list(as_json: bool) -> None:
    """List tenants with state, tier and revision."""

    async def run(settings: Settings, db: Database) -> list[dict[str, Any]]:
        from anima.tenancy import registry

        async with db.admin.connect() as conn:
            rows, _ = await registry.listing(conn)
        hidden = ("db_role",)
        return [
            {**{k: v for k, v in r._mapping.items() if k not in hidden}, "created_at": r.created_at.isoformat()}
            for r in rows
        ]

    rows = _run(run)
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'ID':>5}  {'SLUG':<24} {'TIER':<8} {'STATE':<13} {'REVISION':<14} NAME")
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['slug']:<24} {r['tier']:<8} {r['state']:<13} {str(r['revision']):<14} {r['name']}")


@tenants.command("show")
@click.argument("slug")
def tenants_show(slug: str) -> None:
    """Show one tenant, its usage counts and its recent lifecycle events (JSON)."""
    from anima.tenancy import registry
    from anima.tenancy.counts import tenant_counts

    async def run(settings: Settings, db: Database) -> dict[str, Any] | None:
        async with db.sessionmaker()() as session:
            row = await registry.by_slug(session, slug)
            if row is None:
                return None
            events = [dict(e._mapping) for e in await registry.recent_events(session, row.id)]
            usage = (await tenant_counts(session, [row]))[row.id]
            await session.rollback()
        out = dict(row._mapping)
        out["created_at"] = out["created_at"].isoformat()
        out["usage"] = usage
        out["events"] = [{**e, "created_at": e["created_at"].isoformat()} for e in events]
        return out

    found = _run(run)
    if found is None:
        raise click.ClickException(f"no tenant {slug!r}")
    click.echo(json.dumps(found, indent=2, default=str))


@tenants.command("migrate")
@click.option("--concurrency", type=int, default=None, help="tenants at once (ANIMA_MIGRATION_CONCURRENCY)")
@click.option("--to", "target", default="head", show_default=True, help="target revision")
@click.option("--slug", "slugs", multiple=True, help="only these tenants")
def tenants_migrate(concurrency: int | None, target: str, slugs: tuple[str, ...]) -> None:
    """Resume interrupted provisioning, then migrate tenants; failures are reported, the others finish."""
    from anima.tenancy.migrations import migrate_tenants
    from anima.tenancy.provisioning import resume_provisioning

    async def run(settings: Settings, db: Database):
        await migrate_platform(db)
        resumed = await resume_provisioning(db)
        report = await migrate_tenants(
            db.admin, concurrency=concurrency or settings.migration_concurrency, target=target, slugs=list(slugs) or None
        )
        return resumed, report

    resumed, report = _run(run)
    if resumed:
        click.echo(f"completed provisioning: {', '.join(resumed)}")
    click.echo(f"{report.counts()} in {report.seconds:.2f}s (head {report.head})")
    for r in report.failed:
        click.echo(f"  FAILED {r.slug} (left at {r.revision_before}): {r.error}", err=True)
    if report.failed:
        sys.exit(1)


def _state_command(name: str, target: str) -> None:
    @tenants.command(name)
    @click.argument("slug")
    @click.option("--reason", required=True, help="why (recorded)")
    def command(slug: str, reason: str) -> None:
        from anima.tenancy.models import TenantState
        from anima.tenancy.provisioning import TenantNotFound, set_state

        async def run(settings: Settings, db: Database) -> None:
            try:
                await set_state(db, slug, TenantState(target), actor=f"cli:{getpass.getuser()}", reason=reason)
            except TenantNotFound:
                raise click.ClickException(f"no tenant {slug!r}") from None
            except ValueError as exc:
                raise click.ClickException(str(exc)) from None

        _run(run)
        click.echo(f"tenant {slug} is {target}")

    command.__doc__ = f"{name.capitalize()} a tenant (data untouched)."


_state_command("suspend", "suspended")
_state_command("resume", "active")


@tenants.command("reindex-phones")
@click.argument("slugs", nargs=-1)
def tenants_reindex_phones(slugs: tuple[str, ...]) -> None:
    """Rewrite patients' phones in E.164 with their blind index (each tenant, or SLUGS): phones saved
    before they were normalized then match leads' numbers. Needs the keyring, hence not a migration."""
    import sqlalchemy as sa

    from anima.domains.patients.services import reindex_phones
    from anima.jobs.runner import tenant_transaction
    from anima.runtime import build_runtime

    async def run(settings: Settings, db: Database) -> list[tuple[str, int]]:
        runtime = build_runtime(settings, db)
        async with db.admin.connect() as conn:
            query = "SELECT id, slug FROM platform.tenants WHERE state = 'active'" + (" AND slug = ANY(:s)" if slugs else "") + " ORDER BY slug"
            tenants_rows = (await conn.execute(sa.text(query), {"s": list(slugs)} if slugs else {})).all()
        done = []
        for tenant_id, slug in tenants_rows:
            async with tenant_transaction(runtime, tenant_id) as tx:
                done.append((slug, await reindex_phones(tx.session, tx.cipher)))
        return done

    for slug, changed in _run(run):
        click.echo(f"{slug}: {changed} phone(s) rewritten")


@tenants.command("delete")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="really drop the schema and role")
@click.option("--reason", default=None)
def tenants_delete(slug: str, yes: bool, reason: str | None) -> None:
    """Drop a tenant's schema and role and its registry entry. Needs --yes."""
    from anima.tenancy.provisioning import TenantNotFound, delete_tenant

    if not yes:
        raise click.ClickException("deleting drops every record of the tenant; repeat with --yes to do it")

    async def run(settings: Settings, db: Database) -> None:
        try:
            await delete_tenant(db, slug, actor=f"cli:{getpass.getuser()}", reason=reason)
        except TenantNotFound:
            raise click.ClickException(f"no tenant {slug!r}") from None

    _run(run)
    click.echo(f"tenant {slug} deleted")


@tenants.command("apply")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def tenants_apply(directory: str) -> None:
    """Reconcile tenants with the manifests in DIRECTORY: create missing, update changed, delete nothing."""
    from anima.tenancy.manifests import ManifestError, apply_manifests

    async def run(settings: Settings, db: Database):
        await migrate_platform(db)
        try:
            return await apply_manifests(db, Path(directory), actor="cli:apply", public_url=settings.public_url)
        except ManifestError as exc:
            raise click.ClickException(str(exc)) from None

    report = _run(run)
    click.echo(f"created: {report.created}\nupdated: {report.updated}\nunchanged: {report.unchanged}")


@main.group()
def operators() -> None:
    """Platform operators."""


@operators.command("create")
@click.argument("email")
@click.option("--name", default="Operator")
@click.password_option(help="the operator's password (prompted when omitted)")
def operators_create(email: str, name: str, password: str) -> None:
    """Create a platform operator, or promote an existing user."""
    from anima.identity.operators import ensure_operator
    from anima.identity.passwords import WeakPassword

    async def run(settings: Settings, db: Database) -> None:
        await migrate_platform(db)
        try:
            await ensure_operator(db, email=email, password=password, display_name=name)
        except WeakPassword as exc:
            raise click.ClickException(f"password {exc}") from None

    _run(run)
    click.echo(f"{email} is an operator")


@main.group()
def migrations() -> None:
    """Authoring migrations."""


@migrations.command("revision")
@click.argument("side", type=click.Choice(["platform", "tenant"]))
@click.option("-m", "--message", required=True)
def migrations_revision(side: str, message: str) -> None:
    """Autogenerate a revision for SIDE against a scratch database; review the file it writes."""
    from anima.tenancy.autogenerate import write_revision

    async def run(settings: Settings, db: Database) -> str:
        return await write_revision(db, settings, side, message)

    click.echo(_run(run))


@main.group()
def billing() -> None:
    """Billing: tiers and grace periods."""


@billing.command("expire-grace")
def billing_expire_grace() -> None:
    """Move tenants whose grace period (failed payment, cancellation) has ended to the tier that remains."""
    from anima.billing.grace import apply_expired_grace

    async def run(settings: Settings, db: Database):
        return await apply_expired_grace(db)

    changes = _run(run)
    for c in changes:
        click.echo(f"tenant {c.tenant_id}: {c.from_tier} -> {c.to_tier}")
    click.echo(f"{len(changes)} tenant(s) changed")


@main.group()
def mail() -> None:
    """The platform's emails."""


@mail.command("send")
def mail_send() -> None:
    """Send the due queued emails now (what every worker does each minute): SMTP_URL, or the local mailbox."""
    from anima.jobs.mail import send_all
    from anima.runtime import build_runtime

    async def run(settings: Settings, db: Database):
        return await send_all(build_runtime(settings, db))

    counts = _run(run)
    tenants = counts["tenants"]
    click.echo(f"sent {counts['sent']}, retrying {counts['retrying']}, failed {counts['failed']}")
    click.echo(f"organizations' emails: sent {tenants['sent']}, retrying {tenants['retrying']}, failed {tenants['failed']}, "
               f"skipped {tenants['skipped']} (opted out)")


@mail.command("from")
@click.argument("slug")
@click.argument("address", required=False)
def mail_from(slug: str, address: str | None) -> None:
    """Send organization SLUG's emails from ADDRESS (its name stays the display name); without
    ADDRESS, from ANIMA_MAIL_FROM's address again. ADDRESS is the From only when its domain is
    verified (`anima mail domains`); until then it is the messages' Reply-To."""
    from anima.crypto.blind_index import EMAIL_RE

    if address is not None:
        address = address.strip().lower()
        if not EMAIL_RE.fullmatch(address) or not address.isascii() or len(address) > 254:
            raise click.BadParameter("an email address such as hola@practice.example", param_hint="ADDRESS")

    async def run(settings: Settings, db: Database):
        import sqlalchemy as sa

        async with db.admin.begin() as conn:
            return (await conn.execute(
                sa.text("UPDATE platform.tenants SET mail_from_address = :a WHERE slug = :s"), {"a": address, "s": slug}
            )).rowcount

    if not _run(run):
        raise click.ClickException(f"no organization {slug!r}")
    click.echo(f"{slug}: emails from {address or 'the address of ANIMA_MAIL_FROM'}")


@mail.group("domains")
def mail_domains() -> None:
    """Sending domains: organizations send from their own address only on a verified one."""


def _domain_command(action: str, name: str | None) -> Any:
    from anima.mail import domains
    from anima.problems import NotFound

    async def run(settings: Settings, db: Database):
        async with db.sessionmaker()() as session:
            async with session.begin():
                try:
                    if action == "add":
                        return [await domains.add_domain(session, name or "")]
                    if action in ("verify", "unverify"):
                        return [await domains.verify_domain(session, name or "", verified=action == "verify")]
                except (ValueError, NotFound) as exc:
                    return exc
                return await domains.domains(session)

    outcome = _run(run)
    if isinstance(outcome, Exception):
        raise click.ClickException(str(outcome) if not isinstance(outcome, ValueError) else f"{name!r} is not a domain name")
    for d in outcome:
        state = f"verified {d.verified_at:%Y-%m-%d %H:%M}Z" if d.verified_at else "not verified"
        click.echo(f"{d.domain}  {state}")
    if action == "list":
        click.echo(f"{len(outcome)} domain(s)")


@mail_domains.command("add")
@click.argument("domain")
def mail_domains_add(domain: str) -> None:
    """Add DOMAIN (not yet verified). Then publish what your mail server needs to send for it
    (SPF, DKIM) and run `anima mail domains verify DOMAIN`."""
    _domain_command("add", domain)


@mail_domains.command("verify")
@click.argument("domain")
def mail_domains_verify(domain: str) -> None:
    """Record that DOMAIN lets this deployment send for it (SPF/DKIM published): organizations'
    addresses on it become their From."""
    _domain_command("verify", domain)


@mail_domains.command("unverify")
@click.argument("domain")
def mail_domains_unverify(domain: str) -> None:
    """Stop sending From DOMAIN (its organizations' addresses become their Reply-To again)."""
    _domain_command("unverify", domain)


@mail_domains.command("list")
def mail_domains_list() -> None:
    """List the sending domains and whether each is verified."""
    _domain_command("list", None)


@mail.command("failures")
def mail_failures_list() -> None:
    """List the messages that failed for good (id, organization, channel, kind, reason; never content)."""
    from anima.mail import failures

    async def run(settings: Settings, db: Database):
        async with db.sessionmaker()() as session:
            return await failures.open_failures(session, limit=200, offset=0)

    rows, total = _run(run)
    for f in rows:
        click.echo(f"{f.id}  {f.failed_at:%Y-%m-%d %H:%M}Z  {f.tenant_id or 'platform'}  {f.channel}  {f.kind}  {f.reason}")
    click.echo(f"{total} failed message(s)")


@mail.command("retry")
@click.argument("failure_id", type=click.UUID)
def mail_retry(failure_id: Any) -> None:
    """Put one failed message (an id from `anima mail failures`) back in its queue, due now."""
    from anima.mail import failures
    from anima.problems import NotFound
    from anima.runtime import build_runtime

    async def run(settings: Settings, db: Database):
        try:
            return await failures.retry(build_runtime(settings, db), failure_id)
        except NotFound as exc:
            return exc

    outcome = _run(run)
    if isinstance(outcome, Exception):
        raise click.ClickException(str(outcome))
    click.echo(f"{failure_id} queued again; the next mail run sends it")


@main.group()
def keys() -> None:
    """Field-encryption keys: data-key rotation and master-key rotation."""


def _key_reports(reports: list[Any]) -> None:
    failed = 0
    for r in reports:
        if r.error:
            failed += 1
            click.echo(f"{r.slug}: FAILED {r.error}", err=True)
        else:
            rows = sum(r.reencrypted.values())
            version = f" data key v{r.version}," if r.version else ""
            click.echo(f"{r.slug}:{version} {rows} row(s) re-encrypted, {r.rewrapped} key(s) re-wrapped")
    if failed:
        sys.exit(1)


@keys.command("rotate")
@click.option("--slug", "slugs", multiple=True, help="only these tenants")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--resume", is_flag=True, help="no new version: only finish re-encrypting rows on older versions")
def keys_rotate(slugs: tuple[str, ...], batch_size: int, resume: bool) -> None:
    """New data-key version per tenant, then re-encrypt every encrypted field in batches (resumable)."""
    from anima.crypto.keyring import Keyring
    from anima.crypto.rotation import rotate_data_keys

    async def run(settings: Settings, db: Database) -> list[Any]:
        ring = Keyring(settings.master_key, db.admin)
        return await rotate_data_keys(db.admin, ring, slugs=slugs, resume_only=resume, batch_size=batch_size)

    _key_reports(_run(run))


@keys.command("rotate-master")
@click.option("--new-master-key-env", required=True, help="name of the variable holding the new key (base64 of 32 bytes)")
@click.option("--slug", "slugs", multiple=True, help="only these tenants")
def keys_rotate_master(new_master_key_env: str, slugs: tuple[str, ...]) -> None:
    """Re-wrap every tenant's keys under a new master key; then set ANIMA_MASTER_KEY to it and restart."""
    import base64
    import os

    from anima.crypto.rotation import rotate_master_key

    raw = os.environ.get(new_master_key_env, "")
    try:
        new_key = base64.b64decode(raw, validate=True)
    except ValueError:
        new_key = b""
    if len(new_key) != 32:
        click.echo(f"{new_master_key_env} must hold base64 of 32 bytes", err=True)
        sys.exit(2)

    async def run(settings: Settings, db: Database) -> list[Any]:
        if new_key == settings.master_key:
            click.echo("the new master key equals ANIMA_MASTER_KEY", err=True)
            sys.exit(2)
        return await rotate_master_key(db.admin, settings.master_key, new_key, slugs=slugs)

    _key_reports(_run(run))
    click.echo(f"done: set ANIMA_MASTER_KEY to the value of {new_master_key_env} and restart every process")


@main.command()
def worker() -> None:
    """Run a job worker and the outbox relay (SAQ on Redis when REDIS_URL is set, else on PostgreSQL).

    At niceness ``ANIMA_WORKER_NICE`` (default 5) and on uvloop: see :mod:`anima.process_tuning`.
    """
    from anima.jobs.worker import run_worker
    from anima.process_tuning import event_loop_factory, lower_priority

    async def run(settings: Settings, db: Database) -> None:
        await migrate_platform(db)
        await run_worker(settings, db)

    lower_priority(_settings().worker_nice)
    _run(run, loop_factory=event_loop_factory())


@main.command()
def catalogs() -> None:
    """Extract the pages' messages and bring every locales/<lang>.po in step (translations kept)."""
    from anima.web.catalogs import areas, update_area
    from anima.web.i18n import PACKAGE_ROOT

    for area in areas():
        missing = update_area(area)
        todo = ", ".join(f"{lang}: {n}" for lang, n in missing.items() if n) or "complete"
        click.echo(f"{area.relative_to(PACKAGE_ROOT)}: {todo}")


if __name__ == "__main__":  # pragma: no cover
    main()
