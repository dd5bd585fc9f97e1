"""The settings page (owners): the people label, language and time zone of the organization, the
names and timeouts of the journey stages, and the clinical access policy.

Each form sends the schema its API route validates to the same service: the practice settings
(:func:`anima.domains.settings.services.update_settings`), a stage
(:func:`anima.domains.patients.services.update_stage`, one form per stage like the API's one
route per stage) and the policy (the one flag ``PUT …/clinical-policy`` sets).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Response, Template

from anima.domains.patients.pages import stage_label
from anima.domains.patients import services as patient_rules
from anima.domains.patients.schemas import PolicyUpdate, StageRename
from anima.domains.patients.visibility import get_policy, set_policy
from anima.domains.settings import services as settings_rules
from anima.domains.audit.services import Actor
from anima.domains.settings.schemas import MailFromUpdate, SettingsUpdate
from anima.http.access import OWNERS, TenantContext
from anima.identity.profile import zone_groups
from anima.problems import InvalidInput, Problem
from anima.runtime import Runtime
from anima.tenancy.scope import enter_tenant
from anima.web import i18n
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace


async def _page(
    tenant: TenantContext, ws: Workspace, *, form: FormState | None = None, stage_forms: dict[str, FormState] | None = None,
    policy_form: FormState | None = None, status: int = 200, saved: str | None = None, runtime: Runtime | None = None,
    mail_form: FormState | None = None,
) -> Template:
    """The settings page; after a refusal the transaction is rolled back first (nothing half-written)."""
    if status >= 400:
        await tenant.session.rollback()
        await enter_tenant(tenant.session, tenant.tenant.id)
    settings = await settings_rules.get_settings(tenant.session)
    if form is None:
        form = FormState(values={"people_label": settings.people_label, "locale": settings.locale, "timezone": settings.timezone})
    stages = await patient_rules.stages(tenant.session)
    # a default name is offered in the page's language: saving it makes it the organization's own word
    forms = {s.key: FormState(values={"label": stage_label(s.key, s.label, ws.language),
                                      "timeout_days": "" if s.timeout_days is None else str(s.timeout_days)})
             for s in stages}
    forms.update(stage_forms or {})
    policy = await get_policy(tenant.session)
    mail_from = await settings_rules.read_mail_from(runtime, tenant.tenant.id) if runtime is not None else None
    if mail_form is None:
        mail_form = FormState(values={"address": (mail_from.address if mail_from else None) or ""})
    ws.active = "settings"
    return render(
        "settings/settings.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, form=form,
        stages=stages, stage_forms=forms, policy_form=policy_form or FormState(),
        restricted=policy.restrict_therapists_to_assigned, zones=zone_groups(str(form.value("timezone")) or None),
        languages=[(code, i18n.language_name(code)) for code in i18n.LANGUAGES], saved=saved,
        mail_from=mail_from, mail_form=mail_form,
    )


@get("/o/{org_slug:str}/settings", opt=OWNERS, name="settings:page")
async def settings_page(tenant: TenantContext, ws: Workspace, runtime: Runtime, saved: str | None = None) -> Template:
    """The organization's settings (owners)."""
    return await _page(tenant, ws, saved=saved if saved in ("practice", "stage", "policy", "mail") else None, runtime=runtime)


@post("/o/{org_slug:str}/settings", opt=OWNERS, name="settings:practice")
async def practice_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Change the people label, language or time zone."""
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _page(tenant, ws, form=FormState().show(problem, ws.language), status=problem.status)
    body, form = parse(SettingsUpdate, values, language=ws.language)
    if body is None:
        return await _page(tenant, ws, form=form, status=422)
    try:
        await settings_rules.update_settings(tenant.session, body)
    except Problem as problem:
        return await _page(tenant, ws, form=form.show(problem, ws.language), status=problem.status)
    return see_other(request, f"{ws.base}/settings?saved=practice")


@post("/o/{org_slug:str}/settings/stages/{key:str}", opt=OWNERS, name="settings:stage")
async def stage_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, key: str) -> Response[Any]:
    """Rename a stage and set its timeout in days (empty: none)."""
    known = {s.key for s in await patient_rules.stages(tenant.session)}
    if key not in known:
        from anima.problems import NotFound

        raise NotFound("no such journey stage")
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _page(tenant, ws, stage_forms={key: FormState().show(problem, ws.language)}, status=problem.status)
    data: dict[str, Any] = dict(values)
    if not str(data.get("timeout_days", "")).strip():
        data["timeout_days"] = None  # cleared: no timeout
    body, form = parse(StageRename, data, integers=("timeout_days",), keep_empty=("label",), language=ws.language)
    form.values = dict(values)
    if body is None:
        return await _page(tenant, ws, stage_forms={key: form}, status=422)
    try:
        await patient_rules.update_stage(tenant.session, key, body)
    except Problem as problem:
        return await _page(tenant, ws, stage_forms={key: form.show(problem, ws.language)}, status=problem.status)
    return see_other(request, f"{ws.base}/settings?saved=stage#stages")


@post("/o/{org_slug:str}/settings/clinical-policy", opt=OWNERS, name="settings:policy")
async def policy_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Restrict therapists to the people assigned to them, or not (what the API's policy route sets)."""
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _page(tenant, ws, policy_form=FormState().show(problem, ws.language), status=problem.status)
    body, form = parse(PolicyUpdate, values, booleans=("restrict_therapists_to_assigned",), language=ws.language)
    if body is None:
        return await _page(tenant, ws, policy_form=form, status=422)
    await set_policy(tenant.session, restrict_therapists_to_assigned=body.restrict_therapists_to_assigned)
    return see_other(request, f"{ws.base}/settings?saved=policy#policy")


@post("/o/{org_slug:str}/settings/mail-from", opt=OWNERS, name="settings:mail-from")
async def mail_from_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, runtime: Runtime,
                           actor: Actor) -> Response[Any]:
    """Set or clear the organization's sending address (what ``PUT …/settings/mail-from`` does)."""
    try:
        values = await read_form(request)
    except InvalidInput as problem:
        return await _page(tenant, ws, mail_form=FormState().show(problem, ws.language), status=problem.status, runtime=runtime)
    body, form = parse(MailFromUpdate, {"address": str(values.get("address", "")).strip() or None}, language=ws.language)
    form.values = dict(values)
    if body is None:
        return await _page(tenant, ws, mail_form=form, status=422, runtime=runtime)
    try:
        await settings_rules.set_mail_from(runtime, tenant.session, actor, tenant.tenant.id, body.address)
    except Problem as problem:
        return await _page(tenant, ws, mail_form=form.show(problem, ws.language), status=problem.status, runtime=runtime)
    return see_other(request, f"{ws.base}/settings?saved=mail#sending")


PAGE_HANDLERS: list[Any] = [settings_page, practice_submit, stage_submit, policy_submit, mail_from_submit]
