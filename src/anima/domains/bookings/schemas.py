"""Bodies of the bookings API. ``starts_at`` is ISO 8601 with a time zone offset."""

from __future__ import annotations

import datetime
import uuid

import msgspec

from anima.request_body import RequestBody


class BookingCreate(RequestBody):
    patient_id: uuid.UUID
    service_id: uuid.UUID
    starts_at: datetime.datetime
    therapist_id: uuid.UUID | None = None


class BookingOut(msgspec.Struct):
    id: uuid.UUID
    patient_id: uuid.UUID
    service_id: uuid.UUID
    therapist_id: uuid.UUID | None
    starts_at: datetime.datetime
    status: str
    retreat: bool
    completed_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None
    created_at: datetime.datetime
