"""Payment requests: what a patient owes the organization, and whether it was paid.

Minimal by design (the playbooks need "a payment still pending"): an amount in minor units of an ISO
4217 currency, a status PENDING -> SUCCEEDED | FAILED, set through HTTP by owners and assistants.
Card processing for patients (Stripe Connect) is not part of it.
"""

from __future__ import annotations

import datetime
import uuid

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps, UUIDKey

STATUSES = ("PENDING", "SUCCEEDED", "FAILED")


class PaymentRequest(UUIDKey, Timestamps, TenantBase):
    """A payment a patient is asked to make."""

    __tablename__ = "payment_requests"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING','SUCCEEDED','FAILED')", name="status_valid"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_payment_requests_patient", "patient_id", "created_at"),
        Index("ix_payment_requests_status", "status", "created_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("patients.id", ondelete="CASCADE"))
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(10), default="PENDING")
    created_by: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    settled_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
