"""The event outbox (tenant schema).

``outbox_events`` rows are written in the transaction of the change that causes them
(:func:`anima.events.outbox.emit`); ``relayed_at`` is set once the relay has put the event on the
queue. A partial index keeps the relay's look-up of unrelayed events cheap however long the log.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from advanced_alchemy.types import GUID, DateTimeUTC, JsonB
from sqlalchemy import Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import TenantBase, UUIDKey, utcnow


class OutboxEvent(UUIDKey, TenantBase):
    """One domain event: type, payload (ids and non-clinical facts), who caused it, when relayed."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_unrelayed", "occurred_at", postgresql_where=text("relayed_at IS NULL")),
        Index("ix_outbox_events_type_time", "type", "occurred_at"),
    )

    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(GUID, nullable=True)
    occurred_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), default=utcnow, server_default=func.now()
    )
    relayed_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
