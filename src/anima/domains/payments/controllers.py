"""HTTP routes of payment requests: owners and assistants create and settle; therapists read."""

from __future__ import annotations

import uuid
from typing import Literal

from litestar import Controller, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.domains.patients.visibility import Viewer
from anima.domains.payments import services as rules
from anima.domains.payments.schemas import PaymentCreate, PaymentFailure, PaymentOut
from anima.http.access import EVERY_MEMBER, FRONT_DESK, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class PaymentsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/payments"
    tags = ["payments"]

    @post("/", opt=FRONT_DESK, status_code=HTTP_201_CREATED, summary="Ask a patient for a payment (PENDING)")
    async def create(self, tenant: TenantContext, viewer: Viewer, data: PaymentCreate) -> PaymentOut:
        return rules.to_out(await rules.create(tenant.session, viewer, data))

    @get("/", opt=EVERY_MEMBER, summary="Payment requests, newest first")
    async def list_payments(
        self, tenant: TenantContext, viewer: Viewer, page: Page, status: Literal["PENDING", "SUCCEEDED", "FAILED"] | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> OffsetPagination[PaymentOut]:
        rows, total = await rules.list_payments(tenant.session, viewer, limit=page.limit, offset=page.offset, status=status, patient_id=patient_id)
        return OffsetPagination(items=[rules.to_out(p) for p in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{payment_id:uuid}", opt=EVERY_MEMBER, summary="One payment request")
    async def read(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> PaymentOut:
        return rules.to_out(await rules.get(tenant.session, viewer, payment_id))

    @post("/{payment_id:uuid}/succeed", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark a pending payment paid")
    async def succeed(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID) -> PaymentOut:
        return rules.to_out(await rules.settle(tenant.session, viewer, payment_id, succeeded=True))

    @post("/{payment_id:uuid}/fail", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark a pending payment failed")
    async def fail(self, tenant: TenantContext, viewer: Viewer, payment_id: uuid.UUID, data: PaymentFailure) -> PaymentOut:
        return rules.to_out(await rules.settle(tenant.session, viewer, payment_id, succeeded=False, reason=data.reason))


ROUTE_HANDLERS = [PaymentsController]
