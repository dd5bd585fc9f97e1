"""HTTP routes of bookings: owners and assistants book, complete and cancel; therapists read their own."""

from __future__ import annotations

import uuid
from typing import Literal

from litestar import Controller, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from anima.domains.bookings import services as rules
from anima.domains.bookings.schemas import BookingCreate, BookingOut
from anima.http.access import EVERY_MEMBER, FRONT_DESK, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page


class BookingsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/bookings"
    tags = ["bookings"]

    @post("/", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED, summary="Book a patient on a service (CONFIRMED)")
    async def create(self, tenant: TenantContext, data: BookingCreate) -> BookingOut:
        return await rules.to_out(tenant.session, await rules.create(tenant.session, tenant.user_id, data))

    @get("/", opt=EVERY_MEMBER, summary="Bookings, latest start first (therapists: their own)")
    async def list_bookings(
        self, tenant: TenantContext, page: Page, status: Literal["CONFIRMED", "COMPLETED", "CANCELLED"] | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> OffsetPagination[BookingOut]:
        rows, total = await rules.list_bookings(
            tenant.session, tenant.role.value, tenant.user_id, limit=page.limit, offset=page.offset, status=status, patient_id=patient_id
        )
        return OffsetPagination(items=[await rules.to_out(tenant.session, b) for b in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{booking_id:uuid}", opt=EVERY_MEMBER, summary="One booking")
    async def read(self, tenant: TenantContext, booking_id: uuid.UUID) -> BookingOut:
        return await rules.to_out(tenant.session, await rules.get(tenant.session, tenant.role.value, tenant.user_id, booking_id))

    @post("/{booking_id:uuid}/complete", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Mark a booking completed")
    async def complete(self, tenant: TenantContext, booking_id: uuid.UUID) -> BookingOut:
        return await rules.to_out(tenant.session, await rules.transition(tenant.session, tenant.user_id, booking_id, "COMPLETED"))

    @post("/{booking_id:uuid}/cancel", opt=FRONT_DESK | answers(409), status_code=HTTP_200_OK, summary="Cancel a booking")
    async def cancel(self, tenant: TenantContext, booking_id: uuid.UUID) -> BookingOut:
        return await rules.to_out(tenant.session, await rules.transition(tenant.session, tenant.user_id, booking_id, "CANCELLED"))


ROUTE_HANDLERS = [BookingsController]
