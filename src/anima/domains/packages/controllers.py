"""HTTP routes of packages and credits: owners define packages and adjust credits; owners and
assistants sell; every member reads (therapists only their visible patients' credits)."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from typing import Annotated

from anima.domains.packages import booking_credits, ledger
from anima.domains.packages import services as rules
from anima.domains.packages.schemas import (
    Adjustment, BalanceOut, BookingCreditOut, CreditRuleBody, CreditRuleOut, EntryOut, PackageCreate, PackageOut, PackageUpdate, SaleCreate, SaleOut, SaleRefund, SaleRefundOut,
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

    @put("/{package_id:uuid}", opt=OWNERS, summary="Redefine a package (sales already made keep their terms)")
    async def update(self, tenant: TenantContext, package_id: uuid.UUID, data: PackageUpdate) -> PackageOut:
        return await rules.to_out(tenant.session, await rules.update_package(tenant.session, package_id, data))

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


    @get("/bookings/{booking_id:uuid}", opt=EVERY_MEMBER, summary="The package credit a booking used, and its sale's credits left")
    async def booking(self, tenant: TenantContext, viewer: Viewer, booking_id: uuid.UUID) -> BookingCreditOut:
        from anima.domains.bookings import services as bookings

        booking = await bookings.get(tenant.session, viewer.role, viewer.user_id, booking_id)
        c = (await booking_credits.coverage(tenant.session, [booking.id])).get(booking.id)
        if c is None:
            return BookingCreditOut(booking.id, False, None, None, None, False)
        return BookingCreditOut(booking.id, True, c.sale_id, c.package_name, c.left, c.returned)


async def _rule_out(session, service_id: uuid.UUID | None) -> CreditRuleOut:
    own = await booking_credits.own_rule(session, service_id)
    rule = own or await booking_credits.rule_for(session, service_id)
    return CreditRuleOut(service_id, rule.no_show_uses_credit, rule.when_exhausted, own is not None)


class CreditRulesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/credit-rules"
    tags = ["packages"]

    @get("/", opt=EVERY_MEMBER, summary="How bookings use package credits in this organization")
    async def read_org(self, tenant: TenantContext) -> CreditRuleOut:
        return await _rule_out(tenant.session, None)

    @put("/", opt=OWNERS, summary="Set how bookings use package credits (no-shows; bookings at zero credits)")
    async def set_org(self, tenant: TenantContext, data: CreditRuleBody) -> CreditRuleOut:
        await booking_credits.set_rule(tenant.session, None, no_show_uses_credit=data.no_show_uses_credit, when_exhausted=data.when_exhausted)
        return await _rule_out(tenant.session, None)

    @get("/services/{service_id:uuid}", opt=EVERY_MEMBER, summary="The credit rule a service's bookings follow")
    async def read_service(self, tenant: TenantContext, service_id: uuid.UUID) -> CreditRuleOut:
        return await _rule_out(tenant.session, service_id)

    @put("/services/{service_id:uuid}", opt=OWNERS, summary="Override the credit rule for one service")
    async def set_service(self, tenant: TenantContext, service_id: uuid.UUID, data: CreditRuleBody) -> CreditRuleOut:
        await booking_credits.set_rule(tenant.session, service_id, no_show_uses_credit=data.no_show_uses_credit,
                                       when_exhausted=data.when_exhausted)
        return await _rule_out(tenant.session, service_id)


ROUTE_HANDLERS = [PackagesController, CreditsController, CreditRulesController]
