"""Who may call an organization route: one mechanism, driven by the roles the route declares.

Every ``/api/v1/orgs/{org_slug}`` route declares its roles in ``opt`` (:func:`allow`, or one of the
role sets :data:`EVERY_MEMBER`, :data:`OWNERS`, :data:`CLINICIANS`, :data:`FRONT_DESK`) and asks
for one of two dependencies, both authorized by the **same single statement**
(:func:`anima.tenancy.scope.enter_as_member`: organization slug, membership and live auth session):

* ``tenant`` — a :class:`TenantContext`: the transaction is also *scoped* to the tenant's schema
  and role, for routes that work on tenant data;
* ``member`` — a :class:`MemberContext`: the transaction stays on the platform, for routes that
  work on platform tables (members, invitations, billing).

A non-member (or a revoked or expired session) gets 404 — tenants do not learn of each other —, a
member whose role the route does not allow 403, a suspended organization 403 with its own problem
type. A route under ``/orgs/{org_slug}`` that declares no roles, or asks for neither dependency,
is refused when the application is built (:func:`check_org_routes`).

Also here: ``db_session`` (a platform session for public and account routes), ``claims`` (the
verified access token; 401 without) and the client address.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from anima.http.context import CLAIMS_STATE_KEY, bind_identity
from anima.identity.models import Role
from anima.identity.sessions import live_user
from anima.identity.tokens import AccessClaims, InvalidToken, decode_access_token
from anima.problems import Forbidden, NotFound, TenantUnavailable, Unauthorized
from anima.runtime import runtime_of
from anima.tenancy.scope import ScopedTenant, enter_as_member

#: the ``opt`` key under which a route declares the member roles it allows
ROLES_OPT = "roles"


def allow(*roles: Role) -> dict[str, Any]:
    """Route ``opt`` declaring which member roles may call an organization route."""
    return {ROLES_OPT: frozenset(r.value for r in roles)}


#: the role sets routes declare (see the README's roles table)
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
    async for session in _session_scope(runtime_of(state).sessionmaker):
        yield session


def client_address(request: Request[Any, Any, Any]) -> str:
    """The client's address as the request-context middleware resolved it (trusted proxies applied)."""
    return request.scope.get("state", {}).get("client_address") or "unknown"


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer token of the ``Authorization`` header, or None."""
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
            claims = decode_access_token(runtime_of(connection.app.state).settings.secret_key, bearer_token(connection))
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
class MemberContext:
    """An authorized member of one organization: the request's session, the tenant, the caller, their role.

    For ``member`` the session is on the platform; for ``tenant`` (:class:`TenantContext`) it is
    scoped to the tenant's schema and role.
    """

    session: AsyncSession
    tenant: ScopedTenant
    user_id: uuid.UUID
    role: Role

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


class TenantContext(MemberContext):
    """A request inside one tenant: :class:`MemberContext` whose session is scoped to the tenant."""


def declared_roles(request: Request[Any, Any, Any]) -> frozenset[str]:
    """The roles the route declares. A route without a declaration is a programming error.

    Raises:
        RuntimeError: the route declares no roles (:func:`check_org_routes` stops such an app
            from starting, so this only guards an app assembled without it).
    """
    roles = request.route_handler.opt.get(ROLES_OPT)
    if roles is None:
        raise RuntimeError(f"route {request.route_handler.handler_name} declares no roles")
    return roles


async def _authorize(
    request: Request[Any, Any, Any], state: State, org_slug: str, claims: AccessClaims, *, enter: bool
) -> AsyncGenerator[tuple[AsyncSession, ScopedTenant], None]:
    allowed = declared_roles(request)
    async for session in _session_scope(runtime_of(state).sessionmaker):
        scoped = await enter_as_member(
            session, slug=org_slug, user_id=claims.user_id, session_id=claims.session_id, enter=enter
        )
        if scoped is None:
            raise NotFound(f"organization {org_slug!r} not found")
        if not scoped.active:
            if scoped.state == "suspended":
                raise TenantUnavailable("this organization is suspended; its data is kept. Contact support.")
            raise TenantUnavailable(
                f"this organization is {scoped.state}; try again shortly", extra={"state": scoped.state}
            )
        bind_identity(tenant=scoped.slug)
        # who was authorized where, for the audit of refused clinical access (anima.http.clinical_audit)
        request.scope.setdefault("state", {})["member_scope"] = scoped
        if scoped.member_role not in allowed:
            raise Forbidden(
                f"your role {scoped.member_role} may not do this; allowed: {', '.join(sorted(allowed))}",
                extra={"role": scoped.member_role, "allowed_roles": sorted(allowed)},
            )
        yield session, scoped


async def provide_tenant(
    request: Request[Any, Any, Any], state: State, org_slug: str, claims: AccessClaims
) -> AsyncGenerator[TenantContext, None]:
    """Authorize the caller for ``org_slug`` by the route's roles and enter the tenant (scoped session)."""
    async for session, scoped in _authorize(request, state, org_slug, claims, enter=True):
        yield TenantContext(session, scoped, claims.user_id, Role(scoped.member_role))


async def provide_member(
    request: Request[Any, Any, Any], state: State, org_slug: str, claims: AccessClaims
) -> AsyncGenerator[MemberContext, None]:
    """Authorize the caller for ``org_slug`` by the route's roles; the session stays on the platform."""
    async for session, scoped in _authorize(request, state, org_slug, claims, enter=False):
        yield MemberContext(session, scoped, claims.user_id, Role(scoped.member_role))


def operator_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard of the operator API: the bearer token must be valid and carry the operator flag."""
    if not verified_claims(connection).is_operator:
        raise Forbidden("only platform operators may do this")


async def provide_operator(db_session: AsyncSession, claims: AccessClaims) -> str:
    """The operator's email, after checking the live session and the operator flag in the database."""
    user = await live_user(db_session, user_id=claims.user_id, session_id=claims.session_id)
    if not user.is_operator:
        raise Forbidden("only platform operators may do this")
    return user.email


#: the dependencies that authorize an organization route
AUTHORIZING_DEPENDENCIES = frozenset({"tenant", "member"})


def used_dependencies(handler: Any) -> set[str]:
    """Names of every dependency ``handler`` uses, directly or through other dependencies."""
    import inspect

    available = handler.resolve_dependencies()
    seen: set[str] = set()
    pending = list(handler.parsed_fn_signature.parameters)
    while pending:
        name = pending.pop()
        if name in seen or name not in available:
            continue
        seen.add(name)
        pending.extend(inspect.signature(available[name].dependency).parameters)
    return seen


def check_org_routes(routes: Iterable[Any]) -> None:
    """Refuse an application in which an organization route could be reached unauthorized.

    Every handler whose path holds ``{org_slug}`` must declare its roles in ``opt`` and depend on
    exactly one of ``tenant`` or ``member``.

    Raises:
        RuntimeError: naming every offending route.
    """
    bad: list[str] = []
    for route in routes:
        if "{org_slug" not in route.path:
            continue
        for handler in getattr(route, "route_handlers", []):
            if set(handler.http_methods) == {"OPTIONS"}:
                continue  # Litestar's own CORS preflight answer: reaches no data
            problems = []
            if handler.opt.get(ROLES_OPT) is None:
                problems.append("declares no roles")
            authorizing = AUTHORIZING_DEPENDENCIES & used_dependencies(handler)
            if not authorizing:
                problems.append("depends on neither tenant nor member")
            elif len(authorizing) > 1:
                # Litestar resolves independent dependencies concurrently: two authorizations would
                # open two transactions, and a refusal in one cancels the other mid-statement
                problems.append("depends on both tenant and member (ask for one)")
            if problems:
                bad.append(f"{sorted(handler.http_methods)} {route.path}: {', '.join(problems)}")
    if bad:
        raise RuntimeError("organization routes without authorization: " + "; ".join(bad))
