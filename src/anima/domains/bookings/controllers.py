"""HTTP routes of the booking engine: bookings and their lifecycle, slots, availability,
occurrences with seats and waitlists, cancellation policies and charges, reminder offsets.

Owners and assistants book for anyone; therapists see and manage their own calendar (the
services filter by the caller); owners manage anyone's availability, a therapist their own.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post, put
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from anima.crypto.cipher import FieldCipher
from anima.domains.bookings import availability, policies, reminders, seats
from anima.domains.bookings import services as rules
from anima.domains.bookings.schemas import (
    BookingCreate, BookingOut, CancelRequest, ChargeOut, HoldRequest, OccurrenceCreate, OccurrenceOut, OverrideCreate, OverrideOut,
    PolicyBody, PolicyOut, ReminderBody, ReminderOut, RescheduleRequest, RuleCreate, RuleOut, ScheduleOut, SeatRequest, SlotOut, WaitlistOut,
)
from anima.domains.gcal import freebusy
from anima.http.access import CLINICIANS, EVERY_MEMBER, FRONT_DESK, OWNERS, TenantContext
from anima.http.openapi import answers
from anima.http.pagination import OffsetPagination, Page
from anima.identity.models import Role
from anima.problems import InvalidInput
from anima.runtime import Runtime

Status = Literal["HELD", "CONFIRMED", "COMPLETED", "NO_SHOW", "CANCELLED", "EXPIRED"]


def _caller(tenant: TenantContext) -> rules.Caller:
    return rules.Caller(tenant.user_id, tenant.role.value)


async def _out(tenant: TenantContext, cipher: FieldCipher, booking) -> BookingOut:  # noqa: ANN001
    return await rules.to_out(tenant.session, booking, cipher, clinical=tenant.role != Role.ASSISTANT)


class BookingsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/bookings"
    tags = ["bookings"]

    @post("/", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED,
          summary="Enter a CONFIRMED booking at any start (records; no availability check, overlaps refused)")
    async def create(self, tenant: TenantContext, cipher: FieldCipher, data: BookingCreate) -> BookingOut:
        return await _out(tenant, cipher, await rules.create(tenant.session, tenant.user_id, data))

    @post("/hold", opt=EVERY_MEMBER | answers(409), status_code=HTTP_201_CREATED,
          summary="Hold a free slot (HELD, expires by itself); therapists: in their own calendar")
    async def hold(self, tenant: TenantContext, cipher: FieldCipher, data: HoldRequest) -> BookingOut:
        return await _out(tenant, cipher, await rules.hold(tenant.session, _caller(tenant), data))

    @get("/", opt=EVERY_MEMBER, summary="Bookings, latest start first; soonest first within a time range (therapists: their own)")
    async def list_bookings(
        self, tenant: TenantContext, cipher: FieldCipher, page: Page, status: Status | None = None,
        patient_id: uuid.UUID | None = None, therapist_id: uuid.UUID | None = None,
        starts_from: Annotated[datetime.datetime | None, Parameter(description="starts at or after (with an offset)")] = None,
        starts_before: Annotated[datetime.datetime | None, Parameter(description="starts before (with an offset)")] = None,
    ) -> OffsetPagination[BookingOut]:
        rows, total = await rules.list_bookings(
            tenant.session, tenant.role.value, tenant.user_id, limit=page.limit, offset=page.offset, status=status,
            patient_id=patient_id, therapist_id=therapist_id, ascending=starts_from is not None or starts_before is not None,
            starts_from=rules.aware("starts_from", starts_from) if starts_from else None,
            starts_before=rules.aware("starts_before", starts_before) if starts_before else None,
        )
        return OffsetPagination(items=[await _out(tenant, cipher, b) for b in rows], limit=page.limit, offset=page.offset, total=total)

    @get("/{booking_id:uuid}", opt=EVERY_MEMBER, summary="One booking")
    async def read(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await rules.get(tenant.session, tenant.role.value, tenant.user_id, booking_id))

    @get("/{booking_id:uuid}/ics", opt=EVERY_MEMBER, media_type="text/calendar", summary="The booking as an iCalendar file (RFC 5545)")
    async def ics(self, tenant: TenantContext, booking_id: uuid.UUID) -> Response[bytes]:
        body = await rules.calendar_file(tenant.session, tenant.role.value, tenant.user_id, booking_id)
        return Response(body, media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="booking-{booking_id}.ics"'})

    @post("/{booking_id:uuid}/confirm", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK, summary="Confirm a held booking")
    async def confirm(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await rules.confirm(tenant.session, _caller(tenant), booking_id))

    @post("/{booking_id:uuid}/cancel", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK,
          summary="Cancel a booking on the practice's behalf, without a reason")
    async def cancel(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await rules.cancel(tenant.session, _caller(tenant), booking_id, CancelRequest(by="practice"), cipher))

    @post("/{booking_id:uuid}/cancellation", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK,
          summary="Cancel a booking: by the client or the practice, and why (a late client cancellation is charged once)")
    async def cancellation(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID, data: CancelRequest) -> BookingOut:
        return await _out(tenant, cipher, await rules.cancel(tenant.session, _caller(tenant), booking_id, data, cipher))

    @post("/{booking_id:uuid}/complete", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK, summary="Mark a booking completed")
    async def complete(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await rules.complete(tenant.session, _caller(tenant), booking_id))

    @post("/{booking_id:uuid}/no-show", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK,
          summary="Mark a booking a no-show (the policy's cost is recorded once)")
    async def no_show(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await rules.no_show(tenant.session, _caller(tenant), booking_id))

    @post("/{booking_id:uuid}/reschedule", opt=EVERY_MEMBER | answers(409), status_code=HTTP_200_OK,
          summary="Move a booking to a new free start atomically (keeps its id and payment)")
    async def reschedule(self, tenant: TenantContext, cipher: FieldCipher, booking_id: uuid.UUID, data: RescheduleRequest) -> BookingOut:
        return await _out(tenant, cipher, await rules.reschedule(tenant.session, _caller(tenant), booking_id, data))


class SlotsController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/slots"
    tags = ["bookings"]

    @get("/", opt=EVERY_MEMBER, summary="Free starts of a service on local dates of a zone (one therapist or any)")
    async def search(
        self, tenant: TenantContext, cipher: FieldCipher, runtime: Runtime,
        service_id: Annotated[uuid.UUID | None, Parameter(description="the service (required)")] = None,
        first: Annotated[datetime.date | None, Parameter(query="from", description="first local date in `zone` (default: today)")] = None,
        last: Annotated[datetime.date | None, Parameter(query="to", description="last local date in `zone`, at most 62 days on (default: a week)")] = None,
        zone: Annotated[str, Parameter(max_length=64, description="IANA zone the dates and local times are in")] = "UTC",
        therapist_id: uuid.UUID | None = None,
    ) -> list[SlotOut]:
        if service_id is None:
            raise InvalidInput.field("service_id", "required", "name the service")
        busy_of = freebusy.provider(tenant.session, cipher, runtime.settings, tenant.tenant.id)  # the therapists' Google Calendars
        return await rules.search(tenant.session, service_id, therapist_id=therapist_id, first=first, last=last, zone=zone, busy_of=busy_of)


class AvailabilityController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/availability"
    tags = ["availability"]

    @get("/therapists/{therapist_id:uuid}", opt=EVERY_MEMBER, summary="The zone a therapist's availability is in (their own, else the practice's)")
    async def read_schedule(self, tenant: TenantContext, therapist_id: uuid.UUID) -> ScheduleOut:
        return await availability.schedule(tenant.session, therapist_id)

    @get("/rules", opt=EVERY_MEMBER, summary="A therapist's weekly rules (default: the caller's own)")
    async def list_rules(self, tenant: TenantContext, therapist_id: uuid.UUID | None = None) -> list[RuleOut]:
        return await availability.list_rules(tenant.session, therapist_id or tenant.user_id)

    @post("/rules", opt=CLINICIANS, status_code=HTTP_201_CREATED, summary="Add weekly hours (owners; a therapist their own)")
    async def add_rule(self, tenant: TenantContext, data: RuleCreate) -> RuleOut:
        availability.may_manage(tenant.role.value, tenant.user_id, data.therapist_id)
        return await availability.add_rule(tenant.session, data)

    @delete("/rules/{rule_id:uuid}", opt=CLINICIANS, status_code=HTTP_204_NO_CONTENT, summary="Remove weekly hours")
    async def delete_rule(self, tenant: TenantContext, rule_id: uuid.UUID) -> None:
        rule = await availability.get_rule(tenant.session, rule_id)
        availability.may_manage(tenant.role.value, tenant.user_id, rule.therapist_id)
        await availability.delete_rule(tenant.session, rule)

    @get("/overrides", opt=EVERY_MEMBER, summary="A therapist's date overrides (default: the caller's own)")
    async def list_overrides(self, tenant: TenantContext, therapist_id: uuid.UUID | None = None) -> list[OverrideOut]:
        return await availability.list_overrides(tenant.session, therapist_id or tenant.user_id)

    @post("/overrides", opt=CLINICIANS, status_code=HTTP_201_CREATED, summary="Add extra hours or time off on a date")
    async def add_override(self, tenant: TenantContext, data: OverrideCreate) -> OverrideOut:
        availability.may_manage(tenant.role.value, tenant.user_id, data.therapist_id)
        return await availability.add_override(tenant.session, data)

    @delete("/overrides/{override_id:uuid}", opt=CLINICIANS, status_code=HTTP_204_NO_CONTENT, summary="Remove a date override")
    async def delete_override(self, tenant: TenantContext, override_id: uuid.UUID) -> None:
        row = await availability.get_override(tenant.session, override_id)
        availability.may_manage(tenant.role.value, tenant.user_id, row.therapist_id)
        await availability.delete_override(tenant.session, row)


class OccurrencesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/occurrences"
    tags = ["occurrences"]

    @post("/", opt=OWNERS, status_code=HTTP_201_CREATED, summary="Schedule an occurrence of a FIXED_DATE or GROUP service")
    async def create(self, tenant: TenantContext, data: OccurrenceCreate) -> OccurrenceOut:
        return await seats.create_occurrence(tenant.session, data)

    @get("/", opt=EVERY_MEMBER, summary="Occurrences, soonest first, with seats taken, offered and waiting")
    async def list_occurrences(self, tenant: TenantContext, page: Page, service_id: uuid.UUID | None = None) -> OffsetPagination[OccurrenceOut]:
        items, total = await seats.list_occurrences(tenant.session, service_id=service_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post("/{occurrence_id:uuid}/seats", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED,
          summary="Book a seat (409 `full`: join the waitlist)")
    async def book_seat(self, tenant: TenantContext, cipher: FieldCipher, occurrence_id: uuid.UUID, data: SeatRequest) -> BookingOut:
        return await _out(tenant, cipher, await seats.book_seat(tenant.session, tenant.user_id, occurrence_id, data.patient_id))

    @get("/{occurrence_id:uuid}/waitlist", opt=EVERY_MEMBER, summary="The waitlist in order")
    async def read_waitlist(self, tenant: TenantContext, occurrence_id: uuid.UUID) -> list[WaitlistOut]:
        return await seats.waitlist(tenant.session, occurrence_id)

    @post("/{occurrence_id:uuid}/waitlist", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED,
          summary="Put a patient on the waitlist (a free seat is offered at once)")
    async def join(self, tenant: TenantContext, occurrence_id: uuid.UUID, data: SeatRequest) -> WaitlistOut:
        return await seats.join_waitlist(tenant.session, tenant.user_id, occurrence_id, data.patient_id)


class WaitlistController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/waitlist"
    tags = ["occurrences"]

    @post("/{entry_id:uuid}/claim", opt=FRONT_DESK | answers(409), status_code=HTTP_201_CREATED,
          summary="Claim a live waitlist offer: books its seat once")
    async def claim(self, tenant: TenantContext, cipher: FieldCipher, entry_id: uuid.UUID) -> BookingOut:
        return await _out(tenant, cipher, await seats.claim(tenant.session, tenant.user_id, entry_id))


class PoliciesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/cancellation-policies"
    tags = ["bookings"]

    @get("/organization", opt=EVERY_MEMBER, summary="The organization's cancellation policy")
    async def read_org(self, tenant: TenantContext) -> PolicyOut:
        return await policies.get_policy(tenant.session, None)

    @put("/organization", opt=OWNERS, summary="Set the organization's cancellation policy (owners)")
    async def set_org(self, tenant: TenantContext, data: PolicyBody) -> PolicyOut:
        return await policies.set_policy(tenant.session, None, data)

    @get("/services/{service_id:uuid}", opt=EVERY_MEMBER, summary="A service's own cancellation policy")
    async def read_service(self, tenant: TenantContext, service_id: uuid.UUID) -> PolicyOut:
        return await policies.get_policy(tenant.session, service_id)

    @put("/services/{service_id:uuid}", opt=OWNERS, summary="Override the cancellation policy for a service (owners)")
    async def set_service(self, tenant: TenantContext, service_id: uuid.UUID, data: PolicyBody) -> PolicyOut:
        return await policies.set_policy(tenant.session, service_id, data)


class RemindersController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/reminder-settings"
    tags = ["bookings"]

    @get("/organization", opt=EVERY_MEMBER, summary="The organization's reminder offsets (default: 24 hours before)")
    async def read_org(self, tenant: TenantContext) -> ReminderOut:
        offsets, source = await reminders.read_offsets(tenant.session, None)
        return ReminderOut(None, offsets, source)

    @put("/organization", opt=OWNERS, summary="Set the organization's reminder offsets (owners)")
    async def set_org(self, tenant: TenantContext, data: ReminderBody) -> ReminderOut:
        return ReminderOut(None, await reminders.set_offsets(tenant.session, None, data.offsets_minutes), "organization")

    @get("/services/{service_id:uuid}", opt=EVERY_MEMBER | answers(404), summary="A service's reminder offsets in force")
    async def read_service(self, tenant: TenantContext, service_id: uuid.UUID) -> ReminderOut:
        offsets, source = await reminders.read_offsets(tenant.session, service_id)
        return ReminderOut(service_id, offsets, source)

    @put("/services/{service_id:uuid}", opt=OWNERS | answers(404), summary="Override the reminder offsets for a service (owners)")
    async def set_service(self, tenant: TenantContext, service_id: uuid.UUID, data: ReminderBody) -> ReminderOut:
        return ReminderOut(service_id, await reminders.set_offsets(tenant.session, service_id, data.offsets_minutes), "service")


class ChargesController(Controller):
    path = "/api/v1/orgs/{org_slug:str}/booking-charges"
    tags = ["bookings"]

    @get("/", opt=FRONT_DESK, summary="Late-cancellation and no-show charges to collect")
    async def list_charges(self, tenant: TenantContext, page: Page, booking_id: uuid.UUID | None = None) -> OffsetPagination[ChargeOut]:
        items, total = await policies.charges(tenant.session, booking_id=booking_id, limit=page.limit, offset=page.offset)
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)


ROUTE_HANDLERS = [BookingsController, SlotsController, AvailabilityController, OccurrencesController, WaitlistController,
                  PoliciesController, RemindersController, ChargesController]
