"""Services an organization offers, and which therapists offer each one."""

from __future__ import annotations

import enum
import uuid

from advanced_alchemy.types import GUID
from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from anima.db.base import TenantBase, Timestamps, UUIDKey
from anima.domains.staff.models import StaffMember


class ServiceKind(enum.StrEnum):
    ONE_ON_ONE = "ONE_ON_ONE"
    GROUP = "GROUP"


class Scheduling(enum.StrEnum):
    """CALENDAR: booked into a therapist's availability; FIXED_DATE: held on set dates (retreats, workshops)."""

    CALENDAR = "CALENDAR"
    FIXED_DATE = "FIXED_DATE"


class LocationKind(enum.StrEnum):
    ONLINE = "ONLINE"
    IN_PERSON = "IN_PERSON"


service_therapists = Table(
    "service_therapists",
    TenantBase.metadata,
    Column("service_id", GUID, ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", GUID, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Service(UUIDKey, Timestamps, TenantBase):
    """A bookable service. Prices are in minor units of ``currency`` (ISO 4217)."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("kind IN ('ONE_ON_ONE','GROUP')", name="kind_valid"),
        CheckConstraint("scheduling IN ('CALENDAR','FIXED_DATE')", name="scheduling_valid"),
        CheckConstraint("location IN ('ONLINE','IN_PERSON')", name="location_valid"),
        CheckConstraint("duration_minutes BETWEEN 5 AND 43200", name="duration_range"),
        CheckConstraint("price_minor >= 0", name="price_nonnegative"),
        CheckConstraint("(kind = 'GROUP') = (capacity IS NOT NULL)", name="capacity_for_groups"),
        CheckConstraint("buffer_before_minutes BETWEEN 0 AND 1440 AND buffer_after_minutes BETWEEN 0 AND 1440", name="buffers_range"),
        CheckConstraint("min_notice_minutes BETWEEN 0 AND 525600", name="notice_range"),
        CheckConstraint("horizon_days BETWEEN 1 AND 730", name="horizon_range"),
        CheckConstraint("slot_step_minutes BETWEEN 5 AND 1440", name="step_range"),
        CheckConstraint("pay_online IN ('NONE','FULL','DEPOSIT')", name="pay_online_valid"),
        CheckConstraint(
            "(pay_online = 'DEPOSIT') = ((deposit_minor IS NULL) <> (deposit_share_bp IS NULL))"
            " AND (deposit_minor IS NULL OR deposit_minor BETWEEN 1 AND price_minor)"
            " AND (deposit_share_bp IS NULL OR deposit_share_bp BETWEEN 1 AND 10000)", name="deposit_valid"),
    )

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    scheduling: Mapped[str] = mapped_column(String(16))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    capacity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    location: Mapped[str] = mapped_column(String(16))
    location_detail: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    #: offered on the organization's public booking page (``/p/<slug>/book/``) while also active
    public_booking: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # booking settings (the booking engine's slot search and hold rules read them): minutes of a
    # therapist's time blocked before and after a session, the least notice a booking needs, how
    # far ahead it may be made, and the distance between offered start times
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120, server_default="120")
    horizon_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    #: what a client pays online when self-booking (while the practice takes card payments):
    #: NONE (pay later, at the practice), FULL (the price) or DEPOSIT (``deposit_minor`` minor
    #: units, or ``deposit_share_bp`` basis points of the price rounded half up; exactly one)
    pay_online: Mapped[str] = mapped_column(String(8), default="NONE", server_default="NONE")
    deposit_minor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deposit_share_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)

    therapists: Mapped[list[StaffMember]] = relationship(secondary=service_therapists, lazy="selectin")


__all__ = ["LocationKind", "Scheduling", "Service", "ServiceKind", "service_therapists", "uuid"]
