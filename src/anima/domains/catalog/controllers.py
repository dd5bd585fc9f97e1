"""HTTP routes of services: owners configure; assistants read all; therapists read their own."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, delete, get, patch, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from anima.domains.catalog import services as service_rules
from anima.domains.catalog.schemas import ServiceCreate, ServiceOut, ServiceUpdate, TherapistAssignment
from anima.http.access import EVERY_MEMBER, OWNERS, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


def _visible_to(tenant: TenantContext) -> uuid.UUID | None:
    return service_rules.visible_to(tenant.role.value, tenant.user_id)


class ServicesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/services"
    tags = ["services"]

    @get("/", opt=EVERY_MEMBER, summary="List services (therapists: only those assigned to them)")
    async def list_services(
        self,
        tenant: TenantContext,
        page: Page,
        active: bool | None = None,
        kind: Literal["ONE_ON_ONE", "GROUP"] | None = None,
        q: Annotated[str | None, Parameter(max_length=120, description="name contains")] = None,
    ) -> OffsetPagination[ServiceOut]:
        rows, total = await service_rules.list_services(
            tenant.session, limit=page.limit, offset=page.offset, visible_to=_visible_to(tenant),
            active=active, kind=kind, search=q,
        )
        return OffsetPagination(items=[service_rules.to_out(s) for s in rows], limit=page.limit, offset=page.offset, total=total)

    @post("/", opt=OWNERS, status_code=HTTP_201_CREATED, summary="Create a service (owners)")
    async def create(self, tenant: TenantContext, data: ServiceCreate) -> ServiceOut:
        return service_rules.to_out(await service_rules.create_service(
            tenant.session, data, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier))

    @get("/{service_id:uuid}", opt=EVERY_MEMBER, summary="Read a service")
    async def read(self, tenant: TenantContext, service_id: uuid.UUID) -> ServiceOut:
        return service_rules.to_out(await service_rules.get_service(tenant.session, service_id, visible_to=_visible_to(tenant)))

    @patch("/{service_id:uuid}", opt=OWNERS, summary="Change a service (owners)")
    async def update(self, tenant: TenantContext, service_id: uuid.UUID, data: ServiceUpdate) -> ServiceOut:
        return service_rules.to_out(await service_rules.update_service(
            tenant.session, service_id, data, tenant_id=tenant.tenant.id, tier=tenant.tenant.tier))

    @put("/{service_id:uuid}/therapists", opt=OWNERS, summary="Set the therapists who offer a service (owners)")
    async def assign(self, tenant: TenantContext, service_id: uuid.UUID, data: TherapistAssignment) -> ServiceOut:
        return service_rules.to_out(await service_rules.assign_therapists(tenant.session, service_id, data.therapist_ids))

    @delete("/{service_id:uuid}", opt=OWNERS | answers(409), status_code=HTTP_204_NO_CONTENT, summary="Delete a service (owners)")
    async def remove(self, tenant: TenantContext, service_id: uuid.UUID) -> None:
        await service_rules.delete_service(tenant.session, service_id)


ROUTE_HANDLERS = [ServicesController]
