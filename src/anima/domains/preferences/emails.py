"""The staff's notification emails: one follow-up job for the events a member may be told about.

``notify_staff(tenant_id, event_id)`` is the follow-up of BOOKING_CONFIRMED (``new_booking``),
BOOKING_RESCHEDULED (the ``new_booking`` switch too: it is the "my bookings" switch; the email
names the new and the previous start), BOOKING_CANCELLED (``cancellation``),
RISK_DETECTED_IN_NOTE (``risk_alert``) and LEAD_CREATED (``new_lead``) (:data:`anima.jobs.handlers.FOLLOW_UPS`). Inside the tenant (through
:func:`anima.jobs.runner.tenant_transaction` only) it picks the active members who want that kind
(:mod:`anima.domains.preferences.services`) **and may see it**, and queues one transactional email
each through :func:`anima.domains.automations.outbound.queue_email`, keyed
``staff-notice:<event id>:<staff id>`` so a retried job queues nothing twice.

Who may see what:

* a booking or cancellation: owners and assistants see every booking; a therapist only their own
  (the booking's ``therapist_id``). The email names the service and the start in the member's own
  zone (their profile's, else the practice's) — never the client's name or contact.
* a risk alert: the members the core rule alerts (the patient's assigned therapists, the members
  alerted for that entry, the owners). The email says only that there is an alert, with a link to
  the workspace: no patient name, no clinical text, no level detail.
* a new lead: every member who wants it; the lead's name only for owners and assistants.

Each email is rendered in the member's own language (their profile's, else the practice's).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from anima.domains.automations import outbound
from anima.domains.automations.alerts import RISK_ALERT_KIND, risk_recipients
from anima.domains.automations.models import StaffAlert
from anima.domains.bookings.models import Booking
from anima.domains.bookings.notify import shown
from anima.domains.catalog.models import Service
from anima.domains.leads.models import Lead
from anima.domains.preferences import services
from anima.domains.settings.models import PracticeSettings
from anima.domains.staff.models import StaffMember
from anima.events.models import OutboxEvent
from anima.events.types import EventType
from anima.identity.models import Membership, User
from anima.jobs.runner import job_function, tenant_transaction
from anima.logs import get_logger
from anima.mail import compose
from anima.runtime import Runtime, runtime_of
from anima.tenancy.transaction import TenantTransaction

log = get_logger(__name__)

#: event type -> the preference switch that decides its email
KIND_OF: dict[str, str] = {
    EventType.BOOKING_CONFIRMED: "new_booking",
    EventType.BOOKING_RESCHEDULED: "new_booking",
    EventType.BOOKING_CANCELLED: "cancellation",
    EventType.RISK_DETECTED_IN_NOTE: "risk_alert",
    EventType.LEAD_CREATED: "new_lead",
}

#: roles that see every booking and a lead's name
FRONT_ROLES = frozenset({"OWNER", "ASSISTANT"})


def may_see_booking(role: str, member_id: uuid.UUID, therapist_id: uuid.UUID | None) -> bool:
    """Whether a member may be told of a booking: owners and assistants of every booking, a
    therapist only of their own (``therapist_id``, None for a group seat: nobody's own)."""
    return role in FRONT_ROLES or (therapist_id is not None and member_id == therapist_id)


def may_see_lead_name(role: str) -> bool:
    """Whether a new lead's email may name the lead (owners and assistants work the pipeline)."""
    return role in FRONT_ROLES


async def member_languages(runtime: Runtime, tenant_id: int) -> dict[uuid.UUID, str]:
    """The members' own languages (user id -> language, only those who chose one), read from the
    platform before the job enters the tenant (a tenant scope cannot read the platform's users)."""
    async with runtime.sessionmaker() as session:
        rows = (await session.execute(
            sa.select(User.id, User.language).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, User.language.is_not(None))
        )).all()
        await session.rollback()
    return {row.id: row.language for row in rows}


async def _members(tj: TenantTransaction, kind: str, may_see: Any, languages: dict[uuid.UUID, str]) -> list[tuple[StaffMember, str]]:
    """Active members who may see the event and want ``kind``, with their language."""
    rows = (await tj.session.execute(sa.select(StaffMember).where(StaffMember.active.is_(True)).order_by(StaffMember.id))).scalars()
    chosen = [m for m in rows if may_see(m) and await services.wanted(tj.session, m.id, m.role, kind)]
    practice = await tj.session.get(PracticeSettings, 1)
    fallback = practice.locale if practice else "en"
    return [(m, languages.get(m.id) or fallback) for m in chosen]


async def _practice_zone(tj: TenantTransaction) -> str:
    practice = await tj.session.get(PracticeSettings, 1)
    return practice.timezone if practice else "UTC"


async def _booking_emails(tj: TenantTransaction, event: OutboxEvent, kind: str, languages: dict[uuid.UUID, str]) -> list[tuple[StaffMember, str, str, dict[str, Any]]]:
    booking = await tj.session.get(Booking, uuid.UUID(str(event.payload["booking_id"])))
    if booking is None:
        return []
    service = await tj.session.get(Service, booking.service_id)
    zone = await _practice_zone(tj)
    members = await _members(tj, kind, lambda m: may_see_booking(m.role, m.id, booking.therapist_id), languages)
    template = "staff_new_booking" if kind == "new_booking" else "staff_cancellation"
    previous = None
    if event.type == EventType.BOOKING_RESCHEDULED and (event.payload or {}).get("previous_starts_at"):
        template = "staff_rescheduled"
        previous = datetime.datetime.fromisoformat(str(event.payload["previous_starts_at"]))
    out = []
    for m, language in members:
        context: dict[str, Any] = {"service": service.name if service else "", "when": shown(booking.starts_at, language, m.time_zone or zone)}
        if previous is not None:
            context["before"] = shown(previous, language, m.time_zone or zone)
        out.append((m, language, template, context))
    return out


async def _risk_emails(tj: TenantTransaction, event: OutboxEvent, languages: dict[uuid.UUID, str]) -> list[tuple[StaffMember, str, str, dict[str, Any]]]:
    payload = event.payload or {}
    if payload.get("level") not in (None, "HIGH"):
        return []
    patient_id = uuid.UUID(str(payload["patient_id"]))
    allowed = set(await risk_recipients(tj.session, patient_id, None))
    if payload.get("entry_id"):
        alerted = await tj.session.execute(sa.select(StaffAlert.staff_id).where(
            StaffAlert.source_id == uuid.UUID(str(payload["entry_id"])), StaffAlert.kind == RISK_ALERT_KIND))
        allowed.update(alerted.scalars())
    members = await _members(tj, "risk_alert", lambda m: m.id in allowed, languages)
    return [(m, language, "staff_risk_alert", {}) for m, language in members]


async def _lead_emails(tj: TenantTransaction, event: OutboxEvent, languages: dict[uuid.UUID, str]) -> list[tuple[StaffMember, str, str, dict[str, Any]]]:
    lead = await tj.session.get(Lead, uuid.UUID(str(event.payload["lead_id"])))
    if lead is None:
        return []
    members = await _members(tj, "new_lead", lambda m: True, languages)
    name = None
    if any(may_see_lead_name(m.role) for m, _ in members):
        name = await tj.cipher.decrypt_text("leads", "first_name_enc", lead.id, lead.first_name_enc)
    return [(m, language, "staff_new_lead", {"lead_name": name if may_see_lead_name(m.role) else None}) for m, language in members]


async def queue_notices(tj: TenantTransaction, event: OutboxEvent, languages: dict[uuid.UUID, str]) -> int:
    """Queue the event's staff emails (see the module docstring) in each member's language
    (``languages``: :func:`member_languages`); returns how many were newly queued."""
    kind = KIND_OF.get(event.type)
    if kind is None:
        return 0
    if kind == "risk_alert":
        emails = await _risk_emails(tj, event, languages)
    elif kind == "new_lead":
        emails = await _lead_emails(tj, event, languages)
    else:
        emails = await _booking_emails(tj, event, kind, languages)
    link = f"{tj.public_url}/o/{tj.tenant.slug}"
    queued = 0
    for member, language, template, context in emails:
        composed = compose.render(template, language, org_name=tj.tenant.name, link=link, **context)
        if await outbound.queue_email(tj.session, tj.cipher, key=f"staff-notice:{event.id}:{member.id}", address=member.email,
                                      composed=composed, template=template, category="transactional", staff_id=member.id):
            queued += 1
    return queued


@job_function
async def notify_staff(ctx: dict[str, Any], *, tenant_id: int, event_id: str) -> dict[str, Any]:
    """Queue the staff's notification emails of one outbox event; ``{"queued": n}`` (0 on a rerun)."""
    languages = await member_languages(runtime_of(ctx), tenant_id)
    async with tenant_transaction(ctx, tenant_id) as tj:
        event = await tj.session.get(OutboxEvent, uuid.UUID(event_id))
        if event is None:
            return {"missing": event_id}
        queued = await queue_notices(tj, event, languages)
    log.info("staff notices queued", event_type=event.type, queued=queued)
    return {"queued": queued}
