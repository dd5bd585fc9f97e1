"""Staff resolve a possible duplicate: merge the two leads, or dismiss the match.

Merge (lead matches only): the newer lead is merged into the older one (by ``created_at``), never
the other way, so the lead with the longer history survives. The survivor keeps its own values and
takes from the newer lead only what it lacks (last name, email, phone, language, time zone,
interested service, assignee); the newer lead's notes are appended to the survivor's; the later of
the two last contacts is kept. The newer lead keeps its row with ``merged_into_id`` set and leaves
every list. Encrypted values are decrypted and encrypted again for the survivor (the ciphertext is
bound to its row). A CONVERTED lead is never merged away (it points to its patient); a match with a
patient can only be dismissed (or the lead converted). Both actions are audited.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.leads import duplicates
from anima.domains.leads.models import Lead, LeadDuplicate
from anima.domains.leads.pipeline import Stage
from anima.domains.leads.services import TABLE, get_lead, refuse_merged, text_of, utcnow
from anima.problems import Conflict, NotFound


async def _open_duplicate(session: AsyncSession, lead_id: uuid.UUID, duplicate_id: uuid.UUID) -> LeadDuplicate:
    dup = (await session.execute(
        sa.select(LeadDuplicate).where(LeadDuplicate.id == duplicate_id, LeadDuplicate.lead_id == lead_id).with_for_update()
    )).scalar_one_or_none()
    if dup is None:
        raise NotFound("possible duplicate not found")
    if dup.status != "open":
        raise Conflict(f"this possible duplicate is already {dup.status}", extra={"status": dup.status})
    return dup


async def dismiss(session: AsyncSession, actor: Actor, lead_id: uuid.UUID, duplicate_id: uuid.UUID) -> LeadDuplicate:
    """Mark a possible duplicate of ``lead_id`` as not a duplicate. Raises NotFound, Conflict (already resolved)."""
    await get_lead(session, lead_id)
    dup = await _open_duplicate(session, lead_id, duplicate_id)
    dup.status, dup.resolved_by, dup.resolved_at = "dismissed", actor.user_id, utcnow()
    await session.flush()
    await record(session, actor, "lead.duplicate_dismissed", lead_id=str(lead_id), duplicate_id=str(dup.id))
    return dup


async def _copy(cipher: FieldCipher, source: Lead, target: Lead, column: str) -> None:
    value = await text_of(cipher, source, column)
    setattr(target, column, None if value is None else await cipher.encrypt_text(TABLE, column, target.id, value))


async def merge(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, duplicate_id: uuid.UUID
) -> Lead:
    """Merge the two leads of a possible duplicate (see the module docstring); returns the survivor.

    Raises:
        NotFound (lead or duplicate); Conflict (409): already resolved, a patient match, a lead
        already merged, or the newer lead CONVERTED.
    """
    await get_lead(session, lead_id)
    dup = await _open_duplicate(session, lead_id, duplicate_id)
    if dup.match_lead_id is None:
        raise Conflict("a lead matching a patient is not merged: dismiss the match or convert the lead")
    a = await get_lead(session, lead_id, for_update=True)
    b = await get_lead(session, dup.match_lead_id, for_update=True)
    refuse_merged(a)
    refuse_merged(b)
    older, newer = sorted((a, b), key=lambda lead: (lead.created_at, str(lead.id)))
    if newer.stage == Stage.CONVERTED:
        raise Conflict("the newer lead is CONVERTED and points to its patient; it is not merged away")

    for column in ("last_name_enc", "email_enc", "phone_enc"):
        if getattr(older, column) is None and getattr(newer, column) is not None:
            await _copy(cipher, newer, older, column)
            if column != "last_name_enc":
                kind = column.removesuffix("_enc")
                setattr(older, f"{kind}_bidx", getattr(newer, f"{kind}_bidx"))
    for column in ("language", "time_zone", "interested_service_id", "assigned_to"):
        if getattr(older, column) is None:
            setattr(older, column, getattr(newer, column))
    newer_notes = await text_of(cipher, newer, "notes_enc")
    if newer_notes:
        older_notes = await text_of(cipher, older, "notes_enc")
        joined = f"{older_notes}\n\n{newer_notes}" if older_notes else newer_notes
        older.notes_enc = await cipher.encrypt_text(TABLE, "notes_enc", older.id, joined)
    contacts = [c for c in (older.last_contacted_at, newer.last_contacted_at) if c is not None]
    if contacts:
        older.last_contacted_at = max(contacts)
    newer.merged_into_id = older.id
    dup.status, dup.resolved_by, dup.resolved_at = "merged", actor.user_id, utcnow()
    await session.flush()
    await duplicates.flag(session, older)
    await record(session, actor, "lead.merged", lead_id=str(older.id), merged_lead_id=str(newer.id), duplicate_id=str(dup.id))
    await session.refresh(older)
    return older
