"""Reading and updating the tenant registry (``platform.tenants``) through its model.

Every module that needs a tenant's row, its schema, its tier or the list of tenants goes through
these functions (SQLAlchemy Core over :class:`~anima.tenancy.models.Tenant`), never through SQL
strings of its own; the one exception is :mod:`anima.tenancy.scope`, whose single scoping
statement is the hot path of every request and is written out on purpose.

All functions take an ``AsyncSession`` or ``AsyncConnection`` on the platform (not scoped to a
tenant) and run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from anima.tenancy.models import Tenant, TenantEvent, TenantState

Executor = AsyncSession | AsyncConnection

#: the registry columns operators and the CLI see
PUBLIC_COLUMNS = (
    Tenant.id, Tenant.slug, Tenant.name, Tenant.tier, Tenant.state, Tenant.schema_name, Tenant.db_role,
    Tenant.revision, Tenant.last_migration_error, Tenant.created_at,
)

#: states in which a tenant has a schema that migrations and key rotation must visit
LIVE_STATES = (TenantState.ACTIVE.value, TenantState.SUSPENDED.value)


async def by_slug(db: Executor, slug: str) -> Row[Any] | None:
    """The registry row (:data:`PUBLIC_COLUMNS`) of ``slug``, or None."""
    return (await db.execute(sa.select(*PUBLIC_COLUMNS).where(Tenant.slug == slug))).first()


async def by_id(db: Executor, tenant_id: int) -> Row[Any] | None:
    """The registry row (:data:`PUBLIC_COLUMNS`) of ``tenant_id``, or None."""
    return (await db.execute(sa.select(*PUBLIC_COLUMNS).where(Tenant.id == tenant_id))).first()


async def id_of(db: Executor, slug: str) -> int | None:
    """The id of the tenant ``slug``, or None."""
    return (await db.execute(sa.select(Tenant.id).where(Tenant.slug == slug))).scalar_one_or_none()


async def id_of_schema(db: Executor, schema: str) -> int | None:
    """The id of the tenant whose schema is ``schema``, or None."""
    return (await db.execute(sa.select(Tenant.id).where(Tenant.schema_name == schema))).scalar_one_or_none()


async def exists(db: Executor, tenant_id: int) -> bool:
    """Whether a tenant with this id is registered (in any state)."""
    return (await db.execute(sa.select(Tenant.id).where(Tenant.id == tenant_id))).first() is not None


async def tier_of(db: Executor, tenant_id: int) -> str:
    """The tenant's current tier. Raises ``sqlalchemy.exc.NoResultFound`` for an unknown id."""
    return (await db.execute(sa.select(Tenant.tier).where(Tenant.id == tenant_id))).scalar_one()


async def schema_of(db: Executor, tenant_id: int) -> str | None:
    """The tenant's schema name (None while provisioning has not named it, or unknown id)."""
    return (await db.execute(sa.select(Tenant.schema_name).where(Tenant.id == tenant_id))).scalar_one_or_none()


def filtered(
    *, states: Sequence[str] | None = None, tier: str | None = None, search: str | None = None,
    slugs: Sequence[str] | None = None, with_schema: bool = False,
) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions over the registry: states, tier, slug/name contains ``search``, slugs."""
    where: list[sa.ColumnElement[bool]] = []
    if states:
        where.append(Tenant.state.in_(list(states)))
    if tier:
        where.append(Tenant.tier == tier)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(Tenant.slug.ilike(pattern, escape="\\"), Tenant.name.ilike(pattern, escape="\\")))
    if slugs:
        where.append(Tenant.slug.in_(list(slugs)))
    if with_schema:
        where.append(Tenant.schema_name.is_not(None))
    return where


async def listing(
    db: Executor, where: Sequence[sa.ColumnElement[bool]] = (), *, limit: int | None = None, offset: int = 0
) -> tuple[list[Row[Any]], int]:
    """Registry rows matching ``where``, by id, and their total."""
    total = (await db.execute(sa.select(sa.func.count()).select_from(Tenant).where(*where))).scalar_one()
    query = sa.select(*PUBLIC_COLUMNS).where(*where).order_by(Tenant.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await db.execute(query)).all()), total


async def active_ids(db: Executor) -> list[int]:
    """Ids of every active tenant, ascending."""
    return list((await db.execute(
        sa.select(Tenant.id).where(Tenant.state == TenantState.ACTIVE.value).order_by(Tenant.id)
    )).scalars())


async def update(db: Executor, tenant_id: int, **values: Any) -> None:
    """Set registry columns of one tenant (e.g. ``name``, ``tier``, ``revision``)."""
    await db.execute(sa.update(Tenant).where(Tenant.id == tenant_id).values(**values))


async def recent_events(db: Executor, tenant_id: int, *, limit: int = 20) -> list[Row[Any]]:
    """The tenant's latest lifecycle events (action, actor, reason, created_at), newest first."""
    return list((await db.execute(
        sa.select(TenantEvent.action, TenantEvent.actor, TenantEvent.reason, TenantEvent.created_at)
        .where(TenantEvent.tenant_id == tenant_id)
        .order_by(TenantEvent.created_at.desc())
        .limit(limit)
    )).all())
