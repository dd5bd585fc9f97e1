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

import hashlib
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.db.engine import begin_with
from anima.tenancy.naming import SLUG_PATTERN

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


#: what a confirming statement may inline: slugs as :func:`anima.tenancy.naming.validate_slug`
#: allows them, and the closed sets of tiers and member roles
_INLINE_SLUG = re.compile(SLUG_PATTERN)
_INLINE_TIERS = frozenset({"BUILDER", "PRO", "CENTER"})
_INLINE_ROLES = frozenset({"OWNER", "THERAPIST", "ASSISTANT"})

#: ``BEGIN`` plus the member statement with the facts last seen for (slug, user) as conditions
#: (the tenant id being known, membership and session are uncorrelated EXISTS: one-time filters,
#: cheaper to plan than the ordinary statement's join — a simple-protocol query is planned each time):
#: ``SELECT 1`` means they still hold — same slug, membership with that role, live auth session,
#: active tenant with that id, tier and name — and the transaction is scoped; ``SELECT 0`` means
#: something changed (or never held) and nothing was scoped.
_CONFIRM_MEMBER_SCOPE = (
    " SELECT set_config('search_path', quote_ident(t.schema_name), true), set_config('role', t.db_role, true)"
    " FROM platform.tenants t"
    " WHERE t.slug = '{slug}' AND t.id = {id} AND t.state = 'active' AND t.tier = '{tier}'"
    " AND md5(t.name) = '{name_md5}'"
    " AND EXISTS (SELECT FROM platform.memberships m"
    " WHERE m.tenant_id = {id} AND m.user_id = '{user}'::uuid AND m.role = '{role}')"
    " AND EXISTS (SELECT FROM platform.auth_sessions s WHERE s.id = '{session}'::uuid AND s.user_id = '{user}'::uuid"
    " AND s.revoked_at IS NULL AND s.expires_at > now())"
)


class _SeenMembers:
    """Per process: the tenant facts last returned for (slug, user), at most ``capacity`` (oldest out).

    Never an authorization by itself: an entry only lets the next request of the same member
    *confirm* the facts inside the statement that scopes its transaction (see
    :func:`enter_as_member`).
    """

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, uuid.UUID], ScopedTenant] = OrderedDict()

    def get(self, slug: str, user_id: uuid.UUID) -> ScopedTenant | None:
        return self._entries.get((slug, user_id))

    def put(self, slug: str, user_id: uuid.UUID, tenant: ScopedTenant) -> None:
        self._entries[(slug, user_id)] = tenant
        self._entries.move_to_end((slug, user_id))
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def drop(self, slug: str, user_id: uuid.UUID) -> None:
        self._entries.pop((slug, user_id), None)


SEEN_MEMBERS = _SeenMembers()


def _confirming_statement(seen: ScopedTenant, user_id: uuid.UUID, session_id: uuid.UUID) -> str | None:
    """The confirming statement for ``seen``, or None when a value is not safe to inline."""
    if not (_INLINE_SLUG.fullmatch(seen.slug) and seen.tier in _INLINE_TIERS and seen.member_role in _INLINE_ROLES):
        return None
    return _CONFIRM_MEMBER_SCOPE.format(
        user=uuid.UUID(str(user_id)), session=uuid.UUID(str(session_id)), slug=seen.slug, id=int(seen.id),
        tier=seen.tier, role=seen.member_role, name_md5=hashlib.md5(seen.name.encode()).hexdigest(),  # noqa: S324 - a fingerprint, not security
    )


async def enter_as_member(
    session: AsyncSession, *, slug: str, user_id: uuid.UUID, session_id: uuid.UUID, enter: bool = True
) -> ScopedTenant | None:
    """Resolve ``slug`` for a member and, with ``enter``, scope ``session``'s transaction to it — in one statement.

    With ``enter=False`` the same statement only authorizes: the transaction stays on the platform
    (for routes that work on members, invitations or billing, which live in ``platform``).

    **One round trip, BEGIN included.** When the same member entered the same organization
    before in this process, the transaction starts with ``BEGIN`` and a statement that both
    *confirms* every fact returned last time (membership and its role, live auth session, tenant
    id, active state, tier, name) and scopes — sent together (:func:`anima.db.engine.begin_with`).
    Only when that statement matches (``SELECT 1``) are the remembered facts returned; the check is
    as live as the ordinary statement's. Otherwise (first visit, anything changed, a revoked
    session, a value unsafe to inline) the ordinary parameterized statement runs in the same
    transaction and decides, as it always did.

    Returns:
        The tenant, with ``member_role``; None when there is no such tenant, the user is not a
        member, or the auth session is revoked or expired. When the tenant is not active the
        transaction is **not** scoped and the caller must refuse the request.
    """
    seen = SEEN_MEMBERS.get(slug, user_id) if enter else None
    if seen is not None:
        confirming = _confirming_statement(seen, user_id, session_id)
        if confirming is not None and await begin_with(session, confirming) == "SELECT 1":
            return seen
    scoped = await _enter_as_member(session, slug=slug, user_id=user_id, session_id=session_id, enter=enter)
    if enter:
        if scoped is not None and scoped.active:
            SEEN_MEMBERS.put(slug, user_id, scoped)
        else:
            SEEN_MEMBERS.drop(slug, user_id)
    return scoped


async def _enter_as_member(
    session: AsyncSession, *, slug: str, user_id: uuid.UUID, session_id: uuid.UUID, enter: bool
) -> ScopedTenant | None:
    """The ordinary path of :func:`enter_as_member`: one parameterized statement."""
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
