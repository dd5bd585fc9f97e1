"""Entering a tenant: one round trip at the start of a transaction sets ``search_path`` and ``role``.

Both settings are **transaction-local** (``set_config(..., true)``): they vanish at commit or
rollback, so a pooled connection never carries one tenant's scope into the next transaction, and
the scheme works behind a transaction pooler (PgBouncer), unlike a session-level ``SET``.

After the switch the transaction runs as the tenant's NOLOGIN role, which holds privileges on its
own schema only: a statement that names another tenant's schema fails with
``permission denied``, whatever the application code above it does.

Two entry points:

* :func:`enter_as_member` — for requests: resolves the organization slug, checks that the user is
  a member through a live session, and scopes the transaction, all in the **same single
  statement**. No row means "not found" (a non-member learns nothing of the tenant).
* :func:`enter_tenant` — for jobs, operators' tooling and public endpoints: scopes by tenant id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

_MEMBER_SCOPE = sa.text(
    """
    SELECT t.id, t.slug, t.name, t.state, t.tier, m.role,
           CASE WHEN t.state = 'active' AND :enter
                THEN set_config('search_path', quote_ident(t.schema_name), true) END AS search_path,
           CASE WHEN t.state = 'active' AND :enter THEN set_config('role', t.db_role, true) END AS db_role
    FROM platform.tenants t
    JOIN platform.memberships m ON m.tenant_id = t.id AND m.user_id = :user_id
    JOIN platform.auth_sessions s ON s.id = :session_id AND s.user_id = :user_id
         AND s.revoked_at IS NULL AND s.expires_at > now()
    WHERE t.slug = :slug
    """
)

_ID_SCOPE = sa.text(
    """
    SELECT t.id, t.slug, t.name, t.state, t.tier,
           set_config('search_path', quote_ident(t.schema_name), true) AS search_path,
           set_config('role', t.db_role, true) AS db_role
    FROM platform.tenants t
    WHERE t.id = :tenant_id AND t.state = 'active'
    """
)

_SLUG_SCOPE = sa.text(
    """
    SELECT t.id, t.slug, t.name, t.state, t.tier,
           CASE WHEN t.state = 'active'
                THEN set_config('search_path', quote_ident(t.schema_name), true) END AS search_path,
           CASE WHEN t.state = 'active' THEN set_config('role', t.db_role, true) END AS db_role
    FROM platform.tenants t
    WHERE t.slug = :slug
    """
)

SCOPE_BY_NAMES = sa.text(
    "SELECT set_config('search_path', :search_path, true), set_config('role', :role, true)"
)


@dataclass(frozen=True)
class ScopedTenant:
    """The tenant a transaction has entered, and the member's role when entered as a member."""

    id: int
    slug: str
    name: str
    state: str
    tier: str
    member_role: str | None = None

    @property
    def active(self) -> bool:
        return self.state == "active"


async def enter_as_member(
    session: AsyncSession, *, slug: str, user_id: uuid.UUID, session_id: uuid.UUID, enter: bool = True
) -> ScopedTenant | None:
    """Resolve ``slug`` for a member and, with ``enter``, scope ``session``'s transaction to it — in one statement.

    With ``enter=False`` the same statement only authorizes: the transaction stays on the platform
    (for routes that work on members, invitations or billing, which live in ``platform``).

    Returns:
        The tenant, with ``member_role``; None when there is no such tenant, the user is not a
        member, or the auth session is revoked or expired. When the tenant is not active the
        transaction is **not** scoped and the caller must refuse the request.
    """
    row = (
        await session.execute(
            _MEMBER_SCOPE, {"slug": slug, "user_id": user_id, "session_id": session_id, "enter": enter}
        )
    ).first()
    if row is None:
        return None
    return ScopedTenant(row.id, row.slug, row.name, row.state, row.tier, row.role)


async def enter_tenant(session: AsyncSession, tenant_id: int) -> ScopedTenant | None:
    """Scope ``session``'s transaction to the active tenant ``tenant_id``; None if it is not active."""
    row = (await session.execute(_ID_SCOPE, {"tenant_id": tenant_id})).first()
    if row is None:
        return None
    return ScopedTenant(row.id, row.slug, row.name, row.state, row.tier)


async def enter_by_slug(session: AsyncSession, slug: str) -> ScopedTenant | None:
    """Scope to the tenant with public ``slug`` (public endpoints); not scoped unless active."""
    row = (await session.execute(_SLUG_SCOPE, {"slug": slug})).first()
    if row is None:
        return None
    return ScopedTenant(row.id, row.slug, row.name, row.state, row.tier)


async def current_scope(session: AsyncSession) -> tuple[str, str]:
    """``(search_path, current_user)`` of the session's transaction, for tests and diagnostics."""
    row = (await session.execute(sa.text("SELECT current_setting('search_path'), current_user"))).one()
    return row[0], row[1]
