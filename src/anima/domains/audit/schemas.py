"""Bodies of the audit API."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec


class AuditEventOut(msgspec.Struct):
    id: uuid.UUID
    occurred_at: datetime.datetime
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    patient_id: uuid.UUID | None
    entry_id: uuid.UUID | None
    request_id: str | None
    client_address: str | None
    detail: dict[str, Any]


class AuditExport(msgspec.Struct):
    patient_id: uuid.UUID
    exported_at: datetime.datetime
    events: list[AuditEventOut]
