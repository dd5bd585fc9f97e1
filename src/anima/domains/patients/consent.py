"""A patient's consent to AI processing: recorded, withdrawn, kept as an append-only history.

:func:`set_consent` appends an :class:`~anima.domains.patients.models.AiConsent` row (given or
withdrawn, ``method``: verbal, written, form or portal; who recorded it; when) and copies it to the
patient's current state, audited (``patient.ai_consent``). :func:`require_ai_consent` is what the
AI observatory asks before anything of the patient's journal is analysed: without a current
consent it raises :class:`AiConsentRequired` (409 ``ai-consent-required``). The automatic risk
screening of new notes and form answers (the local detector, nothing leaves the server) does not
ask for consent.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.audit.services import Actor, record
from anima.domains.patients.models import AiConsent, Patient
from anima.domains.patients.schemas import ConsentChange, ConsentOut, ConsentState, ConsentUpdate
from anima.domains.patients.visibility import Viewer, get_patient
from anima.problems import Problem


class AiConsentRequired(Problem):
    """409: the patient has not consented to AI processing (never recorded, or withdrawn)."""

    status, kind, title = 409, "ai-consent-required", "AI consent required"


def consent_state(patient: Patient) -> ConsentState:
    """The patient's current consent (``given`` None when never recorded)."""
    return ConsentState(patient.ai_consent_given, patient.ai_consent_method, patient.ai_consent_at, patient.ai_consent_by)


def require_ai_consent(patient: Patient) -> None:
    """Raise :class:`AiConsentRequired` unless the patient's current consent is given."""
    if patient.ai_consent_given is not True:
        state = "withdrawn" if patient.ai_consent_given is False else "not recorded"
        raise AiConsentRequired(
            f"this patient's consent to AI processing is {state}; record it first "
            "(PUT .../patients/{id}/ai-consent {\"given\": true, \"method\": ...})",
            errors=[{"field": "ai_consent", "rule": "ai-consent-required", "message": f"consent to AI processing is {state}"}],
            extra={"patient_id": str(patient.id), "ai_consent": state},
        )


async def _history(session: AsyncSession, patient_id: uuid.UUID) -> list[ConsentChange]:
    rows = (
        await session.execute(
            sa.select(AiConsent).where(AiConsent.patient_id == patient_id).order_by(AiConsent.recorded_at, AiConsent.id)
        )
    ).scalars()
    return [ConsentChange(r.id, r.given, r.method, r.recorded_at, r.recorded_by) for r in rows]


async def read_consent(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID) -> ConsentOut:
    """The current consent and its history. Raises NotFound for a patient the viewer may not see."""
    patient = await get_patient(session, viewer, patient_id)
    return ConsentOut(patient.id, consent_state(patient), await _history(session, patient.id))


async def set_consent(
    session: AsyncSession, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: ConsentUpdate
) -> ConsentOut:
    """Record consent given or withdrawn; appended to the history, current state on the patient, audited.

    Raises:
        NotFound: a patient the viewer may not see.
    """
    patient = await get_patient(session, viewer, patient_id)
    now = datetime.datetime.now(datetime.UTC)
    session.add(AiConsent(id=uuid.uuid4(), patient_id=patient.id, given=data.given, method=data.method,
                          recorded_by=viewer.user_id, recorded_at=now))
    patient.ai_consent_given = data.given
    patient.ai_consent_method = data.method
    patient.ai_consent_at = now
    patient.ai_consent_by = viewer.user_id
    await session.flush()
    await record(session, actor, "patient.ai_consent", patient_id=patient.id, given=data.given, method=data.method)
    return ConsentOut(patient.id, consent_state(patient), await _history(session, patient.id))
