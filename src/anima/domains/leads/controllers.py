"""HTTP routes of the leads pipeline: ``/api/v1/orgs/{org_slug}/leads``.

Owners and assistants (front desk) run the pipeline: create, change, move, record contacts,
convert, merge or dismiss duplicates. Therapists list and read leads but change nothing. Every
write is audited by the services.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor
from anima.domains.leads import conversion, merging
from anima.domains.leads import services as rules
from anima.domains.leads.schemas import FreshnessName, LeadCreate, LeadMove, LeadOut, LeadSummary, LeadUpdate, Source, StageName
from anima.domains.patients.visibility import Viewer
from anima.http.access import EVERY_MEMBER, FRONT_DESK, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class LeadsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/leads"
    tags = ["leads"]

    @get("/", opt=EVERY_MEMBER, summary="List leads, newest first (filters: stage, freshness, source, assignee)")
    async def list_leads(
        self,
        tenant: TenantContext,
        cipher: FieldCipher,
        page: Page,
        stage: StageName | None = None,
        freshness: Annotated[FreshnessName | None, Parameter(description="green < 24 h, amber 24-72 h, gray > 72 h, ghost > 7 days since the last contact")] = None,
        source: Source | None = None,
        assigned_to: uuid.UUID | None = None,
    ) -> OffsetPagination[LeadSummary]:
        rows, total, flagged = await rules.list_leads(
            tenant.session, limit=page.limit, offset=page.offset, stage=stage, fresh=freshness, source=source,
            assigned_to=assigned_to,
        )
        items = [
            await rules.to_summary(tenant.session, cipher, r, practice=tenant.tenant.name, duplicate=r.id in flagged)
            for r in rows
        ]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/", opt=FRONT_DESK, status_code=HTTP_201_CREATED, summary="Create a lead (owners and assistants)")
    async def create(self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, data: LeadCreate) -> LeadOut:
        lead = await rules.create_lead(tenant.session, cipher, actor, data)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @get("/{lead_id:uuid}", opt=EVERY_MEMBER, summary="Read a lead with its possible duplicates")
    async def read(self, tenant: TenantContext, cipher: FieldCipher, lead_id: uuid.UUID) -> LeadOut:
        lead = await rules.get_lead(tenant.session, lead_id)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @put("/{lead_id:uuid}", opt=FRONT_DESK | answers(409), summary="Change a lead's details (owners and assistants)")
    async def update(
        self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, data: LeadUpdate
    ) -> LeadOut:
        lead = await rules.update_lead(tenant.session, cipher, actor, lead_id, data)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @post("/{lead_id:uuid}/move", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK,
          summary="Move a lead to another stage (LOST needs a reason; CONVERTED through /convert)")
    async def move(
        self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, data: LeadMove
    ) -> LeadOut:
        lead = await rules.move(tenant.session, cipher, actor, lead_id, data.stage, reason=data.reason)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @post("/{lead_id:uuid}/contact", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK,
          summary="Record a contact now (restarts the freshness clock)")
    async def contact(self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID) -> LeadOut:
        lead = await rules.mark_contacted(tenant.session, actor, lead_id)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @post("/{lead_id:uuid}/convert", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK,
          summary="Convert a lead into a patient (one transaction; the patient limit applies)")
    async def convert(
        self, tenant: TenantContext, cipher: FieldCipher, viewer: Viewer, actor: Actor, lead_id: uuid.UUID
    ) -> LeadOut:
        lead = await conversion.convert(
            tenant.session, cipher, lead_id=lead_id, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier,
            actor=actor, viewer=viewer,
        )
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @post("/{lead_id:uuid}/duplicates/{duplicate_id:uuid}/merge", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK,
          summary="Merge a possible duplicate: the newer lead into the older (returns the surviving lead)")
    async def merge(
        self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, duplicate_id: uuid.UUID
    ) -> LeadOut:
        lead = await merging.merge(tenant.session, cipher, actor, lead_id, duplicate_id)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)

    @post("/{lead_id:uuid}/duplicates/{duplicate_id:uuid}/dismiss", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK,
          summary="Dismiss a possible duplicate (not the same person)")
    async def dismiss(
        self, tenant: TenantContext, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, duplicate_id: uuid.UUID
    ) -> LeadOut:
        await merging.dismiss(tenant.session, actor, lead_id, duplicate_id)
        lead = await rules.get_lead(tenant.session, lead_id)
        return await rules.to_out(tenant.session, cipher, lead, practice=tenant.tenant.name)


ROUTE_HANDLERS = [LeadsController]
