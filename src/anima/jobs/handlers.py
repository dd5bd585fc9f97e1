"""The job functions of the event pipeline (registered by :mod:`anima.jobs.worker`).

* ``handle_event(tenant_id, event_id)`` — one per outbox event (keyed by the event): runs the
  tenant's playbooks for it and hands work to other jobs (:data:`FOLLOW_UPS`: a new journal note
  or a completed form submission -> the risk analysis job; ``AI_ANALYSIS_REQUESTED`` -> the
  observatory job; a booking confirmed, rescheduled or cancelled -> its Google Calendar event
  sync; a booking confirmed, rescheduled or cancelled, a risk detected, a new lead -> the staff's
  notification emails; a payment succeeded -> the patient's receipt; a booking completed -> the
  therapist's share transferred), each keyed by function and event so it runs once.
* ``automation_tick()`` — cron (``ANIMA_AUTOMATION_TICK``): fans out one ``tenant_tick`` per
  tenant with ``tick`` work due in the platform's due-work index (:mod:`anima.events.due_work`,
  kept by :mod:`anima.jobs.tick_due`), claimed with a lease; tenants with nothing due are not
  visited, so the tick's cost follows the tenants with work.
* ``tenant_tick(tenant_id)`` — fires the tenant's due delayed playbook actions, then emits
  ``JOURNEY_STAGE_TIMEOUT`` for patients overdue in their stage
  (:mod:`anima.domains.patients.stage_timeouts`) and ``LEAD_GHOSTED`` for leads gone quiet
  (:mod:`anima.domains.leads.ghosts`), each in a transaction of its own that first takes the
  tenant's due ``tick`` rows and at the end notes its next tick moment.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from anima.events.due_work import WorkKind, claim_due, take_due
from anima.events.models import OutboxEvent
from anima.jobs.queue import job_options
from anima.jobs.runner import job_function, tenant_transaction
from anima.jobs.tick_due import note_next_tick
from anima.runtime import runtime_of
from anima.events.types import EventType
from anima.logs import get_logger

log = get_logger(__name__)

@dataclass(frozen=True)
class FollowUp:
    """A job handed on after an event's playbooks ran: ``function`` with keyword arguments taken
    from the payload (``kwargs``: argument name -> payload key) and, when ``event_arg`` names one,
    the event's id in that argument; not for events whose payload ``kind`` is in ``unless_kinds``."""

    function: str
    kwargs: dict[str, str]
    unless_kinds: frozenset[str] = field(default_factory=frozenset)
    event_arg: str | None = None


_GOOGLE = FollowUp("sync_google_event", {"booking_id": "booking_id"})
_STAFF_NOTICE = FollowUp("notify_staff", {}, event_arg="event_id")

#: event type -> its follow-up jobs, each enqueued once per event. A form submission is screened
#: for risk once, from FORM_SUBMISSION_COMPLETED; its JOURNAL_ENTRY_CREATED (kind
#: form_submission) hands nothing on.
FOLLOW_UPS: dict[str, tuple[FollowUp, ...]] = {
    EventType.JOURNAL_ENTRY_CREATED: (FollowUp("analyze_journal_entry", {"entry_id": "entry_id"}, frozenset({"form_submission"})),),
    EventType.FORM_SUBMISSION_COMPLETED: (FollowUp("analyze_journal_entry", {"entry_id": "entry_id"}),),
    EventType.AI_ANALYSIS_REQUESTED: (FollowUp("analyze_patient", {"patient_id": "patient_id", "requested_by": "requested_by"}),),
    # the therapist's Google Calendar follows the booking (anima.domains.gcal.sync); the staff who
    # want it get an email (anima.domains.preferences.emails)
    EventType.BOOKING_CONFIRMED: (_GOOGLE, _STAFF_NOTICE),
    EventType.BOOKING_RESCHEDULED: (_GOOGLE, _STAFF_NOTICE),
    EventType.BOOKING_CANCELLED: (_GOOGLE, _STAFF_NOTICE),
    EventType.RISK_DETECTED_IN_NOTE: (_STAFF_NOTICE,),
    EventType.LEAD_CREATED: (_STAFF_NOTICE,),
    # the patient's receipt (anima.domains.payments.receipts); the therapist's share of a
    # completed booking (anima.domains.payments.transfers)
    EventType.PAYMENT_SUCCEEDED: (FollowUp("send_payment_receipt", {"payment_id": "payment_id"}),),
    EventType.BOOKING_COMPLETED: (FollowUp("transfer_therapist_share", {"booking_id": "booking_id"}),),
}


async def _follow_ups(ctx: dict[str, Any], tenant_id: int, event: OutboxEvent) -> list[str]:
    """Enqueue the event's follow-up jobs (keyed ``<function>:<tenant>:<event>``); returns their names."""
    enqueued: list[str] = []
    worker = ctx.get("worker")
    for spec in FOLLOW_UPS.get(event.type, ()):
        if (event.payload or {}).get("kind") in spec.unless_kinds:
            continue
        function = spec.function
        if worker is not None and function not in worker.functions:
            log.warning("no job function registered for follow-up", function=function, event_type=event.type)
            continue
        svc = runtime_of(ctx)
        kwargs = {name: (event.payload or {}).get(key) for name, key in spec.kwargs.items()}
        if spec.event_arg is not None:
            kwargs[spec.event_arg] = str(event.id)
        await svc.queue.enqueue(
            function, key=f"{function}:{tenant_id}:{event.id}", tenant_id=tenant_id, **kwargs,
            **job_options(svc.settings, timeout=600),
        )
        enqueued.append(function)
    return enqueued


@job_function
async def handle_event(ctx: dict[str, Any], *, tenant_id: int, event_id: str) -> dict[str, Any]:
    """Run the playbooks of one event, then enqueue its follow-up jobs (see the module docstring);
    returns ``{"type", "rules", "follow_ups": [function names]}``."""
    from anima.domains.automations.engine import run_event

    async with tenant_transaction(ctx, tenant_id) as tj:
        event = await tj.session.get(OutboxEvent, uuid.UUID(event_id))
        if event is None:
            log.warning("event not found", event_id=event_id)
            return {"missing": event_id}
        outcomes, retry = await run_event(tj, event)
    if retry is not None:
        raise retry
    follow_ups = await _follow_ups(ctx, tenant_id, event)
    return {"type": event.type, "rules": outcomes, "follow_ups": follow_ups}


#: seconds a tick's claim on a tenant's due rows lasts (the tenant_tick job's ttl): a job that
#: never ran or failed for good leaves the tenant to a tick after that
TICK_LEASE = 600


@job_function
async def automation_tick(ctx: dict[str, Any]) -> list[int]:
    """Enqueue one ``tenant_tick`` per tenant with tick work due (keyed by tenant and second, so
    once per tick); returns those tenants' ids."""
    svc = runtime_of(ctx)
    async with svc.sessionmaker() as session, session.begin():
        ids = await claim_due(session, WorkKind.TICK, lease=TICK_LEASE)
    stamp = int(time.time())
    options = job_options(svc.settings, timeout=120, retries=3)
    for tenant_id in ids:
        await svc.queue.enqueue("tenant_tick", key=f"tick:{tenant_id}:{stamp}", tenant_id=tenant_id, **{**options, "ttl": TICK_LEASE})
    return ids


@job_function
async def tenant_tick(ctx: dict[str, Any], *, tenant_id: int) -> dict[str, int]:
    """Fire the due delayed actions of one tenant's playbook runs, report patients overdue in their
    journey stage and leads gone ghost, then expire lapsed booking holds and waitlist offers
    (passing seats on), then handle due booking notices (change emails with invitations,
    reminders, "before the session" events: :mod:`anima.domains.bookings.notify`); returns
    ``{"delays": fired, "stage_timeouts": emitted, "lead_ghosts": emitted, "booking_offers":
    occurrences swept, "booking_notices": handled}``."""
    from anima.domains.automations.engine import resume_due
    from anima.domains.bookings.seats import sweep_lapsed
    from anima.domains.payments.fees import payments_tick
    from anima.domains.leads.ghosts import emit_ghosts
    from anima.domains.patients.stage_timeouts import emit_stage_timeouts

    async with tenant_transaction(ctx, tenant_id) as tj:
        await take_due(tj.session, WorkKind.TICK)
        delays = await resume_due(tj)
        await note_next_tick(tj.session)
    async with tenant_transaction(ctx, tenant_id) as tj:
        await take_due(tj.session, WorkKind.TICK)
        timeouts = await emit_stage_timeouts(tj.session)
        await note_next_tick(tj.session)
    async with tenant_transaction(ctx, tenant_id) as tj:
        await take_due(tj.session, WorkKind.TICK)
        ghosts = await emit_ghosts(tj.session)
        lapsed = await sweep_lapsed(tj.session)
        await note_next_tick(tj.session)
    async with tenant_transaction(ctx, tenant_id) as tj:  # lapsed holds' Checkouts expired, fees collected once
        paid = await payments_tick(tj, runtime_of(ctx).settings)
    notices = await booking_notices(ctx, tenant_id)
    return {"delays": delays, "stage_timeouts": timeouts, "booking_offers": lapsed, "lead_ghosts": ghosts,
            "booking_notices": notices, **paid}


async def booking_notices(holder: Any, tenant_id: int) -> int:
    """Handle one tenant's due booking notices (:func:`anima.domains.bookings.notify.deliver_due`)
    in a tenant transaction; ``holder`` is a SAQ context or the :class:`~anima.runtime.Runtime`.
    Returns how many were handled."""
    from anima.domains.bookings.notify import Organization, deliver_due
    from anima.mail.domains import VERIFIED_SQL
    from anima.runtime import Runtime

    runtime = holder if isinstance(holder, Runtime) else runtime_of(holder)
    async with runtime.sessionmaker() as session:
        row = (await session.execute(sa.text(  # the organizer's address only when its domain is verified
            f"SELECT id, name, slug, CASE WHEN {VERIFIED_SQL} THEN mail_from_address END AS mail_from_address "
            "FROM platform.tenants t WHERE id = :id"), {"id": tenant_id})).first()
        await session.rollback()
    if row is None:
        return 0
    org = Organization(row.id, row.name, row.slug, row.mail_from_address)
    async with tenant_transaction(holder, tenant_id) as tj:
        await take_due(tj.session, WorkKind.TICK)
        counts = await deliver_due(tj, runtime.settings, org)
        await note_next_tick(tj.session)
    return counts["notices"]
