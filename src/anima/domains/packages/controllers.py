"""HTTP routes of packages and credits: owners define packages and adjust credits; owners and
assistants sell; every member reads (therapists only their visible patients' credits)."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from typing import Annotated

from anima.domains.packages import ledger
from anima.domains.packages import services as rules
from anima.domains.packages.schemas import (
    Adjustment, BalanceOut, EntryOut, PackageCreate, PackageOut, SaleCreate, SaleOut, SaleRefund, SaleRefundOut,
)
from anima.domains.payments.stripe_connect import connect_gateway_for
from anima.runtime import Runtime
from anima.domains.patients.visibility import Viewer
from anima.http.access import EVERY_MEMBER, FRONT_DESK, OWNERS, TenantContext
from anima.http.openapi import answers


class PackagesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/packages"
    tags = ["packages"]

    @post("/", opt=OWNERS, status_code=HTTP_201_CREATED, summary="Define a package: sessions, services, validity, prices per currency")
    async def create(self, tenant: TenantContext, data: PackageCreate) -> PackageOut:
        return await rules.to_out(tenant.session, await rules.create_package(tenant.session, data))

    @get("/", opt=EVERY_MEMBER, summary="The package catalogue")
    async def list_packages(self, tenant: TenantContext) -> list[PackageOut]:
        return [await rules.to_out(tenant.session, p) for p in await rules.list_packages(tenant.session)]

    @get("/{package_id:uuid}", opt=EVERY_MEMBER, summary="One package")
    async def read(self, tenant: TenantContext, package_id: uuid.UUID) -> PackageOut:
        return await rules.to_out(tenant.session, await rules.get_package(tenant.session, package_id))

    @post("/{package_id:uuid}/sales", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED,
          summary="Sell a package to a patient (recorded now, or online through its pay link)")
    async def sell(self, tenant: TenantContext, viewer: Viewer, package_id: uuid.UUID, data: SaleCreate) -> SaleOut:
        return await rules.sale_out(tenant.session, await rules.sell(tenant.session, viewer, package_id, data))


class CreditsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/credits"
    tags = ["packages"]

    @get("/patients/{patient_id:uuid}", opt=EVERY_MEMBER, summary="A patient's credit balance, sales and ledger")
    async def patient(self, tenant: TenantContext, viewer: Viewer, patient_id: uuid.UUID) -> BalanceOut:
        return await rules.patient_ledger(tenant.session, viewer, patient_id)

    @post("/sales/{sale_id:uuid}/adjustments", opt=OWNERS | answers(409), status_code=HTTP_201_CREATED,
          summary="Correct a sale's credits, with a reason (owners; replay-safe with Idempotency-Key)")
    async def adjust(
        self, tenant: TenantContext, viewer: Viewer, sale_id: uuid.UUID, data: Adjustment,
        idempotency_key: Annotated[str | None, Parameter(header="Idempotency-Key", max_length=64, pattern=r"^[A-Za-z0-9_\-]{8,64}$")] = None,
    ) -> EntryOut:
        sale = await rules.get_sale(tenant.session, viewer, sale_id)
        e = await ledger.adjust(tenant.session, sale.id, delta=data.delta, reason=data.reason.strip(),
                                key=f"{sale.id}:{idempotency_key or uuid.uuid4().hex}", actor_id=viewer.user_id)
        return EntryOut(e.id, e.sale_id, e.kind, e.delta, e.booking_id, e.reason, e.created_at)


    @post("/sales/{sale_id:uuid}/refund", opt=OWNERS | answers(409, 502, 503), status_code=HTTP_200_OK,
          summary="Refund a sale's unused credits pro rata (owners)")
    async def refund(self, runtime: Runtime, tenant: TenantContext, viewer: Viewer, sale_id: uuid.UUID, data: SaleRefund) -> SaleRefundOut:
        gateway = connect_gateway_for(runtime.settings) if runtime.settings.payments_configured else None
        entry, amount = await rules.refund_unused(tenant.session, viewer, sale_id, reason=data.reason.strip(), gateway=gateway)
        return SaleRefundOut(sale_id=sale_id, credits=-entry.delta if entry else 0, amount_minor=amount)


ROUTE_HANDLERS = [PackagesController, CreditsController]
