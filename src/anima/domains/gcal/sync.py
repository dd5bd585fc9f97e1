"""A booking's event in its therapist's Google Calendar, kept in step by a job.

``sync_google_event(tenant_id, booking_id)`` is the follow-up job of BOOKING_CONFIRMED,
BOOKING_RESCHEDULED and BOOKING_CANCELLED (:data:`anima.jobs.handlers.FOLLOW_UPS`). It does not
replay the event: it **reconciles** Google with the booking as it is now, so jobs that run late,
twice or out of order converge:

* a CONFIRMED (or later COMPLETED / NO_SHOW) booking with a connected therapist has one event,
  whose id is deterministic (:func:`event_id`: ``anima`` + the booking's UUID in hex — Google's
  event ids are base32hex, ``a``–``v`` and ``0``–``9``, 5 to 1024 characters). The first sync
  inserts it; a later one patches it (times after a reschedule); an insert answered 409 (the id
  exists: a retried job whose first attempt reached Google) patches instead — never two events;
* a CANCELLED or EXPIRED booking's event is deleted (already gone counts as deleted); a booking
  moved to another therapist leaves the first one's calendar and enters the second one's.

One booking is synced by one job at a time (a transaction-level advisory lock on its id). What
was done is kept in ``google_event_syncs``. When Google fails, the failure is recorded on the
connection and the sync row in the job's transaction, and the job raises afterwards so the queue
retries it with backoff; a refused refresh token is recorded (``needs_reconnect``) and not
retried. The booking itself never waits for Google.

**What the event shows:** the service's name as the title, the start and end instants, the
description "Booked in Anima — details in Anima." and, in private extended properties, the
booking id. Never the patient's name, contact details or anything clinical.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.config import Settings
from anima.crypto.cipher import FieldCipher
from anima.domains.bookings.models import Booking
from anima.domains.catalog.models import Service
from anima.domains.gcal import google, services
from anima.domains.gcal.models import GoogleEventSync
from anima.jobs.runner import job_function, tenant_transaction
from anima.logs import get_logger
from anima.runtime import runtime_of

log = get_logger(__name__)

#: booking states whose event exists in Google
PRESENT = frozenset({"CONFIRMED", "COMPLETED", "NO_SHOW"})
DESCRIPTION = "Booked in Anima — details in Anima."


def event_id(booking_id: uuid.UUID) -> str:
    """The Google event id of a booking: ``anima`` + 32 hex digits (valid base32hex)."""
    return "anima" + booking_id.hex


def event_body(booking: Booking, service_name: str) -> dict[str, Any]:
    """The event's fields (see the module docstring for what it shows and never shows)."""
    return {
        "summary": service_name,
        "description": DESCRIPTION,
        "start": {"dateTime": booking.starts_at.astimezone(datetime.UTC).isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": booking.ends_at.astimezone(datetime.UTC).isoformat(), "timeZone": "UTC"},
        "status": "confirmed",
        "transparency": "opaque",
        "visibility": "private",
        "extendedProperties": {"private": {"anima_booking": str(booking.id)}},
    }


async def reconcile(session: AsyncSession, cipher: FieldCipher, settings: Settings, booking_id: uuid.UUID,
                    now: datetime.datetime | None = None) -> tuple[str, google.GoogleError | None]:
    """Bring the booking's Google event in line with the booking; returns what was done
    (``created``, ``updated``, ``deleted``, or why nothing: ``off``, ``no-booking``, ``nothing``,
    ``not-connected``, ``failed``) and the Google failure, if any (recorded already)."""
    now = now or services.utcnow()
    if not settings.google_configured:
        return "off", None
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(str(booking_id), 0))))
    booking = await session.get(Booking, booking_id)
    if booking is None:
        return "no-booking", None
    sync = await session.get(GoogleEventSync, booking_id)
    want = booking.status in PRESENT and booking.therapist_id is not None and booking.occurrence_id is None
    if not want and (sync is None or not sync.present):
        return "nothing", None
    if sync is None:
        sync = GoogleEventSync(booking_id=booking.id, therapist_id=booking.therapist_id, calendar_id="primary",
                               event_id=event_id(booking.id), present=False, attempts=0)
        session.add(sync)
    sync.attempts += 1
    outcome = "nothing"
    if sync.present and (not want or sync.therapist_id != booking.therapist_id):
        # cancelled, or moved to another therapist: out of the calendar it is in
        old = await services.connection(session, sync.therapist_id)
        if old is not None:
            failure = await _call(session, cipher, settings, old, sync, now,
                                  lambda api: api.delete_event(sync.calendar_id, sync.event_id))
            if failure is not None:
                return "failed", failure
        sync.present, outcome = False, "deleted"
    conn = await services.connection(session, booking.therapist_id) if want and booking.therapist_id else None
    if conn is None:
        sync.last_error, sync.synced_at = None, now
        await session.flush()
        return (outcome if outcome != "nothing" else ("not-connected" if want else "nothing")), None
    service = await session.get(Service, booking.service_id)
    body = event_body(booking, service.name if service is not None else "Session")
    done: list[str] = []

    async def put(api: google.CalendarApi) -> None:
        if sync.present and sync.calendar_id != conn.calendar_id:  # the therapist chose another calendar
            await api.delete_event(sync.calendar_id, sync.event_id)
            sync.present = False
        if sync.present and await api.patch_event(sync.calendar_id, sync.event_id, body):
            done.append("updated")
        elif await api.insert_event(conn.calendar_id, {"id": sync.event_id, **body}):
            done.append("created")
        elif await api.patch_event(conn.calendar_id, sync.event_id, body):  # a retry whose first insert reached Google
            done.append("updated")
        else:
            raise google.GoogleError("Google has the event id but not the event", retryable=True)

    failure = await _call(session, cipher, settings, conn, sync, now, put)
    if failure is not None:
        return "failed", failure
    sync.present, sync.calendar_id, sync.therapist_id = True, conn.calendar_id, booking.therapist_id
    await session.flush()
    return done[0], None


async def _call(session: AsyncSession, cipher: FieldCipher, settings: Settings, conn: Any, sync: GoogleEventSync,
                now: datetime.datetime, action: Callable[[google.CalendarApi], Awaitable[Any]]) -> google.GoogleError | None:
    """Run ``action`` with the connection's live token; record success or the failure (returned)."""
    try:
        token = await services.access_token(session, cipher, settings, conn, now)
        async with google.CalendarApi(settings, token) as api:
            await action(api)
    except google.GoogleError as exc:
        sync.last_error = str(exc)[:500]
        services.note_error(conn, f"Event sync: {exc}", now)
        await session.flush()
        log.warning("google event sync failed", error=str(exc), retryable=exc.retryable)
        return exc
    sync.last_error, sync.synced_at = None, now
    services.note_success(conn, now)
    return None


@job_function
async def sync_google_event(ctx: dict[str, Any], *, tenant_id: int, booking_id: str) -> dict[str, str]:
    """Reconcile one booking's Google event (see the module docstring); raises a retryable Google
    failure after recording it, so the queue retries with backoff."""
    svc = runtime_of(ctx)
    if not svc.settings.google_configured:
        return {"outcome": "off"}
    async with tenant_transaction(ctx, tenant_id) as tj:
        outcome, failure = await reconcile(tj.session, tj.cipher, svc.settings, uuid.UUID(booking_id))
    if failure is not None and failure.retryable:
        raise failure
    return {"outcome": outcome}
