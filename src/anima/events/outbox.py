"""``emit``: record a domain event in the transaction of the change that causes it.

Call it with the tenant-scoped session of the change, before the commit::

    await emit(session, EventType.PATIENT_CREATED, {"patient_id": str(patient.id)}, actor_id=user_id)

The row commits or rolls back with the change (no event without its change, no change without its
event). A ``NOTIFY anima_outbox`` carrying the schema name is sent in the same transaction;
PostgreSQL delivers it only at commit, and the relay (:mod:`anima.jobs.relay`) listening on the
channel then moves the event to the queue at once. The same statement notes the tenant as having
``relay`` work in the platform's due-work index (:mod:`anima.events.due_work`), in the same
transaction: missed notifications (relay down) are caught by the relay's periodic sweep, which
reads that index, so no event is lost and the sweep visits only tenants with events waiting.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.events.due_work import FUNCTION_SCHEMA, WorkKind
from anima.events.models import OutboxEvent
from anima.db.base import utcnow
from anima.events.types import EVENT_TYPES, EventType

CHANNEL = "anima_outbox"
#: the due-work note of the caller's own tenant (see :mod:`anima.events.due_work`)
_NOTE_RELAY = sa.literal_column(f"{FUNCTION_SCHEMA}.note('{WorkKind.RELAY}', now())")
#: an event's payload is ids and small facts; anything larger is a mistake
MAX_PAYLOAD_BYTES = 4096


async def emit(
    session: AsyncSession,
    type: EventType | str,
    payload: dict[str, Any],
    *,
    actor_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Add an event to the tenant's outbox in ``session``'s transaction (flushed, not committed).

    Args:
        session: a session whose transaction is scoped to the tenant (request or job).
        type: one of :class:`EventType`.
        payload: JSON-serializable ids and non-clinical facts (at most 4 KB).
        actor_id: the user who caused it, when a user did.

    Returns:
        The event as written (not attached to ``session``: it is inserted with one statement that
        also sends the NOTIFY, instead of a flush and a second ``SELECT pg_notify``).

    Raises:
        ValueError: unknown type or a payload too large or not JSON-serializable.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    encoded = msgspec.json.encode(payload)
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"event payload is {len(encoded)} bytes; at most {MAX_PAYLOAD_BYTES}")
    event = OutboxEvent(
        id=uuid.uuid4(), type=str(type), payload=msgspec.json.decode(encoded), actor_id=actor_id, occurred_at=utcnow()
    )
    await session.flush()  # what the caller added goes first (no round trip when nothing is pending)
    # one round trip: the row, the due-work note of the caller's own tenant, and the NOTIFY
    # (RETURNING evaluates both once, for the one row)
    await session.execute(
        sa.insert(OutboxEvent)
        .values(id=event.id, type=event.type, payload=event.payload, actor_id=actor_id, occurred_at=event.occurred_at)
        .returning(sa.func.pg_notify(CHANNEL, sa.func.current_schema()), _NOTE_RELAY)
    )
    return event
