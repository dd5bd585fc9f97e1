"""Rules of the clinical journal: who reads which entry, sanitizing, signing and amendments.

Visibility (the README's roles table), applied in SQL so lists and single reads agree:

* OWNER reads every entry of every patient;
* THERAPIST reads their own entries and every ``shared`` one, of the patients they may see
  (:func:`anima.domains.patients.visibility.visible`); others' private entries are "not found";
* ASSISTANT reads no journal content (refused at the route and again here).

Refusals of clinical content (a role without clinical access, another's private entry, a non-author
changing an entry) are marked as denials and audited (:mod:`anima.domains.audit.denials`). Entries of
kind ``ai_analysis`` — and ``source``/``model`` keys in ``data`` — are written by the AI observatory
only (:func:`record_analysis`), entries of kind ``form_submission`` by the forms service only
(:func:`record_form_submission`); the journal API refuses both with 422 naming ``kind`` and the
rule, and entries written earlier stay readable.

Only an entry's author changes it. A signed entry is locked (409 on edit): changes after signing
are amendments, kept next to the untouched original. Every read and write is audited.

Creating an entry emits ``JOURNAL_ENTRY_CREATED`` in the transaction of the entry. A form completed
through the forms domain lands here through :func:`record_form_submission`, which leaves
``FORM_SUBMISSION_COMPLETED`` to the forms domain (it names the submission too).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.denials import mark_denied
from anima.domains.audit.services import Actor, record
from anima.domains.journal.models import JournalAmendment, JournalEntry
from anima.domains.journal.sanitize import sanitize_html
from anima.domains.journal.schemas import (
    MAX_DATA_BYTES,
    MAX_HTML_BYTES,
    AmendmentCreate,
    AmendmentOut,
    EntryCreate,
    EntryOut,
    EntryUpdate,
)
from anima.domains.patients.models import Patient
from anima.domains.patients.visibility import get_patient
from anima.domains.patients.visibility import Viewer
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import Conflict, Forbidden, InvalidInput, NotFound, Problem
from anima.identity.models import Role

ENTRIES, AMENDMENTS = "journal_entries", "journal_amendments"


class PayloadTooLarge(Problem):
    """413: a field exceeds its documented size."""

    status, kind, title = 413, "payload-too-large", "Payload too large"


def readable(viewer: Viewer) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions on :class:`JournalEntry` for what ``viewer`` may read. Raises Forbidden for non-clinical roles."""
    if viewer.role == Role.OWNER.value:
        return []
    if viewer.role == Role.THERAPIST.value:
        return [sa.or_(JournalEntry.visibility == "shared", JournalEntry.author_id == viewer.user_id)]
    raise mark_denied(Forbidden(f"your role {viewer.role} may not read clinical content"), "role-reads-no-clinical-content")


#: entry kinds only the system writes (the AI observatory; the forms service), never a person through
#: the journal API: the kind, its rule and the sentence of the refusal
SYSTEM_KINDS: dict[str, tuple[str, str]] = {
    "ai_analysis": ("observatory-only", "ai_analysis entries are written by the AI observatory only (POST .../analyses)"),
    "form_submission": (
        "forms-service-only",
        "form_submission entries are written by the forms service only, when a form is submitted (assign a form: POST .../forms/{id}/assignments)",
    ),
}
#: keys of ``data`` that label an entry as the observatory's output; refused from people
RESERVED_DATA_KEYS = ("source", "model")


def refuse_system_content(kind: str, data: dict[str, Any] | None) -> None:
    """Refuse what only the system writes: kind ``ai_analysis`` (the observatory), kind
    ``form_submission`` (the forms service), or ``source``/``model`` in ``data``.

    Raises:
        InvalidInput (422): naming the field (``kind`` or ``data.source``/``data.model``) and the rule
        (``observatory-only``, ``forms-service-only``, ``reserved-key``).
    """
    if kind in SYSTEM_KINDS:
        rule, message = SYSTEM_KINDS[kind]
        raise InvalidInput.field("kind", rule, message)
    for key in RESERVED_DATA_KEYS:
        if data is not None and key in data:
            raise InvalidInput.field(
                f"data.{key}", "reserved-key", f"{key!r} labels the AI observatory's analyses and may not be set by hand"
            )


def _content(kind: str, html: str | None, data: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """Validate and sanitize the content of ``kind``; returns (payload to encrypt, sanitizer changed it)."""
    if kind == "note":
        if html is None:
            raise InvalidInput.field("html", "required", "a note needs html")
        if data is not None:
            raise InvalidInput.field("data", "not-for-notes", "a note carries html, not data")
        size = len(html.encode())
        if size > MAX_HTML_BYTES:
            raise PayloadTooLarge(
                f"html: {size} bytes; a note is limited to {MAX_HTML_BYTES} bytes of HTML",
                errors=[{"field": "html", "rule": "max-size", "message": f"at most {MAX_HTML_BYTES} bytes of HTML"}],
                extra={"limit_bytes": MAX_HTML_BYTES},
            )
        clean = sanitize_html(html)
        if not clean.strip():
            raise InvalidInput.field("html", "not-empty", "the note is empty once sanitized")
        return {"html": clean}, clean != html
    if data is None:
        raise InvalidInput.field("data", "required", f"a {kind} entry needs data")
    if html is not None:
        raise InvalidInput.field("html", "notes-only", "only notes carry html")
    if len(msgspec.json.encode(data)) > MAX_DATA_BYTES:
        raise PayloadTooLarge(
            f"data is limited to {MAX_DATA_BYTES} bytes of JSON",
            errors=[{"field": "data", "rule": "max-size", "message": f"at most {MAX_DATA_BYTES} bytes of JSON"}],
        )
    if kind == "audio_reference" and not isinstance(data.get("uri"), str):
        raise InvalidInput.field("data.uri", "required", "an audio reference needs a uri")
    return {"data": data}, False


def _aware(value: datetime.datetime, field: str) -> datetime.datetime:
    if value.tzinfo is None:
        raise InvalidInput.field(field, "timezone", "give a time zone offset (e.g. 2025-01-31T10:00:00Z)")
    return value


async def _amendments(session: AsyncSession, cipher: FieldCipher, entry_id: uuid.UUID) -> list[AmendmentOut]:
    return (await amendments_of(session, cipher, [entry_id])).get(entry_id, [])


async def amendments_of(session: AsyncSession, cipher: FieldCipher, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[AmendmentOut]]:
    """The amendments of these entries in order, decrypted, by entry id (one query for a whole page of entries)."""
    if not entry_ids:
        return {}
    rows = (
        await session.execute(
            sa.select(JournalAmendment)
            .where(JournalAmendment.entry_id.in_(entry_ids))
            .order_by(JournalAmendment.created_at, JournalAmendment.id)
        )
    ).scalars().all()
    out: dict[uuid.UUID, list[AmendmentOut]] = {}
    for a in rows:
        body = await cipher.decrypt_json(AMENDMENTS, "content_enc", a.id, a.content_enc)
        out.setdefault(a.entry_id, []).append(
            AmendmentOut(a.id, a.author_id, a.created_at, body["reason"], body.get("html"), body.get("data"))
        )
    return out


async def to_out(
    session: AsyncSession, cipher: FieldCipher, entry: JournalEntry, *, sanitized: bool = False, new: bool = False,
    amendments: list[AmendmentOut] | None = None,
) -> EntryOut:
    """Decrypt an entry and its amendments (the caller has checked visibility and audits).

    ``new``: the entry was created in this transaction, so it has no amendments to read;
    ``amendments``: already read (:func:`amendments_of`, for a list), so none are read here.
    """
    body = await cipher.decrypt_json(ENTRIES, "content_enc", entry.id, entry.content_enc)
    if amendments is None:
        amendments = [] if new else await _amendments(session, cipher, entry.id)
    return EntryOut(
        id=entry.id, patient_id=entry.patient_id, author_id=entry.author_id, kind=entry.kind,
        visibility=entry.visibility, occurred_at=entry.occurred_at, html=body.get("html"), data=body.get("data"),
        signed_at=entry.signed_at, amendments=amendments,
        created_at=entry.created_at, updated_at=entry.updated_at, html_sanitized=sanitized,
    )


async def create_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: EntryCreate
) -> EntryOut:
    """Add an entry to a patient the viewer may see; sanitized, encrypted, audited.

    Raises:
        InvalidInput (422): bad content, or what only the observatory writes (:func:`refuse_system_content`).
        Forbidden: a role without clinical access. NotFound: a patient the viewer may not see.
    """
    readable(viewer)
    refuse_system_content(data.kind, data.data)
    return await _insert_entry(session, cipher, viewer, actor, patient_id, data)


async def record_analysis(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: dict[str, Any]
) -> EntryOut:
    """Store an AI observatory result as a private ``ai_analysis`` entry of ``viewer`` (the observatory only)."""
    readable(viewer)
    return await _insert_entry(
        session, cipher, viewer, actor, patient_id, EntryCreate(kind="ai_analysis", visibility="private", data=data)
    )


async def _insert_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, data: EntryCreate
) -> EntryOut:
    patient = await get_patient(session, viewer, patient_id)
    payload, sanitized = _content(data.kind, data.html, data.data)
    entry = JournalEntry(
        id=uuid.uuid4(), patient_id=patient.id, author_id=viewer.user_id, kind=data.kind, visibility=data.visibility,
        occurred_at=_aware(data.occurred_at, "occurred_at") if data.occurred_at else datetime.datetime.now(datetime.UTC),
    )
    entry.content_enc = await cipher.encrypt_json(ENTRIES, "content_enc", entry.id, payload)
    session.add(entry)
    await session.flush()
    await record(session, actor, "journal.created", patient_id=patient.id, entry_id=entry.id, kind=data.kind, visibility=data.visibility)
    await emit(
        session, EventType.JOURNAL_ENTRY_CREATED,
        {"patient_id": str(patient.id), "entry_id": str(entry.id), "author_id": str(viewer.user_id), "kind": data.kind},
        actor_id=viewer.user_id,
    )
    # every column was set here (timestamps by their Python defaults): no re-read, no amendments yet
    return await to_out(session, cipher, entry, sanitized=sanitized, new=True)


async def record_form_submission(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, *, patient_id: uuid.UUID, author_id: uuid.UUID,
    data: dict[str, Any], occurred_at: datetime.datetime | None = None,
) -> JournalEntry:
    """Store a completed form (the forms domain's submission) as a ``shared`` ``form_submission``
    entry of ``patient_id`` attributed to ``author_id`` (the member who assigned it); encrypted,
    audited. Emits ``JOURNAL_ENTRY_CREATED`` only: the caller emits ``FORM_SUBMISSION_COMPLETED``.

    Raises:
        PayloadTooLarge (413): ``data`` over :data:`MAX_DATA_BYTES`. NotFound: no such patient.
    """
    if await session.get(Patient, patient_id) is None:
        raise NotFound("patient not found")
    payload, _ = _content("form_submission", None, data)
    entry = JournalEntry(
        id=uuid.uuid4(), patient_id=patient_id, author_id=author_id, kind="form_submission", visibility="shared",
        occurred_at=occurred_at or datetime.datetime.now(datetime.UTC),
    )
    entry.content_enc = await cipher.encrypt_json(ENTRIES, "content_enc", entry.id, payload)
    session.add(entry)
    await session.flush()
    await record(session, actor, "journal.created", patient_id=patient_id, entry_id=entry.id, kind="form_submission", visibility="shared")
    await emit(
        session, EventType.JOURNAL_ENTRY_CREATED,
        {"patient_id": str(patient_id), "entry_id": str(entry.id), "author_id": str(author_id), "kind": "form_submission"},
        actor_id=actor.user_id,
    )
    return entry


async def get_entry(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID, entry_id: uuid.UUID) -> JournalEntry:
    """The entry if the viewer may read it, else 404."""
    conditions = readable(viewer)
    patient = await get_patient(session, viewer, patient_id)
    entry = (
        await session.execute(
            sa.select(JournalEntry).where(JournalEntry.id == entry_id, JournalEntry.patient_id == patient.id, *conditions)
        )
    ).scalar_one_or_none()
    if entry is None:
        refusal = NotFound("journal entry not found")
        if conditions and (await session.execute(
            sa.select(JournalEntry.id).where(JournalEntry.id == entry_id, JournalEntry.patient_id == patient.id)
        )).first() is not None:
            # it exists but is another clinician's private entry: the same 404, audited as a denial
            raise mark_denied(refusal, "private-entry-of-another", patient_id=patient.id, entry_id=entry_id)
        raise refusal
    return entry


async def read_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID
) -> EntryOut:
    entry = await get_entry(session, viewer, patient_id, entry_id)
    await record(session, actor, "journal.read", patient_id=patient_id, entry_id=entry.id)
    return await to_out(session, cipher, entry)


async def list_entries(
    session: AsyncSession,
    cipher: FieldCipher,
    viewer: Viewer,
    actor: Actor,
    patient_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    kind: str | None = None,
) -> tuple[list[EntryOut], int]:
    """The patient's timeline, newest first, as the viewer may read it; audited with the entry ids."""
    where = [*readable(viewer), JournalEntry.patient_id == (await get_patient(session, viewer, patient_id)).id]
    if kind is not None:
        where.append(JournalEntry.kind == kind)
    total = (await session.execute(sa.select(sa.func.count()).select_from(JournalEntry).where(*where))).scalar_one()
    rows = (
        await session.execute(
            sa.select(JournalEntry).where(*where).order_by(JournalEntry.occurred_at.desc(), JournalEntry.id).limit(limit).offset(offset)
        )
    ).scalars().all()
    await record(session, actor, "journal.listed", patient_id=patient_id, entry_ids=[str(e.id) for e in rows])
    amended = await amendments_of(session, cipher, [e.id for e in rows])
    return [await to_out(session, cipher, e, amendments=amended.get(e.id, [])) for e in rows], total


async def _own_entry(session: AsyncSession, viewer: Viewer, patient_id: uuid.UUID, entry_id: uuid.UUID) -> JournalEntry:
    entry = await get_entry(session, viewer, patient_id, entry_id)
    if entry.author_id != viewer.user_id:
        raise mark_denied(Forbidden("only the author of an entry may change it"), "not-the-author", patient_id=patient_id, entry_id=entry_id)
    if entry.kind in SYSTEM_KINDS:
        rule = SYSTEM_KINDS[entry.kind][0]
        what = "an AI analysis" if entry.kind == "ai_analysis" else "a submitted form"
        raise InvalidInput.field("kind", rule, f"{what} is not changed or amended by hand")
    return entry


async def update_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID, data: EntryUpdate
) -> EntryOut:
    """Change an unsigned entry (author only); a signed one answers 409: amend it instead."""
    entry = await _own_entry(session, viewer, patient_id, entry_id)
    if entry.signed_at is not None:
        raise Conflict("this entry is signed and locked; add an amendment instead", extra={"signed_at": entry.signed_at.isoformat()})
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    sanitized = False
    if "data" in changes:
        refuse_system_content(entry.kind, changes["data"])
    if "html" in changes or "data" in changes:
        payload, sanitized = _content(entry.kind, changes.get("html"), changes.get("data"))
        entry.content_enc = await cipher.encrypt_json(ENTRIES, "content_enc", entry.id, payload)
    if "visibility" in changes:
        entry.visibility = changes["visibility"]
    if "occurred_at" in changes:
        entry.occurred_at = _aware(changes["occurred_at"], "occurred_at")
    entry.updated_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    await record(session, actor, "journal.updated", patient_id=patient_id, entry_id=entry.id, fields=sorted(changes))
    return await to_out(session, cipher, entry, sanitized=sanitized)


async def sign_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID
) -> EntryOut:
    """Sign (lock) an entry; author only; 409 when already signed."""
    entry = await _own_entry(session, viewer, patient_id, entry_id)
    if entry.signed_at is not None:
        raise Conflict("this entry is already signed")
    entry.signed_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    await record(session, actor, "journal.signed", patient_id=patient_id, entry_id=entry.id)
    return await to_out(session, cipher, entry)


async def amend_entry(
    session: AsyncSession, cipher: FieldCipher, viewer: Viewer, actor: Actor, patient_id: uuid.UUID, entry_id: uuid.UUID, data: AmendmentCreate
) -> EntryOut:
    """Add an amendment to a signed entry (author only); 409 on an unsigned entry (edit it instead)."""
    entry = await _own_entry(session, viewer, patient_id, entry_id)
    if entry.signed_at is None:
        raise Conflict("this entry is not signed; change it directly")
    refuse_system_content(entry.kind, data.data)
    payload, sanitized = _content(entry.kind, data.html, data.data)
    payload["reason"] = data.reason
    amendment = JournalAmendment(id=uuid.uuid4(), entry_id=entry.id, author_id=viewer.user_id)
    amendment.content_enc = await cipher.encrypt_json(AMENDMENTS, "content_enc", amendment.id, payload)
    session.add(amendment)
    await session.flush()
    await record(session, actor, "journal.amended", patient_id=patient_id, entry_id=entry.id, amendment_id=str(amendment.id))
    return await to_out(session, cipher, entry, sanitized=sanitized)
