"""The journey-stage timeout monitor: ``JOURNEY_STAGE_TIMEOUT`` for patients overdue in a stage.

A stage with ``timeout_days`` set (owners, ``PUT /journey-stages/{key}``) makes the monitor report
every active, unblocked patient whose ``stage_entered_at`` lies more than ``timeout_days`` days in
the past. Each stage entry is reported once: the same statement that picks the patients stamps
``stage_timeout_emitted_at``, and only a stage change clears it again (the listener in
:mod:`anima.domains.patients.models`). The stamp and the events commit together in the caller's
transaction — the per-tenant automation tick (:func:`anima.jobs.handlers.tenant_tick`).

Concurrent ticks cannot both report a patient: rows are taken ``FOR UPDATE SKIP LOCKED`` and the
UPDATE re-checks ``stage_timeout_emitted_at IS NULL``. The payload is ids and numbers only:
``patient_id``, ``stage`` (key), ``days`` (whole days spent in the stage) and ``timeout_days``.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.patients.models import JourneyStage, Patient
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.logs import get_logger

log = get_logger(__name__)

#: patients reported per tick and tenant at most; the rest follow on the next tick
BATCH = 500


async def emit_stage_timeouts(session: AsyncSession, *, now: datetime.datetime | None = None, limit: int = BATCH) -> int:
    """Stamp and report the tenant's patients overdue in their stage; returns how many.

    Args:
        session: a session whose transaction is scoped to the tenant (the caller commits).
        now: the time to measure against (default: the current UTC time).
        limit: at most this many patients in one call.
    """
    now = now or datetime.datetime.now(datetime.UTC)
    at = sa.bindparam("now", now, type_=Patient.__table__.c.stage_entered_at.type)
    overdue = (
        sa.select(Patient.id)
        .join(JourneyStage, JourneyStage.key == Patient.journey_stage)
        .where(
            JourneyStage.timeout_days.is_not(None),
            Patient.stage_timeout_emitted_at.is_(None),
            Patient.archived_at.is_(None),
            Patient.blocked_at.is_(None),
            Patient.stage_entered_at.is_not(None),
            Patient.stage_entered_at < at - sa.func.make_interval(0, 0, 0, JourneyStage.timeout_days),
        )
        .order_by(Patient.stage_entered_at)
        .limit(limit)
        .with_for_update(of=Patient, skip_locked=True)
    )
    rows = (await session.execute(
        sa.update(Patient)
        .where(Patient.id.in_(overdue), Patient.stage_timeout_emitted_at.is_(None))
        # a monitor's stamp is not an edit of the record: updated_at stays as it was
        .values(stage_timeout_emitted_at=now, updated_at=Patient.updated_at)
        .returning(Patient.id, Patient.journey_stage, Patient.stage_entered_at)
        .execution_options(synchronize_session=False)
    )).all()
    if not rows:
        return 0
    thresholds = dict((await session.execute(
        sa.select(JourneyStage.key, JourneyStage.timeout_days).where(JourneyStage.key.in_({r.journey_stage for r in rows}))
    )).all())
    for r in rows:
        await emit(session, EventType.JOURNEY_STAGE_TIMEOUT, {
            "patient_id": str(r.id), "stage": r.journey_stage,
            "days": (now - r.stage_entered_at).days, "timeout_days": thresholds.get(r.journey_stage),
        })
    log.info("journey stage timeouts emitted", count=len(rows))
    return len(rows)
