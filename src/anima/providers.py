"""The application's providers: what a route may ask for by name, assembled in one place.

| name | what | from |
| --- | --- | --- |
| ``db_session`` | platform session (public and account routes) | :mod:`anima.http.access` |
| ``claims`` | the verified access token | :mod:`anima.http.access` |
| ``tenant`` | authorized + scoped organization context (:class:`~anima.http.access.TenantContext`) | :mod:`anima.http.access` |
| ``member`` | authorized organization context on the platform (:class:`~anima.http.access.MemberContext`) | :mod:`anima.http.access` |
| ``viewer`` | who asks and what they may see (:class:`~anima.domains.patients.visibility.Viewer`) | here |
| ``actor`` | who acts, for the audit trail (:class:`~anima.domains.audit.services.Actor`) | here |
| ``cipher`` | the tenant's field cipher (:class:`~anima.crypto.cipher.FieldCipher`) | here |
| ``page`` | validated ``limit``/``offset`` (:class:`~anima.http.pagination.Page`) | :mod:`anima.http.pagination` |
| ``operator`` | a platform operator's email, checked live in the database (operator API) | :mod:`anima.http.access` |
| ``runtime`` | the process's :class:`~anima.runtime.Runtime` | here |

Controllers declare parameters with these names and never build any of them by hand; domain
services receive the built objects, never a request.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.patients.visibility import Viewer, viewer_for
from anima.http.access import (
    TenantContext,
    provide_claims,
    provide_db_session,
    provide_member,
    provide_operator,
    provide_tenant,
)
from anima.http.pagination import provide_page
from anima.runtime import Runtime, runtime_of


def provide_runtime(state: State) -> Runtime:
    """The process's runtime (settings, engines, keyring, rate limiter, AI services)."""
    return runtime_of(state)


async def provide_viewer(tenant: TenantContext) -> Viewer:
    """The caller as the visibility rules see them (reads the clinical policy only for therapists)."""
    return await viewer_for(tenant.session, tenant.user_id, tenant.role.value)


def provide_actor(request: Request[Any, Any, Any], tenant: TenantContext) -> Actor:
    """The audit actor of this request: user, role, request id and client address."""
    state = request.scope.get("state", {})
    return Actor(tenant.user_id, tenant.role.value, state.get("request_id"), state.get("client_address"))


def provide_cipher(runtime: Runtime, tenant: TenantContext) -> FieldCipher:
    """The field cipher of the request's tenant, on its scoped session."""
    return FieldCipher(runtime.keyring, tenant.session, tenant.tenant.id)


def application_dependencies() -> dict[str, Provide]:
    """Every provider of the table above, for ``Litestar(dependencies=...)``."""
    return {
        "runtime": Provide(provide_runtime, sync_to_thread=False),
        "db_session": Provide(provide_db_session),
        "claims": Provide(provide_claims),
        "tenant": Provide(provide_tenant),
        "member": Provide(provide_member),
        "operator": Provide(provide_operator),
        "viewer": Provide(provide_viewer),
        "actor": Provide(provide_actor, sync_to_thread=False),
        "cipher": Provide(provide_cipher, sync_to_thread=False),
        "page": Provide(provide_page, sync_to_thread=False),
    }
