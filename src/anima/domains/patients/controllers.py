"""HTTP routes of patients (the Soul Record), journey stages and the clinical access policy.

Every member creates, lists and reads patients and records their consent to AI processing; the
clinical part only reaches owners and therapists, who also lift a risk block after review. Owners archive, assign therapists, export and erase, rename stages, set their
timeouts (``timeout_days``) and set the policy.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, delete, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.patients import blocks, consent
from anima.domains.patients import record as patient_record
from anima.domains.patients import services as rules
from anima.domains.patients.schemas import (
    BlockLift,
    ConsentOut,
    ConsentUpdate,
    PatientCreate,
    PatientOut,
    PatientSummary,
    PatientUpdate,
    PolicyOut,
    PolicyUpdate,
    StageOut,
    StageRename,
    TherapistIds,
)
from anima.domains.patients.visibility import Viewer, get_patient, get_policy, set_policy
from anima.http.access import CLINICIANS, EVERY_MEMBER, OWNERS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class PatientsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/patients"
    tags = ["patients"]

    @get("/", opt=EVERY_MEMBER, summary="List patients (search by name; exact email or phone)")
    async def list_patients(
        self,
        tenant: TenantContext, viewer: Viewer,
        cipher: FieldCipher,
        page: Page,
        q: Annotated[str | None, Parameter(max_length=100, description="name contains")] = None,
        email: Annotated[str | None, Parameter(max_length=254, description="exact email (blind index)")] = None,
        phone: Annotated[str | None, Parameter(max_length=30, description="exact phone (blind index)")] = None,
        stage: Annotated[str | None, Parameter(max_length=32)] = None,
        tag: Annotated[str | None, Parameter(max_length=40)] = None,
        archived: Annotated[bool | None, Parameter(description="true: archived only; omitted: active only")] = False,
    ) -> OffsetPagination[PatientSummary]:
        rows, total = await rules.list_patients(
            tenant.session, cipher, viewer, limit=page.limit, offset=page.offset, search=q, email=email,
            phone=phone, stage=stage, tag=tag, archived=archived,
        )
        items = [await rules.to_summary(cipher, p) for p in rows]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/", opt=EVERY_MEMBER, status_code=HTTP_201_CREATED, summary="Create a patient (counts against the tier's limit)")
    async def create(self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, data: PatientCreate) -> PatientOut:
        patient = await rules.create_patient(
            tenant.session, cipher, viewer, actor, data, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier
        )
        return await rules.to_out(tenant.session, cipher, viewer, actor, patient, audit_action=None)

    @get("/{patient_id:uuid}", opt=EVERY_MEMBER, summary="Read a patient (clinical part for owners and therapists)")
    async def read(self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> PatientOut:
        patient = await get_patient(tenant.session, viewer, patient_id)
        return await rules.to_out(tenant.session, cipher, viewer, actor, patient, audit_action="patient.read")

    @put("/{patient_id:uuid}", opt=EVERY_MEMBER, summary="Change a patient (clinical part: owners and therapists)")
    async def update(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: PatientUpdate
    ) -> PatientOut:
        patient = await rules.update_patient(tenant.session, cipher, viewer, actor, patient_id, data)
        return await rules.to_out(tenant.session, cipher, viewer, actor, patient, audit_action=None)

    @post("/{patient_id:uuid}/archive", opt=OWNERS, status_code=HTTP_200_OK, summary="Archive a patient (owners)")
    async def archive(self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> PatientSummary:
        patient = await rules.set_archived(
            tenant.session, viewer, actor, patient_id, True, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier
        )
        return await rules.to_summary(cipher, patient)

    @post("/{patient_id:uuid}/restore", opt=OWNERS, status_code=HTTP_200_OK, summary="Restore an archived patient (owners; counts against the limit)")
    async def restore(self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> PatientSummary:
        patient = await rules.set_archived(
            tenant.session, viewer, actor, patient_id, False, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier
        )
        return await rules.to_summary(cipher, patient)

    @put("/{patient_id:uuid}/therapists", opt=OWNERS, summary="Set the therapists assigned to a patient (owners)")
    async def assign(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: TherapistIds
    ) -> PatientOut:
        patient = await rules.assign_therapists(tenant.session, viewer, actor, patient_id, data.therapist_ids)
        return await rules.to_out(tenant.session, cipher, viewer, actor, patient, audit_action=None)

    @post(
        "/{patient_id:uuid}/block/lift", opt=CLINICIANS | CLINICAL | answers(409), status_code=HTTP_200_OK,
        summary="Lift a patient's block after review, with a reason (owners and therapists who may see the patient)",
    )
    async def lift_block(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: BlockLift
    ) -> PatientOut:
        patient = await blocks.lift_block(tenant.session, cipher, viewer, actor, patient_id, data.reason)
        return await rules.to_out(tenant.session, cipher, viewer, actor, patient, audit_action=None)

    @get("/{patient_id:uuid}/ai-consent", opt=EVERY_MEMBER, summary="The patient's consent to AI processing and its history")
    async def read_ai_consent(self, tenant: TenantContext, viewer: Viewer, patient_id: uuid.UUID) -> ConsentOut:
        return await consent.read_consent(tenant.session, viewer, patient_id)

    @put("/{patient_id:uuid}/ai-consent", opt=EVERY_MEMBER, summary="Record consent to AI processing given or withdrawn, and how")
    async def set_ai_consent(
        self, tenant: TenantContext, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: ConsentUpdate
    ) -> ConsentOut:
        return await consent.set_consent(tenant.session, viewer, actor, patient_id, data)

    @get("/{patient_id:uuid}/export", opt=OWNERS | CLINICAL, summary="Export the whole record, decrypted (owners)")
    async def export(self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> dict[str, Any]:
        return await patient_record.export_patient(tenant.session, cipher, viewer, actor, patient_id)

    @delete("/{patient_id:uuid}", opt=OWNERS, status_code=HTTP_204_NO_CONTENT, summary="Erase a patient for good (owners)")
    async def erase(self, tenant: TenantContext, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> None:
        await patient_record.erase_patient(tenant.session, viewer, actor, patient_id)


class StagesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/journey-stages"
    tags = ["patients"]

    @get("/", opt=EVERY_MEMBER, summary="The journey pipeline")
    async def list_stages(self, tenant: TenantContext) -> list[StageOut]:
        return [StageOut(s.key, s.label, s.position, s.timeout_days) for s in await rules.stages(tenant.session)]

    @put("/{key:str}", opt=OWNERS, summary="Rename a stage and/or set its timeout in days (owners)")
    async def rename(self, tenant: TenantContext, key: str, data: StageRename) -> StageOut:
        s = await rules.update_stage(tenant.session, key, data)
        return StageOut(s.key, s.label, s.position, s.timeout_days)


class PolicyController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/clinical-policy"
    tags = ["patients"]

    @get("/", opt=EVERY_MEMBER, summary="Whether therapists see only their assigned patients")
    async def read(self, tenant: TenantContext) -> PolicyOut:
        return PolicyOut((await get_policy(tenant.session)).restrict_therapists_to_assigned)

    @put("/", opt=OWNERS, summary="Restrict therapists to assigned patients, or not (owners)")
    async def update(self, tenant: TenantContext, data: PolicyUpdate) -> PolicyOut:
        policy = await set_policy(tenant.session, restrict_therapists_to_assigned=data.restrict_therapists_to_assigned)
        return PolicyOut(policy.restrict_therapists_to_assigned)


ROUTE_HANDLERS = [PatientsController, StagesController, PolicyController]
