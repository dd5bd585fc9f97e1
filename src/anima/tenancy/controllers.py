"""The operator API: list tenants with state, tier and usage; provision, suspend, resume.

Operators see the registry and counts, never a tenant's records. Every route needs a live session
of a user with ``is_operator`` (checked in the database, not only in the token).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from anima.http.access import operator_guard
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page
from anima.problems import Conflict, InvalidInput, NotFound
from anima.identity.members import invite
from anima.runtime import Runtime
from anima.tenancy import provisioning, registry
from anima.tenancy.scope import ScopedTenant
from anima.tenancy.models import TenantState
from anima.tenancy.naming import InvalidSlug
from anima.tenancy.schemas import StateChange, TenantCreate, TenantOut, TenantUsage
from anima.tenancy.counts import tenant_counts


def _out(row: Any, usage: dict[str, int] | None) -> TenantOut:
    return TenantOut(
        id=row.id, slug=row.slug, name=row.name, tier=row.tier, state=row.state, revision=row.revision,
        last_migration_error=row.last_migration_error, created_at=row.created_at,
        usage=TenantUsage(**usage) if usage is not None else None,
    )


async def _read_tenant(db_session: AsyncSession, slug: str) -> TenantOut:
    row = await registry.by_slug(db_session, slug)
    if row is None:
        raise NotFound("tenant not found")
    usage = await tenant_counts(db_session, [row])
    return _out(row, usage[row.id])


class OperatorController(Controller):
    path = "/api/v1/operator/tenants"
    tags = ["operator"]
    guards = [operator_guard]

    @get("/", summary="List tenants with state, tier and usage counts")
    async def list_tenants(
        self,
        db_session: AsyncSession,
        operator: str,
        page: Page,
        lifecycle: Annotated[
            Literal["provisioning", "active", "suspended", "deleting"] | None, Parameter(query="state")
        ] = None,
        tier: Literal["BUILDER", "PRO", "CENTER"] | None = None,
        q: Annotated[str | None, Parameter(max_length=100, description="slug or name contains")] = None,
    ) -> OffsetPagination[TenantOut]:
        where = registry.filtered(states=[lifecycle] if lifecycle else None, tier=tier, search=q)
        rows, total = await registry.listing(db_session, where, limit=page.limit, offset=page.offset)
        usage = await tenant_counts(db_session, rows)
        return OffsetPagination(items=[_out(r, usage[r.id]) for r in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{slug:str}", summary="One tenant")
    async def read(self, db_session: AsyncSession, operator: str, slug: str) -> TenantOut:
        return await _read_tenant(db_session, slug)

    @post("/", opt=answers(409), status_code=HTTP_201_CREATED, summary="Provision a tenant and invite its owner")
    async def create(self, runtime: Runtime, db_session: AsyncSession, operator: str, data: TenantCreate) -> TenantOut:
        return await provision_with_owner(runtime, db_session, data, actor=operator)

    @post("/{slug:str}/suspend", opt=answers(409), status_code=HTTP_200_OK, summary="Suspend a tenant (its data is kept)")
    async def suspend(self, runtime: Runtime, db_session: AsyncSession, operator: str, slug: str, data: StateChange) -> TenantOut:
        return await self._set_state(runtime, db_session, operator, slug, TenantState.SUSPENDED, data.reason)

    @post("/{slug:str}/resume", opt=answers(409), status_code=HTTP_200_OK, summary="Resume a suspended tenant")
    async def resume(self, runtime: Runtime, db_session: AsyncSession, operator: str, slug: str, data: StateChange) -> TenantOut:
        return await self._set_state(runtime, db_session, operator, slug, TenantState.ACTIVE, data.reason)

    async def _set_state(self, runtime: Runtime, db_session: AsyncSession, operator: str, slug: str, target: TenantState, reason: str) -> TenantOut:
        return await change_state(runtime, db_session, slug, target, actor=operator, reason=reason)


async def provision_with_owner(runtime: Runtime, db_session: AsyncSession, data: TenantCreate, *, actor: str) -> TenantOut:
    """Provision ``data.slug`` and invite its owner by email (the operator API and console both call this).

    Raises:
        InvalidInput: the slug breaks a rule. Conflict: the slug is taken.
    """
    try:
        ref = await provisioning.provision_tenant(
            runtime.db, slug=data.slug, name=data.name, tier=data.tier, owner_email=data.owner_email, actor=actor
        )
    except InvalidSlug as exc:
        raise InvalidInput.field("slug", "slug", f"slug {exc.rule}") from None
    except provisioning.TenantExists:
        raise Conflict(f"the slug {data.slug!r} is taken", errors=[{"field": "slug", "rule": "unique", "message": "already taken"}]) from None
    await invite(
        db_session,
        ScopedTenant(ref.id, ref.slug, data.name, "active", data.tier),
        email=data.owner_email,
        role="OWNER",
        invited_by=None,  # type: ignore[arg-type]
        public_url=runtime.settings.public_url,
        log_link=not runtime.settings.is_production,
    )
    return await _read_tenant(db_session, ref.slug)


async def change_state(
    runtime: Runtime, db_session: AsyncSession, slug: str, target: TenantState, *, actor: str, reason: str
) -> TenantOut:
    """Suspend or resume ``slug`` (its data is kept); the operator API and console both call this.

    Raises:
        NotFound: no such tenant. Conflict: its state does not allow the change.
    """
    try:
        await provisioning.set_state(runtime.db, slug, target, actor=actor, reason=reason)
    except provisioning.TenantNotFound:
        raise NotFound("tenant not found") from None
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    return await _read_tenant(db_session, slug)


ROUTE_HANDLERS = [OperatorController]


