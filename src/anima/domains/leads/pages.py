"""Pages of the leads pipeline: the board, a new lead, a lead's detail, and their actions.

Front desk (owners and assistants) only, like the pipeline's writes in the API; the navigation
offers the section to them alone. Every form posts to the same service functions the API calls,
and a refusal (an invalid move, the patient limit at conversion) rolls the transaction back and
shows the page again with the reason in the viewer's language.

The board has one column per stage. Cards move by drag and drop (``leads-board.js`` submits the
card's own move form, so nothing depends on script) and by the keyboard-operable "Move to" form on
each card; dropping on CONVERTED submits the card's conversion form, dropping on LOST opens its
move form with LOST chosen, since a reason is needed. Freshness shows as an icon and a word, never
colour alone.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.response import Response, Template

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.leads import conversion, merging
from anima.domains.leads import services as rules
from anima.domains.leads.pipeline import STAGES, Freshness
from anima.domains.leads.schemas import LeadCreate, LeadMove, LeadUpdate
from anima.domains.patients.visibility import Viewer
from anima.domains.staff.models import StaffMember
from anima.http.access import FRONT_DESK, TenantContext
from anima.problems import NotFound, Problem
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: the most leads the board shows at once (newest first)
BOARD_SIZE = 500
SOURCES = ("MANUAL", "PUBLIC_FORM", "BOOKING", "REFERRAL", "AD", "SOCIAL", "OTHER")
_DETAIL_FIELDS = ("first_name", "last_name", "email", "phone", "language", "time_zone", "notes", "assigned_to")


async def _fresh(tenant: TenantContext) -> None:
    """Roll back a refused change (nothing half-written) and enter the tenant again for the page's reads."""
    await tenant.session.rollback()
    await enter_tenant(tenant.session, tenant.tenant.id)


async def _front_desk(tenant: TenantContext) -> list[Any]:
    rows = await tenant.session.execute(
        sa.select(StaffMember.id, StaffMember.display_name)
        .where(StaffMember.active.is_(True), StaffMember.role.in_(rules.ASSIGNABLE_ROLES))
        .order_by(StaffMember.display_name)
    )
    return list(rows.all())


async def _board(
    tenant: TenantContext, ws: Workspace, cipher: FieldCipher, *, fresh: str | None, message: str | None = None,
    status: int = 200,
) -> Template:
    rows, total, flagged = await rules.list_leads(tenant.session, limit=BOARD_SIZE, offset=0, fresh=fresh)
    cards = [
        await rules.to_summary(tenant.session, cipher, r, practice=tenant.tenant.name, duplicate=r.id in flagged) for r in rows
    ]
    columns = [(stage.value, [c for c in cards if c.stage == stage]) for stage in STAGES]
    ws.active = "leads"
    return render(
        "leads/board.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, columns=columns,
        total=total, fresh=fresh, freshness=[f.value for f in Freshness], message=message, shown=len(cards),
    )


@get("/o/{org_slug:str}/leads", opt=FRONT_DESK, name="leads:board")
async def board_page(tenant: TenantContext, ws: Workspace, cipher: FieldCipher, freshness: str | None = None) -> Template:
    """The pipeline as columns, optionally only the leads of one freshness."""
    fresh = freshness if freshness in {f.value for f in Freshness} else None
    return await _board(tenant, ws, cipher, fresh=fresh)


async def _new_page(tenant: TenantContext, ws: Workspace, form: FormState, status: int = 200) -> Template:
    ws.active = "leads"
    return render("leads/new.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, form=form,
                  sources=SOURCES, staff=await _front_desk(tenant))


@get("/o/{org_slug:str}/leads/new", opt=FRONT_DESK, name="leads:new")
async def new_lead_page(tenant: TenantContext, ws: Workspace) -> Template:
    """The form of a lead entered by hand."""
    return await _new_page(tenant, ws, FormState(values={"source": "MANUAL"}))


@post("/o/{org_slug:str}/leads/new", opt=FRONT_DESK, name="leads:create")
async def create_lead_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor
) -> Response[Any]:
    """Create the lead (the API's service); back to the board."""
    values = await read_form(request)
    body, form = parse(LeadCreate, values, language=ws.language)
    if body is None:
        return await _new_page(tenant, ws, form, status=422)
    try:
        lead = await rules.create_lead(tenant.session, cipher, actor, body)
    except Problem as problem:
        await _fresh(tenant)
        return await _new_page(tenant, ws, form.show(problem, ws.language), status=problem.status)
    return see_other(request, f"{ws.base}/leads/{lead.id}")


async def _detail(
    tenant: TenantContext, ws: Workspace, cipher: FieldCipher, lead_id: uuid.UUID, *, form: FormState | None = None,
    message: str | None = None, status: int = 200, sms_form: FormState | None = None, sms_enabled: bool = False,
) -> Template:
    from anima.domains.reach import sms as reach_sms

    lead = await rules.get_lead(tenant.session, lead_id)
    sms = await reach_sms.read_lead_sms_consent(tenant.session, lead.id, sms_enabled=sms_enabled)
    out = await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)
    if form is None:
        form = FormState(values={k: ("" if getattr(out, k) is None else str(getattr(out, k))) for k in _DETAIL_FIELDS})
    ws.active = "leads"
    return render("leads/detail.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, lead=out,
                  form=form, message=message, staff=await _front_desk(tenant), sms=sms, sms_form=sms_form or FormState())


@get("/o/{org_slug:str}/leads/{lead_id:uuid}", opt=FRONT_DESK, name="leads:detail")
async def lead_page(tenant: TenantContext, ws: Workspace, cipher: FieldCipher, runtime: Runtime, lead_id: uuid.UUID) -> Template:
    """One lead: details to edit, stage, contact, WhatsApp, possible duplicates, conversion, SMS consent."""
    return await _detail(tenant, ws, cipher, lead_id, sms_enabled=runtime.settings.sms_configured)


@post("/o/{org_slug:str}/leads/{lead_id:uuid}/sms-consent", opt=FRONT_DESK, name="leads:sms-consent")
async def lead_sms_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor,
    runtime: Runtime, lead_id: uuid.UUID,
) -> Response[Any]:
    """Record the lead's SMS consent given or withdrawn, and how (what ``PUT …/leads/{id}/sms-consent`` does)."""
    from anima.domains.reach import sms as reach_sms
    from anima.domains.reach.schemas import SmsConsentUpdate

    await rules.get_lead(tenant.session, lead_id)  # 404 before reading the form
    values = await read_form(request)
    data: dict[str, Any] = {k: v for k, v in values.items() if k == "method"}
    given = {"true": True, "false": False}.get(str(values.get("given", "")), values.get("given") or None)
    if given is not None:
        data["given"] = given
    body, form = parse(SmsConsentUpdate, data, language=ws.language)
    form.values = dict(values)
    if body is None:
        return await _detail(tenant, ws, cipher, lead_id, sms_form=form, status=422, sms_enabled=runtime.settings.sms_configured)
    await reach_sms.set_lead_sms_consent(tenant.session, actor, actor.user_id, lead_id, body, sms_enabled=runtime.settings.sms_configured)
    return see_other(request, f"{ws.base}/leads/{lead_id}#sms")


@post("/o/{org_slug:str}/leads/{lead_id:uuid}", opt=FRONT_DESK, name="leads:update")
async def update_lead_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID
) -> Response[Any]:
    """Save the lead's details; an emptied optional field is cleared."""
    await rules.get_lead(tenant.session, lead_id)  # 404 before reading the form
    values = await read_form(request)
    typed = {k: v for k, v in values.items() if k in _DETAIL_FIELDS}
    body, form = parse(LeadUpdate, typed, language=ws.language)
    if body is not None:
        cleared = {k: None for k in _DETAIL_FIELDS if k != "first_name" and k in typed and not str(typed[k]).strip()}
        if cleared:
            body = LeadUpdate(**{**{k: getattr(body, k) for k in LeadUpdate.__struct_fields__}, **cleared})
    if body is None:
        return await _detail(tenant, ws, cipher, lead_id, form=form, status=422)
    try:
        await rules.update_lead(tenant.session, cipher, actor, lead_id, body)
    except Problem as problem:
        await _fresh(tenant)
        return await _detail(tenant, ws, cipher, lead_id, form=form.show(problem, ws.language), status=problem.status)
    return see_other(request, f"{ws.base}/leads/{lead_id}")


def _back(ws: Workspace, values: dict[str, Any], lead_id: uuid.UUID) -> str:
    return f"{ws.base}/leads/{lead_id}" if values.get("back") == "detail" else f"{ws.base}/leads"


async def _refused(
    tenant: TenantContext, ws: Workspace, cipher: FieldCipher, lead_id: uuid.UUID, values: dict[str, Any], problem: Problem
) -> Template:
    await _fresh(tenant)
    message = FormState().show(problem, ws.language).message
    if values.get("back") == "detail":
        return await _detail(tenant, ws, cipher, lead_id, message=message, status=problem.status)
    return await _board(tenant, ws, cipher, fresh=None, message=message, status=problem.status)


@post("/o/{org_slug:str}/leads/{lead_id:uuid}/move", opt=FRONT_DESK, name="leads:move")
async def move_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID
) -> Response[Any]:
    """Move the lead (from a card, the board's drag and drop, or the detail page)."""
    values = await read_form(request)
    body, form = parse(LeadMove, {k: v for k, v in values.items() if k in ("stage", "reason")}, language=ws.language)
    if body is None:
        if values.get("back") == "detail":
            return await _detail(tenant, ws, cipher, lead_id, message=form.message, status=422)
        return await _board(tenant, ws, cipher, fresh=None, message=form.message, status=422)
    try:
        await rules.move(tenant.session, cipher, actor, lead_id, body.stage, reason=body.reason)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(tenant, ws, cipher, lead_id, values, problem)
    return see_other(request, _back(ws, values, lead_id))


@post("/o/{org_slug:str}/leads/{lead_id:uuid}/contact", opt=FRONT_DESK, name="leads:contact")
async def contact_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID
) -> Response[Any]:
    """Record a contact now."""
    values = await read_form(request)
    try:
        await rules.mark_contacted(tenant.session, actor, lead_id)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(tenant, ws, cipher, lead_id, values, problem)
    return see_other(request, _back(ws, values, lead_id))


@post("/o/{org_slug:str}/leads/{lead_id:uuid}/convert", opt=FRONT_DESK, name="leads:convert")
async def convert_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, viewer: Viewer, actor: Actor,
    lead_id: uuid.UUID,
) -> Response[Any]:
    """Convert the lead into a patient and open the patient's page; a refusal (the plan's patient
    limit, a lead no longer open) shows the page again with the reason."""
    values = await read_form(request)
    try:
        lead = await conversion.convert(
            tenant.session, cipher, lead_id=lead_id, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier, actor=actor, viewer=viewer,
        )
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(tenant, ws, cipher, lead_id, values, problem)
    return see_other(request, f"{ws.base}/people/{lead.patient_id}")


@post("/o/{org_slug:str}/leads/{lead_id:uuid}/duplicates/{duplicate_id:uuid}/{action:str}", opt=FRONT_DESK, name="leads:duplicate")
async def duplicate_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, cipher: FieldCipher, actor: Actor,
    lead_id: uuid.UUID, duplicate_id: uuid.UUID, action: str,
) -> Response[Any]:
    """Merge (into the older lead, whose page opens) or dismiss a possible duplicate."""
    values = {"back": "detail"}
    try:
        if action == "merge":
            survivor = await merging.merge(tenant.session, cipher, actor, lead_id, duplicate_id)
            return see_other(request, f"{ws.base}/leads/{survivor.id}")
        if action != "dismiss":
            raise NotFound("no such action")
        await merging.dismiss(tenant.session, actor, lead_id, duplicate_id)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _refused(tenant, ws, cipher, lead_id, values, problem)
    return see_other(request, f"{ws.base}/leads/{lead_id}")


PAGE_HANDLERS: list[Any] = [
    board_page, new_lead_page, create_lead_submit, lead_page, update_lead_submit, move_submit, contact_submit, convert_submit,
    duplicate_submit, lead_sms_submit,
]
