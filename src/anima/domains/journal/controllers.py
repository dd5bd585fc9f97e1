"""HTTP routes of the clinical journal: owners and therapists only (assistants get 403)."""

from __future__ import annotations

import uuid
from typing import Literal

from litestar import Controller, get, patch, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.journal import services as rules
from anima.domains.journal.schemas import AmendmentCreate, EntryCreate, EntryOut, EntryUpdate
from anima.domains.patients.visibility import Viewer
from anima.http.access import CLINICIANS, TenantContext
from anima.http.clinical_audit import CLINICAL
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


#: owners and therapists; a refusal here is audited as a denied clinical access
JOURNAL_ROUTE = CLINICIANS | CLINICAL


class JournalController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/patients/{patient_id:uuid}/journal"
    tags = ["journal"]

    @get("/", opt=JOURNAL_ROUTE, summary="The patient's timeline, newest first, as you may read it")
    async def list_entries(
        self,
        tenant: TenantContext,
        cipher: FieldCipher,
        viewer: Viewer, actor: Actor,
        page: Page,
        patient_id: uuid.UUID,
        kind: Literal["note", "form_submission", "audio_reference", "ai_analysis"] | None = None,
    ) -> OffsetPagination[EntryOut]:
        items, total = await rules.list_entries(
            tenant.session, cipher, viewer, actor, patient_id, limit=page.limit, offset=page.offset, kind=kind
        )
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/", opt=JOURNAL_ROUTE, status_code=HTTP_201_CREATED, summary="Add an entry (notes are sanitized HTML, at most 100 KB)")
    async def create(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: EntryCreate
    ) -> EntryOut:
        return await rules.create_entry(tenant.session, cipher, viewer, actor, patient_id, data)

    @get("/{entry_id:uuid}", opt=JOURNAL_ROUTE, summary="Read an entry with its amendments")
    async def read(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID
    ) -> EntryOut:
        return await rules.read_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id)

    @patch("/{entry_id:uuid}", opt=JOURNAL_ROUTE | answers(409), summary="Change an unsigned entry (its author)")
    async def update(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID,
        entry_id: uuid.UUID, data: EntryUpdate,
    ) -> EntryOut:
        return await rules.update_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id, data)

    @post("/{entry_id:uuid}/sign", opt=JOURNAL_ROUTE | answers(409), status_code=HTTP_200_OK, summary="Sign and lock an entry (its author)")
    async def sign(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID
    ) -> EntryOut:
        return await rules.sign_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id)

    @post("/{entry_id:uuid}/amendments", opt=JOURNAL_ROUTE | answers(409), status_code=HTTP_201_CREATED, summary="Amend a signed entry (its author)")
    async def amend(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID,
        entry_id: uuid.UUID, data: AmendmentCreate,
    ) -> EntryOut:
        return await rules.amend_entry(tenant.session, cipher, viewer, actor, patient_id, entry_id, data)


ROUTE_HANDLERS = [JournalController]
