"""The ghost detector: ``LEAD_GHOSTED`` once for each lead that goes quiet for over 7 days.

An open lead (NEW, CONTACTED, QUALIFIED; not merged) whose last contact — or creation, when never
contacted — lies more than 7 days in the past is a ghost (:mod:`anima.domains.leads.pipeline`).
It runs like the patients' stage-timeout monitor (:mod:`anima.domains.patients.stage_timeouts`):
in the per-tenant automation tick (:func:`anima.jobs.handlers.tenant_tick`), whose next moment the
due-work index keeps (:mod:`anima.jobs.tick_due` counts a lead's ghost moment, created or
contacted + 7 days). The same statement that picks the leads stamps ``ghosted_at``; a contact
clears it (:func:`anima.domains.leads.services.mark_contacted`), so each quiet spell is reported
once. Concurrent ticks cannot both report a lead: rows are taken ``FOR UPDATE SKIP LOCKED`` and the
UPDATE re-checks ``ghosted_at IS NULL``. The payload is ids and numbers only: ``lead_id``,
``stage``, ``days`` (whole days since the last contact or creation).
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.leads.models import Lead
from anima.domains.leads.pipeline import GHOST_AFTER
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.logs import get_logger

log = get_logger(__name__)

#: leads reported per tick and tenant at most; the rest follow on the next tick
BATCH = 500
OPEN = ("NEW", "CONTACTED", "QUALIFIED")


async def emit_ghosts(session: AsyncSession, *, now: datetime.datetime | None = None, limit: int = BATCH) -> int:
    """Stamp and report the tenant's leads that went ghost; returns how many.

    Args:
        session: a session whose transaction is scoped to the tenant (the caller commits).
        now: the time to measure against (default: the current UTC time).
        limit: at most this many leads in one call.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    cutoff = sa.bindparam("cutoff", now - GHOST_AFTER, type_=Lead.__table__.c.created_at.type)
    quiet_since = sa.func.coalesce(Lead.last_contacted_at, Lead.created_at)
    ghosts = (
        sa.select(Lead.id)
        .where(Lead.ghosted_at.is_(None), Lead.merged_into_id.is_(None), Lead.stage.in_(OPEN), quiet_since < cutoff)
        .order_by(quiet_since)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = (await session.execute(
        sa.update(Lead)
        .where(Lead.id.in_(ghosts), Lead.ghosted_at.is_(None))
        # a detector's stamp is not an edit of the lead: updated_at stays as it was
        .values(ghosted_at=now, updated_at=Lead.updated_at)
        .returning(Lead.id, Lead.stage, Lead.last_contacted_at, Lead.created_at)
        .execution_options(synchronize_session=False)
    )).all()
    for r in rows:
        await emit(session, EventType.LEAD_GHOSTED, {
            "lead_id": str(r.id), "stage": r.stage, "days": (now - (r.last_contacted_at or r.created_at)).days,
        })
    if rows:
        log.info("lead ghosts emitted", count=len(rows))
    return len(rows)
