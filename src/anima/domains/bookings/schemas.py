"""Bodies of the bookings API. Instants are ISO 8601 with an offset; local times ``HH:MM``."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

Reason = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00]*$")]
LocalTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local wall time HH:MM (24 h)")]
CostKind = Literal["NONE", "FIXED", "SHARE", "CREDIT"]
CostValue = Annotated[int, msgspec.Meta(ge=0, le=100_000_000, description="FIXED: minor units; SHARE: basis points (10000 = all); CREDIT: credits")]


class BookingCreate(RequestBody):
    """A CONFIRMED booking entered by staff at any start (records, imports): not checked against
    availability, notice or horizon, but still refused when it overlaps the therapist's time."""

    patient_id: uuid.UUID
    service_id: uuid.UUID
    starts_at: datetime.datetime
    therapist_id: uuid.UUID | None = None


class HoldRequest(RequestBody):
    """Hold a free slot: ``therapist_id`` omitted means any therapist who offers the service and
    is free then. ``hold_minutes`` is how long the hold lives before it expires by itself."""

    patient_id: uuid.UUID
    service_id: uuid.UUID
    starts_at: datetime.datetime
    therapist_id: uuid.UUID | None = None
    hold_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 15
    payment_id: uuid.UUID | None = None


class CancelRequest(RequestBody):
    """Who cancels (``client`` or ``practice``) and why (stored encrypted)."""

    by: Literal["client", "practice"]
    reason: Reason = ""


class RescheduleRequest(RequestBody):
    """Move a booking to a new free start (and optionally another therapist offering the service)."""

    starts_at: datetime.datetime
    therapist_id: uuid.UUID | None = None


class BookingOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    service_id: uuid.UUID
    therapist_id: uuid.UUID | None
    occurrence_id: uuid.UUID | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    blocked_from: datetime.datetime
    blocked_until: datetime.datetime
    status: str
    retreat: bool
    expires_at: datetime.datetime | None
    payment_id: uuid.UUID | None
    completed_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    cancelled_by_kind: str | None
    cancelled_by: uuid.UUID | None
    cancel_reason: str | None
    rescheduled_count: int
    created_at: datetime.datetime


class SlotOut(msgspec.Struct):
    """A free start: ``starts_at`` in UTC and ``local_starts_at`` in the requested ``zone``."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    local_starts_at: datetime.datetime
    zone: str
    therapist_ids: list[uuid.UUID]


class ScheduleOut(msgspec.Struct):
    therapist_id: uuid.UUID
    time_zone: str
    own_zone: bool


class RuleCreate(RequestBody):
    """Weekly hours in the therapist's local time: ``weekday`` 0 = Monday."""

    therapist_id: uuid.UUID
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6)]
    start_time: LocalTime
    end_time: LocalTime
    service_id: uuid.UUID | None = None


class RuleOut(msgspec.Struct):
    id: uuid.UUID
    therapist_id: uuid.UUID
    weekday: int
    start_time: str
    end_time: str
    service_id: uuid.UUID | None


class OverrideCreate(RequestBody):
    """A local date: ``available`` true adds hours; false takes them off (no times: the whole day)."""

    therapist_id: uuid.UUID
    on_date: datetime.date
    available: bool
    start_time: LocalTime | None = None
    end_time: LocalTime | None = None


class OverrideOut(msgspec.Struct):
    id: uuid.UUID
    therapist_id: uuid.UUID
    on_date: datetime.date
    available: bool
    start_time: str | None
    end_time: str | None


class OccurrenceCreate(RequestBody):
    """A dated session of a FIXED_DATE or GROUP service; ``capacity`` defaults to the service's."""

    service_id: uuid.UUID
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    therapist_id: uuid.UUID | None = None
    location: Annotated[str, msgspec.Meta(max_length=255, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""
    capacity: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    price_minor: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] | None = None


class OccurrenceOut(msgspec.Struct):
    id: uuid.UUID
    service_id: uuid.UUID
    therapist_id: uuid.UUID | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    location: str
    capacity: int
    price_minor: int
    currency: str
    status: str
    seats_taken: int
    seats_offered: int
    waiting: int


class SeatRequest(RequestBody):
    patient_id: uuid.UUID


class WaitlistOut(msgspec.Struct):
    id: uuid.UUID
    occurrence_id: uuid.UUID
    patient_id: uuid.UUID
    status: str
    position: int | None
    offer_expires_at: datetime.datetime | None
    booking_id: uuid.UUID | None


class PolicyBody(RequestBody):
    """A cancellation policy: the window (hours before the start) and what a late cancellation by
    the client or a no-show costs."""

    window_hours: Annotated[int, msgspec.Meta(ge=0, le=8760)] = 24
    late_cancel_kind: CostKind = "NONE"
    late_cancel_value: CostValue = 0
    no_show_kind: CostKind = "NONE"
    no_show_value: CostValue = 0


class PolicyOut(msgspec.Struct):
    service_id: uuid.UUID | None
    window_hours: int
    late_cancel_kind: str
    late_cancel_value: int
    no_show_kind: str
    no_show_value: int


class ChargeOut(msgspec.Struct):
    id: uuid.UUID
    booking_id: uuid.UUID
    patient_id: uuid.UUID
    reason: str
    cost_kind: str
    amount_minor: int
    currency: str | None
    credits: int
    status: str
    created_at: datetime.datetime


class ReminderBody(RequestBody):
    """Reminder offsets: minutes before the start, each from 5 to 43200 (30 days), at most 5,
    distinct; an empty list sends no reminders."""

    offsets_minutes: Annotated[list[Annotated[int, msgspec.Meta(ge=5, le=43200)]], msgspec.Meta(max_length=5)]


class ReminderOut(msgspec.Struct):
    """The offsets in force for the organization (``service_id`` null) or a service, and where they
    come from: ``service``, ``organization`` or ``default`` (24 hours)."""

    service_id: uuid.UUID | None
    offsets_minutes: list[int]
    source: str
