"""HTTP routes of the audit trail: owners list and export a patient's trail (also after erasure)."""

from __future__ import annotations

import datetime
import uuid

from litestar import Controller, get

from anima.domains.audit.models import AuditEvent
from anima.domains.audit.schemas import AuditEventOut, AuditExport
from anima.domains.audit.services import Actor, patient_trail, record
from anima.http.access import OWNERS, TenantContext
from anima.http.pagination import OffsetPagination, Page


def to_out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        e.id, e.occurred_at, e.actor_id, e.actor_role, e.action, e.patient_id, e.entry_id, e.request_id,
        e.client_address, dict(e.detail or {}),
    )


class AuditController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/patients/{patient_id:uuid}/audit"
    tags = ["audit"]

    @get("/", opt=OWNERS, summary="A patient's audit trail, oldest first (owners)")
    async def list_events(self, tenant: TenantContext, page: Page, patient_id: uuid.UUID) -> OffsetPagination[AuditEventOut]:
        rows, total = await patient_trail(tenant.session, patient_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=[to_out(e) for e in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/export", opt=OWNERS, summary="The whole trail of a patient as one JSON document (owners)")
    async def export(self, tenant: TenantContext, actor: Actor, patient_id: uuid.UUID) -> AuditExport:
        rows, _ = await patient_trail(tenant.session, patient_id, limit=None)
        await record(
            tenant.session, actor, "audit.exported",
            patient_id=patient_id, events=len(rows),
        )
        return AuditExport(patient_id, datetime.datetime.now(datetime.UTC), [to_out(e) for e in rows])


ROUTE_HANDLERS = [AuditController]
