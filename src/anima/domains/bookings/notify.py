"""The tick's handling of due booking notices (:mod:`anima.domains.bookings.reminders`).

:func:`deliver_due` claims one tenant's due, pending :class:`~anima.domains.bookings.models.BookingNotice`
rows (``FOR UPDATE SKIP LOCKED``, marked done in the same transaction: two ticks never handle one
row) and, in that tenant transaction:

* ``change`` — queues the client's email (:func:`anima.domains.automations.outbound.queue_email`) (``booking_change``: confirmed, rescheduled or cancelled)
  in the tenant's outbound emails with the iCalendar invitation (:func:`anima.domains.bookings.ics.booking_calendar`):
  METHOD REQUEST while the booking stands, CANCEL once cancelled, both with the booking's UID and
  its current SEQUENCE. The idempotency key is ``booking:<id>:<SEQUENCE>`` (one email per change); a
  change already superseded by a later one (its SEQUENCE is no longer the booking's) is skipped,
  the later one carries the news. Transactional: no List-Unsubscribe.
* ``reminder`` — for a booking still CONFIRMED and not started: the email ``booking_reminder`` with
  the signed links to confirm, to cancel (the manage page shows the cancellation policy first) and
  to move (:mod:`anima.domains.bookings.links`), and an SMS (``booking_reminder``) queued through
  :func:`anima.domains.reach.sms.queue_sms`, which asks for the patient's SMS consent (and the
  sender asks again, and skips it while SMS is not configured).
* ``upcoming`` — emits ``BOOKING_UPCOMING`` with ``hours_before`` for the playbooks.

Times are shown in the client's zone (the patient's profile ``time_zone``, else the practice's)
and in the therapist's zone when it differs, each with its zone named, in the patient's language
(else the practice's). Nothing clinical is logged.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from anima.config import Settings
from anima.domains.automations import outbound
from anima.domains.bookings import ics, links
from anima.domains.bookings.availability import therapist_zone
from anima.domains.bookings.models import Booking, BookingNotice
from anima.domains.bookings.public import patient_zone
from anima.domains.catalog.models import Service
from anima.domains.patients.models import Patient
from anima.domains.reach import sms as reach_sms
from anima.domains.settings.services import get_settings
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.mail import compose
from anima.tenancy.transaction import TenantTransaction
from anima.web import formatting, i18n

_CLAIM = sa.text(
    """
    UPDATE booking_notices SET done_at = now()
    WHERE id IN (SELECT id FROM booking_notices WHERE done_at IS NULL AND due_at <= now()
                 ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, booking_id, kind, key
    """
)


@dataclass(frozen=True)
class Organization:
    """What a client's email names: the organization's ``name``, ``slug`` (its public links) and
    own sending address (None: the platform's)."""

    id: int
    name: str
    slug: str
    mail_from_address: str | None


def shown(value: datetime.datetime, language: str, zone: str) -> str:
    """``value`` as read in ``zone``, full style, with the zone named (``… (America/New York)``)."""
    return formatting.instant(value, language, zone, style="full") + f" ({zone.replace('_', ' ')})"


@dataclass
class _Context:
    tj: TenantTransaction
    settings: Settings
    org: Organization
    practice_zone: str
    practice_language: str
    counts: dict[str, int]


async def _facts(c: _Context, booking: Booking, patient: Patient) -> dict[str, Any]:
    service = await c.tj.session.get(Service, booking.service_id)
    language = i18n.pick_language(patient.language, c.practice_language)
    client_zone = patient_zone(patient.time_zone, patient.profile, c.practice_zone)
    therapist = (await therapist_zone(c.tj.session, booking.therapist_id))[0].key if booking.therapist_id else c.practice_zone
    manage = links.manage_url(c.settings.public_url, c.settings.secret_key, c.org.slug, c.org.id, booking.id)
    return {
        "org_name": c.org.name, "first_name": patient.first_name, "language": language,
        "service_name": service.name if service is not None else "",
        "location": (service.location_detail if service is not None else "") or "",
        "when": shown(booking.starts_at, language, client_zone),
        "when_therapist": shown(booking.starts_at, language, therapist) if therapist != client_zone else None,
        "manage_link": manage, "confirm_link": f"{manage}/confirm", "move_link": f"{manage}#move-h",
    }


async def _queue_email(c: _Context, patient: Patient, address: str, template: str, key: str,
                       facts: dict[str, Any], calendar: str | None) -> None:
    composed = compose.render(template, facts["language"], **{k: v for k, v in facts.items() if k != "language"})
    if await outbound.queue_email(c.tj.session, c.tj.cipher, key=key, address=address, composed=composed, template=template,
                                  category="transactional", patient_id=patient.id, calendar=calendar):
        c.counts["emails"] += 1


async def _address(c: _Context, patient: Patient) -> str | None:
    if patient.email_enc is None:
        return None
    return await c.tj.cipher.decrypt_text("patients", "email_enc", patient.id, patient.email_enc)


async def _change(c: _Context, booking: Booking, patient: Patient, key: str) -> None:
    seq = int(key.partition(":")[2])
    if seq != ics.sequence(booking) or booking.status not in ("CONFIRMED", "CANCELLED"):
        c.counts["superseded"] += 1
        return
    address = await _address(c, patient)
    if address is None:
        return
    facts = await _facts(c, booking, patient)
    # "new time" only for a client who was told of an earlier time (a hold moved before its
    # confirmation is simply confirmed)
    told = await c.tj.session.scalar(sa.select(sa.func.count()).select_from(BookingNotice).where(
        BookingNotice.booking_id == booking.id, BookingNotice.kind == "change", BookingNotice.key != key))
    change = "cancelled" if booking.status == "CANCELLED" else "rescheduled" if booking.rescheduled_count and told else "confirmed"
    organizer = (c.org.name, c.org.mail_from_address or _platform_address(c.settings))
    calendar = ics.booking_calendar(
        booking, service_name=facts["service_name"], location=facts["location"],
        method="CANCEL" if change == "cancelled" else "REQUEST", organizer=organizer, attendee=address,
    ).decode()
    await _queue_email(c, patient, address, "booking_change", f"booking:{booking.id}:{seq}",
                       {**facts, "change": change}, calendar)


def _platform_address(settings: Settings) -> str:
    from email.utils import parseaddr

    return parseaddr(settings.mail_from)[1] or "no-reply@anima.example"


async def _reminder(c: _Context, booking: Booking, patient: Patient, key: str) -> None:
    if booking.status != "CONFIRMED" or booking.starts_at <= datetime.datetime.now(datetime.UTC):
        return
    facts = await _facts(c, booking, patient)
    once = f"booking-reminder:{booking.id}:{key}:{booking.rescheduled_count}"
    address = await _address(c, patient)
    if address is not None:
        await _queue_email(c, patient, address, "booking_reminder", once, facts, None)
    body = compose.render_sms("booking_reminder", facts["language"],
                              **{k: v for k, v in facts.items() if k != "language"})
    detail = await reach_sms.queue_sms(c.tj.session, c.tj.cipher, patient, template="booking_reminder", body=body,
                                       key=once, language=c.practice_language)
    c.counts["sms"] += int(detail.get("sms", 0) or 0)  # type: ignore[call-overload]


async def _upcoming(c: _Context, booking: Booking, key: str) -> None:
    if booking.status != "CONFIRMED":
        return
    from anima.domains.bookings.services import payload

    minutes = int(key.partition(":")[2])
    await emit(c.tj.session, EventType.BOOKING_UPCOMING, {**payload(booking), "hours_before": minutes // 60})
    c.counts["upcoming"] += 1


async def deliver_due(tj: TenantTransaction, settings: Settings, org: Organization, *, limit: int = 200) -> dict[str, int]:
    """Handle up to ``limit`` due notices of the entered tenant (see the module docstring); returns
    counts ``{"notices", "emails", "sms", "upcoming", "superseded"}``. The caller takes and notes
    the tenant's tick work around it."""
    counts = {"notices": 0, "emails": 0, "sms": 0, "upcoming": 0, "superseded": 0}
    rows = (await tj.session.execute(_CLAIM, {"limit": limit})).all()
    if not rows:
        return counts
    practice = await get_settings(tj.session)
    c = _Context(tj, settings, org, practice.timezone, practice.locale, counts)
    for row in rows:
        counts["notices"] += 1
        booking = await tj.session.get(Booking, row.booking_id)
        if booking is None:
            continue
        patient = await tj.session.get(Patient, booking.patient_id)
        if patient is None:
            continue
        if row.kind == "change":
            await _change(c, booking, patient, row.key)
        elif row.kind == "reminder":
            await _reminder(c, booking, patient, row.key)
        else:
            await _upcoming(c, booking, row.key)
    return counts


__all__ = ["Organization", "deliver_due", "shown"]
