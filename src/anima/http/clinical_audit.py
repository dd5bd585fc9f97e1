"""Auditing refused attempts at clinical content, after the refusal rolled its transaction back.

An after-exception hook of the application (:func:`record_clinical_denial`). It records
``clinical.access_denied`` when an organization request failed with

* a problem a service marked as a denial (:func:`anima.domains.audit.denials.mark_denied`), or
* a 403 ``forbidden`` on a route that declares itself clinical (``opt`` :data:`CLINICAL`: the journal, the
  analyses, the export, the block review) — the role guard of :mod:`anima.http.access`, which
  refuses an assistant before any service runs.

Why a hook: the refusal is an exception, and the request's tenant transaction is rolled back
with it (by the ``tenant`` dependency), taking any trail line written there along. The hook runs
after that rollback, in the request's task, and writes the line in a transaction of its own
entered through :func:`anima.jobs.runner.tenant_transaction`, the one helper for entering a tenant
outside a request's own scope. Services stay free of commits and of the request, and every refusal
is covered by one mechanism whatever raised it. Patient and entry come from the mark or, failing
that, from the route's path parameters; the route is recorded as its template (``/api/v1/orgs/
{org_slug}/patients/{patient_id}/journal``), never with query strings. A failure to write the line
is logged (type only) and never changes the answer.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.types import Scope

from anima.domains.audit.denials import Denial, denial_of, record_denial
from anima.domains.audit.services import Actor
from anima.jobs.runner import TenantInactive, tenant_transaction
from anima.logs import get_logger
from anima.problems import Forbidden, Problem
from anima.runtime import runtime_of

log = get_logger(__name__)

#: ``opt`` key of a route that reaches clinical content
CLINICAL_OPT = "clinical"
#: merge into a route's ``opt``: ``opt=CLINICIANS | CLINICAL``
CLINICAL: dict[str, Any] = {CLINICAL_OPT: True}
#: scope-state key under which :mod:`anima.http.access` leaves the authorized member's scope
MEMBER_SCOPE_KEY = "member_scope"


def _uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def denial_for(exc: BaseException, scope: Scope) -> Denial | None:
    """The denial to record for ``exc`` raised in ``scope``, or None when it is not one."""
    marked = denial_of(exc)
    handler = scope.get("route_handler")
    clinical_route = bool(handler is not None and handler.opt.get(CLINICAL_OPT))
    # only a refusal of the person (Forbidden) — a plan limit or a suspended organization answers
    # 403 too, but refuses nobody access to clinical content
    if marked is None and not (clinical_route and isinstance(exc, Forbidden)):
        return None
    params = scope.get("path_params") or {}
    reason = marked.reason if marked else "role-not-allowed"
    return Denial(
        reason,
        (marked.patient_id if marked else None) or _uuid(params.get("patient_id")),
        (marked.entry_id if marked else None) or _uuid(params.get("entry_id")),
    )


async def record_clinical_denial(exc: Exception, scope: Scope) -> None:
    """After-exception hook: write ``clinical.access_denied`` for a refused clinical access (see module)."""
    state = scope.get("state") or {}
    member = state.get(MEMBER_SCOPE_KEY)
    if member is None or scope.get("type") != "http":
        return  # not an authorized organization request: nothing clinical was reached
    denial = denial_for(exc, scope)
    if denial is None:
        return
    claims = state.get("access_claims")
    actor = Actor(getattr(claims, "user_id", None), str(member.member_role), state.get("request_id"), state.get("client_address"))
    handler = scope.get("route_handler")
    route = scope.get("path_template") or (handler.paths and sorted(handler.paths)[0]) or scope.get("path", "")
    try:
        async with tenant_transaction(runtime_of(scope["litestar_app"].state), member.id) as tj:
            await record_denial(
                tj.session, actor, denial, method=scope.get("method", ""), route=str(route),
                status=exc.status if isinstance(exc, Problem) else 500,
            )
    except TenantInactive:
        return
    except Exception as error:  # noqa: BLE001 - the refusal is still answered
        log.error("could not audit a refused clinical access", error_type=type(error).__qualname__)
