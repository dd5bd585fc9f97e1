"""Rules of leads: capture, details, stage moves, contacts, lists and reading, all audited.

The session is scoped to the tenant (the ``tenant`` provider, or a job's ``tenant_transaction``).
Every write adds an audit event (``lead.*``, ids and field names only) and, where the pipeline
moves, one outbox event in the caller's transaction: ``LEAD_CREATED`` when a lead is captured,
``LEAD_STAGE_CHANGED`` for each accepted move (:mod:`anima.domains.leads.pipeline` says which
moves are valid), ``LEAD_CONVERTED`` from the conversion. Payloads carry ids, stages and the
source only — never a name or a contact detail.

Who: owners and assistants run the pipeline (the routes declare ``FRONT_DESK``); therapists read
leads (list and detail) but change nothing — the pipeline is front-desk work, and a therapist meets
the person once they are a patient. Leads hold no clinical answers (those stay with the forms'
submissions), so an assistant sees everything a lead holds: contact details, notes and stage.
"""

from __future__ import annotations

import datetime
import re
import uuid
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.audit.services import Actor, record
from anima.domains.catalog.models import Service
from anima.domains.leads import duplicates, whatsapp
from anima.domains.leads.models import SOURCES, Lead, LeadDuplicate
from anima.domains.leads.phones import to_e164
from anima.domains.leads.pipeline import GHOST_AFTER, GRAY_AFTER, AMBER_AFTER, Freshness, Stage, freshness, move_error
from anima.domains.leads.schemas import DuplicateOut, LeadCreate, LeadOut, LeadSummary, LeadUpdate
from anima.domains.patients.services import canonical_language
from anima.domains.settings.services import get_settings
from anima.domains.staff.models import StaffMember
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.identity.models import Role
from anima.identity.profile import iana_zones
from anima.problems import Conflict, InvalidInput, NotFound

TABLE = "leads"
#: who a lead may be assigned to: active front-desk staff (owners and assistants)
ASSIGNABLE_ROLES = (Role.OWNER.value, Role.ASSISTANT.value)
#: the audit actor of a capture without a person behind it (a public form)
SYSTEM_ACTOR = Actor(None, "system", None, None)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# -- validation -----------------------------------------------------------------------------------


def check_time_zone(value: str | None) -> str | None:
    """``value`` when it is an IANA zone name (``Europe/Madrid``); raises InvalidInput on ``time_zone``."""
    if value is not None and value not in iana_zones():
        raise InvalidInput.field("time_zone", "iana-zone", f"{value!r} is not an IANA time zone name")
    return value


async def _check_service(session: AsyncSession, service_id: uuid.UUID | None) -> None:
    if service_id is not None and await session.get(Service, service_id) is None:
        raise InvalidInput.field("interested_service_id", "known-service", "not a service of this organization")


async def _check_assignee(session: AsyncSession, staff_id: uuid.UUID | None) -> None:
    if staff_id is None:
        return
    found = (await session.execute(
        sa.select(StaffMember.id).where(
            StaffMember.id == staff_id, StaffMember.active.is_(True), StaffMember.role.in_(ASSIGNABLE_ROLES)
        )
    )).scalar_one_or_none()
    if found is None:
        raise InvalidInput.field("assigned_to", "front-desk", "not an active owner or assistant of this organization")


#: what a name may not hold (the same rule as the request schemas, for callers other than the API)
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f<>]")


def _clean(value: str | None, field: str) -> str | None:
    """Refuse NUL (also in the service, for callers other than the API); strip; empty -> None."""
    if value is None:
        return None
    if "\x00" in value:
        raise InvalidInput.field(field, "no-nul", "may not contain NUL characters")
    value = value.strip()
    return value or None


def _name(value: str | None, field: str, *, required: bool) -> str:
    """A trimmed name of at most 100 characters without control characters or ``<`` ``>``."""
    value = _clean(value, field) or ""
    if required and not value:
        raise InvalidInput.field(field, "required", "a first name has 1 to 100 characters")
    if len(value) > 100:
        raise InvalidInput.field(field, "length", "a name has at most 100 characters")
    if _NAME_FORBIDDEN.search(value):
        raise InvalidInput.field(field, "characters", "a name has no control characters, < or >")
    return value


async def _set_text(cipher: FieldCipher, lead: Lead, column: str, value: str | None) -> None:
    setattr(lead, column, None if value is None else await cipher.encrypt_text(TABLE, column, lead.id, value))


async def _set_contact(cipher: FieldCipher, lead: Lead, kind: str, value: str | None, *, locale: str) -> None:
    """Encrypt an email (trimmed) or phone (E.164) and set its blind index; None clears both."""
    value = _clean(value, kind)
    if value is None:
        setattr(lead, f"{kind}_enc", None)
        setattr(lead, f"{kind}_bidx", None)
        return
    if kind == "phone":
        value = to_e164(value, locale=locale)
    try:
        index = await cipher.blind_index(kind, value)
    except ValueError as exc:
        raise InvalidInput.field(kind, kind, str(exc)) from None
    setattr(lead, f"{kind}_enc", await cipher.encrypt_text(TABLE, f"{kind}_enc", lead.id, value))
    setattr(lead, f"{kind}_bidx", index)


async def get_lead(session: AsyncSession, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    """The lead (merged ones included); NotFound otherwise (another tenant's id is simply absent)."""
    query = sa.select(Lead).where(Lead.id == lead_id)
    if for_update:
        query = query.with_for_update()
    lead = (await session.execute(query)).scalar_one_or_none()
    if lead is None:
        raise NotFound("lead not found")
    return lead


def refuse_merged(lead: Lead) -> None:
    if lead.merged_into_id is not None:
        raise Conflict(f"this lead was merged into {lead.merged_into_id}", extra={"merged_into_id": str(lead.merged_into_id)})


# -- writing --------------------------------------------------------------------------------------


async def capture(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    first_name: str,
    last_name: str = "",
    email: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    source: str = "MANUAL",
    time_zone: str | None = None,
    form_template_id: uuid.UUID | None = None,
    submission_id: uuid.UUID | None = None,
    interested_service_id: uuid.UUID | None = None,
    notes: str | None = None,
    assigned_to: uuid.UUID | None = None,
    actor: Actor | None = None,
    created_at: datetime.datetime | None = None,
) -> Lead:
    """Create a lead in ``NEW``: validate, encrypt, flag possible duplicates, audit, emit ``LEAD_CREATED``.

    The one way a lead comes into being: the leads API, and a public form submission (the forms
    domain passes ``source="PUBLIC_FORM"`` with its ``form_template_id`` and ``submission_id``, and
    ``actor`` None: the audit line is then the system's). The phone is normalised to E.164 in the
    organization's region (:mod:`anima.domains.leads.phones`); an email or phone matching an
    existing lead or patient through its blind index is recorded as a possible duplicate
    (:mod:`anima.domains.leads.duplicates`), never merged.

    Args:
        session: scoped to the tenant; the caller commits.
        cipher: the tenant's field cipher.
        first_name: 1-100 characters; last_name up to 100; names are encrypted.
        language: a BCP 47 tag (canonicalised); time_zone: an IANA name.
        source: one of PUBLIC_FORM, BOOKING, MANUAL, REFERRAL, AD, SOCIAL, OTHER.
        created_at: when the lead arrived, for leads brought from elsewhere (an import, the demo);
            default now. An aware instant, never in the future; freshness counts from it.

    Returns:
        The flushed lead.

    Raises:
        InvalidInput (422) naming the field: empty or oversized name, NUL, a malformed email, an
        invalid phone, an unknown language, zone, source, service or assignee, a ``created_at``
        that is naive or in the future.
    """
    actor = actor or SYSTEM_ACTOR
    now = utcnow()
    if created_at is not None and (created_at.tzinfo is None or created_at > now):
        raise InvalidInput.field("created_at", "past-instant", "when a lead arrived is an aware instant, not in the future")
    settings = await get_settings(session)
    first = _name(first_name, "first_name", required=True)
    last = _name(last_name, "last_name", required=False)
    if source not in SOURCES:
        raise InvalidInput.field("source", "source", f"one of {', '.join(SOURCES)}")
    if (form_template_id is not None or submission_id is not None) and source != "PUBLIC_FORM":
        raise InvalidInput.field("source", "form-source", "a lead from a form has source PUBLIC_FORM")
    language = canonical_language(language) if language is not None else None
    check_time_zone(time_zone)
    notes = _clean(notes, "notes")
    if notes is not None and len(notes) > 5000:
        raise InvalidInput.field("notes", "length", "notes have at most 5,000 characters")
    await _check_service(session, interested_service_id)
    await _check_assignee(session, assigned_to)

    arrived = created_at or now
    lead = Lead(
        id=uuid.uuid4(), language=language, time_zone=time_zone, source=source, form_template_id=form_template_id,
        submission_id=submission_id, interested_service_id=interested_service_id, assigned_to=assigned_to,
        stage=Stage.NEW.value, stage_changed_at=arrived, created_by=actor.user_id, created_at=arrived, updated_at=now,
    )
    await _set_text(cipher, lead, "first_name_enc", first)
    await _set_text(cipher, lead, "last_name_enc", last or None)
    await _set_text(cipher, lead, "notes_enc", notes)
    await _set_contact(cipher, lead, "email", email, locale=settings.locale)
    await _set_contact(cipher, lead, "phone", phone, locale=settings.locale)
    session.add(lead)
    await session.flush()
    flagged = await duplicates.flag(session, lead)
    await record(session, actor, "lead.created", lead_id=str(lead.id), source=source, possible_duplicates=flagged)
    await emit(session, EventType.LEAD_CREATED, {"lead_id": str(lead.id), "source": source, "stage": lead.stage},
               actor_id=actor.user_id)
    return lead


async def create_lead(session: AsyncSession, cipher: FieldCipher, actor: Actor, data: LeadCreate) -> Lead:
    """A lead entered by staff through the API (see :func:`capture`)."""
    return await capture(session, cipher, actor=actor, **msgspec.structs.asdict(data))


async def update_lead(session: AsyncSession, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, data: LeadUpdate) -> Lead:
    """Change details (not the stage); a changed email or phone is checked for duplicates again.

    Raises:
        NotFound; Conflict (409) for a merged lead; InvalidInput as :func:`capture`.
    """
    lead = await get_lead(session, lead_id, for_update=True)
    refuse_merged(lead)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if not changes:
        raise InvalidInput.field("body", "required", "give at least one field to change")
    settings = await get_settings(session)
    if "first_name" in changes:
        await _set_text(cipher, lead, "first_name_enc", _name(changes.pop("first_name"), "first_name", required=True))
    if "last_name" in changes:
        await _set_text(cipher, lead, "last_name_enc", _name(changes.pop("last_name"), "last_name", required=False) or None)
    if "notes" in changes:
        notes = _clean(changes.pop("notes"), "notes")
        if notes is not None and len(notes) > 5000:
            raise InvalidInput.field("notes", "length", "notes have at most 5,000 characters")
        await _set_text(cipher, lead, "notes_enc", notes)
    recheck = False
    for kind in ("email", "phone"):
        if kind in changes:
            await _set_contact(cipher, lead, kind, changes.pop(kind), locale=settings.locale)
            recheck = True
    if changes.get("language") is not None:
        changes["language"] = canonical_language(changes["language"])
    if "time_zone" in changes:
        check_time_zone(changes["time_zone"])
    if "interested_service_id" in changes:
        await _check_service(session, changes["interested_service_id"])
    if "assigned_to" in changes:
        await _check_assignee(session, changes["assigned_to"])
    for key, value in changes.items():
        setattr(lead, key, value)
    await session.flush()
    flagged = await duplicates.flag(session, lead) if recheck else 0
    fields = sorted(k for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET)
    await record(session, actor, "lead.updated", lead_id=str(lead.id), fields=fields, possible_duplicates=flagged)
    await session.refresh(lead)
    return lead


async def move(
    session: AsyncSession, cipher: FieldCipher, actor: Actor, lead_id: uuid.UUID, stage: str, *, reason: str | None = None
) -> Lead:
    """Move a lead to ``stage`` (not CONVERTED: see the conversion); one ``LEAD_STAGE_CHANGED``.

    LOST needs a ``reason`` (stored encrypted); reopening a LOST lead clears it.

    Raises:
        Conflict (409) naming ``from`` and ``to`` for an invalid move (see
        :mod:`anima.domains.leads.pipeline`), or for a merged lead; InvalidInput (422) on
        ``reason`` when LOST comes without one or another stage with one; NotFound.
    """
    lead = await get_lead(session, lead_id, for_update=True)
    refuse_merged(lead)
    current = lead.stage
    why = move_error(current, stage) if stage in set(Stage) else f"{stage!r} is not a stage"
    if why is not None:
        raise Conflict(f"cannot move the lead from {current} to {stage}: {why}", extra={"from": current, "to": stage})
    reason = _clean(reason, "reason")
    if stage == Stage.LOST and reason is None:
        raise InvalidInput.field("reason", "required", "say why the lead was lost")
    if stage != Stage.LOST and reason is not None:
        raise InvalidInput.field("reason", "only-lost", "a reason is given only when a lead is lost")
    if reason is not None and len(reason) > 500:
        raise InvalidInput.field("reason", "length", "a reason has at most 500 characters")
    lead.stage = stage
    lead.stage_changed_at = utcnow()
    await _set_text(cipher, lead, "lost_reason_enc", reason)
    await session.flush()
    await record(session, actor, "lead.moved", lead_id=str(lead.id), **{"from": current, "to": stage})
    await emit(session, EventType.LEAD_STAGE_CHANGED, {"lead_id": str(lead.id), "from": current, "to": stage},
               actor_id=actor.user_id)
    await session.refresh(lead)
    return lead


async def mark_contacted(session: AsyncSession, actor: Actor, lead_id: uuid.UUID) -> Lead:
    """Record a contact now: ``last_contacted_at`` restarts the freshness clock and a reported
    ghost may be reported again after another quiet week. A NEW lead stays NEW (moving it is a
    decision of its own). Raises NotFound, Conflict for a merged lead."""
    lead = await get_lead(session, lead_id, for_update=True)
    refuse_merged(lead)
    lead.last_contacted_at = utcnow()
    lead.ghosted_at = None
    await session.flush()
    await record(session, actor, "lead.contacted", lead_id=str(lead.id))
    await session.refresh(lead)
    return lead


# -- reading --------------------------------------------------------------------------------------


async def text_of(cipher: FieldCipher, lead: Lead, column: str) -> str | None:
    """The decrypted value of one encrypted column of ``lead`` (None when empty)."""
    blob = getattr(lead, column)
    return None if blob is None else await cipher.decrypt_text(TABLE, column, lead.id, blob)


def freshness_sql(now: datetime.datetime) -> sa.ColumnElement[Any]:
    """The freshness of each lead as SQL, the same rule as :func:`anima.domains.leads.pipeline.freshness`."""
    at = sa.bindparam("fresh_now", now, type_=Lead.__table__.c.created_at.type)
    age = at - sa.func.coalesce(Lead.last_contacted_at, Lead.created_at)
    return sa.case(
        (Lead.stage.not_in(("NEW", "CONTACTED", "QUALIFIED")), sa.null()),
        (age > GHOST_AFTER, Freshness.GHOST.value),
        (age > GRAY_AFTER, Freshness.GRAY.value),
        (age >= AMBER_AFTER, Freshness.AMBER.value),
        else_=Freshness.GREEN.value,
    )


async def list_leads(
    session: AsyncSession,
    *,
    limit: int,
    offset: int,
    stage: str | None = None,
    fresh: str | None = None,
    source: str | None = None,
    assigned_to: uuid.UUID | None = None,
    now: datetime.datetime | None = None,
) -> tuple[list[Lead], int, set[uuid.UUID]]:
    """Leads (merged ones never), newest first, with their total and the ids among them that have
    an open possible duplicate. Filters combine: ``stage``, ``fresh`` (green, amber, gray,
    ghost: open leads only), ``source`` and ``assigned_to``."""
    where: list[sa.ColumnElement[bool]] = [Lead.merged_into_id.is_(None)]
    if stage is not None:
        where.append(Lead.stage == stage)
    if fresh is not None:
        where.append(freshness_sql(now or utcnow()) == fresh)
    if source is not None:
        where.append(Lead.source == source)
    if assigned_to is not None:
        where.append(Lead.assigned_to == assigned_to)
    total = (await session.execute(sa.select(sa.func.count()).select_from(Lead).where(*where))).scalar_one()
    rows = list((await session.execute(
        sa.select(Lead).where(*where).order_by(Lead.created_at.desc(), Lead.id).limit(limit).offset(offset)
    )).scalars().all())
    flagged: set[uuid.UUID] = set()
    if rows:
        flagged = set((await session.execute(
            sa.select(LeadDuplicate.lead_id).where(
                LeadDuplicate.lead_id.in_([r.id for r in rows]), LeadDuplicate.status == "open"
            )
        )).scalars())
    return rows, total, flagged


async def _link(session: AsyncSession, cipher: FieldCipher, lead: Lead, *, practice: str) -> tuple[str, str | None]:
    settings = await get_settings(session)
    first = await text_of(cipher, lead, "first_name_enc") or ""
    phone = await text_of(cipher, lead, "phone_enc")
    return first, whatsapp.whatsapp_url(phone, first_name=first, practice=practice, locale=settings.locale)


async def to_summary(
    session: AsyncSession, cipher: FieldCipher, lead: Lead, *, practice: str, duplicate: bool,
    now: datetime.datetime | None = None,
) -> LeadSummary:
    """The list shape of ``lead`` (decrypted contact details, freshness now, WhatsApp link)."""
    first, link = await _link(session, cipher, lead, practice=practice)
    fresh = freshness(lead.stage, lead.last_contacted_at, lead.created_at, now or utcnow())
    return LeadSummary(
        id=lead.id, first_name=first, last_name=await text_of(cipher, lead, "last_name_enc") or "",
        email=await text_of(cipher, lead, "email_enc"), phone=await text_of(cipher, lead, "phone_enc"),
        source=lead.source, stage=lead.stage, freshness=fresh.value if fresh else None, assigned_to=lead.assigned_to,
        last_contacted_at=lead.last_contacted_at, created_at=lead.created_at, possible_duplicate=duplicate,
        whatsapp_url=link,
    )


async def to_out(session: AsyncSession, cipher: FieldCipher, lead: Lead, *, practice: str) -> LeadOut:
    """The full shape of ``lead``, with its possible duplicates."""
    first, link = await _link(session, cipher, lead, practice=practice)
    fresh = freshness(lead.stage, lead.last_contacted_at, lead.created_at, utcnow())
    dups = (await session.execute(
        sa.select(LeadDuplicate).where(LeadDuplicate.lead_id == lead.id).order_by(LeadDuplicate.created_at, LeadDuplicate.id)
    )).scalars().all()
    return LeadOut(
        id=lead.id, first_name=first, last_name=await text_of(cipher, lead, "last_name_enc") or "",
        email=await text_of(cipher, lead, "email_enc"), phone=await text_of(cipher, lead, "phone_enc"),
        language=lead.language, time_zone=lead.time_zone, source=lead.source, form_template_id=lead.form_template_id,
        submission_id=lead.submission_id, interested_service_id=lead.interested_service_id,
        notes=await text_of(cipher, lead, "notes_enc"), assigned_to=lead.assigned_to, stage=lead.stage,
        stage_changed_at=lead.stage_changed_at, lost_reason=await text_of(cipher, lead, "lost_reason_enc"),
        freshness=fresh.value if fresh else None, last_contacted_at=lead.last_contacted_at,
        patient_id=lead.patient_id, converted_at=lead.converted_at, merged_into_id=lead.merged_into_id,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        duplicates=[DuplicateOut(d.id, d.match_lead_id, d.match_patient_id, d.matched_on, d.status, d.created_at, d.resolved_at) for d in dups],
        whatsapp_url=link,
    )
