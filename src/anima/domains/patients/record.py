"""A patient's whole record: export (decrypted JSON) and erasure (owners only).

Export gathers the record, every journal entry (private ones included) with its amendments, the
patient's form submissions (template, version, time, answers and scores), the assigned therapists and the patient's audit trail, decrypted, and audits ``patient.exported``.
Erasure deletes the patient with its journal, amendments and assignments in one transaction and
audits ``patient.erased`` with counts only; the trail's earlier lines (ids, actions, times, never
content) remain, so the trail keeps that the erasure happened, not what the record held.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, patient_trail, record
from anima.domains.journal.models import JournalAmendment, JournalEntry
from anima.domains.journal.services import to_out as entry_out
from anima.domains.patients.consent import read_consent
from anima.domains.patients.services import to_out
from anima.domains.patients.visibility import get_patient
from anima.domains.patients.visibility import Viewer
from anima.problems import Forbidden


async def export_patient(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID
) -> dict[str, Any]:
    """The decrypted record as a JSON-ready dict (patient with its block and consent, journal, form
    submissions, the history of AI consent, the audit trail); owners only."""
    if not viewer.is_owner:
        raise Forbidden("only owners export a whole record")
    patient = await get_patient(session, viewer, patient_id)
    entries = (
        await session.execute(
            sa.select(JournalEntry).where(JournalEntry.patient_id == patient.id).order_by(JournalEntry.occurred_at, JournalEntry.id)
        )
    ).scalars().all()
    await record(session, actor, "patient.exported", patient_id=patient.id, entries=len(entries))
    out = await to_out(session, cipher, viewer, actor, patient, audit_action=None)
    trail, _ = await patient_trail(session, patient.id, limit=None)
    from anima.domains.forms.services import export_for_patient  # forms builds on patients: imported when used

    return {
        "format": "anima.patient-export/1",
        "exported_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "patient": msgspec.to_builtins(out),
        "journal": [msgspec.to_builtins(await entry_out(session, cipher, e)) for e in entries],
        "forms": await export_for_patient(session, cipher, patient.id),
        "ai_consents": msgspec.to_builtins((await read_consent(session, viewer, patient.id)).history),
        "audit": [
            {"occurred_at": e.occurred_at.isoformat(), "action": e.action, "actor_id": str(e.actor_id) if e.actor_id else None,
             "actor_role": e.actor_role, "entry_id": str(e.entry_id) if e.entry_id else None}
            for e in trail
        ],
    }


async def erase_patient(session: AsyncSession, viewer: Viewer, actor: Actor, patient_id: uuid.UUID) -> dict[str, int]:
    """Hard-delete the patient, journal, amendments and assignments; owners only. Returns the counts."""
    if not viewer.is_owner:
        raise Forbidden("only owners erase a record")
    patient = await get_patient(session, viewer, patient_id)
    entry_ids = sa.select(JournalEntry.id).where(JournalEntry.patient_id == patient.id).scalar_subquery()
    amendments = (await session.execute(sa.delete(JournalAmendment).where(JournalAmendment.entry_id.in_(entry_ids)))).rowcount
    entries = (await session.execute(sa.delete(JournalEntry).where(JournalEntry.patient_id == patient.id))).rowcount
    await session.delete(patient)  # patient_therapists rows go by ON DELETE CASCADE
    await session.flush()
    counts = {"journal_entries": entries or 0, "amendments": amendments or 0}
    await record(session, actor, "patient.erased", patient_id=patient_id, **counts)
    return counts
