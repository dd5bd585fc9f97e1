"""HTTP routes of forms.

Owners build the organization's templates (plan feature ``custom_forms``); every member lists
forms, enables a system template in a language, shares public links (address, QR code, WhatsApp)
and assigns one-time links to the patients they may see; the front desk sees who submitted and
when, never the answers or scores, which clinicians (owners and therapists) read, with a patient's
measure series.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import sqlalchemy as sa
from litestar import Controller, Response, get, post, put, delete
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.forms import services as forms
from anima.domains.forms import sharing
from anima.domains.forms.models import Form, FormAssignment, FormSubmission
from anima.domains.forms.schemas import (
    AssignmentCreate,
    AssignmentOut,
    DefinitionUpdate,
    FormCreate,
    FormOut,
    MeasurePointOut,
    MeasureSeriesOut,
    PersonOut,
    ShareOut,
    SubmissionOut,
    SystemFormEnable,
    SystemTemplateOut,
)
from anima.domains.forms.scoring import MAX_TOTAL
from anima.domains.forms.system import system_templates
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import Viewer, get_patient, visible
from anima.domains.settings.services import get_settings
from anima.http.access import CLINICIANS, EVERY_MEMBER, OWNERS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page
from anima.problems import NotFound
from anima.runtime import Runtime


def _public_url(runtime: Runtime, tenant: TenantContext, form: Form) -> str | None:
    if form.public_token is None:
        return None
    return sharing.fill_url(runtime.settings.public_url, tenant.tenant.slug, form.public_token)


async def _form_out(session, runtime: Runtime, tenant: TenantContext, form: Form, *, definition: bool = False) -> FormOut:
    defn = (await forms.version_of(session, form))[1] if definition else None
    return FormOut(
        form.id, form.key, form.system_key, form.language, form.title, form.current_version,
        _public_url(runtime, tenant, form), form.archived_at, form.created_at, defn,
    )


def _assignment_out(row: FormAssignment, version: int | None = None, url: str | None = None, wa: str | None = None) -> AssignmentOut:
    return AssignmentOut(
        row.id, row.form_id, row.patient_id, version, forms.assignment_state(row), row.expires_at, row.used_at,
        row.revoked_at, row.emailed, row.created_by, row.created_at, url, wa,
    )


def _submission_out(v: forms.SubmissionView) -> SubmissionOut:
    r = v.row
    person = PersonOut(**vars(v.person)) if v.person else None
    return SubmissionOut(
        r.id, r.form_id, r.version_id, r.patient_id, r.assignment_id, r.journal_entry_id,
        r.measure if v.scores is not None else None, r.language, r.submitted_at, person, v.answers, v.scores,
    )


class FormsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/forms"
    tags = ["forms"]

    @get("/system-templates", opt=EVERY_MEMBER, summary="The system templates (intake, consent, PHQ-9, GAD-7) and their titles")
    async def templates(self, tenant: TenantContext) -> list[SystemTemplateOut]:
        return [SystemTemplateOut(t.key, t.version, t.titles) for t in system_templates()]

    @get("/", opt=EVERY_MEMBER, summary="List the organization's forms")
    async def list_forms(self, tenant: TenantContext, runtime: Runtime, archived: bool = False) -> list[FormOut]:
        return [await _form_out(tenant.session, runtime, tenant, f) for f in await forms.list_forms(tenant.session, archived=archived)]

    @post("/system", opt=EVERY_MEMBER, status_code=HTTP_200_OK, summary="Enable a system template in a language (idempotent)")
    async def enable_system(self, tenant: TenantContext, runtime: Runtime, actor: Actor, data: SystemFormEnable) -> FormOut:
        form = await forms.ensure_system_form(tenant.session, actor, data.template, data.language)
        return await _form_out(tenant.session, runtime, tenant, form, definition=True)

    @post("/", opt=OWNERS | answers(409), status_code=HTTP_201_CREATED,
          summary="Create an organization template (owners; plans with custom_forms)")
    async def create(self, tenant: TenantContext, runtime: Runtime, actor: Actor, data: FormCreate) -> FormOut:
        form = await forms.create_form(tenant.session, actor, tier=tenant.tenant.tier, key=data.key, definition=data.definition)
        return await _form_out(tenant.session, runtime, tenant, form, definition=True)

    @get("/{form_id:uuid}", opt=EVERY_MEMBER, summary="Read a form with its current definition (or another version)")
    async def read(
        self, tenant: TenantContext, runtime: Runtime, form_id: uuid.UUID,
        version: Annotated[int | None, Parameter(ge=1, le=100_000)] = None,
    ) -> FormOut:
        form = await forms.get_form(tenant.session, form_id)
        out = await _form_out(tenant.session, runtime, tenant, form)
        out.definition = (await forms.version_of(tenant.session, form, version))[1]
        return out

    @put("/{form_id:uuid}/definition", opt=OWNERS | answers(409),
         summary="Edit an organization template: adds a version; past submissions keep theirs (owners)")
    async def update(self, tenant: TenantContext, runtime: Runtime, actor: Actor, form_id: uuid.UUID, data: DefinitionUpdate) -> FormOut:
        form = await forms.update_definition(tenant.session, actor, tier=tenant.tenant.tier, form_id=form_id, definition=data.definition)
        return await _form_out(tenant.session, runtime, tenant, form, definition=True)

    @delete("/{form_id:uuid}", opt=OWNERS, status_code=HTTP_200_OK, summary="Archive a form (its public link stops; submissions stay)")
    async def archive(self, tenant: TenantContext, runtime: Runtime, actor: Actor, form_id: uuid.UUID) -> FormOut:
        return await _form_out(tenant.session, runtime, tenant, await forms.archive_form(tenant.session, actor, form_id))

    @post("/{form_id:uuid}/public-link", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK,
          summary="Switch the public link on (a new token; an earlier link stops working)")
    async def enable_link(self, tenant: TenantContext, runtime: Runtime, actor: Actor, form_id: uuid.UUID) -> FormOut:
        return await _form_out(tenant.session, runtime, tenant, await forms.enable_public_link(tenant.session, actor, form_id))

    @delete("/{form_id:uuid}/public-link", opt=EVERY_MEMBER, status_code=HTTP_200_OK, summary="Switch the public link off")
    async def disable_link(self, tenant: TenantContext, runtime: Runtime, actor: Actor, form_id: uuid.UUID) -> FormOut:
        return await _form_out(tenant.session, runtime, tenant, await forms.disable_public_link(tenant.session, actor, form_id))

    async def _link(self, tenant: TenantContext, runtime: Runtime, form_id: uuid.UUID) -> tuple[Form, str]:
        form = await forms.get_form(tenant.session, form_id)
        url = _public_url(runtime, tenant, form)
        if url is None:
            raise NotFound("this form has no public link; switch it on first")
        return form, url

    @get("/{form_id:uuid}/share", opt=EVERY_MEMBER, summary="Share the public link: address, QR code and WhatsApp link")
    async def share(
        self, tenant: TenantContext, runtime: Runtime, form_id: uuid.UUID,
        phone: Annotated[str | None, Parameter(max_length=30, pattern=r"^\+?[0-9 ()-]{6,30}$", description="WhatsApp number with country code")] = None,
    ) -> ShareOut:
        form, url = await self._link(tenant, runtime, form_id)
        language = (await get_settings(tenant.session)).locale
        text = sharing.share_text(language, form.title, url)
        base = f"/api/v1/orgs/{tenant.tenant.slug}/forms/{form.id}"
        return ShareOut(url, f"{base}/qr.svg", f"{base}/qr.png", sharing.whatsapp_url(text, phone), text)

    @get("/{form_id:uuid}/qr.svg", opt=EVERY_MEMBER, media_type="image/svg+xml", summary="The public link as a QR code (SVG)")
    async def qr_svg(self, tenant: TenantContext, runtime: Runtime, form_id: uuid.UUID) -> Response[bytes]:
        form, url = await self._link(tenant, runtime, form_id)
        return Response(sharing.qr_svg(url, title=form.title), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @get("/{form_id:uuid}/qr.png", opt=EVERY_MEMBER, media_type="image/png", summary="The public link as a QR code (PNG)")
    async def qr_png(self, tenant: TenantContext, runtime: Runtime, form_id: uuid.UUID) -> Response[bytes]:
        _, url = await self._link(tenant, runtime, form_id)
        return Response(sharing.qr_png(url), media_type="image/png", headers={"Cache-Control": "no-store"})

    @post("/{form_id:uuid}/assignments", opt=EVERY_MEMBER | answers(409), status_code=HTTP_201_CREATED,
          summary="Assign a one-time link to a patient (single use, expiring, revocable; optionally emailed)")
    async def assign(
        self, tenant: TenantContext, runtime: Runtime, cipher: FieldCipher, viewer: Viewer, actor: Actor,
        form_id: uuid.UUID, data: AssignmentCreate,
    ) -> AssignmentOut:
        form = await forms.get_form(tenant.session, form_id)
        patient = await get_patient(tenant.session, viewer, data.patient_id)
        new = await forms.assign(
            tenant.session, cipher, actor, form=form, patient=patient, org_slug=tenant.tenant.slug, org_name=tenant.tenant.name,
            public_url=runtime.settings.public_url, expires_in=datetime.timedelta(days=data.expires_in_days),
            send_email=data.send_email,
        )
        language = (await get_settings(tenant.session)).locale
        phone = await cipher.decrypt_text("patients", "phone_enc", patient.id, patient.phone_enc) if patient.phone_enc else None
        wa = sharing.whatsapp_url(sharing.share_text(language, form.title, new.url), phone)
        return _assignment_out(new.assignment, form.current_version, new.url, wa)


class AssignmentsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/form-assignments"
    tags = ["forms"]

    @get("/", opt=EVERY_MEMBER, summary="List one-time links (of a patient or a form)")
    async def list_assignments(
        self, tenant: TenantContext, viewer: Viewer, page: Page,
        patient_id: uuid.UUID | None = None, form_id: uuid.UUID | None = None,
    ) -> OffsetPagination[AssignmentOut]:
        if patient_id is not None:
            await get_patient(tenant.session, viewer, patient_id)
        rows, total = await forms.list_assignments(tenant.session, patient_id=patient_id, form_id=form_id, limit=page.limit, offset=page.offset)
        if viewer.restricted:
            allowed = set((await tenant.session.execute(sa.select(Patient.id).where(*visible(viewer)))).scalars())
            rows = [r for r in rows if r.patient_id in allowed]
        return OffsetPagination(items=[_assignment_out(r) for r in rows], limit=page.limit, offset=page.offset, total=total)

    @post("/{assignment_id:uuid}/revoke", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK, summary="Revoke an unused one-time link")
    async def revoke(self, tenant: TenantContext, viewer: Viewer, actor: Actor, assignment_id: uuid.UUID) -> AssignmentOut:
        row = await tenant.session.get(FormAssignment, assignment_id)
        if row is None:
            raise NotFound("assignment not found")
        await get_patient(tenant.session, viewer, row.patient_id)
        return _assignment_out(await forms.revoke(tenant.session, actor, assignment_id))


class SubmissionsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/form-submissions"
    tags = ["forms"]

    @get("/", opt=EVERY_MEMBER, summary="List submissions (answers and scores for owners and therapists only)")
    async def list_submissions(
        self, tenant: TenantContext, viewer: Viewer, cipher: FieldCipher, actor: Actor, page: Page,
        form_id: uuid.UUID | None = None, patient_id: uuid.UUID | None = None,
    ) -> OffsetPagination[SubmissionOut]:
        if patient_id is not None:
            await get_patient(tenant.session, viewer, patient_id)
        limit_to = None
        if viewer.restricted:
            limit_to = FormSubmission.patient_id.in_(sa.select(Patient.id).where(*visible(viewer)))
        elif viewer.role == "THERAPIST":
            limit_to = FormSubmission.patient_id.is_not(None)  # anonymous public answers: owners and front desk
        rows, total = await forms.list_submissions(
            tenant.session, form_id=form_id, patient_id=patient_id, patient_ids_visible=limit_to, limit=page.limit, offset=page.offset,
        )
        items = [_submission_out(await forms.view(cipher, r, clinical=viewer.clinical)) for r in rows]
        if viewer.clinical:
            await record(tenant.session, actor, "forms.submissions_read", submission_ids=[str(r.id) for r in rows])
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @get("/{submission_id:uuid}", opt=CLINICIANS | CLINICAL, summary="Read a submission's answers and scores (owners and therapists)")
    async def read(self, tenant: TenantContext, viewer: Viewer, cipher: FieldCipher, actor: Actor, submission_id: uuid.UUID) -> SubmissionOut:
        row = await tenant.session.get(FormSubmission, submission_id)
        if row is None:
            raise NotFound("submission not found")
        if row.patient_id is not None:
            await get_patient(tenant.session, viewer, row.patient_id)
        elif viewer.role != "OWNER":
            raise NotFound("submission not found")
        await record(tenant.session, actor, "forms.submission_read", patient_id=row.patient_id, submission_id=str(row.id))
        return _submission_out(await forms.view(cipher, row, clinical=True))


class MeasuresController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/patients/{patient_id:uuid}/measures"
    tags = ["forms"]

    @get("/{measure:str}", opt=CLINICIANS | CLINICAL, summary="A patient's measure over time (PHQ-9 or GAD-7 totals)")
    async def series(
        self, tenant: TenantContext, viewer: Viewer, cipher: FieldCipher, actor: Actor, patient_id: uuid.UUID,
        measure: Literal["phq9", "gad7"],
    ) -> MeasureSeriesOut:
        patient = await get_patient(tenant.session, viewer, patient_id)
        points = await forms.measure_series(tenant.session, cipher, patient.id, measure)
        await record(tenant.session, actor, "forms.measures_read", patient_id=patient.id, measure=measure)
        return MeasureSeriesOut(patient.id, measure, MAX_TOTAL[measure], [MeasurePointOut(**vars(p)) for p in points])


ROUTE_HANDLERS = [FormsController, AssignmentsController, SubmissionsController, MeasuresController]
