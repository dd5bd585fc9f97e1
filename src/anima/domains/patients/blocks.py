"""Blocking a patient after a risk finding, and a clinician lifting the block.

The one way any domain blocks or unblocks a patient: the automations engine (the Escudo de
Seguridad playbook, tiers with ``risk_auto_block``) calls :func:`block_patient`; a clinician who may
see the patient calls :func:`lift_block` with a reason. Both are audited in the caller's
transaction (``patient.blocked``, ``patient.block_lifted``: ids, source and lengths, never the
reason's text). A blocked patient cannot be booked (:mod:`anima.domains.bookings`).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.patients.models import Patient
from anima.domains.patients.schemas import BlockOut
from anima.domains.patients.visibility import Viewer, get_patient, refuse_non_clinical
from anima.problems import Conflict

TABLE = "patients"


@dataclass(frozen=True)
class BlockSource:
    """What caused a block: ``kind`` (``note``, ``form_submission``, ``playbook``) and the id of that thing."""

    kind: str
    id: uuid.UUID | None


async def block_patient(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, reason: str, source: BlockSource
) -> tuple[Patient, bool]:
    """Block ``patient_id`` (no visibility check: the caller is the system, inside the tenant).

    Returns:
        (the patient, whether it was newly blocked). An already blocked patient keeps its first
        block (time, reason, source) and nothing is recorded again.

    Raises:
        LookupError: no such patient (erased since the event).
    """
    patient = await session.get(Patient, patient_id, with_for_update=True)
    if patient is None:
        raise LookupError("no such patient")
    if patient.blocked_at is not None:
        return patient, False
    patient.blocked_at = datetime.datetime.now(datetime.UTC)
    patient.blocked_reason = reason[:200]
    patient.blocked_source_kind = source.kind[:24]
    patient.blocked_source_id = source.id
    await session.flush()
    await record(
        session, actor, "patient.blocked", patient_id=patient.id,
        entry_id=source.id if source.kind in ("note", "form_submission") else None,
        source_kind=source.kind, source_id=str(source.id) if source.id else None,
    )
    return patient, True


async def lift_block(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, reason: str
) -> Patient:
    """Lift the patient's block after review: owners and therapists who may see the patient.

    The reason is stored encrypted on the patient (it may be clinical); the audit line carries
    the block's source and when it began.

    Raises:
        Forbidden: an assistant. NotFound: a patient the viewer may not see. Conflict (409): the
        patient is not blocked.
    """
    refuse_non_clinical(viewer)
    patient = await get_patient(session, viewer, patient_id)
    # lock the row: of two clinicians lifting at once, the second sees the block gone (409)
    await session.refresh(patient, with_for_update=True)
    if patient.blocked_at is None:
        raise Conflict("this patient is not blocked")
    since = patient.blocked_at
    patient.block_lifted_at = datetime.datetime.now(datetime.UTC)
    patient.block_lifted_by = viewer.user_id
    patient.block_lift_reason_enc = await cipher.encrypt_text(TABLE, "block_lift_reason_enc", patient.id, reason.strip())
    patient.blocked_at = None
    patient.blocked_reason = None
    source_kind, source_id = patient.blocked_source_kind, patient.blocked_source_id
    patient.blocked_source_kind = None
    patient.blocked_source_id = None
    await session.flush()
    await record(
        session, actor, "patient.block_lifted", patient_id=patient.id, blocked_since=since.isoformat(),
        source_kind=source_kind, source_id=str(source_id) if source_id else None, reason_chars=len(reason.strip()),
    )
    return patient


async def block_of(cipher: FieldCipher, viewer: Viewer, patient: Patient) -> BlockOut:
    """The block state shown on the patient; the lift reason is decrypted for clinical roles only."""
    lift_reason = None
    if viewer.clinical and patient.block_lift_reason_enc is not None:
        lift_reason = await cipher.decrypt_text(TABLE, "block_lift_reason_enc", patient.id, patient.block_lift_reason_enc)
    return BlockOut(
        blocked=patient.blocked_at is not None, since=patient.blocked_at, reason=patient.blocked_reason,
        source_kind=patient.blocked_source_kind, source_id=patient.blocked_source_id,
        last_lifted_at=patient.block_lifted_at, last_lifted_by=patient.block_lifted_by, last_lift_reason=lift_reason,
    )
