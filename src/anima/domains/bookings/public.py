"""Booking without an account: the public catalogue and the self-booking a client makes.

The public page (``/p/<slug>/book/``) offers **active CALENDAR services whose ``public_booking``
is set** and the active therapists who offer them; the slot search is the staff's
(:func:`anima.domains.bookings.services.search`), so the public sees only free starts, never who
booked them.

**Who the client is.** The email's keyed blind index is looked up among active patients:

* a match is the client: the booking is theirs (their details on file are left as they are);
* a match that is blocked (the Escudo de Seguridad playbook blocks high-risk patients) is refused
  with :data:`UNAVAILABLE` — the page says only that online booking is unavailable, never why;
* no match: a lead is captured (source BOOKING, the service as its interest, the client's zone
  and language) and converted at once into a patient — the "Discovery auto-conversion" of the
  leads pipeline (audit line ``booking.self_booked`` with ``conversion``).

**At the patient limit** the conversion raises ``LimitReached`` and the booking is refused as a
whole: the caller's transaction rolls back, so neither the lead, the patient nor the booking is
written (the page asks the client to contact the practice). Keeping a lead without the booking
would leave a client believing they had booked.

The booking is held and confirmed in the same transaction (BOOKING_HELD then BOOKING_CONFIRMED);
the exclusion constraint decides a race for the last slot (409). Consent to the processing of the
details is required; it is recorded in the audit line (``consent``) — the text of the consent is
the page's.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.bookings import services
from anima.domains.bookings.models import Booking
from anima.domains.bookings.schemas import HoldRequest
from anima.domains.catalog.models import Scheduling, Service
from anima.domains.leads import conversion
from anima.domains.leads import services as leads
from anima.domains.packages import booking_credits
from anima.domains.patients.models import Patient
from anima.domains.staff.models import StaffMember
from anima.identity.models import Role
from anima.identity.profile import iana_zones
from anima.problems import Conflict, InvalidInput
from anima.request_body import RequestBody

#: the reason of the refusal a blocked client sees (and nothing more)
UNAVAILABLE = "online-booking-unavailable"
#: how the public books in the engine: no user, the front desk's reach (any therapist's calendar)
PUBLIC_CALLER = services.Caller(None, Role.ASSISTANT.value)  # type: ignore[arg-type]
#: the audit actor of a self-booking
PUBLIC_ACTOR = Actor(None, "public", None, None)
#: minutes the hold lives before it is confirmed (the same transaction confirms it)
HOLD_MINUTES = 15

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class SelfBooking(RequestBody):
    """The wizard's last step: the slot and the client's details.

    ``therapist_id`` omitted: any therapist free then. ``starts_at`` is an aware instant (the
    page sends UTC). ``time_zone`` is the client's IANA zone."""

    service_id: uuid.UUID
    starts_at: datetime.datetime
    first_name: Name
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)]
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    consent: bool
    therapist_id: uuid.UUID | None = None
    last_name: Annotated[str, msgspec.Meta(max_length=100)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=35)] | None = None


async def public_services(session: AsyncSession) -> list[Service]:
    """Active CALENDAR services offered on the public page, by name."""
    rows = await session.execute(
        sa.select(Service).where(Service.active.is_(True), Service.public_booking.is_(True),
                                 Service.scheduling == Scheduling.CALENDAR.value).order_by(Service.name, Service.id))
    return list(rows.scalars())


async def public_service(session: AsyncSession, service_id: uuid.UUID) -> Service:
    """One service of :func:`public_services`. Raises InvalidInput (service_id)."""
    service = await session.get(Service, service_id)
    if (service is None or not service.active or not service.public_booking
            or service.scheduling != Scheduling.CALENDAR.value):
        raise InvalidInput.field("service_id", "public-service", "no service with this id is booked online")
    return service


async def public_therapists(session: AsyncSession, service_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """``(id, display name)`` of the active therapists who offer the service, by name."""
    ids = await services.therapists_of(session, service_id)
    if not ids:
        return []
    rows = await session.execute(sa.select(StaffMember.id, StaffMember.display_name).where(StaffMember.id.in_(ids))
                                 .order_by(StaffMember.display_name, StaffMember.id))
    return [(r[0], r[1]) for r in rows]


async def _existing_patient(session: AsyncSession, cipher: FieldCipher, email: str) -> Patient | None:
    try:
        index = await cipher.blind_index("email", email)
    except ValueError as exc:
        raise InvalidInput.field("email", "email", str(exc)) from None
    rows = await session.execute(sa.select(Patient).where(Patient.email_bidx == index, Patient.archived_at.is_(None))
                                 .order_by(Patient.created_at, Patient.id))
    matches = list(rows.scalars())
    if any(p.blocked_at is not None for p in matches):
        raise Conflict("online booking is unavailable", extra={"reason": UNAVAILABLE})
    return matches[0] if matches else None


async def self_book(session: AsyncSession, cipher: FieldCipher, data: SelfBooking, *, tenant_id: int, tier: str,
                    client_address: str | None = None, now: datetime.datetime | None = None,
                    pay_minutes: int | None = None) -> Booking:
    """Book ``data`` for the client (see the module docstring); returns the CONFIRMED booking, or
    with ``pay_minutes`` the booking HELD that long for its online payment (payments confirm it) —
    unless a package of the client's with credits left covers the service: then the booking is
    confirmed at once and uses a credit instead (the caller sends to Checkout only a HELD booking).

    Raises:
        InvalidInput: consent (must be given), time_zone, email, names, phone, service_id,
            therapist_id, starts_at (timezone, future, notice, horizon, availability).
        Conflict: the slot was taken (``slot-taken``) or online booking is unavailable to this
            client (``online-booking-unavailable``).
        LimitReached: the plan's patient limit — nothing is written.
    """
    now = now or services.utcnow()
    if not data.consent:
        raise InvalidInput.field("consent", "required", "consent is needed to book")
    if data.time_zone not in iana_zones():
        raise InvalidInput.field("time_zone", "iana", "not an IANA time zone name")
    service = await public_service(session, data.service_id)
    starts_at = services.aware("starts_at", data.starts_at)
    services._check_window(service, starts_at, now)  # before anyone is written
    actor = Actor(None, "public", None, client_address)
    patient = await _existing_patient(session, cipher, data.email)
    how = "existing-patient"
    if patient is None:
        lead = await leads.capture(
            session, cipher, first_name=data.first_name, last_name=data.last_name, email=data.email, phone=data.phone,
            language=data.language, source="BOOKING", time_zone=data.time_zone, interested_service_id=service.id, actor=actor,
        )
        lead = await conversion.convert(session, cipher, lead_id=lead.id, tenant_id=tenant_id, tier=tier, actor=actor)
        assert lead.patient_id is not None
        patient_id, how = lead.patient_id, "discovery-auto-conversion"
    else:
        patient_id = patient.id
        if pay_minutes is not None and (await booking_credits.credits_for(session, patient_id, service.id, at=now))[1] > 0:
            pay_minutes = None  # a package credit pays for it
    hold = HoldRequest(patient_id=patient_id, service_id=service.id, starts_at=starts_at, therapist_id=data.therapist_id,
                       hold_minutes=pay_minutes or HOLD_MINUTES)
    booking = await services.hold(session, PUBLIC_CALLER, hold, now=now)
    if pay_minutes is None:
        booking = await services.confirm(session, PUBLIC_CALLER, booking.id, now=now)
    await record(session, actor, "booking.self_booked", patient_id=patient_id, booking_id=str(booking.id), conversion=how,
                 consent=True)
    return booking


async def client_zone(session: AsyncSession, booking: Booking, default: str) -> str:
    """The zone the client's pages use: the patient's own zone (their details' ``time_zone``, else
    an older ``profile.time_zone``), else ``default``."""
    row = (await session.execute(sa.select(Patient.time_zone, Patient.profile).where(Patient.id == booking.patient_id))).first()
    if row is None:
        return default
    return patient_zone(row.time_zone, row.profile, default)


def patient_zone(time_zone: str | None, profile: object, default: str) -> str:
    """A patient's zone: ``time_zone`` when an IANA name, else ``profile["time_zone"]`` when one,
    else ``default`` (the practice's)."""
    legacy = profile.get("time_zone") if isinstance(profile, dict) else None
    for zone in (time_zone, legacy):
        if isinstance(zone, str) and zone in iana_zones():
            return zone
    return default
