"""Bookings: a patient on a service at a time, CONFIRMED -> COMPLETED | CANCELLED.

Minimal by design (the playbooks need BOOKING_CONFIRMED and BOOKING_COMPLETED): no availability
search, slots or capacity yet. A "retreat" is a booking of a service whose scheduling is
FIXED_DATE.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps, UUIDKey

STATUSES = ("CONFIRMED", "COMPLETED", "CANCELLED")


class Booking(UUIDKey, Timestamps, TenantBase):
    """A booking of ``patient_id`` on ``service_id`` starting at ``starts_at``, with a therapist or none."""

    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("status IN ('CONFIRMED','COMPLETED','CANCELLED')", name="status_valid"),
        Index("ix_bookings_starts", "starts_at"),
        Index("ix_bookings_patient", "patient_id", "starts_at"),
        Index("ix_bookings_therapist", "therapist_id", "starts_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    service_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("services.id", ondelete="RESTRICT"))
    therapist_id: Mapped[uuid.UUID | None] = mapped_column(GUID, ForeignKey("staff.id", ondelete="SET NULL"), nullable=True)
    starts_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="CONFIRMED")
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    completed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
