"""``audit_events``: the append-only trail of every read and write of clinical content.

Append-only by privilege: provisioning (and the migration, for existing tenants) revokes UPDATE
and DELETE on this table from the tenant role, so the application can insert and select, never
change or remove a line, whatever its code does. Rows hold ids, actions and counts, never content;
``patient_id`` and ``entry_id`` have no foreign key so an erased patient's trail survives.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, UUIDKey, utcnow


class AuditEvent(UUIDKey, TenantBase):
    """Who (actor id and role), when, which action, on which patient/entry, from which request and address."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_patient_time", "patient_id", "occurred_at"),)

    occurred_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(48))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    entry_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
