"""Possible duplicates: a lead whose email or phone matches another lead or a patient.

The match is by blind index (``email_bidx``, ``phone_bidx``: equal normalised values give equal
indexes within the tenant), so nothing is decrypted to compare. A match is recorded as a
:class:`~anima.domains.leads.models.LeadDuplicate` of the newer lead, naming the older lead or the
patient and what matched; nothing is merged here. Staff merge a lead duplicate or dismiss any
(:mod:`anima.domains.leads.merging`). Merged leads are never matched again.

Phones of leads and of patients are E.164, a national number read in the organization's region
(:func:`anima.domains.patients.services.phone_as_e164`), so a patient's ``612 345 678`` matches a
lead's ``+34612345678``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.leads.models import Lead, LeadDuplicate
from anima.domains.patients.models import Patient


def _matched_on(row: sa.Row, lead: Lead) -> str:
    parts = [k for k in ("email", "phone") if getattr(lead, f"{k}_bidx") is not None and getattr(row, f"{k}_bidx") == getattr(lead, f"{k}_bidx")]
    return ",".join(parts)


async def flag(session: AsyncSession, lead: Lead) -> int:
    """Record every other lead and every patient matching ``lead``'s email or phone as a possible
    duplicate of ``lead`` (once per pair); returns how many new pairs were recorded."""
    conditions = []
    if lead.email_bidx is not None:
        conditions.append(("email_bidx", lead.email_bidx))
    if lead.phone_bidx is not None:
        conditions.append(("phone_bidx", lead.phone_bidx))
    if not conditions:
        return 0
    rows: list[dict[str, object]] = []
    lead_match = sa.or_(*(getattr(Lead, c) == v for c, v in conditions))
    for other in (await session.execute(
        sa.select(Lead.id, Lead.email_bidx, Lead.phone_bidx).where(
            lead_match, Lead.id != lead.id, Lead.merged_into_id.is_(None)
        )
    )).all():
        rows.append({"lead_id": lead.id, "match_lead_id": other.id, "matched_on": _matched_on(other, lead)})
    patient_match = sa.or_(*(getattr(Patient, c) == v for c, v in conditions))
    for patient in (await session.execute(
        sa.select(Patient.id, Patient.email_bidx, Patient.phone_bidx).where(patient_match, Patient.id != lead.patient_id if lead.patient_id else sa.true())
    )).all():
        rows.append({"lead_id": lead.id, "match_patient_id": patient.id, "matched_on": _matched_on(patient, lead)})
    added = 0
    for row in rows:
        result = await session.execute(pg_insert(LeadDuplicate).values(**row).on_conflict_do_nothing().returning(LeadDuplicate.id))
        added += result.scalar_one_or_none() is not None
    return added
