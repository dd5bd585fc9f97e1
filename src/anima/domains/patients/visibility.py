"""Who sees which patient: the :class:`Viewer` and the visibility rules.

Owners and assistants see every patient; therapists too, unless the organization's
:class:`~anima.domains.patients.models.ClinicalPolicy` restricts them to the patients assigned to
them — then any other patient is "not found" to them. Clinical content is for owners and
therapists only (:attr:`Viewer.clinical`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.patients.models import ClinicalPolicy, Patient, patient_therapists
from anima.domains.audit.denials import mark_denied
from anima.identity.models import Role
from anima.problems import Forbidden, NotFound


@dataclass(frozen=True)
class Viewer:
    """The caller as the visibility rules see them."""

    user_id: uuid.UUID
    role: str
    restricted: bool = False

    @property
    def clinical(self) -> bool:
        """Whether this role may read or write clinical content at all."""
        return self.role in (Role.OWNER.value, Role.THERAPIST.value)

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER.value


async def get_policy(session: AsyncSession) -> ClinicalPolicy:
    row = await session.get(ClinicalPolicy, 1)
    if row is None:
        await session.execute(pg_insert(ClinicalPolicy).values(id=1).on_conflict_do_nothing())
        row = await session.get(ClinicalPolicy, 1)
    assert row is not None
    return row


async def set_policy(session: AsyncSession, *, restrict_therapists_to_assigned: bool) -> ClinicalPolicy:
    """Restrict therapists to the patients assigned to them, or not (flushed, in the caller's transaction)."""
    policy = await get_policy(session)
    policy.restrict_therapists_to_assigned = restrict_therapists_to_assigned
    await session.flush()
    return policy


async def viewer_for(session: AsyncSession, user_id: uuid.UUID, role: str) -> Viewer:
    """The caller's :class:`Viewer`; reads the policy only for therapists."""
    restricted = False
    if role == Role.THERAPIST.value:
        restricted = (await get_policy(session)).restrict_therapists_to_assigned
    return Viewer(user_id, str(role), restricted)


def visible(viewer: Viewer) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions limiting patients to those ``viewer`` may see."""
    if viewer.restricted:
        return [
            Patient.id.in_(sa.select(patient_therapists.c.patient_id).where(patient_therapists.c.staff_id == viewer.user_id))
        ]
    return []


async def get_patient(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID) -> Patient:
    """The patient if ``viewer`` may see it; 404 otherwise (another tenant's id is simply absent).

    A patient that exists but is hidden from a restricted therapist gives the same 404, marked as a
    denial (:func:`anima.domains.audit.denials.mark_denied`) so that it is audited."""
    patient = (
        await session.execute(sa.select(Patient).where(Patient.id == patient_id, *visible(viewer)))
    ).scalar_one_or_none()
    if patient is None:
        refusal = NotFound("patient not found")
        if viewer.restricted and await session.get(Patient, patient_id) is not None:
            # the patient exists but the restricted policy hides it: the same 404, audited as a denial
            raise mark_denied(refusal, "patient-not-assigned", patient_id=patient_id)
        raise refusal
    return patient


def refuse_non_clinical(viewer: Viewer, patient_id: uuid.UUID | None = None) -> None:
    """Raise Forbidden (marked as an audited denial) unless ``viewer`` has a clinical role."""
    if not viewer.clinical:
        raise mark_denied(
            Forbidden(
                f"your role {viewer.role} may not read or write clinical content",
                errors=[{"field": "clinical", "rule": "clinical-role", "message": "owners and therapists only"}],
            ),
            "role-reads-no-clinical-content", patient_id=patient_id,
        )
