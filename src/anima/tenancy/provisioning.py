"""Provisioning, lifecycle and deletion of tenants.

Provisioning is a sequence of idempotent steps:

1. ``registry`` – the ``platform.tenants`` row (state ``provisioning``), schema and role names
   derived from its id;
2. ``role`` – a NOLOGIN role for the tenant, granted (without inheritance) to the app role;
3. ``schema`` – the schema, closed to PUBLIC, usable by the tenant role, with default privileges
   so that every table the admin creates in it is readable and writable by that role only;
4. ``tables`` – every tenant table at the head revision, created from the metadata and stamped
   (never replaying the migrations), sent as one script (:mod:`anima.tenancy.ddl`);
5. ``seed`` – blueprint data (tenants/blueprint.toml) and the staff rows mirroring memberships;
6. ``activate`` – state ``active``.

The registry row commits first; the other steps then run in one transaction, each as one round
trip or two, so provisioning costs the same whatever the number of tenants (no statement scans a
catalog that grows with them). Each step checks what exists, so a process killed at any point
leaves a tenant in ``provisioning`` that :func:`provision_tenant` (a retry, ``anima tenants create``
again or ``anima tenants migrate``) completes. Requests to a tenant not ``active`` are refused.
"""

from __future__ import annotations

import functools
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from anima.db.engine import Database, quote_ident
from anima.logs import get_logger
from anima.tenancy.ddl import role_script, run_script, schema_script, tables_script
from anima.tenancy.migrations import current_tenant_revision_sync, head_revision
from anima.tenancy import registry
from anima.tenancy.models import Tenant, TenantEvent, TenantState, Tier
from anima.tenancy.naming import role_name, schema_name, validate_slug

log = get_logger(__name__)

BLUEPRINT_PATH = Path(__file__).resolve().parents[3] / "tenants" / "blueprint.toml"
STEPS = ("registry", "role", "schema", "tables", "seed", "activate")


class TenantExists(Exception):
    """A tenant with this slug already exists (and is not being provisioned)."""


class TenantNotFound(Exception):
    """No tenant with this slug or id."""


@dataclass(frozen=True)
class TenantRef:
    """What provisioning needs to know of a registry row."""

    id: int
    slug: str
    schema_name: str
    db_role: str
    state: str


def load_blueprint(path: Path = BLUEPRINT_PATH) -> dict[str, Any]:
    """The blueprint every new tenant starts from (``[settings]`` table of tenants/blueprint.toml)."""
    if not path.exists():
        return {"settings": {}}
    with path.open("rb") as fh:
        return tomllib.load(fh)


@functools.cache
def _blueprint_settings() -> dict[str, Any]:
    """The blueprint's ``[settings]`` (read once per process)."""
    return dict(load_blueprint().get("settings", {}))


async def _fetch(conn: AsyncConnection, *, slug: str | None = None, tenant_id: int | None = None) -> TenantRef | None:
    row = await (registry.by_slug(conn, slug) if slug is not None else registry.by_id(conn, tenant_id))
    if row is None:
        return None
    return TenantRef(row.id, row.slug, row.schema_name, row.db_role, row.state)


async def record_event(
    conn: AsyncConnection, tenant_id: int, action: str, actor: str, reason: str | None = None, **detail: Any
) -> None:
    """Append a row to ``platform.tenant_events``."""
    import json
    import uuid

    await conn.execute(
        sa.insert(TenantEvent).values(
            id=uuid.uuid4(), tenant_id=tenant_id, action=action, actor=actor, reason=reason,
            detail=json.loads(json.dumps(detail, default=str)), created_at=sa.func.now(),
        )
    )


async def register_tenant(
    conn: AsyncConnection,
    db: Database,
    *,
    slug: str,
    name: str,
    tier: str,
    owner_email: str | None,
    actor: str,
    resume: bool = True,
) -> TenantRef:
    """Step ``registry`` inside the caller's transaction: insert the row or return the one provisioning.

    With ``resume`` False (signup), any existing tenant of that slug is a :class:`TenantExists`:
    a signup never joins a tenant someone else started.

    Raises:
        TenantExists: the slug belongs to a tenant past provisioning (or to any tenant, without resume).
        anima.tenancy.naming.InvalidSlug: the slug breaks a rule.
        ValueError: unknown tier.
    """
    validate_slug(slug)
    Tier(tier)
    existing = await _fetch(conn, slug=slug)
    if existing is not None:
        if existing.state != TenantState.PROVISIONING or not resume:
            raise TenantExists(slug)
        return existing
    row = (
        await conn.execute(
            pg_insert(Tenant)
            .values(
                slug=slug, name=name, tier=tier, state=TenantState.PROVISIONING.value, owner_email=owner_email,
                created_at=sa.func.now(), updated_at=sa.func.now(),
            )
            .on_conflict_do_nothing(index_elements=[Tenant.slug])
            .returning(Tenant.id)
        )
    ).first()
    if row is None:  # lost a race with a concurrent registration of the same slug
        raise TenantExists(slug)
    tenant_id = row.id
    schema, role = schema_name(tenant_id), role_name(db.prefix, tenant_id)
    await registry.update(conn, tenant_id, schema_name=schema, db_role=role)
    await record_event(conn, tenant_id, "created", actor, tier=tier)
    return TenantRef(tenant_id, slug, schema, role, TenantState.PROVISIONING.value)


async def _step_role(conn: AsyncConnection, db: Database, ref: TenantRef) -> None:
    await run_script(conn, role_script(ref.db_role, db.app_role))


async def _step_schema(conn: AsyncConnection, db: Database, ref: TenantRef) -> None:
    await run_script(conn, schema_script(ref.schema_name, ref.db_role))


async def _step_tables(conn: AsyncConnection, db: Database, ref: TenantRef) -> str:
    revision = await conn.run_sync(current_tenant_revision_sync, ref.schema_name)
    if revision is None:  # the tables and their stamp commit together: none of them exist yet
        revision = _tenant_head()
        await run_script(conn, tables_script(ref.schema_name, ref.db_role, revision))
    await registry.update(conn, ref.id, revision=revision)
    return revision


@functools.cache
def _tenant_head() -> str:
    """The tenant head revision (the scripts are read once per process)."""
    return head_revision("tenant")


async def _step_seed(conn: AsyncConnection, db: Database, ref: TenantRef) -> None:
    settings = _blueprint_settings()
    schema = quote_ident(ref.schema_name)
    await conn.execute(
        sa.text(
            f"INSERT INTO {schema}.practice_settings (id, people_label, locale, timezone, created_at, updated_at) "
            "VALUES (1, :label, :locale, :tz, now(), now()) ON CONFLICT (id) DO NOTHING"
        ),
        {
            "label": settings.get("people_label", "Patient"),
            "locale": settings.get("locale", "en"),
            "tz": settings.get("timezone", "UTC"),
        },
    )
    await sync_staff(conn, ref)


async def sync_staff(conn: AsyncConnection, ref: TenantRef) -> None:
    """Upsert the tenant's ``staff`` rows from its platform memberships (admin connection)."""
    schema = quote_ident(ref.schema_name)
    await conn.execute(
        sa.text(
            f"INSERT INTO {schema}.staff (id, display_name, email, role, active, time_zone, created_at, updated_at) "
            "SELECT u.id, u.display_name, u.email, m.role, true, u.time_zone, now(), now() "
            "FROM platform.memberships m JOIN platform.users u ON u.id = m.user_id WHERE m.tenant_id = :t "
            "ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, active = true, "
            "display_name = EXCLUDED.display_name, email = EXCLUDED.email, time_zone = EXCLUDED.time_zone, updated_at = now()"
        ),
        {"t": ref.id},
    )


async def _step_activate(conn: AsyncConnection, db: Database, ref: TenantRef, actor: str) -> None:
    updated = await conn.execute(
        sa.update(Tenant)
        .where(Tenant.id == ref.id, Tenant.state == TenantState.PROVISIONING.value)
        .values(state=TenantState.ACTIVE.value, updated_at=sa.func.now())
    )
    if updated.rowcount:
        await record_event(conn, ref.id, "provisioned", actor)


async def run_provisioning_steps(db: Database, ref: TenantRef, *, actor: str, steps: tuple[str, ...] = STEPS) -> None:
    """Run the named steps after ``registry`` for ``ref`` (all of them by default).

    The steps share one transaction, under an advisory lock on the tenant: a crash part-way
    leaves the tenant as the last commit did, and each step checks what exists, so a tenant left
    after any step (tests run a prefix of the steps to leave it as a crash would) is completed.
    """
    async with db.admin.begin() as conn:
        # also begins the driver's transaction before the multi-statement scripts
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ref.id})
        if "role" in steps:
            await _step_role(conn, db, ref)
        if "schema" in steps:
            await _step_schema(conn, db, ref)
        if "tables" in steps:
            await _step_tables(conn, db, ref)
        if "seed" in steps:
            await _step_seed(conn, db, ref)
        if "activate" in steps:
            await _step_activate(conn, db, ref, actor)


async def provision_tenant(
    db: Database,
    *,
    slug: str,
    name: str | None = None,
    tier: str = Tier.BUILDER.value,
    owner_email: str | None = None,
    actor: str = "system",
) -> TenantRef:
    """Create the tenant ``slug`` or complete its provisioning; returns it active.

    Idempotent for a tenant still provisioning; an active, suspended or deleting tenant of that
    slug raises :class:`TenantExists`.

    Raises:
        TenantExists, anima.tenancy.naming.InvalidSlug, ValueError (unknown tier).
    """
    started = time.perf_counter()
    async with db.admin.begin() as conn:
        ref = await register_tenant(
            conn, db, slug=slug, name=name or slug, tier=tier, owner_email=owner_email, actor=actor
        )
    await run_provisioning_steps(db, ref, actor=actor)
    log.info("tenant provisioned", tenant_id=ref.id, slug=slug, ms=round((time.perf_counter() - started) * 1000, 1))
    return TenantRef(ref.id, ref.slug, ref.schema_name, ref.db_role, TenantState.ACTIVE.value)


async def resume_provisioning(db: Database, *, actor: str = "system") -> list[str]:
    """Complete every tenant left in ``provisioning`` (after a crash). Returns their slugs."""
    async with db.admin.connect() as conn:
        rows, _ = await registry.listing(conn, registry.filtered(states=[TenantState.PROVISIONING.value]))
        refs = [await _fetch(conn, tenant_id=r.id) for r in rows]
    done = []
    for ref in refs:
        if ref is None:
            continue
        if ref.schema_name is None:  # crashed between insert and naming: same transaction, cannot happen
            continue
        await run_provisioning_steps(db, ref, actor=actor)
        done.append(ref.slug)
    return done


async def set_state(db: Database, slug: str, state: TenantState, *, actor: str, reason: str | None = None) -> TenantRef:
    """Suspend or resume a tenant (data untouched). Raises :class:`TenantNotFound`, ValueError."""
    allowed = {TenantState.SUSPENDED: ("active", "suspended"), TenantState.ACTIVE: ("suspended", "active")}
    if state not in allowed:
        raise ValueError("only suspend and resume change state here")
    async with db.admin.begin() as conn:
        ref = await _fetch(conn, slug=slug)
        if ref is None:
            raise TenantNotFound(slug)
        if ref.state not in allowed[state]:
            raise ValueError(f"a tenant in state {ref.state} cannot become {state.value}")
        if ref.state != state.value:
            await registry.update(conn, ref.id, state=state.value, updated_at=sa.func.now())
            await record_event(conn, ref.id, "suspended" if state == TenantState.SUSPENDED else "resumed", actor, reason)
    return TenantRef(ref.id, ref.slug, ref.schema_name, ref.db_role, state.value)


async def delete_tenant(db: Database, slug: str, *, actor: str, reason: str | None = None) -> None:
    """Drop the tenant's schema and role and remove its registry row, memberships and invitations.

    Resumable: the state becomes ``deleting`` first; a crash part-way is finished by calling again.

    Raises:
        TenantNotFound: no tenant with this slug.
    """
    async with db.admin.begin() as conn:
        ref = await _fetch(conn, slug=slug)
        if ref is None:
            raise TenantNotFound(slug)
        await registry.update(conn, ref.id, state=TenantState.DELETING.value, updated_at=sa.func.now())
        await record_event(conn, ref.id, "deleting", actor, reason)
    async with db.admin.begin() as conn:
        if ref.schema_name:
            await conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {quote_ident(ref.schema_name)} CASCADE"))
        if ref.db_role:
            exists = await conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": ref.db_role})
            if exists:
                await conn.execute(sa.text(f"DROP OWNED BY {quote_ident(ref.db_role)}"))
                await conn.execute(sa.text(f"DROP ROLE {quote_ident(ref.db_role)}"))
        await conn.execute(sa.delete(Tenant).where(Tenant.id == ref.id))
        await record_event(conn, ref.id, "deleted", actor, reason, slug=ref.slug)
    log.info("tenant deleted", tenant_id=ref.id, slug=slug)
