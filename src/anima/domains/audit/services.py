"""Recording and reading the audit trail (see :mod:`anima.domains.audit.models`).

:func:`record` adds an event to the caller's transaction, so the trail line commits with the
read or write it describes, or not at all. ``detail`` carries ids and counts only: callers never
pass content, and :func:`record` refuses keys that name content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.audit.models import AuditEvent

#: keys that never go into ``detail`` (they would hold content)
FORBIDDEN_DETAIL_KEYS = frozenset({"content", "html", "data", "clinical", "note", "text", "email", "phone"})


@dataclass(frozen=True)
class Actor:
    """Who acts, from where: user id, role, request id and client address."""

    user_id: uuid.UUID | None
    role: str
    request_id: str | None
    client_address: str | None


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    patient_id: uuid.UUID | None = None,
    entry_id: uuid.UUID | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one event in the caller's transaction. Raises ValueError on a content-bearing detail key."""
    bad = FORBIDDEN_DETAIL_KEYS.intersection(detail)
    if bad:
        raise ValueError(f"audit detail may not carry {sorted(bad)}")
    event = AuditEvent(
        actor_id=actor.user_id,
        actor_role=actor.role,
        action=action,
        patient_id=patient_id,
        entry_id=entry_id,
        request_id=actor.request_id,
        client_address=actor.client_address,
        detail=detail,
    )
    session.add(event)
    await session.flush()
    return event


async def patient_trail(
    session: AsyncSession, patient_id: uuid.UUID, *, limit: int | None, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    """A patient's events, oldest first, and their total."""
    where = AuditEvent.patient_id == patient_id
    total = (await session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(where))).scalar_one()
    query = sa.select(AuditEvent).where(where).order_by(AuditEvent.occurred_at, AuditEvent.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars().all()), total
