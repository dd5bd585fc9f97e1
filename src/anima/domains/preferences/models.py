"""A member's notification preferences: one row per staff member who changed their role's defaults.

No row means the role's defaults (:data:`anima.domains.preferences.services.DEFAULTS`), so a new
member needs no write to be notified sensibly.
"""

from __future__ import annotations

import uuid

from advanced_alchemy.types import GUID
from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, Timestamps


class NotificationPreference(Timestamps, TenantBase):
    """Per member (``staff_id``): email on a new booking, a cancellation, a risk alert, a new lead."""

    __tablename__ = "notification_preferences"

    staff_id: Mapped[uuid.UUID] = mapped_column(GUID, ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    new_booking: Mapped[bool] = mapped_column(Boolean)
    cancellation: Mapped[bool] = mapped_column(Boolean)
    risk_alert: Mapped[bool] = mapped_column(Boolean)
    new_lead: Mapped[bool] = mapped_column(Boolean)
