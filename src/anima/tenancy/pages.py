"""The operator console (``/operator/``): tenants, one tenant, provisioning, suspend/resume, comps, failed
jobs, undelivered messages (with a retry).

Every page asks for the ``operator`` provider (:mod:`anima.http.access`): the cookie session must be
live and its user an operator, checked in the database; anyone else gets 403, a signed-out browser
the login page. The pages call the operator API's own functions
(:func:`anima.tenancy.controllers.provision_with_owner`, :func:`~anima.tenancy.controllers.change_state`,
:func:`anima.billing.tiers.set_comp_tier`, :func:`anima.jobs.controllers.failed_jobs`) and show what
that API shows: the registry, lifecycle and tier history, and counts — never a tenant's records.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.overview import billing_overview, tier_history
from anima.billing.plans import CATALOG
from anima.billing.schemas import TierSet
from anima.billing.tiers import set_comp_tier
from anima.identity.models import User
from anima.identity.tokens import AccessClaims
from anima.jobs.controllers import failed_jobs
from anima.jobs.controllers import mail_failures as failed_mail
from anima.mail import failures as mail_failures
from anima.problems import NotFound, Problem
from anima.runtime import Runtime
from anima.tenancy import registry
from anima.tenancy.controllers import change_state, provision_with_owner
from anima.tenancy.counts import tenant_counts
from anima.tenancy.models import Tenant, TenantState
from anima.tenancy.schemas import StateChange, TenantCreate
from anima.web import i18n
from anima.web.forms import FormState, parse, read_form
from anima.web.render import public_language, render, see_other

#: rows per page of the console's lists
PAGE_SIZE = 25
TIERS = tuple((t, t) for t in sorted(CATALOG, key=lambda t: CATALOG[t].rank))
StateFilter = Literal["provisioning", "active", "suspended", "deleting"]
Offset = Annotated[int, Parameter(query="offset", ge=0, le=1_000_000)]


async def _language(request: Request[Any, Any, Any], db_session: AsyncSession, claims: AccessClaims) -> str:
    """The operator's own language, else the browser's; error pages speak it too."""
    own = (await db_session.execute(sa.select(User.language).where(User.id == claims.user_id))).scalar_one_or_none()
    language = i18n.pick_language(own, public_language(request))
    request.scope.setdefault("state", {})["page_language"] = language
    return language


def _page(template: str, language: str, operator: str, *, active: str, status: int = 200, **context: Any) -> Template:
    return render(template, language=language, status=status, operator=operator, active=active, **context)


@get("/operator/", name="operator:tenants")
async def tenants_page(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    operator: str,
    claims: AccessClaims,
    lifecycle: Annotated[StateFilter | None, Parameter(query="state")] = None,
    q: Annotated[str | None, Parameter(query="q", max_length=100)] = None,
    offset: Offset = 0,
) -> Template:
    """Every tenant with its state, tier and usage counts; filter by state or by slug/name, by pages."""
    language = await _language(request, db_session, claims)
    search = (q or "").strip().replace("\x00", "") or None
    where = registry.filtered(states=[lifecycle] if lifecycle else None, search=search)
    rows, total = await registry.listing(db_session, where, limit=PAGE_SIZE, offset=offset)
    usage = await tenant_counts(db_session, rows)  # last: it leaves the transaction in a tenant's scope
    return _page(
        "tenancy/tenants.html", language, operator, active="tenants",
        rows=rows, usage=usage, total=total, offset=offset, limit=PAGE_SIZE, state=lifecycle or "", q=search or "",
        states=[s.value for s in TenantState],
    )


@get("/operator/tenants/new", name="operator:new-tenant")
async def new_tenant_page(request: Request[Any, Any, Any], db_session: AsyncSession, operator: str, claims: AccessClaims) -> Template:
    """The provisioning form: slug, name, tier and the owner's email (invited when provisioned)."""
    language = await _language(request, db_session, claims)
    return _page("tenancy/new_tenant.html", language, operator, active="new", form=FormState(values={"tier": "BUILDER"}), tiers=TIERS)


@post("/operator/tenants", name="operator:provision")
async def provision_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims
) -> Response[Any]:
    """Provision the tenant and invite its owner, as ``POST /api/v1/operator/tenants`` does."""
    language = await _language(request, db_session, claims)
    values = await read_form(request)
    body, form = parse(TenantCreate, values, language=language)
    if body is not None:
        try:
            created = await provision_with_owner(runtime, db_session, body, actor=operator)
        except Problem as problem:
            await db_session.rollback()
            form.show(problem, language)
            return _page("tenancy/new_tenant.html", language, operator, active="new", form=form, tiers=TIERS, status=problem.status)
        return see_other(request, f"/operator/tenants/{created.slug}?provisioned=1")
    return _page("tenancy/new_tenant.html", language, operator, active="new", form=form, tiers=TIERS, status=422)


async def _detail(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, language: str, slug: str,
    *, state_form: FormState | None = None, tier_form: FormState | None = None, status: int = 200, notice: str | None = None,
) -> Template:
    row = await registry.by_slug(db_session, slug)
    if row is None:
        raise NotFound("tenant not found")
    events = await registry.recent_events(db_session, row.id, limit=20)
    history = await tier_history(db_session, row.id, limit=20)
    overview = await billing_overview(db_session, row.id, payments_configured=runtime.settings.payments_configured)
    return _page(
        "tenancy/tenant.html", language, operator, active="tenants", status=status,
        tenant=row, events=events, history=history, overview=overview, tiers=TIERS, notice=notice,
        state_form=state_form or FormState(), tier_form=tier_form or FormState(values={"tier": overview.comp_tier or row.tier}),
    )


@get("/operator/tenants/{slug:str}", name="operator:tenant")
async def tenant_page(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims, slug: str,
    provisioned: Annotated[str | None, Parameter(query="provisioned", max_length=8)] = None,
    done: Annotated[Literal["suspended", "resumed", "tier"] | None, Parameter(query="done")] = None,
) -> Template:
    """One tenant: state, tier, usage counts, lifecycle and tier history; suspend, resume, comp a tier."""
    language = await _language(request, db_session, claims)
    notice = "provisioned" if provisioned else done
    return await _detail(request, runtime, db_session, operator, language, slug[:64], notice=notice)


async def _state_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims,
    slug: str, target: TenantState,
) -> Response[Any]:
    language = await _language(request, db_session, claims)
    slug = slug[:64]
    values = await read_form(request)
    body, form = parse(StateChange, values, language=language)
    if body is not None:
        try:
            await change_state(runtime, db_session, slug, target, actor=operator, reason=body.reason.strip())
        except NotFound:
            raise
        except Problem as problem:
            await db_session.rollback()
            form.show(problem, language)
            return await _detail(request, runtime, db_session, operator, language, slug, state_form=form, status=problem.status)
        done = "suspended" if target == TenantState.SUSPENDED else "resumed"
        return see_other(request, f"/operator/tenants/{slug}?done={done}")
    return await _detail(request, runtime, db_session, operator, language, slug, state_form=form, status=422)


@post("/operator/tenants/{slug:str}/suspend", name="operator:suspend")
async def suspend_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims, slug: str
) -> Response[Any]:
    """Suspend the tenant (its data is kept; its members see the suspended page)."""
    return await _state_submit(request, runtime, db_session, operator, claims, slug, TenantState.SUSPENDED)


@post("/operator/tenants/{slug:str}/resume", name="operator:resume")
async def resume_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims, slug: str
) -> Response[Any]:
    """Resume a suspended tenant."""
    return await _state_submit(request, runtime, db_session, operator, claims, slug, TenantState.ACTIVE)


@post("/operator/tenants/{slug:str}/tier", name="operator:comp")
async def comp_submit(
    request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession, operator: str, claims: AccessClaims, slug: str
) -> Response[Any]:
    """Comp a tier with a reason (recorded with who and why), as ``POST /api/v1/operator/tenants/{slug}/tier``."""
    language = await _language(request, db_session, claims)
    slug = slug[:64]
    values = await read_form(request)
    body, form = parse(TierSet, values, language=language)
    if body is None:
        return await _detail(request, runtime, db_session, operator, language, slug, tier_form=form, status=422)
    tenant_id = await registry.id_of(db_session, slug)
    if tenant_id is None:
        raise NotFound("tenant not found")
    await set_comp_tier(db_session, tenant_id, tier=body.tier, actor=operator, reason=body.reason.strip())
    return see_other(request, f"/operator/tenants/{slug}?done=tier")


@get("/operator/jobs", name="operator:jobs")
async def jobs_page(
    request: Request[Any, Any, Any], db_session: AsyncSession, operator: str, claims: AccessClaims,
    tenant_id: Annotated[int | None, Parameter(query="tenant_id", ge=1, le=2**62)] = None,
    offset: Offset = 0,
) -> Template:
    """Jobs that failed their last attempt: function, tenant, attempts, error type (never their data)."""
    language = await _language(request, db_session, claims)
    items, total = await failed_jobs(db_session, tenant_id=tenant_id, limit=PAGE_SIZE, offset=offset)
    ids = sorted({f.tenant_id for f in items if f.tenant_id is not None} | ({tenant_id} if tenant_id else set()))
    slugs = {r.id: r.slug for r in (await registry.listing(db_session, [Tenant.id.in_(ids)]))[0]} if ids else {}
    return _page(
        "tenancy/jobs.html", language, operator, active="jobs",
        items=items, total=total, offset=offset, limit=PAGE_SIZE, tenant_id=tenant_id, slugs=slugs,
    )


@get("/operator/mail", name="operator:mail")
async def mail_page(
    request: Request[Any, Any, Any], db_session: AsyncSession, operator: str, claims: AccessClaims, offset: Offset = 0,
    done: Annotated[Literal["retried", "gone"] | None, Parameter(query="done")] = None,
) -> Template:
    """Undelivered messages: how many (the platform's, the organizations'), and each one's organization,
    channel, kind, reason and attempts, with a retry button (never a recipient or content)."""
    language = await _language(request, db_session, claims)
    counts = await mail_failures.counts(db_session)
    items, total = await failed_mail(db_session, limit=PAGE_SIZE, offset=offset)
    ids = sorted({f.tenant_id for f in items if f.tenant_id is not None})
    slugs = {r.id: r.slug for r in (await registry.listing(db_session, [Tenant.id.in_(ids)]))[0]} if ids else {}
    from anima.mail.domains import domains as sending_domains

    return _page(
        "tenancy/mail.html", language, operator, active="mail", counts=counts,
        items=items, total=total, offset=offset, limit=PAGE_SIZE, slugs=slugs, done=done,
        sending_domains=await sending_domains(db_session),
    )


@post("/operator/mail/{failure_id:uuid}/retry", name="operator:mail-retry")
async def mail_retry_submit(request: Request[Any, Any, Any], runtime: Runtime, operator: str, failure_id: uuid.UUID) -> Response[Any]:
    """Put one failed message back in its queue, then show the list again."""
    try:
        await mail_failures.retry(runtime, failure_id)
    except NotFound:
        return see_other(request, "/operator/mail?done=gone")
    return see_other(request, "/operator/mail?done=retried")


PAGE_HANDLERS = [tenants_page, new_tenant_page, provision_submit, tenant_page, suspend_submit, resume_submit, comp_submit, jobs_page,
                 mail_page, mail_retry_submit]
