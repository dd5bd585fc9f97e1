"""When a tenant next needs the automation tick, kept in the platform's due-work index.

The tick has four kinds of work in a tenant (:func:`anima.jobs.handlers.tenant_tick`): delayed
playbook actions (``automation_delays.due_at``, not yet fired), journey-stage timeouts (an
active, unblocked patient not yet reported whose ``stage_entered_at`` plus the stage's
``timeout_days`` is the moment it times out), waitlist offers that lapse (passed on to the next
in line; the booking engine notes each offer's expiry where it makes it) and lead ghosts (an open
lead not yet reported: its last contact, or creation, plus 7 days) and booking notices (a change
email, a reminder or a "before the session" event not yet handled; the booking engine notes each where it writes it). :data:`NOTE_NEXT_TICK` notes the earliest of them
as the tenant's ``tick`` row (:mod:`anima.events.due_work`), in one statement and in the caller's
tenant transaction; nothing is noted when the tenant has none.

It runs:

* at the end of each tick transaction (after taking the tenant's due rows), so what a tick leaves
  — a future delay, a patient who will time out, a batch limit — is listed again;
* after any ORM flush that may make a timeout due earlier (:func:`_after_flush`): a patient
  created, moved to another stage, unblocked or unarchived, a stage whose ``timeout_days``
  changed, or a lead created, contacted, moved or merged;
* a new delay notes its own ``due_at`` where it is written (the playbook engine).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, attributes

from anima.domains.leads.models import Lead
from anima.domains.leads.pipeline import GHOST_AFTER
from anima.domains.patients.models import JourneyStage, Patient
from anima.events.due_work import FUNCTION_SCHEMA, WorkKind

#: the entered tenant's next tick moment (delays, stage timeouts), noted in one round trip
NOTE_NEXT_TICK = sa.text(
    f"""
    SELECT {FUNCTION_SCHEMA}.note('{WorkKind.TICK}', LEAST(
        (SELECT min(d.due_at) FROM automation_delays d WHERE d.fired_at IS NULL),
        (SELECT min(p.stage_entered_at + make_interval(days => s.timeout_days))
           FROM patients p JOIN journey_stages s ON s.key = p.journey_stage
          WHERE s.timeout_days IS NOT NULL AND p.stage_timeout_emitted_at IS NULL
            AND p.archived_at IS NULL AND p.blocked_at IS NULL AND p.stage_entered_at IS NOT NULL),
        (SELECT min(w.offer_expires_at) FROM waitlist_entries w WHERE w.status = 'OFFERED'),
        (SELECT min(n.due_at) FROM booking_notices n WHERE n.done_at IS NULL),
        (SELECT min(coalesce(l.last_contacted_at, l.created_at)) + make_interval(days => {GHOST_AFTER.days})
           FROM leads l
          WHERE l.ghosted_at IS NULL AND l.merged_into_id IS NULL AND l.stage IN ('NEW','CONTACTED','QUALIFIED'))
    ))
    """
)

#: lead attributes whose change can bring a ghost moment forward
_LEAD_CLOCK = ("last_contacted_at", "ghosted_at", "stage", "merged_into_id")
#: patient attributes whose change can bring a stage timeout forward
_PATIENT_CLOCK = ("stage_entered_at", "blocked_at", "archived_at", "stage_timeout_emitted_at")


async def note_next_tick(session: AsyncSession) -> None:
    """Note the entered tenant's next tick moment (see the module docstring)."""
    await session.execute(NOTE_NEXT_TICK)


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    return any(attributes.get_history(obj, name).has_changes() for name in names)


def _moves_the_clock(session: Session) -> bool:
    for obj in session.new:
        if isinstance(obj, (Patient, Lead)) or (isinstance(obj, JourneyStage) and obj.timeout_days is not None):
            return True
    for obj in session.dirty:
        if isinstance(obj, Patient) and _changed(obj, _PATIENT_CLOCK):
            return True
        if isinstance(obj, JourneyStage) and _changed(obj, ("timeout_days",)):
            return True
        if isinstance(obj, Lead) and _changed(obj, _LEAD_CLOCK):
            return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:  # noqa: ARG001
    """After a flush that may bring a stage timeout forward, note the tenant's next tick moment
    in the same transaction."""
    if _moves_the_clock(session):
        session.connection().execute(NOTE_NEXT_TICK)


__all__ = ["NOTE_NEXT_TICK", "note_next_tick"]
