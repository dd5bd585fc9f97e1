"""The HTML edge of forms: the public fill page (:mod:`anima.domains.forms.fill_page`) and the
workspace's forms under ``/o/{slug}/forms``.

* the list: the organization's forms and the system templates to enable in a language;
* a form: its share panel (the public link switched on or off, copied, as a QR code and as a
  WhatsApp link with a prefilled text in the organization's language), a one-time link for a
  patient (optionally emailed; the link is shown once), and its submissions — with the score,
  band and risk flag for clinicians; the front desk sees who submitted and when, never answers
  or scores.

The same service functions as the API; the QR images are served to the page's session here.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.response import Response, Template

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.forms import services as forms
from anima.domains.forms import sharing
from anima.domains.forms.builder import PAGE_HANDLERS as BUILDER_PAGES
from anima.domains.forms.fill_page import PAGE_HANDLERS as FILL_PAGES
from anima.domains.forms.models import Form, FormSubmission
from anima.domains.forms.system import LANGUAGES, system_templates
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, get_patient, visible
from anima.domains.settings.services import get_settings
from anima.http.access import EVERY_MEMBER, TenantContext
from anima.problems import InvalidInput, NotFound, Problem
from anima.runtime import Runtime
from anima.web.forms import FormState, read_form
from anima.web.problem_text import N_
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: how many rows the form page lists (submissions, patients to assign to)
LIST_SIZE = 100


@get("/o/{org_slug:str}/forms", opt=EVERY_MEMBER, name="forms:list")
async def forms_page(tenant: TenantContext, ws: Workspace) -> Template:
    """The organization's forms and the system templates."""
    ws.active = "forms"
    rows = await forms.list_forms(tenant.session)
    return render(
        "forms/list.html", language=ws.language, time_zone=ws.time_zone, ws=ws, forms=rows,
        templates=system_templates(), languages=LANGUAGES,
    )


@post("/o/{org_slug:str}/forms/system", opt=EVERY_MEMBER, name="forms:enable-system")
async def enable_system_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor) -> Response[Any]:
    """Enable a system template in a language and open it."""
    values = await read_form(request)
    try:
        form = await forms.ensure_system_form(tenant.session, actor, str(values.get("template", "")), str(values.get("language", "")))
    except InvalidInput:
        return see_other(request, f"{ws.base}/forms")
    return see_other(request, f"{ws.base}/forms/{form.id}")


async def _patients(tenant: TenantContext, viewer: Viewer) -> list[Any]:
    rows = await tenant.session.execute(
        sa.select(Patient.id, Patient.first_name, Patient.last_name)
        .where(Patient.archived_at.is_(None), *visible(viewer)).order_by(Patient.last_name, Patient.first_name).limit(LIST_SIZE)
    )
    return list(rows.all())


async def _submissions(tenant: TenantContext, viewer: Viewer, cipher: FieldCipher, form: Form) -> list[dict[str, Any]]:
    limit_to = None
    if viewer.restricted:
        limit_to = FormSubmission.patient_id.in_(sa.select(Patient.id).where(*visible(viewer)))
    elif viewer.role == "THERAPIST":
        limit_to = FormSubmission.patient_id.is_not(None)
    rows, _ = await forms.list_submissions(tenant.session, form_id=form.id, patient_ids_visible=limit_to, limit=LIST_SIZE)
    names = {}
    ids = [r.patient_id for r in rows if r.patient_id]
    if ids:
        names = {p.id: f"{p.first_name} {p.last_name}".strip() for p in (await tenant.session.execute(
            sa.select(Patient.id, Patient.first_name, Patient.last_name).where(Patient.id.in_(ids))
        )).all()}
    out = []
    for row in rows:
        v = await forms.view(cipher, row, clinical=viewer.clinical)
        who = names.get(row.patient_id) if row.patient_id else " ".join(
            x for x in ((v.person.first_name, v.person.last_name) if v.person else ()) if x
        )
        out.append({"row": row, "who": who or None, "scores": v.scores})
    return out


async def _form_page(
    tenant: TenantContext, ws: Workspace, runtime: Runtime, viewer: Viewer, cipher: FieldCipher, actor: Actor,
    form_id: uuid.UUID, *, created: dict[str, Any] | None = None, assign_form: FormState | None = None, status: int = 200,
) -> Template:
    ws.active = "forms"
    form = await forms.get_form(tenant.session, form_id)
    _, definition = await forms.version_of(tenant.session, form)
    share = None
    if form.public_token:
        url = sharing.fill_url(runtime.settings.public_url, ws.slug, form.public_token)
        text = sharing.share_text((await get_settings(tenant.session)).locale, form.title, url)
        share = {"url": url, "whatsapp": sharing.whatsapp_url(text)}
    submissions = await _submissions(tenant, viewer, cipher, form)
    if viewer.clinical and submissions:
        await record(tenant.session, actor, "forms.submissions_read", submission_ids=[str(s["row"].id) for s in submissions])
    return render(
        "forms/form.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status, form_row=form,
        definition=definition, share=share, submissions=submissions, patients=await _patients(tenant, viewer),
        created=created, assign=assign_form or FormState(values={"expires_in_days": "7"}), clinical=viewer.clinical,
    )


@get("/o/{org_slug:str}/forms/{form_id:uuid}", opt=EVERY_MEMBER, name="forms:form")
async def form_page(
    tenant: TenantContext, ws: Workspace, runtime: Runtime, viewer: Viewer, cipher: FieldCipher, actor: Actor, form_id: uuid.UUID,
) -> Template:
    """A form: share, assign, submissions."""
    return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id)


@post("/o/{org_slug:str}/forms/{form_id:uuid}/public-link", opt=EVERY_MEMBER, name="forms:public-link")
async def public_link_submit(request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, actor: Actor, form_id: uuid.UUID) -> Response[Any]:
    """Switch the public link on (a new token) or off."""
    values = await read_form(request)
    try:
        if values.get("action") == "off":
            await forms.disable_public_link(tenant.session, actor, form_id)
        else:
            await forms.enable_public_link(tenant.session, actor, form_id)
    except Problem:
        pass  # an archived form: the page shows it has no link
    return see_other(request, f"{ws.base}/forms/{form_id}")


@post("/o/{org_slug:str}/forms/{form_id:uuid}/assign", opt=EVERY_MEMBER, name="forms:assign")
async def assign_submit(
    request: Request[Any, Any, Any], tenant: TenantContext, ws: Workspace, runtime: Runtime, viewer: Viewer, cipher: FieldCipher,
    actor: Actor, form_id: uuid.UUID,
) -> Template:
    """A one-time link for a patient; the page shows it once (and a WhatsApp link to the patient's phone)."""
    values = await read_form(request)
    state = FormState(values=values)
    days = str(values.get("expires_in_days", "7"))
    try:
        patient_id = uuid.UUID(str(values.get("patient_id", "")))
    except ValueError:
        state.errors["patient_id"] = _t(ws, N_("Choose a person."))
        return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id, assign_form=state, status=422)
    if not days.isdigit() or not 1 <= int(days) <= 90:
        state.errors["expires_in_days"] = _t(ws, N_("Choose between 1 and 90 days."))
        return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id, assign_form=state, status=422)
    try:
        form = await forms.get_form(tenant.session, form_id)
        patient = await get_patient(tenant.session, viewer, patient_id)
        new = await forms.assign(
            tenant.session, cipher, actor, form=form, patient=patient, org_slug=ws.slug, org_name=tenant.tenant.name, public_url=runtime.settings.public_url,
            expires_in=datetime.timedelta(days=int(days)), send_email=values.get("send_email") == "yes",
        )
    except NotFound:
        state.errors["patient_id"] = _t(ws, N_("Choose a person."))
        return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id, assign_form=state, status=422)
    except Problem as problem:
        state.message = _t(ws, N_("This person has no email address: copy the link instead.")) if "email" in problem.detail else problem.detail
        return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id, assign_form=state, status=problem.status)
    phone = await cipher.decrypt_text("patients", "phone_enc", patient.id, patient.phone_enc) if patient.phone_enc else None
    text = sharing.share_text((await get_settings(tenant.session)).locale, form.title, new.url)
    created = {"url": new.url, "whatsapp": sharing.whatsapp_url(text, phone), "emailed": new.assignment.emailed,
               "who": f"{patient.first_name} {patient.last_name}".strip(), "expires_at": new.assignment.expires_at}
    return await _form_page(tenant, ws, runtime, viewer, cipher, actor, form_id, created=created)


def _t(ws: Workspace, message: str) -> str:
    from anima.web.i18n import gettext

    return gettext(ws.language, message)


async def _qr_url(tenant: TenantContext, runtime: Runtime, ws: Workspace, form_id: uuid.UUID) -> tuple[Form, str]:
    form = await forms.get_form(tenant.session, form_id)
    if form.public_token is None:
        raise NotFound("this form has no public link")
    return form, sharing.fill_url(runtime.settings.public_url, ws.slug, form.public_token)


@get("/o/{org_slug:str}/forms/{form_id:uuid}/qr.svg", opt=EVERY_MEMBER, name="forms:qr-svg", media_type="image/svg+xml")
async def qr_svg_page(tenant: TenantContext, ws: Workspace, runtime: Runtime, form_id: uuid.UUID) -> Response[bytes]:
    """The public link's QR code (SVG) for the share panel."""
    form, url = await _qr_url(tenant, runtime, ws, form_id)
    return Response(sharing.qr_svg(url, title=form.title), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@get("/o/{org_slug:str}/forms/{form_id:uuid}/qr.png", opt=EVERY_MEMBER, name="forms:qr-png", media_type="image/png")
async def qr_png_page(tenant: TenantContext, ws: Workspace, runtime: Runtime, form_id: uuid.UUID) -> Response[bytes]:
    """The public link's QR code (PNG, to download and print)."""
    form, url = await _qr_url(tenant, runtime, ws, form_id)
    headers = {"Cache-Control": "no-store", "Content-Disposition": f'attachment; filename="qr-{form.key}.png"'}
    return Response(sharing.qr_png(url), media_type="image/png", headers=headers)


PAGE_HANDLERS = [
    forms_page, enable_system_submit, form_page, public_link_submit, assign_submit, qr_svg_page, qr_png_page, *FILL_PAGES, *BUILDER_PAGES,
]
