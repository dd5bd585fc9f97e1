"""Converting a lead into a patient, in the caller's one transaction.

:func:`convert` is what the leads API calls and what the booking engine will call when a lead
books. Steps, all in the caller's transaction so a refusal at any point leaves nothing behind (the
request's or job's transaction rolls back as a whole):

1. the lead is locked (``FOR UPDATE``): two conversions of one lead cannot both pass;
2. it must be in an open stage (409 naming ``from`` and ``to`` otherwise, e.g. CONVERTED → CONVERTED);
3. the patient is created through :func:`anima.domains.patients.services.create_patient`, which
   applies the tier's patient limit race-safely (403 ``plan-limit-reached``); the lead's names,
   email, phone and language fill the patient's details, its time zone and source go into the
   non-clinical profile (``time_zone``, ``lead_source``);
4. the lead's notes go into the patient's encrypted clinical profile (``intake_notes``) through
   :func:`anima.domains.patients.services.record_intake_notes`;
5. the form submission the lead came from (a public form) is handed to the patient through
   :func:`anima.domains.forms.services.attach_to_patient`: it lands in the patient's journal with
   its version, answers and score, and a flagged answer raises the risk alert for the patient;
6. the lead becomes CONVERTED, points to the patient, and ``LEAD_CONVERTED`` is emitted (one
   event: ``lead_id``, ``patient_id``, ``from``) with the audit line ``lead.converted``.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.forms import services as forms
from anima.domains.leads.models import Lead
from anima.domains.leads.pipeline import Stage, can_convert
from anima.domains.leads.services import get_lead, refuse_merged, text_of, utcnow
from anima.domains.patients import services as patients
from anima.domains.patients.schemas import PatientCreate
from anima.domains.patients.visibility import Viewer
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.identity.models import Role
from anima.problems import Conflict

async def convert(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    lead_id: uuid.UUID,
    tenant_id: int,
    tier: str,
    actor: Actor,
    viewer: Viewer | None = None,
) -> Lead:
    """Convert the lead into a patient (see the module docstring); returns the CONVERTED lead,
    whose ``patient_id`` names the new patient.

    Args:
        session: scoped to the tenant; the caller commits (or rolls back on a raised problem).
        cipher: the tenant's field cipher.
        lead_id: the lead to convert.
        tenant_id, tier: the tenant's id and current tier (the patient limit).
        actor: who converts, for the audit trail (the booking engine passes its own).
        viewer: the caller as the patients' rules see them; default: a front-desk viewer for
            ``actor`` (what the booking engine needs: no clinical content is read).

    Raises:
        NotFound: no such lead. Conflict (409): the lead is CONVERTED, LOST or merged.
        LimitReached (403): the tier's patient limit is reached — nothing is written.
    """
    lead = await get_lead(session, lead_id, for_update=True)
    refuse_merged(lead)
    current = lead.stage
    if not can_convert(current):
        raise Conflict(
            f"cannot move the lead from {current} to CONVERTED: only NEW, CONTACTED or QUALIFIED leads convert",
            extra={"from": current, "to": Stage.CONVERTED.value},
        )
    viewer = viewer or Viewer(actor.user_id, Role.ASSISTANT.value)  # type: ignore[arg-type]
    profile: dict[str, str] = {"lead_source": lead.source}
    if lead.time_zone:
        profile["time_zone"] = lead.time_zone
    data = PatientCreate(
        first_name=await text_of(cipher, lead, "first_name_enc") or "",
        last_name=await text_of(cipher, lead, "last_name_enc") or "",
        email=await text_of(cipher, lead, "email_enc"),
        phone=await text_of(cipher, lead, "phone_enc"),
        language=lead.language,
        profile=profile,
    )
    patient = await patients.create_patient(session, cipher, viewer, actor, data, tenant_id=tenant_id, tier=tier)
    notes = await text_of(cipher, lead, "notes_enc")
    if notes:
        await patients.record_intake_notes(session, cipher, actor, patient.id, notes)
    if lead.submission_id is not None:
        await forms.attach_to_patient(session, cipher, actor, submission_id=lead.submission_id, patient_id=patient.id)

    now = utcnow()
    lead.stage, lead.stage_changed_at, lead.patient_id, lead.converted_at = Stage.CONVERTED.value, now, patient.id, now
    await session.flush()
    await record(session, actor, "lead.converted", patient_id=patient.id, lead_id=str(lead.id), **{"from": current})
    await emit(
        session, EventType.LEAD_CONVERTED,
        {"lead_id": str(lead.id), "patient_id": str(patient.id), "from": current}, actor_id=actor.user_id,
    )
    await session.refresh(lead)
    return lead
