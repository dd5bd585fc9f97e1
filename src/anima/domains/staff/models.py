"""Tenant-schema mirror of the organization's members.

``staff`` holds one row per member of the tenant, keyed by the platform user's id, so tenant
tables (service assignments, later bookings and journal authorship) can reference people with
foreign keys inside the tenant schema. It is written in the same transaction as the platform
membership it mirrors (see anima.identity.members), so the two never disagree.
"""

from __future__ import annotations

import uuid

from advanced_alchemy.types import GUID
from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps


class StaffMember(Timestamps, TenantBase):
    """A member of this organization: user id, name, email, role, own time zone and whether still active."""

    __tablename__ = "staff"

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    #: the person's own IANA zone (their profile's, mirrored like the name); None: the practice's
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
