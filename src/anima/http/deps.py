"""Litestar dependencies shared by every route: the platform session, the caller, the tenant.

* ``db_session`` — an :class:`AsyncSession` on the app engine for platform tables; committed when
  the handler succeeds, rolled back otherwise.
* ``claims`` — the verified access token (:class:`~anima.identity.tokens.AccessClaims`); 401 without.
* ``tenant`` — a :class:`TenantContext`: the organization named by ``{org_slug}`` entered as the
  caller's membership in **one statement** (:func:`anima.tenancy.scope.enter_as_member`); the
  route's allowed roles (``opt={"roles": …}``, see :func:`allow`) are enforced before the handler
  runs. A non-member gets 404, a member with another role 403, a suspended organization 403 with
  its own problem type.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from anima.config import Settings
from anima.db.engine import Database
from anima.http.context import CLAIMS_STATE_KEY, bind_identity
from anima.http.problems import Forbidden, NotFound, TenantUnavailable, Unauthorized
from anima.identity.models import Role
from anima.identity.rate_limit import RateLimiter
from anima.identity.tokens import AccessClaims, InvalidToken, decode_access_token
from anima.tenancy.scope import ScopedTenant, enter_as_member


@dataclass
class Services:
    """Process-wide objects kept in ``app.state.anima``."""

    settings: Settings
    db: Database
    sessionmaker: async_sessionmaker
    rate_limiter: RateLimiter


def services_from(state: State) -> Services:
    return state["anima"]


def allow(*roles: Role) -> dict[str, Any]:
    """Route ``opt`` declaring which member roles may call a tenant route."""
    return {"roles": frozenset(r.value for r in roles)}


#: the role sets routes declare (DESIGN.md, "Roles")
EVERY_MEMBER = allow(Role.OWNER, Role.THERAPIST, Role.ASSISTANT)
OWNERS = allow(Role.OWNER)
CLINICIANS = allow(Role.OWNER, Role.THERAPIST)
FRONT_DESK = allow(Role.OWNER, Role.ASSISTANT)


async def _session_scope(maker: async_sessionmaker) -> AsyncGenerator[AsyncSession, None]:
    session: AsyncSession = maker()
    try:
        yield session
    except BaseException:
        await session.rollback()
        raise
    else:
        await session.commit()
    finally:
        await session.close()


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A platform session on the app engine for this request (commit on success)."""
    async for session in _session_scope(services_from(state).sessionmaker):
        yield session


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.scope.get("state", {}).get("client_address") or "unknown"


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def verified_claims(connection: ASGIConnection[Any, Any, Any, Any]) -> AccessClaims:
    """The caller's access claims, verified once per request by the request-context middleware.

    Raises:
        Unauthorized: no bearer token, or one that is invalid or expired.
    """
    if bearer_token(connection) is None:
        raise Unauthorized("a bearer access token is required")
    scope_state = connection.scope.get("state", {})
    if CLAIMS_STATE_KEY in scope_state:
        claims = scope_state[CLAIMS_STATE_KEY]
    else:  # an app assembled without the middleware: verify here
        try:
            claims = decode_access_token(services_from(connection.app.state).settings.secret_key, bearer_token(connection))
        except InvalidToken:
            claims = None
    if claims is None:
        raise Unauthorized("the access token is invalid or expired")
    return claims


async def provide_claims(request: Request[Any, Any, Any]) -> AccessClaims:
    """The caller's verified access token claims; raises 401 when absent or invalid."""
    claims = verified_claims(request)
    bind_identity(user=str(claims.user_id))
    return claims


@dataclass
class TenantContext:
    """A request inside one tenant: the scoped session, the tenant, the caller and their role."""

    session: AsyncSession
    tenant: ScopedTenant
    user_id: uuid.UUID
    role: Role

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


async def provide_tenant(
    request: Request[Any, Any, Any], state: State, org_slug: str, claims: AccessClaims
) -> AsyncGenerator[TenantContext, None]:
    """Enter the organization ``org_slug`` as the caller's membership; see the module docstring."""
    services = services_from(state)
    async for session in _session_scope(services.sessionmaker):
        scoped = await enter_as_member(session, slug=org_slug, user_id=claims.user_id, session_id=claims.session_id)
        if scoped is None:
            raise NotFound(f"organization {org_slug!r} not found")
        if not scoped.active:
            if scoped.state == "suspended":
                raise TenantUnavailable("this organization is suspended; its data is kept. Contact support.")
            raise TenantUnavailable(
                f"this organization is {scoped.state}; try again shortly", extra={"state": scoped.state}
            )
        bind_identity(tenant=scoped.slug)
        allowed = request.route_handler.opt.get("roles")
        if allowed is not None and scoped.member_role not in allowed:
            raise Forbidden(
                f"your role {scoped.member_role} may not do this; allowed: {', '.join(sorted(allowed))}",
                extra={"role": scoped.member_role, "allowed_roles": sorted(allowed)},
            )
        yield TenantContext(session=session, tenant=scoped, user_id=claims.user_id, role=Role(scoped.member_role))
